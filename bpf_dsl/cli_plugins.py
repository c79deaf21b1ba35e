"""``bpf plugins`` and ``bpf init``: installed plugin packs and project folders from their templates."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_plugins(args: argparse.Namespace) -> int:
    """``bpf plugins``: name, version, modules, actions, functions of every installed pack."""
    from .plugins import default_registry

    registry = default_registry()
    for pack in registry.packs:
        print(f"{pack.name} {pack.version}")
        for label, items in (("modules", pack.modules), ("actions", pack.actions), ("functions", pack.functions)):
            if items:
                print(f"  {label}: {', '.join(items)}")
    for failure in registry.failures:
        print(f"{failure.name} FAILED: {failure.reason}")
    return 0


def add_commands(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register ``plugins`` (and, with the packs, ``init``)."""
    p = sub.add_parser("plugins", help="list installed plugin packs")
    p.set_defaults(func=cmd_plugins)
