"""bpf's sales pack: opportunities and D365's two sales processes, over the crm pack's accounts, contacts and leads.

Registered under the ``bpf.plugins`` entry point as ``sales`` (the object
:data:`PACK`): ``import sales`` in a .bpf file loads ``sales.bpf`` (which imports
``crm``: the opportunity, both sales processes and their rules); the actions
``sales.qualify_lead``, ``disqualify_lead``, ``reopen_lead``, ``close_opportunity``
and ``require_closed`` and the function ``sales.lead_score`` come from
:mod:`.actions`; ``bpf init DIR --template sales`` starts a project from
``template/``; ``bpf serve --demo`` loads :mod:`.samples` (leads and opportunities
spread over every stage, of the crm pack's companies and people).
"""

from __future__ import annotations

from bpf_dsl.plugins import FolderPack

from .actions import ACTIONS, FUNCTIONS

__version__ = "0.1.0"

PACK = FolderPack(__name__, "sales",
                  template="a sales project: imports the sales pack and extends the opportunity",
                  actions=ACTIONS, functions=FUNCTIONS)
