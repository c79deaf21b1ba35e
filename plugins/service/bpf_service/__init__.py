"""bpf's service pack: customers, cases, work orders; Phone to Case and Case to Work Order.

Registered under the ``bpf.plugins`` entry point as ``service``; ``import service``
in a .bpf file loads :data:`MODULE`; ``bpf init DIR --template service`` starts
a project from :data:`TEMPLATE`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bpf_dsl.plugins import ActionSpec, FunctionSpec, ModuleSpec, SampleSpec, TemplateSpec, hookimpl

from .actions import ACTIONS, FUNCTIONS

__version__ = "0.1.0"

HERE = Path(__file__).resolve().parent
MODULE = HERE / "service.bpf"
TEMPLATE = HERE / "template"


@hookimpl
def bpf_modules() -> Iterable[ModuleSpec]:
    """``import service``: customers, cases, work orders, both processes and the service-level rules."""
    return [ModuleSpec("service", MODULE)]


@hookimpl
def bpf_actions() -> Iterable[ActionSpec]:
    """``service.escalate``, ``service.resolve_case``, ``service.complete_work_order``."""
    return ACTIONS


@hookimpl
def bpf_functions() -> Iterable[FunctionSpec]:
    """``service.business_days(start, end)``."""
    return FUNCTIONS


@hookimpl
def bpf_stage_categories() -> Iterable[str]:
    """Field service stages: scheduling a visit and delivering the work."""
    return ["schedule", "deliver"]


@hookimpl
def bpf_templates() -> Iterable[TemplateSpec]:
    """``bpf init DIR --template service``."""
    return [TemplateSpec.from_folder("service", "a customer service project: imports the service pack and extends "
                                                "the case", TEMPLATE)]


@hookimpl
def bpf_sample_records() -> Iterable[SampleSpec]:
    """Customers, cases on both processes and their work orders, spread over every stage."""
    from .samples import samples

    return samples()
