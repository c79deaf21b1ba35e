"""The ``bpf`` command line (API.md). Errors are one line on stderr, no traceback unless ``--debug``.

Exit codes: 0 success, 1 the input has errors (or ``fmt --check`` found work, or the
environment refused: a database, a file, the output), 2 a bad invocation, 141 the
reader of the output went away (``bpf export | head``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

from bpf_dsl.errors import BpfError, OutputError, SourceError, UsageError, WriteError

if TYPE_CHECKING:
    from pathlib import Path

# Start-up: `bpf --help`, `bpf` alone and a usage error import nothing of the pipeline and
# none of the server; each command imports what it needs when it runs, and only the named
# command's group of sub-parsers is built (docs/decisions.md, "Command line").

BROKEN_PIPE = 141  # what a shell reports for a command killed by SIGPIPE: the usual end of `... | head`

EXTENSIONS = "bpf.commands"  # the entry-point group through which the server adds serve and token

#: Every command of ``bpf`` in the order ``bpf --help`` lists them: the group that builds its
#: sub-parser, and its help line. A group's sub-parsers are built only when one of its commands
#: is named; the others are listed from here (the groups' own help lines are the same:
#: tests/cli/test_cli_startup.py compares them). The server's commands register through the
#: ``bpf.commands`` entry points, loaded only when one of them is named.
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("main", "parse and check .bpf files"),
    "fmt": ("main", "rewrite .bpf files in the canonical layout"),
    "graph": ("main", "draw a process as Mermaid, DOT or SVG"),
    "migrate": ("data", "bring the database schema up to date"),
    "instances": ("data", "process instances: upgrade to the newest definitions"),
    "import": ("data", "bulk-create records from CSV or JSON lines"),
    "export": ("data", "write every record of an entity as CSV or JSON lines"),
    "deliveries": ("jobs", "webhook deliveries: list, retry"),
    "plugins": ("packs", "list installed plugin packs"),
    "init": ("packs", "make a new project folder from a plugin pack's template"),
    "test": ("authoring", "run scenario files (.bpft) on the pure engine"),
    "lsp": ("authoring", "the language server for editors (LSP over stdio)"),
    "serve": (EXTENSIONS, "the GraphQL server and the web page"),
    "token": (EXTENSIONS, "API tokens: create, revoke, list"),
}


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line and exit 2; every (sub)command takes ``--debug``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # SUPPRESS: a subcommand that wasn't given --debug must not reset the one given before it.
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="show tracebacks on errors")

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class _Output:
    """``sys.stdout``, whose write failures become one :class:`OutputError` line.

    A closed pipe stays a BrokenPipeError (the reader left: no message is due).
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text``."""
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as err:
            raise OutputError(f"can't write the output: {err.strerror or err}") from err

    def flush(self) -> None:
        """Flush, with the same errors as :meth:`write`."""
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as err:
            raise OutputError(f"can't write the output: {err.strerror or err}") from err

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _drop_output() -> None:
    """Point the output at /dev/null, so the interpreter's last flush can't fail again on exit."""
    try:
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else -1
    except (OSError, ValueError):
        return  # not a real file (a test's capture): nothing will flush it on exit
    if fd >= 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def _existing(paths: Sequence[str]) -> list[str]:
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise UsageError(f"no such file or folder: {missing[0]}")
    return list(paths)


def _warn_empty_folders(command: str, paths: Sequence[str]) -> None:
    """A folder given with no .bpf file in it is most likely the wrong folder: say so (not an error)."""
    from bpf_dsl.loader import expand_paths

    for path in paths:
        if os.path.isdir(path) and not expand_paths([path]):
            print(f"bpf {command}: warning: no .bpf files in {path}", file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    """``bpf check PATH...``."""
    import json

    from bpf_dsl.check import CheckCache, check_paths

    _warn_empty_folders("check", _existing(args.paths))
    report = check_paths(args.paths, cache=None if args.no_cache else CheckCache.default())
    if args.format == "json":
        print(json.dumps({"ok": report.ok, "diagnostics": [d.as_json() for d in report.diagnostics]}, indent=2))
    else:
        if report.diagnostics:
            # One write that ends its last line, flushed before the summary goes to stderr: where
            # both streams reach one terminal or file, the summary starts a line of its own
            # instead of landing inside a diagnostic (block-buffered stdout flushes in pieces).
            sys.stdout.write(report.render() + "\n")
            sys.stdout.flush()
        errors = sum(1 for d in report.diagnostics if d.is_error)
        warnings = len(report.diagnostics) - errors
        summary = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        files = len(report.sources)
        print(f"{'ok' if report.ok else 'failed'}: {files} file{'s' * (files != 1)} checked, {summary}",
              file=sys.stderr)
    return 0 if report.ok else 1


def _write_atomically(path: Path, text: str) -> None:
    import tempfile

    # A crash mid-write must never leave half a file: write beside it, then rename over it.
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise WriteError(f"can't write {path}: {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise WriteError(f"can't write {path}: {err.strerror or err}") from err
        raise


def cmd_fmt(args: argparse.Namespace) -> int:
    """``bpf fmt PATH... [--check]``."""
    from pathlib import Path

    from bpf_dsl.loader import expand_paths, not_utf8
    from bpf_dsl.tools.formatter import format_text

    failed = False
    would_change: list[str] = []
    _warn_empty_folders("fmt", _existing(args.paths))
    for name in expand_paths(args.paths):
        path = Path(name)
        try:
            data = path.read_bytes()
            text = data.decode("utf-8")
            formatted = format_text(text, name)
        except SourceError as err:
            print("\n".join(d.render(text) for d in err.diagnostics), file=sys.stderr)
            failed = True
            continue
        except UnicodeDecodeError as err:
            print(not_utf8(name, data, err).render(None), file=sys.stderr)
            failed = True
            continue
        except OSError as err:
            print(f"bpf fmt: can't read {name}: {err.strerror or err}", file=sys.stderr)
            failed = True
            continue
        if formatted == text:
            continue
        would_change.append(name)
        if not args.check:
            _write_atomically(path, formatted)
    for name in would_change:
        print(f"{'would reformat' if args.check else 'reformatted'} {name}")
    if failed:
        return 1
    return 1 if args.check and would_change else 0


def cmd_graph(args: argparse.Namespace) -> int:
    """``bpf graph PATH --process NAME [--format mermaid|dot|svg]``."""
    from pathlib import Path

    from bpf_dsl.check import check_paths
    from bpf_dsl.nodes import Process
    from bpf_dsl.tools import graph as graphs

    report = check_paths(_existing([args.path]))
    if not report.ok:
        print(report.render(), file=sys.stderr)
        return 1
    from bpf_dsl.loader import load_files
    from bpf_dsl.plugins import default_registry

    loaded = load_files([args.path], default_registry())
    found = [d for m in loaded.modules for d in m.declarations if isinstance(d, Process) and d.name == args.process]
    if not found:
        names = sorted(d.name for m in loaded.modules for d in m.declarations if isinstance(d, Process))
        raise UsageError(f"no process `{args.process}` in {args.path} (processes: {', '.join(names) or 'none'})")
    output = graphs.render(found[0], args.format)
    if args.output:
        _write_atomically(Path(args.output), output)
    else:
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
    if args.format == "svg":
        print(f"bpf graph: SVG drawn by the {graphs.renderer_used()} renderer", file=sys.stderr)
    return 0


def _add_main_commands(sub: Any) -> None:
    """Register check, fmt and graph."""
    p = sub.add_parser("check", help=COMMANDS["check"][1])
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--no-cache", action="store_true", help="don't read or write the check cache")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("fmt", help=COMMANDS["fmt"][1])
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--check", action="store_true", help="only report files that would change (exit 1)")
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser("graph", help=COMMANDS["graph"][1])
    p.add_argument("path", metavar="PATH")
    p.add_argument("--process", required=True, metavar="NAME")
    p.add_argument("--format", choices=["mermaid", "dot", "svg"], default="mermaid")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=cmd_graph)


def _add_data_commands(sub: Any) -> None:
    from bpf_dsl.cli import data

    data.add_commands(sub, _Parser)


def _add_jobs_commands(sub: Any) -> None:
    from bpf_dsl.cli import jobs

    jobs.add_commands(sub, _Parser)


def _add_pack_commands(sub: Any) -> None:
    from bpf_dsl.cli import packs

    packs.add_commands(sub, _Parser)


def _add_authoring_commands(sub: Any) -> None:
    from bpf_dsl.cli import authoring

    authoring.add_commands(sub, _Parser)


def _add_extension_commands(sub: Any) -> None:
    """Every ``bpf.commands`` entry point registers its commands; a broken one is a warning."""
    import importlib.metadata

    for ep in importlib.metadata.entry_points(group=EXTENSIONS):
        try:
            ep.load()(sub, _Parser)
        except Exception as exc:  # a broken extension must not take the other commands down with it
            print(f"bpf: warning: the commands of {ep.name} failed to load: {exc}", file=sys.stderr)


_GROUPS: dict[str, Callable[[Any], None]] = {
    "main": _add_main_commands, "data": _add_data_commands, "jobs": _add_jobs_commands, "packs": _add_pack_commands,
    "authoring": _add_authoring_commands, EXTENSIONS: _add_extension_commands,
}


def command_named(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first positional argument (``bpf`` itself takes only options)."""
    args: Iterator[str] = iter(argv)
    for arg in args:
        if arg == "--":
            return next(args, None)
        if arg == "-" or not arg.startswith("-"):
            return arg
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of ``bpf``: with ``argv``, built for the command it names; without, whole.

    Only the group of the named command gets its real sub-parsers; the other commands
    (all of them for ``bpf --help``, ``bpf`` alone or an unknown command) are listed by
    name and help line from :data:`COMMANDS`, so those import none of them.
    """
    parser = _Parser(prog="bpf", description="Business process flows as text: check, format, draw, serve.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    named = None if argv is None else command_named(argv)
    built: set[str] = set()
    for name, (group, help_line) in COMMANDS.items():
        if argv is not None and (named not in COMMANDS or COMMANDS[named][0] != group):
            sub.add_parser(name, help=help_line)  # listed only: it isn't the command named
        elif group not in built:
            _GROUPS[group](sub)
            built.add(group)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``bpf``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = False
    parser = build_parser(argv)
    stdout = sys.stdout
    sys.stdout = cast(TextIO, _Output(stdout))
    try:
        args = parser.parse_args(argv)
        debug = bool(getattr(args, "debug", False))
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        if not debug:
            import logging

            # The connection pool logs each failed attempt; the command reports the failure once itself.
            logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        func: Callable[[argparse.Namespace], int] = args.func
        code = func(args)
        sys.stdout.flush()  # a full disk is reported here, not by the interpreter after main returns
        return code
    except UsageError as err:
        print(f"bpf: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _drop_output()  # the reader has gone (`bpf export | head`): no message, as other tools do
        return BROKEN_PIPE
    except BpfError as err:
        if isinstance(err, OutputError):
            _drop_output()
        if debug:
            raise
        more = "; `bpf check` shows every problem" if isinstance(err, SourceError) and len(err.diagnostics) > 1 else ""
        print(f"bpf: error: {err}{more}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bpf: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: say so in one line, keep the traceback for --debug
        if debug:
            raise
        print(f"bpf: internal error: {type(err).__name__}: {err} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        sys.stdout = stdout

