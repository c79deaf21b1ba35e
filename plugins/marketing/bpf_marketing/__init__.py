"""bpf's marketing pack: campaigns, events and prospects, and marketing's side of the lead.

Registered under the ``bpf.plugins`` entry point as ``marketing`` (the object
:data:`PACK`): ``import marketing`` in a .bpf file loads ``marketing.bpf`` (which
imports ``crm``: campaigns, events, prospects, D365's Lead to opportunity marketing
sales process and Event Main Business Process Flow, and our Campaign Launch and Lead
Nurture); the actions ``marketing.launch_campaign`` and ``hand_off`` and the function
``marketing.engagement_score`` come from :mod:`.actions`; ``bpf init DIR --template
marketing`` starts a project from ``template/``; ``bpf serve --demo`` loads
:mod:`.samples`. The hand-off creates a lead of the crm pack: it needs no sales pack.
"""

from __future__ import annotations

from bpf_dsl.plugins import FolderPack

from .actions import ACTIONS, FUNCTIONS

__version__ = "0.1.0"

PACK = FolderPack(__name__, "marketing",
                  template="a marketing project: imports the marketing pack and extends the campaign",
                  actions=ACTIONS, functions=FUNCTIONS,
                  # campaign planning to review, and the funnel from capture to hand-off
                  categories=["plan", "build", "launch", "review", "capture", "nurture", "handoff"])
