"""``bpf test``: find scenario files, run them, and say how it went, the way pytest does.

Exit codes, as pytest's: 0 every scenario passed (and coverage is at least ``--min-coverage``),
1 a scenario failed or erred (or coverage is under the minimum), 5 no scenario was found; a bad
invocation is 2, as for every ``bpf`` command.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from bpf_dsl.errors import UsageError
from bpf_dsl.plugins import default_registry
from bpf_dsl.testing.coverage import Coverage
from bpf_dsl.testing.runner import ERROR, FAILED, PASSED, Result, run_file

NO_TESTS = 5
SUFFIX = ".bpft"
_SKIPPED = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", "build", "dist"})


def discover(paths: Iterable[str]) -> list[str]:
    """The scenario files: files as given, folders searched for ``*.bpft`` (tools' folders skipped), sorted."""
    out: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found: list[str] = []
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIPPED and not d.startswith("."))
                found += [os.path.join(folder, f) for f in files if f.endswith(SUFFIX)]
            out += sorted(found)
        elif os.path.isfile(path):
            out.append(path)
        else:
            raise UsageError(f"no such file or folder: {path}")
    return list(dict.fromkeys(os.path.normpath(p) for p in out))


def shown(path: str) -> str:
    """A path as the report shows it: relative to the current folder when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def run_all(paths: Iterable[str], coverage: Coverage | None = None) -> list[Result]:
    """Every scenario of every file found in ``paths``."""
    registry = default_registry()
    results: list[Result] = []
    for path in discover(paths):
        results += run_file(path, registry, coverage)
    return results


def run_command(paths: list[str], *, coverage: bool, min_coverage: float | None, output: str, verbose: bool,
                out: TextIO) -> int:
    """What ``bpf test`` does; returns the exit code."""
    files = discover(paths)
    cov = Coverage() if coverage else None
    registry = default_registry()
    results: list[Result] = []
    for path in files:
        results += run_file(path, registry, cov)
    counts = {k: sum(1 for r in results if r.outcome == k) for k in (PASSED, FAILED, ERROR)}
    under = cov is not None and min_coverage is not None and cov.percent() < min_coverage
    code = NO_TESTS if not results else 1 if counts[FAILED] or counts[ERROR] or under else 0
    if output == "json":
        out.write(json.dumps(_json(results, counts, cov, min_coverage, code), indent=2) + "\n")
    else:
        _text(out, files, results, counts, cov, min_coverage, verbose)
    return code


def _json(results: list[Result], counts: dict[str, int], cov: Coverage | None, min_coverage: float | None,
          code: int) -> dict[str, Any]:
    def where(span: Any) -> dict[str, Any] | None:
        return None if span is None else {"file": shown(span.file), "line": span.line, "column": span.column}

    data: dict[str, Any] = {
        "ok": code == 0,
        "summary": {**counts, "total": len(results)},
        "scenarios": [{"file": shown(r.file), "name": r.name, "line": r.span.line, "outcome": r.outcome,
                       "message": r.message, "at": where(r.at)} for r in results],
        "coverage": None,
    }
    if cov is not None:
        stages, arms = cov.counts("stage"), cov.counts("arm")
        data["coverage"] = {
            "percent": round(cov.percent(), 1), "min": min_coverage,
            "stages": {"reached": stages[0], "total": stages[1]}, "arms": {"reached": arms[0], "total": arms[1]},
            "missed": [{"file": shown(s.span.file), "line": s.span.line, "column": s.span.column,
                        "process": s.process, "kind": s.kind, "name": s.name} for s in cov.missed()],
        }
    return data


def _rule(out: TextIO, title: str, char: str = "=") -> None:
    width = 80
    title = f" {title} " if title else ""
    side = max(3, (width - len(title)) // 2)
    out.write(f"{char * side}{title}{char * max(3, width - side - len(title))}\n")


def _source_line(span: Any) -> str | None:
    try:
        lines = Path(span.file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return lines[span.line - 1] if 0 < span.line <= len(lines) else None


def _text(out: TextIO, files: list[str], results: list[Result], counts: dict[str, int], cov: Coverage | None,
          min_coverage: float | None, verbose: bool) -> None:
    marks = {PASSED: ".", FAILED: "F", ERROR: "E"}
    out.write(f"bpf test: {len(files)} file{'s' * (len(files) != 1)}, {len(results)} "
              f"scenario{'s' * (len(results) != 1)}\n")
    if verbose:
        for r in results:
            out.write(f"{shown(r.file)}::{r.name or '(file)'} {r.outcome.upper()}\n")
    else:
        by_file: dict[str, list[Result]] = {}
        for r in results:
            by_file.setdefault(r.file, []).append(r)
        for path, found in by_file.items():
            out.write(f"{shown(path)} {''.join(marks[r.outcome] for r in found)}\n")
    for outcome, title in ((ERROR, "ERRORS"), (FAILED, "FAILURES")):
        bad = [r for r in results if r.outcome == outcome]
        if not bad:
            continue
        out.write("\n")
        _rule(out, title)
        for r in bad:
            _rule(out, f"{shown(r.file)}: {r.name}" if r.name else shown(r.file), "_")
            at = r.at or r.span
            out.write(f"{shown(at.file)}:{at.line}:{at.column}: {r.message}\n")
            line = _source_line(at)
            if line is not None:
                width = at.end_column - at.column if at.end_line == at.line and at.end_column > at.column else 1
                out.write(f"    {line}\n    {' ' * (at.column - 1)}{'^' * max(1, width)}\n")
    if cov is not None:
        out.write("\n")
        _rule(out, "coverage")
        stages, arms = cov.counts("stage"), cov.counts("arm")
        out.write(f"stages: {stages[0]} of {stages[1]} reached; `if` arms: {arms[0]} of {arms[1]} reached; "
                  f"{cov.percent():.1f}%\n")
        for spot in cov.missed():
            out.write(f"{shown(spot.span.file)}:{spot.span.line}:{spot.span.column}: {spot.kind} "
                      f"`{spot.name}` of {spot.process} not reached\n")
        if min_coverage is not None and cov.percent() < min_coverage:
            out.write(f"FAIL: coverage {cov.percent():.1f}% is under --min-coverage {min_coverage:g}%\n")
    # As pytest words it: "1 error", "2 errors" ("passed" and "failed" don't change).
    summary = ", ".join(f"{counts[k]} {k}{'s' if k == ERROR and counts[k] > 1 else ''}"
                        for k in (PASSED, FAILED, ERROR) if counts[k]) or "no scenarios"
    out.write("\n")
    _rule(out, summary)
