"""Scenario files (``.bpft``, for ``bpf test``) to their tree: the files under test, and scenarios of steps.

The grammar is ``scenario.lark`` beside this module; docs/language.md ("Testing processes:
scenarios") is the reference. A scenario's steps are frozen :class:`Step` objects, one class
for every kind (``create``, ``set``, ``next``..., ``expect_stage``...), with the place each
stands so that a failure points at its line. A syntax error is a ``BPF001`` diagnostic, as
in a .bpf file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import lark
from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from bpf_dsl.diagnostics import Diagnostic
from bpf_dsl.errors import BpfSyntaxError
from bpf_dsl.nodes import Span

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


@dataclass(frozen=True, slots=True)
class Value:
    """A value written in a scenario: ``kind`` is text, number, bool, null, name (an option), date, datetime,
    list (``value`` a tuple of :class:`Value`) or record (``@handle``, ``value`` the handle)."""

    kind: str
    value: Any
    span: Span

    def shown(self) -> str:
        """The value as it is written."""
        if self.kind == "text":
            return '"' + str(self.value) + '"'
        if self.kind in ("date", "datetime"):
            return f'{self.kind}("{self.value}")'
        if self.kind == "list":
            return "[" + ", ".join(v.shown() for v in self.value) + "]"
        if self.kind == "record":
            return f"@{self.value}"
        if self.kind == "bool":
            return "true" if self.value else "false"
        if self.kind == "null":
            return "null"
        return str(self.value)


@dataclass(frozen=True, slots=True)
class Fails:
    """``fails [CODE] ["text"]``: the step must be refused, with that code and a message containing the text."""

    code: str | None
    text: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a scenario.

    - ``create``: ``names`` = (entity, handle or "", process or ""), ``values`` its assignments;
    - ``set``, ``expect_value``, ``expect_empty``, ``expect_filled``: ``target`` the field (``field``,
      ``handle.field`` or ``entity.field``), ``value`` what it is set to or compared with;
    - ``next`` (``names``: the handle of the record a ``via`` stage binds, if given), ``previous``,
      ``back`` (``names``: the stage), ``finish``, ``abandon``, ``reactivate``;
    - ``run``: ``names`` = (the action step's name or label,);
    - ``as``: ``names`` the roles the steps after it act with;
    - ``expect_stage``, ``expect_path``, ``expect_missing``: ``names`` the stages or steps;
      ``expect_status``, ``expect_outcome``: ``names`` = (the word,); ``expect_notified``: ``names`` =
      (role,) and ``text``; ``expect_called``: ``names`` = (namespace, action).
    """

    kind: str
    span: Span
    names: tuple[str, ...] = ()
    target: tuple[str, ...] = ()
    value: Value | None = None
    values: tuple[tuple[tuple[str, ...], Value], ...] = ()
    text: str | None = None
    fails: Fails | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    """``scenario "name" { steps }``."""

    name: str
    steps: tuple[Step, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Use:
    """``use "file.bpf"`` (relative to the scenario file) or ``use pack.module``."""

    target: str
    is_file: bool
    span: Span


@dataclass(frozen=True, slots=True)
class ScenarioFile:
    """A parsed .bpft file."""

    path: str
    uses: tuple[Use, ...]
    scenarios: tuple[Scenario, ...]


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = (Path(__file__).resolve().parent / "scenario.lark").read_text(encoding="utf-8")
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse_scenarios(text: str, path: str = "<string>") -> ScenarioFile:
    """Parse the text of a scenario file; raises :class:`BpfSyntaxError` with one BPF001 diagnostic."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as err:
        raise BpfSyntaxError([_explain(err, text, path)]) from None
    return _Builder(path, text).file(tree)


def _explain(err: UnexpectedInput, text: str, path: str) -> Diagnostic:
    line = getattr(err, "line", None) or text.count("\n") + 1
    column = getattr(err, "column", None) or 1
    if isinstance(err, UnexpectedToken) and err.token.type == "$END":
        line, column = text.count("\n") + 1, len(text) - (text.rfind("\n") + 1) + 1
        found = "the end of the file"
    elif isinstance(err, UnexpectedCharacters):
        found = f"`{err.char}`"
    elif isinstance(err, UnexpectedToken):
        found = f"`{err.token}`"
    else:
        found = "this"
    expected = sorted(_words(getattr(err, "expected", None) or getattr(err, "allowed", None) or ()))
    said = ", ".join(expected[:-1]) + (" or " if len(expected) > 1 else "") + (expected[-1] if expected else "")
    return Diagnostic("BPF001", f"unexpected {found}: expected {said or 'something else'}",
                      Span(path, line, column, line, column + 1),
                      "a scenario file holds `use \"file.bpf\"` lines and `scenario \"name\" { ... }` blocks of steps: "
                      "create, set, next, previous, back to, finish, abandon, reactivate, run, as and expect")


def _words(terminals: Any) -> set[str]:
    out: set[str] = set()
    for name in terminals:
        try:
            pattern = _parser().get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str":
            out.add(f"`{pattern.value}`")
        else:
            out.add({"NAME": "a name", "STRING": "a string", "NUMBER": "a number",
                     "STATUS": "active, finished or aborted"}.get(name, name.lower()))
    return out


class _Builder:
    """The tree lark made, as frozen steps."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text

    def span(self, item: Tree[Any] | Token) -> Span:
        if isinstance(item, Token):
            return Span(self.path, item.line or 1, item.column or 1, item.end_line or item.line or 1,
                        item.end_column or (item.column or 1) + len(item))
        meta = item.meta
        if getattr(meta, "empty", True):
            return Span(self.path, 1, 1, 1, 2)
        return Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column)

    def string(self, tok: Any) -> str:
        raw = str(tok)[1:-1]
        out: list[str] = []
        i = 0
        while i < len(raw):
            if raw[i] == "\\" and i + 1 < len(raw):
                out.append(_ESCAPES.get(raw[i + 1], raw[i + 1]))
                i += 2
            else:
                out.append(raw[i])
                i += 1
        return "".join(out)

    def file(self, tree: Tree[Any]) -> ScenarioFile:
        uses: list[Use] = []
        scenarios: list[Scenario] = []
        for item in tree.children:
            if item.data == "use_file":
                uses.append(Use(self.string(item.children[0]), True, self.span(item)))
            elif item.data == "use_pack":
                uses.append(Use(".".join(str(t) for t in item.children), False, self.span(item)))
            else:
                name, *steps = item.children
                scenarios.append(Scenario(self.string(name), tuple(self.step(s) for s in steps), self.span(item)))
        return ScenarioFile(self.path, tuple(uses), tuple(scenarios))

    def fails(self, tree: Tree[Any] | None) -> Fails | None:
        if tree is None:
            return None
        code, text = tree.children
        return Fails(None if code is None else str(code), None if text is None else self.string(text),
                     self.span(tree))

    def target(self, tree: Tree[Any]) -> tuple[str, ...]:
        return tuple(str(t) for t in tree.children)

    def value(self, tree: Tree[Any]) -> Value:
        kind = tree.data
        c = tree.children
        at = self.span(tree)
        if kind == "v_string":
            return Value("text", self.string(c[0]), at)
        if kind in ("v_number", "v_negative"):
            digits = str(c[0])
            number: Any = int(digits) if "." not in digits else _decimal(digits)
            return Value("number", -number if kind == "v_negative" else number, at)
        if kind in ("v_true", "v_false"):
            return Value("bool", kind == "v_true", at)
        if kind == "v_null":
            return Value("null", None, at)
        if kind == "v_name":
            return Value("name", str(c[0]), at)
        if kind == "v_typed":
            return Value(str(c[0]) if str(c[0]) in ("date", "datetime") else "call", self.string(c[1]), at)
        if kind == "v_list":
            return Value("list", tuple(self.value(v) for v in c if v is not None), at)
        return Value("record", str(c[0]), at)

    def step(self, tree: Tree[Any]) -> Step:
        kind = tree.data
        c = tree.children
        at = self.span(tree)
        if kind == "create":
            entity, handle, process, values, fails = c
            pairs = tuple((self.target(a.children[0]), self.value(a.children[1]))
                          for a in (values.children if values is not None else ()))
            return Step("create", at, (str(entity), str(handle or ""), str(process or "")), values=pairs,
                        fails=self.fails(fails))
        if kind == "set_value":
            return Step("set", at, target=self.target(c[0]), value=self.value(c[1]), fails=self.fails(c[2]))
        if kind == "run_step":
            name: Token = c[0]  # type: ignore[assignment]  # a NAME or a STRING token, by the grammar
            return Step("run", at, (self.string(name) if name.type == "STRING" else str(name),),
                        fails=self.fails(c[1]))
        if kind == "act_as":
            return Step("as", at, tuple(str(t) for t in c))
        if kind.startswith("move_"):
            move = kind.removeprefix("move_")
            names = tuple(str(t) for t in c if isinstance(t, Token))
            fails = next((x for x in c if isinstance(x, Tree)), None)
            return Step(move, at, names, fails=self.fails(fails))
        if kind in ("expect_value", "expect_empty", "expect_filled"):
            value = self.value(c[1]) if kind == "expect_value" else None
            return Step(kind, at, target=self.target(c[0]), value=value)
        if kind == "expect_notified":
            return Step(kind, at, (str(c[0]),), text=None if c[1] is None else self.string(c[1]))
        return Step(kind, at, tuple(str(t) for t in c if t is not None))


def _decimal(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)
