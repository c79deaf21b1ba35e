"""FolderPack: a pack laid out by convention in its package's folder."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from pathlib import Path

from bpf_dsl.plugins.specs import ActionSpec, FunctionSpec, ModuleSpec, SampleSpec, TemplateSpec, hookimpl


class FolderPack:
    """A pack laid out by convention in its package's folder; register the object itself.

    ``NAME.bpf`` is the module ``import NAME`` loads, ``template/`` is what ``bpf init
    DIR --template NAME`` copies, and ``samples.py``'s ``samples()`` (imported only when
    ``bpf serve --demo`` asks) gives the sample records. Actions, functions and stage
    categories are passed in. The entry point names the object::

        [project.entry-points."bpf.plugins"]
        sales = "bpf_sales:PACK"
    """

    def __init__(self, package: str, name: str, *, template: str, actions: Iterable[ActionSpec] = (),
                 functions: Iterable[FunctionSpec] = (), categories: Iterable[str] = ()) -> None:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise ValueError(f"no package {package!r}")
        self.package = package
        self.name = name
        self.folder = Path(spec.origin).resolve().parent
        self.template_description = template
        self.actions = tuple(actions)
        self.functions = tuple(functions)
        self.categories = tuple(categories)

    @property
    def module_path(self) -> Path:
        """The pack's module: ``NAME.bpf`` in its folder."""
        return self.folder / f"{self.name}.bpf"

    @property
    def template_folder(self) -> Path:
        """What ``bpf init --template NAME`` copies."""
        return self.folder / "template"

    @hookimpl
    def bpf_modules(self) -> Iterable[ModuleSpec]:
        """``import NAME``: the folder's ``NAME.bpf``."""
        return [ModuleSpec(self.name, self.module_path)]

    @hookimpl
    def bpf_actions(self) -> Iterable[ActionSpec]:
        """The actions given."""
        return self.actions

    @hookimpl
    def bpf_functions(self) -> Iterable[FunctionSpec]:
        """The functions given."""
        return self.functions

    @hookimpl
    def bpf_stage_categories(self) -> Iterable[str]:
        """The stage categories given."""
        return self.categories

    @hookimpl
    def bpf_templates(self) -> Iterable[TemplateSpec]:
        """``bpf init DIR --template NAME``: the folder's ``template/``, if there is one."""
        folder = self.template_folder
        return [TemplateSpec.from_folder(self.name, self.template_description, folder)] if folder.is_dir() else []

    @hookimpl
    def bpf_sample_records(self) -> Iterable[SampleSpec]:
        """``samples()`` of the package's ``samples`` module, if it has one."""
        try:
            module = importlib.import_module(f"{self.package}.samples")
        except ModuleNotFoundError as exc:
            if exc.name != f"{self.package}.samples":
                raise  # the samples module exists but imports something missing: say so
            return []
        samples: Iterable[SampleSpec] = module.samples()
        return samples
