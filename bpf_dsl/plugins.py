"""Plugin packs: entry points plus pluggy hookspecs. The built-ins are a plugin too.

A pack is a Python distribution that registers a module under the entry-point
group :data:`ENTRY_POINT_GROUP`; that module (or object) implements any of the
hooks below with :data:`hookimpl`. Every hook returns frozen, declarative
objects. A pack that fails to import, or whose hooks raise, or that supplies a
name another pack already supplies, is recorded in :attr:`Registry.failures`
with its reason, and everything else still works. :func:`check_packs` also
checks every pack's .bpf modules and drops the packs whose modules don't check.
docs/plugins.md is the guide for pack authors.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .diagnostics import Diagnostic

ENTRY_POINT_GROUP = "bpf.plugins"
PROJECT = "bpf"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True, slots=True)
class Param:
    """A typed parameter of an action or function (types: text, number, bool, date, datetime, any)."""

    name: str
    type: str = "any"
    required: bool = True
    options: tuple[str, ...] = ()  # the accepted values of a text parameter (empty: any text)

    def invalid(self, value: Any) -> str | None:
        """Why ``value`` is not one of :attr:`options`, or None when it is (or any value goes)."""
        if not self.options or value is None or value in self.options:
            return None
        return f"`{self.name}` must be one of {', '.join(repr(o) for o in self.options)}, not {value!r}"


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """An action callable from ``call NS.NAME(...)`` and action steps.

    ``run(context, **arguments)`` does the work; the engine passes a context
    object (see the engine's docs). It may raise ``ActionFailed`` to fail the move.
    """

    namespace: str
    name: str
    params: tuple[Param, ...]
    run: Callable[..., Any] | None = field(default=None, compare=False)
    description: str = ""

    @property
    def dotted(self) -> str:
        """``namespace.name``."""
        return f"{self.namespace}.{self.name}"


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A function callable in expressions: a built-in (namespace ``""``) or ``NS.NAME(...)``.

    ``returns`` is a type name; ``"same"`` means the common type of its ``any`` arguments.
    ``impl`` receives the evaluation environment first when ``needs_env`` is set.
    """

    namespace: str
    name: str
    params: tuple[Param, ...]
    returns: str
    impl: Callable[..., Any] = field(compare=False)
    needs_env: bool = False
    description: str = ""

    @property
    def dotted(self) -> str:
        """The name as written in expressions."""
        return f"{self.namespace}.{self.name}" if self.namespace else self.name


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    """A .bpf module a pack supplies, importable as ``import NAME``."""

    name: str
    path: Path


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """A project template for ``bpf init DIR --template NAME``.

    ``files`` maps relative POSIX paths (``"processes/main.bpf"``) to their text.
    The folder it makes should import the pack and check clean with ``bpf check``.
    """

    name: str
    description: str
    files: Mapping[str, str] = field(default_factory=dict, hash=False)

    @classmethod
    def from_folder(cls, name: str, description: str, folder: Path) -> TemplateSpec:
        """A template holding every file below ``folder`` (UTF-8 text; caches and hidden files skipped)."""
        files = {}
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if not path.is_file() or any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            files[rel.as_posix()] = path.read_text(encoding="utf-8")
        return cls(name, description, files)


@dataclass(frozen=True, slots=True)
class SampleSpec:
    """A sample record for ``bpf serve --demo`` (see :func:`bpf_dsl.samples.load_samples`).

    - ``values``: the record's fields as API JSON values (API.md); a lookup may name
      another sample of the same pack as ``"@KEY"``.
    - ``process``: the process started on create (None: the entity's default process;
      ``""``: none).
    - ``moves``: how many ``moveNext`` to apply after creating it, so samples spread
      over the stages.
    - ``key``: the name other samples of the pack use to refer to this record.
    - ``stages``: per stage name, values written into the record that stage works on
      while the instance stands there (what a user fills in at that stage).
    - ``actions``: action step names to run when the active stage has them (required
      action steps are run anyway before moving on).
    - ``end``: ``"finish"`` or ``"abandon"`` after the moves.
    - ``age_days``: how long ago the record was created; stage visits are spread over
      that time, so the demo's time-in-stage analytics look real. None: the loader picks.
    - ``needs``: entities the program must declare for this sample to load (e.g. another
      pack's, which one of its actions creates); without them the sample is left out.
    """

    entity: str
    values: Mapping[str, Any]
    process: str | None = None
    moves: int = 0
    key: str | None = None
    stages: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)
    actions: tuple[str, ...] = ()
    end: str | None = None
    age_days: float | None = None
    needs: tuple[str, ...] = ()


