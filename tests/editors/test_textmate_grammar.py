"""The TextMate grammar against the language: the same keywords as grammar/bpf.lark, nothing more, nothing less
(no Node needed here; test_textmate_engine.py runs it)."""

from __future__ import annotations

import json
import re
from typing import Any

from bpf_dsl.grammar import keywords
from tests.editors.conftest import EXTENSION, GRAMMARS

_WORDS = re.compile(r"\\b\(([a-z|]+)\)\\b")


def _grammar(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GRAMMARS / name).read_text(encoding="utf-8"))
    return data


def _rules(node: Any) -> list[dict[str, Any]]:
    """Every rule (a dict with a `match` or a `begin`) of a grammar, wherever it is nested."""
    found: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            if "match" in x or "begin" in x:
                found.append(x)
            stack += list(x.values())
        elif isinstance(x, list):
            stack += x
    return found


def _keyword_scoped(rule: dict[str, Any]) -> bool:
    names = [rule.get("name", "")] + [c.get("name", "") for c in (rule.get("captures") or {}).values()]
    return any(n.startswith(("keyword", "storage", "constant.language")) for n in names)


def test_the_grammar_colours_exactly_the_languages_keywords() -> None:
    grammar = _grammar("bpf.tmLanguage.json")
    coloured: set[str] = set()
    for rule in _rules(grammar["repository"]):
        if _keyword_scoped(rule) and "match" in rule:
            for group in _WORDS.findall(rule["match"]):
                coloured |= set(group.split("|"))
            coloured |= set(re.findall(r"\(([a-z]+)\)\\s", rule["match"]))  # `(stage)\s+NAME`, `(call)\s+...`
    missing, extra = sorted(set(keywords()) - coloured), sorted(coloured - set(keywords()))
    assert coloured == set(keywords()), f"missing: {missing}; not keywords of bpf.lark: {extra}"


def test_a_keyword_followed_by_a_parenthesis_is_no_function_call() -> None:
    # `not (x)`, `if (x)`: the function rule's look-ahead leaves out every keyword, and only them.
    rule = _grammar("bpf.tmLanguage.json")["repository"]["function"]
    m = re.search(r"\(\?!\(\?:([a-z|]+)\)\\b\)", rule["match"])
    assert m is not None and set(m.group(1).split("|")) == set(keywords())


def test_the_field_types_are_the_models() -> None:
    from bpf_dsl.model import ALL_KINDS

    rule = _grammar("bpf.tmLanguage.json")["repository"]["field"]
    types = re.search(r"\(([a-z|]+)\)\?\\b$", rule["match"])
    assert types is not None and set(types.group(1).split("|")) == set(ALL_KINDS)


def test_the_scenario_grammar_builds_on_the_language_and_the_extension_ships_both() -> None:
    scenarios = _grammar("bpft.tmLanguage.json")
    assert {"include": "source.bpf"} in scenarios["patterns"]
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    contributed = {g["scopeName"]: g["path"] for g in manifest["contributes"]["grammars"]}
    assert contributed == {"source.bpf": "./syntaxes/bpf.tmLanguage.json",
                           "source.bpft": "./syntaxes/bpft.tmLanguage.json"}
    assert _grammar("bpf.tmLanguage.json")["scopeName"] == "source.bpf"
    assert scenarios["scopeName"] == "source.bpft"
    languages = {lang["id"]: lang["extensions"] for lang in manifest["contributes"]["languages"]}
    assert languages == {"bpf": [".bpf"], "bpft": [".bpft"]}
    config = json.loads((EXTENSION / "language-configuration.json").read_text(encoding="utf-8"))
    assert config["comments"] == {"lineComment": "#"}
