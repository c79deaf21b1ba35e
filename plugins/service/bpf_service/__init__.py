"""bpf's service pack: cases, work orders and knowledge articles, with D365's service and field service processes.

Registered under the ``bpf.plugins`` entry point as ``service`` (the object
:data:`PACK`): ``import service`` in a .bpf file loads ``service.bpf`` (which imports
``crm``: cases, work orders, knowledge articles, the Phone to Case Process, the Case
to Work Order and Work Order Business Processes, the knowledge article New,
Translation and Expired Processes, and their rules); the actions ``service.escalate``,
``resolve_case``, ``complete_work_order``, ``post_work_order``, ``publish_article`` and
``archive_article`` and the function ``service.business_days`` come from
:mod:`.actions`; field service adds the stage categories ``schedule`` and ``deliver``;
``bpf init DIR --template service`` starts a project from ``template/``; ``bpf serve
--demo`` loads :mod:`.samples`.
"""

from __future__ import annotations

from bpf_dsl.plugins import FolderPack

from .actions import ACTIONS, FUNCTIONS

__version__ = "0.1.0"

PACK = FolderPack(__name__, "service",
                  template="a customer service project: imports the service pack and extends the case",
                  actions=ACTIONS, functions=FUNCTIONS,
                  categories=["schedule", "deliver"])  # field service: scheduling a visit, delivering the work