class Specs:
    """The hooks a pack may implement (all optional)."""

    @hookspec
    def bpf_modules(self) -> Iterable[ModuleSpec]:  # type: ignore[empty-body]
        """.bpf modules this pack supplies, importable by name."""

    @hookspec
    def bpf_actions(self) -> Iterable[ActionSpec]:  # type: ignore[empty-body]
        """Actions for ``call`` and action steps."""

    @hookspec
    def bpf_functions(self) -> Iterable[FunctionSpec]:  # type: ignore[empty-body]
        """Functions for expressions."""

    @hookspec
    def bpf_stage_categories(self) -> Iterable[str]:  # type: ignore[empty-body]
        """Stage categories beyond the D365 set."""

    @hookspec
    def bpf_templates(self) -> Iterable[TemplateSpec]:  # type: ignore[empty-body]
        """Project templates for ``bpf init DIR --template NAME``."""

    @hookspec
    def bpf_sample_records(self) -> Iterable[SampleSpec]:  # type: ignore[empty-body]
        """Sample records for ``bpf serve --demo``, in creation order."""

    @hookspec
    def bpf_before_change(self, change: Change) -> str | None:
        """Called inside the move's transaction before it commits; a message vetoes it (CANCELLED)."""

    @hookspec
    def bpf_after_change(self, change: Change) -> None:
        """Called after the move committed (notifications, integrations); errors are logged, not raised."""


@dataclass(frozen=True, slots=True)
class Change:
    """A stage or status change of an instance, as pre/post hooks see it.

    ``kind`` is one of the ProcessEvent kinds (started, stage_changed, finished,
    abandoned, reactivated, switched).
    """

    kind: str
    process: str
    instance_id: str
    record_id: str
    from_stage: str | None
    to_stage: str | None
    status: str
    by: str


@dataclass(frozen=True, slots=True)
class PackInfo:
    """An installed pack as ``bpf plugins`` shows it."""

    name: str
    version: str
    modules: tuple[str, ...]
    actions: tuple[str, ...]
    functions: tuple[str, ...]
    templates: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    samples: int = 0


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """A pack that could not be loaded, and why."""

    name: str
    reason: str


class Registry:
    """Everything the installed packs (and the built-ins) supply, gathered once.

    ``plugins`` are ``(name, version, object)`` triples registered in-process (tests,
    embedding); ``entry_points`` also loads every pack installed under
    :data:`ENTRY_POINT_GROUP`. A pack is all or nothing: if one of its hooks fails,
    returns something that isn't its spec type, or supplies a module, action,
    function or template name another pack already supplies, none of it is used and
    the reason is in :attr:`failures`.
    """

    def __init__(self, plugins: Iterable[tuple[str, str, object]] = (), *, entry_points: bool = True) -> None:
        from . import builtins

        self.failures: list[PluginFailure] = []
        self.packs: list[PackInfo] = []
        self.actions: dict[str, ActionSpec] = {}
        self.functions: dict[str, FunctionSpec] = {}
        self.modules: dict[str, ModuleSpec] = {}
        self.categories: set[str] = set()
        self.templates: dict[str, TemplateSpec] = {}
        self.samples: dict[str, tuple[SampleSpec, ...]] = {}  # pack name -> its sample records, in order
        self.managers: list[tuple[str, pluggy.PluginManager]] = []
        self.checked: list[PluginFailure] | None = None  # what check_packs found, once it ran
        self._owners: dict[tuple[str, str], str] = {}  # (kind, name) -> the pack that supplies it
        self._add("bpf", "builtin", builtins)
        for name, version, plugin in plugins:
            self._add(name, version, plugin)
        if entry_points:
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                version = ep.dist.version if ep.dist is not None else "?"
                try:
                    plugin = ep.load()
                except BaseException as exc:  # a broken pack must not stop the others (SystemExit included)
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    self.failures.append(PluginFailure(ep.name, f"import failed: {type(exc).__name__}: {exc}"))
                    continue
                self._add(ep.name, version, plugin)

    def _add(self, name: str, version: str, plugin: object) -> None:
        if any(p.name == name for p in self.packs):
            self.failures.append(PluginFailure(name, f"a pack named {name} is already loaded; this one is skipped"))
            return
        pm = pluggy.PluginManager(PROJECT)
        pm.add_hookspecs(Specs)
        try:
            pm.register(plugin, name=name)
            modules = _collect(pm.hook.bpf_modules(), ModuleSpec, "bpf_modules")
            actions = _collect(pm.hook.bpf_actions(), ActionSpec, "bpf_actions")
            functions = _collect(pm.hook.bpf_functions(), FunctionSpec, "bpf_functions")
            categories = _collect(pm.hook.bpf_stage_categories(), str, "bpf_stage_categories")
            templates = _collect(pm.hook.bpf_templates(), TemplateSpec, "bpf_templates")
            samples = _collect(pm.hook.bpf_sample_records(), SampleSpec, "bpf_sample_records")
        except Exception as exc:  # a pack whose hooks fail is reported, not fatal
            self.failures.append(PluginFailure(name, f"{type(exc).__name__}: {exc}"))
            return
        names = [("module", m.name) for m in modules] + [("action", a.dotted) for a in actions] + \
                [("function", f.dotted) for f in functions] + [("template", t.name) for t in templates]
        for key in names:
            owner = self._owners.get(key)
            if owner is not None:
                self.failures.append(PluginFailure(
                    name, f"the {key[0]} `{key[1]}` is already supplied by the pack {owner}; this pack is skipped"))
                return
        for key in names:
            self._owners[key] = name
        for m in modules:
            self.modules[m.name] = m
        for a in actions:
            self.actions[a.dotted] = a
        for f in functions:
            self.functions[f.dotted] = f
        for t in templates:
            self.templates[t.name] = t
        if samples:
            self.samples[name] = tuple(samples)
        self.categories.update(categories)
        self.managers.append((name, pm))
        self.packs.append(PackInfo(name, version, tuple(m.name for m in modules), tuple(a.dotted for a in actions),
                                   tuple(f.dotted for f in functions), tuple(t.name for t in templates),
                                   tuple(categories), len(samples)))

    def pack(self, name: str) -> PackInfo | None:
        """The loaded pack of that name."""
        return next((p for p in self.packs if p.name == name), None)

    def drop(self, name: str) -> None:
        """Forget a loaded pack and everything it supplies (e.g. its modules don't check)."""
        pack = self.pack(name)
        if pack is None:
            return
        self.packs.remove(pack)
        self.managers = [(n, pm) for n, pm in self.managers if n != name]
        for module in pack.modules:
            self.modules.pop(module, None)
        for action in pack.actions:
            self.actions.pop(action, None)
        for function in pack.functions:
            self.functions.pop(function, None)
        for template in pack.templates:
            self.templates.pop(template, None)
        self.samples.pop(name, None)
        self._owners = {k: v for k, v in self._owners.items() if v != name}
        self.categories = {c for p in self.packs for c in p.categories}

    def before_change(self, change: Change) -> str | None:
        """The first veto any pack gives, or None. A hook that raises vetoes too (fail safe)."""
        for name, pm in self.managers:
            try:
                answers = pm.hook.bpf_before_change(change=change)
            except Exception as exc:
                return f"the plugin {name} failed: {type(exc).__name__}: {exc}"
            for answer in answers:
                if answer:
                    return str(answer)
        return None

    def after_change(self, change: Change) -> list[str]:
        """Tell every pack; returns the failures (they never undo a committed move)."""
        failures = []
        for name, pm in self.managers:
            try:
                pm.hook.bpf_after_change(change=change)
            except Exception as exc:
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
        return failures


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
        import importlib.util

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
        import importlib

        try:
            module = importlib.import_module(f"{self.package}.samples")
        except ModuleNotFoundError as exc:
            if exc.name != f"{self.package}.samples":
                raise  # the samples module exists but imports something missing: say so
            return []
        samples: Iterable[SampleSpec] = module.samples()
        return samples


