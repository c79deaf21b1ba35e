"""Keywords as names: a word the grammar reserves somewhere is still a field's name wherever it is
declared (`name:`) or assigned (`name =`), whatever came just before it."""

from __future__ import annotations

import pytest

from bpf_dsl import nodes as n
from bpf_dsl.errors import BpfSyntaxError
from bpf_dsl.grammar import keywords
from bpf_dsl.parser import Parser, parse

# What can stand before a field's declaration: each leaves the parser in a different state, and
# after a number (`min 0`) lark's LALR tables merge the state with `order 3` of a process, so the
# process's words (`description`, `roles`, `stage`...) were keywords there.
_BEFORE_FIELD = ["", "required", "unique", "min 0", "max 100", "min -5", "default 5", 'default "x"',
                 "default true", "default high", 'default date("2026-01-31")', "restricted to r",
                 "restricted to r, s"]
# Words that mean something in a field's place: the modifiers, the entity's `allow`, the words a
# process or a rule starts with.
_SOFT = ["description", "order", "roles", "stage", "finish", "on", "if", "required", "unique",
         "default", "min", "max", "restricted", "allow", "set", "lock", "not", "in", "entity"]


def _entity(before: str, name: str, label: str = "") -> n.Entity:
    m = parse(f"entity e {{\n  a: integer {before}\n  {name}{label}: text\n  z: text\n}}\n")
    entity = m.declarations[0]
    assert isinstance(entity, n.Entity)
    return entity


@pytest.mark.parametrize("before", _BEFORE_FIELD)
@pytest.mark.parametrize("name", _SOFT)
def test_a_soft_keyword_is_a_field_name_after_any_modifier(before: str, name: str) -> None:
    entity = _entity(before, name)
    assert [f.name for f in entity.fields] == ["a", name, "z"]


def test_the_reported_case_parses() -> None:
    m = parse("entity review {\n  score: integer min 0 max 100\n  description: text\n}\n")
    entity = m.declarations[0]
    assert isinstance(entity, n.Entity)
    assert [f.name for f in entity.fields] == ["score", "description"]


@pytest.mark.parametrize("name", ["description", "required", "max", "allow"])
def test_a_labelled_soft_keyword_is_a_field_name(name: str) -> None:
    entity = _entity("max 3", name, ' "Its label"')
    assert entity.fields[1].name == name
    assert entity.fields[1].label == "Its label"


def test_modifiers_keep_their_meaning() -> None:
    # `required` followed by another field is still the modifier of the field before it.
    entity = _entity("required", "description")
    assert [m.kind for m in entity.fields[0].modifiers] == ["required"]
    assert entity.fields[1].modifiers == ()


def test_allow_still_grants() -> None:
    m = parse("role r\nentity e {\n  a: integer max 3\n  allow r to read\n  allow: text\n}\n")
    entity = m.declarations[1]
    assert isinstance(entity, n.Entity)
    assert [f.name for f in entity.fields] == ["a", "allow"]
    assert len(entity.grants) == 1


# After an expression the parser's state is shared by every place an expression ends (a rule's
# `set`, a hook, a gate), so a rule's words were keywords at the start of the next assignment.
_BEFORE_ASSIGNMENT = ["5", '"x"', "b", "e.b", "f(b)", "true", "(1 + 2)", "b is empty"]
_ASSIGNED = ["lock", "set", "if", "error", "default", "contains", "and", "in", "is", "not", "entity",
             "process", "order", "description"]


@pytest.mark.parametrize("value", _BEFORE_ASSIGNMENT)
@pytest.mark.parametrize("name", _ASSIGNED)
def test_a_soft_keyword_is_assigned_in_a_create_block(value: str, name: str) -> None:
    m = parse(f"process p on e {{ stage s {{ create {{ a = {value}\n {name} = 1\n z = 2 }} }} }}\n")
    process = m.declarations[0]
    assert isinstance(process, n.Process)
    stage = process.flow[0]
    assert isinstance(stage, n.Stage)
    assert stage.create is not None
    assert [a.field for a in stage.create.assignments] == ["a", name, "z"]


@pytest.mark.parametrize("text", [
    "entity e { required }",                    # a modifier still needs a field before it
    "entity e { a: text description }",        # a field needs its `:`
    "rule r on e { if true = { } }",            # a literal stays a literal before `=`
])
def test_what_was_wrong_stays_wrong(text: str) -> None:
    with pytest.raises(BpfSyntaxError):
        parse(text)


def test_literals_still_compare() -> None:
    m = parse("rule r on e { if true = b { lock a } }")
    rule = m.declarations[0]
    assert isinstance(rule, n.Rule)


def test_every_keyword_is_a_field_name_after_a_bound() -> None:
    # The whole list, not a sample: a new keyword must not break an entity either.
    for word in sorted(keywords()):
        entity = _entity("max 100", word)
        assert entity.fields[1].name == word


def test_the_strict_parser_agrees() -> None:
    text = "entity e {\n  a: integer min 0\n  required: bool\n  description: text\n}\n"
    assert Parser(strict=True).parse(text) == parse(text)
