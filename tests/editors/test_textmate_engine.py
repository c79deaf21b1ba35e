"""Every example tokenised by a real TextMate engine (vscode-textmate on vscode-oniguruma, VS Code's own), driven by
editors/vscode/scripts/tokenize.js: nothing is left open at the end of a file, and comments, strings, numbers,
durations and the keywords the parser reads as keywords get the scopes an editor colours them by."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bpf_dsl.parser.lexer import plain_parser
from tests.editors.conftest import EXTENSION, GRAMMARS
from tests.paths import REPO

EXAMPLES = sorted((REPO / "docs" / "examples").rglob("*.bpf"))
PACKS = sorted(p for p in (REPO / "plugins").rglob("*.bpf") if "node_modules" not in p.parts)
SCENARIOS = sorted(p for p in (REPO / "plugins").rglob("*.bpft")) + sorted((REPO / "docs").rglob("*.bpft"))


def _tokenize(files: list[Path], node_modules: Path) -> list[dict[str, Any]]:
    del node_modules  # only needed to be there
    done = subprocess.run(["node", str(EXTENSION / "scripts" / "tokenize.js"), str(GRAMMARS), *map(str, files)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def _scopes_at(tokens: list[list[Any]], column: int) -> list[str]:
    for start, end, scopes in tokens:
        if start <= column < end:
            return list(scopes)
    return []


def _keyword(token: Any) -> bool:
    try:
        pattern = plain_parser().get_terminal(token.type).pattern
    except KeyError:
        return False
    return pattern.type == "str" and str(pattern.value).isalpha()


def _expected(text: str) -> list[tuple[int, int, str, str]]:
    """(line, column, what, text) of what must be coloured: from the parser's own tokens (its contextual lexer, so
    a keyword is one only where the grammar reads it as one), and the comments."""
    parser = plain_parser()
    out: list[tuple[int, int, str, str]] = []
    for tok in parser.lex(text, dont_ignore=True):
        if tok.type == "COMMENT":
            out.append((tok.line - 1, tok.column - 1, "comment", str(tok)))  # type: ignore[operator]
    interactive = parser.parse_interactive(text)
    for tok in interactive.iter_parse():
        kind = {"STRING": "string", "NUMBER": "constant.numeric", "DURATION": "constant.numeric.duration"}.get(
            tok.type, "keyword" if _keyword(tok) else None)
        if kind is not None:
            out.append((tok.line - 1, tok.column - 1, kind, str(tok)))  # type: ignore[operator]
    return out


def test_there_are_examples_to_tokenise() -> None:
    assert len(EXAMPLES) >= 3 and PACKS, (EXAMPLES, PACKS)


def test_every_example_is_tokenised_as_an_editor_colours_it(node_modules: Path) -> None:
    files = EXAMPLES + PACKS
    wrong: list[str] = []
    for result in _tokenize(files, node_modules):
        path = Path(result["file"])
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        assert not result["openAtEnd"], f"{path}: a rule is still open at the end of the file"
        assert len(result["lines"]) == len(lines)
        for number, (line, tokens) in enumerate(zip(lines, result["lines"], strict=True)):
            covered = [(start, end) for start, end, _ in tokens]
            assert covered[0][0] == 0 and all(a[1] == b[0] for a, b in itertools.pairwise(covered)), \
                f"{path}:{number + 1}: the tokens don't cover the line"
            assert covered[-1][1] == len(line), f"{path}:{number + 1}: the tokens don't reach the end of the line"
        for line, column, kind, word in _expected(text):
            scopes = _scopes_at(result["lines"][line], column)
            ok = any(s.startswith(kind) for s in scopes) if kind != "keyword" else \
                any(s.startswith(("keyword", "storage", "constant.language")) for s in scopes)
            if not ok:
                where = f"{path.relative_to(REPO)}:{line + 1}:{column + 1}"
                wrong.append(f"{where}: `{word}` should be {kind}, is {scopes}")
    assert not wrong, "\n".join(wrong[:30]) + (f"\n... and {len(wrong) - 30} more" if len(wrong) > 30 else "")


def test_scenario_files_are_tokenised_too(node_modules: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "tickets.bpft"
    scenario.write_text('use "tickets.bpf"  # the file under test\n\nscenario "urgent" {\n'
                        '    create ticket as t { title = "Fire" due = date("2026-01-31") }\n'
                        '    next fails STAGE_GATE "Note"\n    expect stage escalate\n    expect t.note is empty\n}\n',
                        encoding="utf-8")
    result, *shipped = _tokenize([scenario, *SCENARIOS], node_modules)
    assert not [r["file"] for r in [result, *shipped] if r["openAtEnd"]]
    for found in shipped:  # the packs' scenario files: every `expect` and `fails` coloured
        text = Path(found["file"]).read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(text):
            if line.lstrip().startswith("expect "):
                column = len(line) - len(line.lstrip())
                assert any(s.startswith("keyword.control.expect") for s in _scopes_at(found["lines"][number], column))
    lines = result["lines"]
    assert any(s.startswith("keyword.control.import") for s in _scopes_at(lines[0], 0))
    assert any(s.startswith("comment") for s in _scopes_at(lines[0], 20))
    assert any(s.startswith("storage.type.scenario") for s in _scopes_at(lines[2], 0))
    assert any(s.startswith("constant.other.error-code") for s in _scopes_at(lines[4], 15))
    assert any(s.startswith("keyword.other.expectation") for s in _scopes_at(lines[5], 11))
    assert any(s.startswith("string") for s in _scopes_at(lines[3], 34))


@pytest.mark.parametrize("text", ['role r "unclosed\nentity e { x: text }\n', "entity e { x: text \\ }\n"])
def test_broken_text_never_leaves_a_rule_open(node_modules: Path, tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.bpf"
    path.write_text(text, encoding="utf-8")
    [result] = _tokenize([path], node_modules)
    assert not result["openAtEnd"]
    assert any(s.startswith("storage.type.entity") for s in _scopes_at(result["lines"][-2 if text.count("\n") > 1
                                                                                       else 0], 0))
