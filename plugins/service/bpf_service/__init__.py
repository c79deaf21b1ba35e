"""bpf's service pack: customers, cases, work orders; Phone to Case and Case to Work Order.

Registered under the ``bpf.plugins`` entry point as ``service`` (the object
:data:`PACK`): ``import service`` in a .bpf file loads ``service.bpf`` (customers,
cases, work orders, both processes and the service-level rules); the actions
``service.escalate``, ``resolve_case`` and ``complete_work_order`` and the function
``service.business_days`` come from :mod:`.actions`; field service adds the stage
categories ``schedule`` and ``deliver``; ``bpf init DIR --template service`` starts a
project from ``template/``; ``bpf serve --demo`` loads :mod:`.samples`.
"""

from __future__ import annotations

from bpf_dsl.plugins import FolderPack

from .actions import ACTIONS, FUNCTIONS

__version__ = "0.1.0"

PACK = FolderPack(__name__, "service",
                  template="a customer service project: imports the service pack and extends the case",
                  actions=ACTIONS, functions=FUNCTIONS,
                  categories=["schedule", "deliver"])  # field service: scheduling a visit, delivering the work
