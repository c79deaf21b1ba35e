"""`bpf` starts light: what a run imports, read from ``sys.modules`` at its end (no timings here:
bench/cli_start.py measures them).

``bpf --help``, ``bpf`` alone and a usage error import nothing of the pipeline, of pluggy
or of the server, and load no entry point; ``bpf check`` imports the checker but neither
the server nor storage. The commands still all appear in ``--help``, with the help lines
their own sub-parsers give.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bpf_dsl.cli.main import COMMANDS, build_parser, command_named

# Runs `bpf ARGS` as the console script does, then writes the names of the modules it imported.
RUNNER = """\
import os, sys
try:
    from bpf_dsl.cli import main
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
finally:
    with open(os.environ["BPF_TEST_MODULES"], "w") as out:
        out.write("\\n".join(sorted(sys.modules)))
sys.exit(code)
"""

BASELINE = """\
import os, sys
with open(os.environ["BPF_TEST_MODULES"], "w") as out:
    out.write("\\n".join(sorted(sys.modules)))
"""

WEB_AND_DATABASE = ("bpf_server", "strawberry", "starlette", "uvicorn", "graphql", "psycopg", "psycopg_pool",
                    "sqlite3", "bpf_dsl.storage", "bpf_dsl.service")
NOT_FOR_HELP = ("lark", "pluggy", "importlib.metadata", "bpf_dsl.checker", "bpf_dsl.check", "bpf_dsl.parser",
                "bpf_dsl.plugins", "bpf_dsl.nodes", *WEB_AND_DATABASE)

CLEAN = "role r\nentity lead {\n    topic: text required\n}\n"


def _modules(tmp_path: Path, code: str, *args: str, env: dict[str, str] | None = None
             ) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    out = tmp_path / "modules.txt"
    env = {**(env or os.environ), "BPF_TEST_MODULES": str(out)}
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=120, check=False)
    return result, set(out.read_text(encoding="utf-8").splitlines())


def imported_by(tmp_path: Path, *args: str, env: dict[str, str] | None = None
                ) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``bpf ARGS`` in a new process: its result, and the modules it imported beyond the interpreter's own."""
    _, baseline = _modules(tmp_path, BASELINE, env=env)
    result, modules = _modules(tmp_path, RUNNER, *args, env=env)
    return result, modules - baseline


def _found(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize(("args", "code"), [
    (("--help",), 0),
    (("--debug", "--help"), 0),
    ((), 2),  # bpf alone: the help on stderr
    (("nope",), 2),  # an unknown command
    (("check",), 2),  # a command without its arguments
    (("--bogus",), 2),
])
def test_help_and_usage_errors_import_nothing_heavy(tmp_path: Path, args: tuple[str, ...], code: int) -> None:
    result, modules = imported_by(tmp_path, *args)
    assert result.returncode == code, result.stderr
    assert not _found(modules, NOT_FOR_HELP)
    if not args or args[-1] == "--help":
        listing = result.stderr if not args else result.stdout
        for name, (_, help_line) in COMMANDS.items():
            assert f"{name}" in listing and help_line in " ".join(listing.split()), name
    else:
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("bpf: error:")


def test_check_imports_neither_the_server_nor_storage(tmp_path: Path) -> None:
    (tmp_path / "clean.bpf").write_text(CLEAN, encoding="utf-8")
    env = {**os.environ, "BPF_CACHE_DIR": str(tmp_path / "cache")}
    for args in (("--no-cache",), (), ()):  # a whole check; then a cache miss, and a hit
        result, modules = imported_by(tmp_path, "check", "clean.bpf", *args, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ok: 1 file checked, 0 errors, 0 warnings" in result.stderr
        assert not _found(modules, WEB_AND_DATABASE)
        assert "bpf_dsl.check" in modules


def _command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_the_listed_commands_are_the_real_ones_with_their_help() -> None:
    # --help lists COMMANDS without building the groups: the table must say what the groups register.
    whole, listed = build_parser(), build_parser([])
    assert whole.format_help() == listed.format_help()
    assert list(_command_parsers(whole)) == list(COMMANDS)
    for name, real in _command_parsers(whole).items():  # named, a command gets its whole parser
        assert _command_parsers(build_parser([name]))[name].format_help() == real.format_help()


@pytest.mark.parametrize(("argv", "named"), [
    (["check", "a.bpf"], "check"), (["--debug", "serve", "--port", "1"], "serve"), (["--", "fmt"], "fmt"),
    (["-h"], None), ([], None), (["--debug"], None), (["token", "create"], "token"),
])
def test_the_named_command(argv: list[str], named: str | None) -> None:
    assert command_named(argv) == named


def test_a_broken_extension_warns_only_where_extensions_load(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "bpf_broken_cmd-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bpf-broken-cmd\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bpf.commands]\nbroken_cmd = does_not_exist_anywhere:add_commands\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    (tmp_path / "clean.bpf").write_text(CLEAN, encoding="utf-8")
    warning = "bpf: warning: the commands of broken_cmd failed to load: No module named 'does_not_exist_anywhere'"

    result, _ = imported_by(tmp_path, "--help", env=env)
    assert result.returncode == 0 and "bpf: warning" not in result.stderr
    result, _ = imported_by(tmp_path, "check", "clean.bpf", env=env)
    assert result.returncode == 0 and "bpf: warning" not in result.stderr
    result, modules = imported_by(tmp_path, "serve", "--help", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == warning
    assert "--workers N" in result.stdout and "bpf_server.cli" in modules
