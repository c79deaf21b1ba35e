"""``bpf test`` and ``bpf lsp``: authoring .bpf like code, with scenario tests and an editor's language server.

Each imports its package only when it runs: ``bpf --help`` and every other command import
neither pygls nor the scenario runner.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bpf_dsl.errors import UsageError


def cmd_lsp(args: argparse.Namespace) -> int:
    """``bpf lsp``: serve the Language Server Protocol on stdin and stdout."""
    del args
    try:
        from bpf_dsl.lsp.server import serve
    except ImportError as err:  # pygls is a dependency of bpf: a broken install, said in one line
        raise UsageError(f"the language server needs pygls and lsprotocol ({err}); reinstall bpf") from err
    return serve()


def cmd_test(args: argparse.Namespace) -> int:
    """``bpf test [PATH...]``: run scenario files."""
    from bpf_dsl.testing.report import run_command

    if args.min_coverage is not None and not 0 <= args.min_coverage <= 100:
        raise UsageError("--min-coverage takes a percentage from 0 to 100")
    return run_command(args.paths or ["."], coverage=args.coverage or args.min_coverage is not None,
                       min_coverage=args.min_coverage, output=args.format, verbose=args.verbose, out=sys.stdout)


def add_commands(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register ``test`` and ``lsp``."""
    del parser_class
    p = sub.add_parser("test", help="run scenario files (.bpft) on the pure engine")
    p.add_argument("paths", nargs="*", metavar="PATH", help=".bpft files or folders (default: the current folder)")
    p.add_argument("--coverage", action="store_true", help="report the stages and `if` arms no scenario reached")
    p.add_argument("--min-coverage", type=float, metavar="N", help="fail when coverage is under N percent")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per scenario")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("lsp", help="the language server for editors (LSP over stdio)")
    p.set_defaults(func=cmd_lsp)
