"""Plugin packs: entry points plus pluggy hookspecs. The built-ins are a plugin too.

- :mod:`.specs`: the frozen objects packs supply and the hooks they implement;
- :mod:`.registry`: everything installed, gathered once (:func:`default_registry`);
- :mod:`.folder`: :class:`FolderPack`, a pack laid out by convention in its folder;
- :mod:`.builtins`: the ``bpf`` namespace's actions and functions, registered like any pack.

docs/plugins.md is the guide for pack authors. :class:`ActionFailed` (of :mod:`bpf_dsl.errors`) is
here too, for actions to refuse with: a pack that imports only this package loads nothing of the
service or storage when ``bpf check`` reads its modules.
"""

from bpf_dsl.errors import ActionFailed
from bpf_dsl.plugins.folder import FolderPack
from bpf_dsl.plugins.registry import Registry, default_registry
from bpf_dsl.plugins.specs import (
    ENTRY_POINT_GROUP,
    ActionSpec,
    Change,
    FunctionSpec,
    ModuleSpec,
    PackInfo,
    Param,
    PluginFailure,
    SampleSpec,
    Specs,
    TemplateSpec,
    hookimpl,
    hookspec,
)

__all__ = [
    "ENTRY_POINT_GROUP", "ActionFailed", "ActionSpec", "Change", "FolderPack", "FunctionSpec", "ModuleSpec",
    "PackInfo", "Param", "PluginFailure", "Registry", "SampleSpec", "Specs", "TemplateSpec", "default_registry",
    "hookimpl", "hookspec",
]
