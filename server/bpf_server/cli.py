"""The server's subcommands of ``bpf`` (registered through the ``bpf.commands`` entry point)."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register ``serve`` and ``token`` (filled in by the server's issue)."""
