"""``bpf plugins`` and ``bpf init``: installed plugin packs and project folders from their templates."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from bpf_dsl.errors import UsageError, WriteError

if TYPE_CHECKING:
    from bpf_dsl.plugins import Registry, TemplateSpec


def _registry() -> Registry:
    from bpf_dsl.check import check_packs
    from bpf_dsl.plugins import default_registry

    registry = default_registry()
    check_packs(registry)  # a pack whose .bpf doesn't check is listed as failed, and not offered
    return registry


def cmd_plugins(args: argparse.Namespace) -> int:
    """``bpf plugins``: every pack with its version, templates, modules, actions and functions; then failures."""
    registry = _registry()
    if args.format == "json":
        packs = [{"name": p.name, "version": p.version, "templates": list(p.templates), "modules": list(p.modules),
                  "actions": list(p.actions), "functions": list(p.functions), "categories": list(p.categories),
                  "samples": p.samples} for p in registry.packs]
        failures = [{"name": f.name, "reason": f.reason} for f in registry.failures]
        print(json.dumps({"packs": packs, "failures": failures}, indent=2))
        return 0
    for pack in registry.packs:
        print(f"{pack.name} {pack.version}")
        rows = (("templates", pack.templates), ("modules", pack.modules), ("actions", pack.actions),
                ("functions", pack.functions))
        for label, items in rows:
            if items:
                print(f"  {label}: {', '.join(items)}")
        if pack.samples:
            print(f"  samples: {pack.samples} records")
    for failure in registry.failures:
        print(f"{failure.name} FAILED: {failure.reason}")
    return 0


def _safe_files(template: TemplateSpec) -> dict[str, str]:
    """The template's files, refusing paths that would leave the new folder."""
    out = {}
    for name, text in template.files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts or "\\" in name or ":" in name:
            raise UsageError(f"the template {template.name} has an unsafe file path {name!r}")
        out[str(rel)] = text
    return out


def cmd_init(args: argparse.Namespace) -> int:
    """``bpf init DIR --template NAME``: a new project folder from a pack's template."""
    registry = _registry()
    template = registry.templates.get(args.template)
    if template is None:
        names = ", ".join(sorted(registry.templates)) or "none (install a plugin pack, e.g. pip install bpf-sales)"
        raise UsageError(f"no template named {args.template!r}; templates: {names}")
    target = Path(args.dir)
    try:
        if target.exists() and not target.is_dir():
            raise UsageError(f"{args.dir} exists and is not a folder")
        if target.is_dir() and any(target.iterdir()):
            raise UsageError(f"{args.dir} is not empty; give a new or empty folder")
    except OSError as err:  # a folder we may not look into
        raise UsageError(f"can't use {args.dir}: {err.strerror or err}") from err
    files = _safe_files(template)
    _write_project(target, files)
    print(f"created {args.dir} from the {template.name} template ({len(files)} file{'s' * (len(files) != 1)}):")
    for name in sorted(files):
        print(f"  {os.path.join(args.dir, name)}")
    print(f"next: bpf check {args.dir} && bpf serve {args.dir} --demo")
    return 0


def _write_project(target: Path, files: dict[str, str]) -> None:
    """Write ``files`` under ``target`` (new or empty); on failure remove what was made, and say why in one line."""
    first_new: Path | None = None
    try:
        first_new = next((p for p in [*reversed(target.parents), target] if not p.exists()), None)
        target.mkdir(parents=True, exist_ok=True)
        for name, text in sorted(files.items()):
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "x", encoding="utf-8", newline="") as out:  # never overwrite
                out.write(text)
    except OSError as err:
        # Half a project would look like a whole one: remove the folders made, or empty the given one again.
        if first_new is not None:
            shutil.rmtree(first_new, ignore_errors=True)
        else:  # only what this wrote: the folder was empty before
            for top in sorted({PurePosixPath(name).parts[0] for name in files}):
                made = target / top
                if made.is_dir() and not made.is_symlink():
                    shutil.rmtree(made, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        made.unlink()
        raise WriteError(f"can't create {target}: {err.strerror or err}") from err


def add_commands(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register ``plugins`` and ``init``."""
    p = sub.add_parser("plugins", help="list installed plugin packs")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("init", help="make a new project folder from a plugin pack's template")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--template", required=True, metavar="NAME", help="a template of an installed pack (bpf plugins)")
    p.set_defaults(func=cmd_init)
