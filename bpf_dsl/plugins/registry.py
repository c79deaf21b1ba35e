"""The registry: everything the built-ins and the installed packs supply, gathered once.

A pack that fails to import, or whose hooks raise, or that supplies a name another
pack already supplies, is recorded in :attr:`Registry.failures` with its reason,
and everything else still works. ``check_packs`` (bpf_dsl.check) also checks every
pack's .bpf modules and drops the packs whose modules don't check.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from typing import Any

import pluggy

from bpf_dsl.plugins import builtins
from bpf_dsl.plugins.specs import (
    ENTRY_POINT_GROUP,
    PROJECT,
    ActionSpec,
    Change,
    FunctionSpec,
    ModuleSpec,
    PackInfo,
    PluginFailure,
    SampleSpec,
    Specs,
    TemplateSpec,
)


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

    def hears_changes(self) -> bool:
        """Whether any pack implements ``bpf_before_change`` or ``bpf_after_change``.

        When none does, :meth:`before_change` answers None and :meth:`after_change` does nothing
        for every change: a caller with many changes to tell (a bulk import) may skip them.
        """
        return any(pm.hook.bpf_before_change.get_hookimpls() or pm.hook.bpf_after_change.get_hookimpls()
                   for _, pm in self.managers)

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


_default: Registry | None = None


def default_registry() -> Registry:
    """The registry of the built-ins and every installed pack, loaded on first use."""
    global _default
    if _default is None:
        _default = Registry()
    return _default
