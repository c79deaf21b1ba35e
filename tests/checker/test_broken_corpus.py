"""The corpus of broken .bpf files (tests/broken/): every file says what `bpf check` must report.

Each corpus file opens with a header of comments:

    # expect: BPF044 12:14            one line per diagnostic, in the checker's order
    # expect: BPF012 2:8 other.bpf    a diagnostic in another file (relative to this one)
    # What the mistake is, in words.
    # expect-message: TEXT            optional: the first diagnostic's message or hint contains TEXT
    # xfail: REASON                   optional: a known checker bug; the case must fail until it is fixed

A file that starts with ``# helper:`` is not a case: it is only imported by one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bpf_dsl import check_paths
from bpf_dsl.diagnostics import CODES, Diagnostic
from tests.paths import EXAMPLES

CORPUS = Path(__file__).resolve().parent / "broken"

_EXPECT = re.compile(r"# expect: (BPF\d{3}) (\d+):(\d+)(?: (\S+))?")
_HEADLINE = re.compile(r"(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning) (?P<code>BPF\d{3}): ")

# Codes no corpus file can show, each with the test that covers it instead.
OUTSIDE_CORPUS = {
    "BPF004": "test_file_over_the_size_limit: it takes an 8 MiB file, too big to keep in the repository",
}
# Codes in codes.py that the checker does not emit yet; an xfail case of the corpus waits for each.
NOT_IMPLEMENTED: dict[str, str] = {}


@dataclass(frozen=True)
class Case:
    """One corpus file and what its header expects."""

    path: Path
    expected: tuple[tuple[Path, str, int, int], ...]  # (file, code, line, column)
    what: str
    message: str | None
    xfail: str | None

    @property
    def name(self) -> str:
        return self.path.relative_to(CORPUS).as_posix()


def _text(path: Path) -> str:
    # Lenient on purpose: one corpus file is deliberately not UTF-8.
    return path.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")


def _header(path: Path) -> list[str]:
    lines = []
    for line in _text(path).splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.rstrip())
    return lines


def _is_helper(path: Path) -> bool:
    header = _header(path)
    return bool(header) and header[0].startswith("# helper:")


def _case(path: Path) -> Case:
    header = _header(path)
    expected: list[tuple[Path, str, int, int]] = []
    what = message = xfail = None
    for line in header:
        m = _EXPECT.fullmatch(line)
        if m:
            where = (path.parent / m.group(4)).resolve() if m.group(4) else path.resolve()
            expected.append((where, m.group(1), int(m.group(2)), int(m.group(3))))
        elif line.startswith("# expect-message: "):
            message = line.removeprefix("# expect-message: ")
        elif line.startswith("# xfail: "):
            xfail = line.removeprefix("# xfail: ")
        elif line.startswith("# expect:"):
            raise ValueError(f"{path}: malformed header line {line!r}")
        elif what is None and expected:
            what = line.removeprefix("#").strip()
    if not expected or not what:
        raise ValueError(f"{path}: a case starts with `# expect:` lines, then a line saying what is wrong")
    return Case(path, tuple(expected), what, message, xfail)


ALL_FILES = sorted(CORPUS.rglob("*.bpf"))
CASES = [_case(p) for p in ALL_FILES if not _is_helper(p)]


def _params(cases: list[Case]) -> list[object]:
    return [
        pytest.param(c, id=c.name, marks=[pytest.mark.xfail(reason=c.xfail, strict=True)] if c.xfail else [])
        for c in cases
    ]


def _check(path: Path) -> tuple[list[Diagnostic], dict[str, str]]:
    report = check_paths([str(path)])
    return report.diagnostics, report.sources


def _source_of(d: Diagnostic, sources: dict[str, str]) -> str:
    if d.span.file in sources:
        return sources[d.span.file]
    return _text(Path(d.span.file))  # a file that was not decoded (not UTF-8) or imported


@pytest.mark.parametrize("case", _params(CASES))
def test_broken_file_reports_what_its_header_says(case: Case) -> None:
    diagnostics, sources = _check(case.path)
    got = [(Path(d.span.file).resolve(), d.code, d.span.line, d.span.column) for d in diagnostics]
    shown = "\n".join(d.render(sources.get(d.span.file)) for d in diagnostics) or "(no diagnostics)"
    assert got == list(case.expected), f"{case.name}: {case.what}\n{shown}"

    for d in diagnostics:
        source = _source_of(d, sources)
        lines = source.split("\n")
        assert 1 <= d.span.line <= len(lines), f"{d.headline()}: line outside the file"
        assert 1 <= d.span.column <= len(lines[d.span.line - 1]) + 1, f"{d.headline()}: column outside the line"

        rendered = d.render(source)
        m = _HEADLINE.match(rendered)
        assert m is not None, rendered
        assert (m["file"], int(m["line"]), int(m["col"])) == (d.span.file, d.span.line, d.span.column), rendered
        assert (m["sev"], m["code"]) == (CODES[d.code].severity, d.code), rendered
        if d.severity == "error":
            assert d.message.strip(), rendered

    if case.message is not None:
        first = diagnostics[0]
        assert case.message in f"{first.message}\n{first.hint or ''}", first.render(sources.get(first.span.file))


def test_every_corpus_file_is_a_case_or_a_helper() -> None:
    for path in ALL_FILES:
        if not _is_helper(path):
            _case(path)  # raises on a malformed header


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 60, f"only {len(CASES)} corpus cases"


def test_corpus_covers_every_code() -> None:
    covered = {code for c in CASES if not c.xfail for (_, code, _, _) in c.expected}
    pending = {code for c in CASES if c.xfail for (_, code, _, _) in c.expected}
    listing = ", ".join(sorted(covered))
    assert covered <= set(CODES), f"unknown codes in the corpus: {sorted(covered - set(CODES))}"
    missing = set(CODES) - covered - set(OUTSIDE_CORPUS) - set(NOT_IMPLEMENTED)
    assert not missing, f"codes no corpus case shows: {sorted(missing)} (covered: {listing})"
    assert set(NOT_IMPLEMENTED) <= pending, "each unimplemented code needs an xfail case that expects it"
    assert not set(NOT_IMPLEMENTED) & covered, f"implemented now, drop from NOT_IMPLEMENTED: {NOT_IMPLEMENTED}"


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    huge = tmp_path / "huge.bpf"
    huge.write_text("# " + "x" * (8 * 1024 * 1024) + "\n", encoding="utf-8")
    diagnostics, _ = _check(huge)
    assert [(d.code, d.span.line, d.span.column) for d in diagnostics] == [("BPF004", 1, 1)]


def _cli(paths: list[Path], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BPF_CACHE_DIR=str(tmp_path / "cache"))
    return subprocess.run(
        [sys.executable, "-m", "bpf_dsl.cli", "check", *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize("name", ["step_field_typo.bpf", "unknown_action.bpf"])
def test_cli_fails_on_a_broken_file(name: str, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == name)
    _, code, line, column = case.expected[0]
    result = _cli([case.path], tmp_path)
    assert result.returncode == 1, result.stderr
    headline = f"{case.path}:{line}:{column}: error {code}: "
    assert result.stdout.startswith(headline), result.stdout
    assert "failed:" in result.stderr


def test_cli_passes_the_spec_examples(tmp_path: Path) -> None:
    examples = sorted(EXAMPLES.glob("*.bpf"))
    assert examples, f"no examples in {EXAMPLES}"
    for path in examples:
        result = _cli([path], tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "error" not in result.stdout, result.stdout
