"""What packs supply, as frozen declarative objects, and the hooks they implement.

A pack is a Python distribution that registers a module under the entry-point
group :data:`ENTRY_POINT_GROUP`; that module (or object) implements any of the
hooks of :class:`Specs` with :data:`hookimpl`. Every hook returns frozen,
declarative objects. docs/plugins.md is the guide for pack authors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

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
    """A sample record for ``bpf serve --demo`` (see :func:`bpf_dsl.service.samples.load_samples`).

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
