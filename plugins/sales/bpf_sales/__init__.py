"""bpf's sales pack: leads, opportunities and D365's two sales processes.

Registered under the ``bpf.plugins`` entry point as ``sales``; ``import sales``
in a .bpf file loads :data:`MODULE`. ``bpf init DIR --template sales`` starts a
project from :data:`TEMPLATE`, and ``bpf serve --demo`` loads the sample records.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bpf_dsl.plugins import ActionSpec, FunctionSpec, ModuleSpec, SampleSpec, TemplateSpec, hookimpl

from .actions import ACTIONS, FUNCTIONS

__version__ = "0.1.0"

HERE = Path(__file__).resolve().parent
MODULE = HERE / "sales.bpf"
TEMPLATE = HERE / "template"


@hookimpl
def bpf_modules() -> Iterable[ModuleSpec]:
    """``import sales``: accounts, contacts, leads, opportunities, both sales processes and their rules."""
    return [ModuleSpec("sales", MODULE)]


@hookimpl
def bpf_actions() -> Iterable[ActionSpec]:
    """``sales.qualify_lead``, ``disqualify_lead``, ``reopen_lead``, ``close_opportunity``, ``require_closed``."""
    return ACTIONS


@hookimpl
def bpf_functions() -> Iterable[FunctionSpec]:
    """``sales.lead_score(budget, timeframe, decision_maker)``."""
    return FUNCTIONS


@hookimpl
def bpf_templates() -> Iterable[TemplateSpec]:
    """``bpf init DIR --template sales``."""
    return [TemplateSpec.from_folder("sales", "a sales project: imports the sales pack and extends the opportunity",
                                     TEMPLATE)]


@hookimpl
def bpf_sample_records() -> Iterable[SampleSpec]:
    """Accounts, contacts, leads and opportunities spread over every stage."""
    from .samples import samples

    return samples()