def _collect(batches: Iterable[Iterable[Any] | None], kind: type, hook: str) -> list[Any]:
    """Flatten a hook's answers, refusing anything that isn't ``kind`` (a pack author's slip)."""
    out = []
    for batch in batches:
        if batch is None:
            continue
        if isinstance(batch, str | bytes) or not isinstance(batch, Iterable):
            raise TypeError(f"{hook} must return a list of {kind.__name__}, not {type(batch).__name__}")
        for item in batch:
            if not isinstance(item, kind):
                raise TypeError(f"{hook} must return {kind.__name__} items, not {type(item).__name__}")
            out.append(item)
    return out


def check_packs(registry: Registry) -> list[PluginFailure]:
    """Check every pack's .bpf modules; drop the packs whose modules have errors, and say why.

    Each module is checked on its own (as ``import NAME`` would load it). A pack with
    an error is removed from ``registry`` (its modules, actions, functions, templates
    and samples) and added to ``registry.failures``; the returned list holds the packs
    this check failed. Run once per registry (later calls return the same answer):
    ``bpf plugins`` and the server call it before using the packs.
    """
    if registry.checked is not None:
        return list(registry.checked)
    from . import check_text

    found: list[PluginFailure] = []
    for pack in list(registry.packs):
        problems: list[str] = []
        importer = f"<{pack.name} pack>"
        for module in pack.modules:
            try:
                report = check_text(f"import {module}\n", importer, registry)
            except Exception as exc:  # a checker crash on a pack's file is still that pack's failure
                problems.append(f"the module {module} can't be checked: {type(exc).__name__}: {exc}")
                continue
            errors = [d for d in report.diagnostics if d.is_error]
            if errors:
                more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
                problems.append(f"the module {module} doesn't check: "
                                + "; ".join(_reason(d, importer) for d in errors[:3]) + more)
        if problems:
            found.append(PluginFailure(pack.name, "; ".join(problems)))
    for failure in found:
        registry.drop(failure.name)
        registry.failures.append(failure)
    registry.checked = found
    return list(found)


def _reason(d: Diagnostic, importer: str) -> str:
    """``FILE:LINE:COL: BPFnnn: message``; without the place when it is the check's own ``import`` line."""
    if d.span.file == importer:
        return f"{d.code}: {d.message}"
    return f"{d.span.file}:{d.span.line}:{d.span.column}: {d.code}: {d.message}"


_default: Registry | None = None


def default_registry() -> Registry:
    """The registry of the built-ins and every installed pack, loaded on first use."""
    global _default
    if _default is None:
        _default = Registry()
    return _default
