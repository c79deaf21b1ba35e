"""bpf's marketing pack: campaigns and prospects; Campaign Launch and Lead Nurture.

Registered under the ``bpf.plugins`` entry point as ``marketing``; ``import
marketing`` in a .bpf file loads :data:`MODULE`; ``bpf init DIR --template
marketing`` starts a project from :data:`TEMPLATE`. The hand-off to sales needs
the sales pack in the same program, but this pack doesn't depend on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bpf_dsl.plugins import ActionSpec, FunctionSpec, ModuleSpec, SampleSpec, TemplateSpec, hookimpl

from .actions import ACTIONS, FUNCTIONS

__version__ = "0.1.0"

HERE = Path(__file__).resolve().parent
MODULE = HERE / "marketing.bpf"
TEMPLATE = HERE / "template"


@hookimpl
def bpf_modules() -> Iterable[ModuleSpec]:
    """``import marketing``: campaigns, prospects, Campaign Launch and Lead Nurture."""
    return [ModuleSpec("marketing", MODULE)]


@hookimpl
def bpf_actions() -> Iterable[ActionSpec]:
    """``marketing.launch_campaign``, ``marketing.hand_off``."""
    return ACTIONS


@hookimpl
def bpf_functions() -> Iterable[FunctionSpec]:
    """``marketing.engagement_score(emails_opened, web_visits, content_downloads)``."""
    return FUNCTIONS


@hookimpl
def bpf_stage_categories() -> Iterable[str]:
    """Marketing stages: campaign planning to review, and the funnel from capture to hand-off."""
    return ["plan", "build", "launch", "review", "capture", "nurture", "handoff"]


@hookimpl
def bpf_templates() -> Iterable[TemplateSpec]:
    """``bpf init DIR --template marketing``."""
    return [TemplateSpec.from_folder("marketing", "a marketing project: imports the marketing pack and extends the "
                                                  "campaign", TEMPLATE)]


@hookimpl
def bpf_sample_records() -> Iterable[SampleSpec]:
    """Campaigns and prospects spread over every stage."""
    from .samples import samples

    return samples()
