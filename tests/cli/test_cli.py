"""The `bpf` command line, run as a real subprocess: exit codes, one-line errors, JSON, fmt, graph."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BPF = [sys.executable, "-m", "bpf_dsl.cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BPF, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_check_examples_exit_0(examples: list[Path]) -> None:
    result = run("check", *map(str, examples))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stderr


def test_check_folder_and_errors(tmp_path: Path) -> None:
    (tmp_path / "a.bpf").write_text("entity a { x: txt }\n")
    result = run("check", str(tmp_path))
    assert result.returncode == 1
    first = result.stdout.splitlines()[0]
    assert first == f"{tmp_path / 'a.bpf'}:1:15: error BPF030: unknown field type `txt`"
    assert "hint: did you mean `text`?" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_check_json(tmp_path: Path) -> None:
    (tmp_path / "a.bpf").write_text("entity a { x: text }\nentity a { y: text }\n")
    result = run("check", "--format", "json", str(tmp_path / "a.bpf"))
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert [(d["code"], d["line"], d["column"], d["severity"]) for d in data["diagnostics"]] == [
        ("BPF020", 2, 8, "error")]


def test_bad_invocations_exit_2_with_one_line() -> None:
    for args in (("check",), ("check", "does-not-exist.bpf"), ("nope",), ("graph", "x.bpf")):
        result = run(*args)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("bpf: error:")


def test_recheck_uses_the_cache_and_sees_changes(tmp_path: Path) -> None:
    f = tmp_path / "a.bpf"
    f.write_text("entity a { x: text }\n")
    assert run("check", str(f)).returncode == 0
    assert run("check", str(f)).returncode == 0
    f.write_text("entity a { x: txt }\n")
    assert run("check", str(f)).returncode == 1


def test_fmt_check_and_rewrite(tmp_path: Path) -> None:
    f = tmp_path / "a.bpf"
    f.write_text("entity a {x:text   # note\n}\n")
    result = run("fmt", "--check", str(f))
    assert result.returncode == 1 and "would reformat" in result.stdout
    assert f.read_text() == "entity a {x:text   # note\n}\n"  # --check never writes
    assert run("fmt", str(f)).returncode == 0
    formatted = f.read_text()
    assert "# note" in formatted and "x: text" in formatted
    assert run("fmt", "--check", str(f)).returncode == 0


def test_fmt_leaves_broken_files_alone(tmp_path: Path) -> None:
    f = tmp_path / "a.bpf"
    f.write_text("entity a { x: }\n")
    result = run("fmt", str(f))
    assert result.returncode == 1 and "BPF001" in result.stderr
    assert f.read_text() == "entity a { x: }\n"


def test_graph_formats(examples: list[Path]) -> None:
    opportunity = next(p for p in examples if p.name == "opportunity.bpf")
    mermaid = run("graph", str(opportunity), "--process", "lead_to_opportunity")
    assert mermaid.returncode == 0 and "Develop" in mermaid.stdout
    dot = run("graph", str(opportunity), "--process", "lead_to_opportunity", "--format", "dot")
    assert dot.returncode == 0 and dot.stdout.lstrip().startswith("digraph")
    svg = run("graph", str(opportunity), "--process", "lead_to_opportunity", "--format", "svg")
    assert svg.returncode == 0 and "<svg" in svg.stdout and "renderer" in svg.stderr
    missing = run("graph", str(opportunity), "--process", "nope")
    assert missing.returncode == 2 and "lead_to_opportunity" in missing.stderr
