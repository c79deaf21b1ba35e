"""The Pygments lexer of .bpf files (bpf_dsl/highlight.py)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import random
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

pygments = pytest.importorskip("pygments")

from pygments.token import Comment, Error, Keyword, Name, Operator, String  # noqa: E402

from bpf_dsl import grammar  # noqa: E402
from bpf_dsl.model import ALL_KINDS, SIMPLE_KINDS  # noqa: E402
from bpf_dsl.plugins import default_registry  # noqa: E402
from bpf_dsl.tools import highlight  # noqa: E402
from bpf_dsl.tools.highlight import BpfLexer  # noqa: E402
from tests.paths import EXAMPLES  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.bpf"))


def lex(text: str) -> list[tuple[Any, str]]:
    """Tokens of ``text``, without Pygments adding or stripping newlines."""
    return list(BpfLexer(stripnl=False, ensurenl=False).get_tokens(text))


def kinds(text: str) -> list[tuple[Any, str]]:
    """The tokens that aren't whitespace."""
    return [(t, v) for t, v in lex(text) if v.strip()]


def kind_of(text: str, word: str, nth: int = 0) -> Any:
    """The token type of the ``nth`` token whose text is ``word``."""
    found = [t for t, v in kinds(text) if v == word]
    assert len(found) > nth, f"{word!r} is not a token of {text!r}"
    return found[nth]


# ---- the spec's examples ------------------------------------------------------------


def test_examples_are_found() -> None:
    assert EXAMPLES.is_dir(), f"the spec's examples are missing: {EXAMPLES}"
    assert {p.name for p in EXAMPLE_FILES} >= {"opportunity.bpf", "case.bpf"}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_lexes_without_errors(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    tokens = lex(text)
    assert [v for t, v in tokens if t in Error] == []
    assert "".join(v for _, v in tokens) == text


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_through_the_public_api(path: Path) -> None:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter

    html = highlight(path.read_text(encoding="utf-8"), BpfLexer(), HtmlFormatter())
    assert 'class="err"' not in html
    assert 'class="k' in html


def test_opportunity_example_tokens() -> None:
    path = EXAMPLES / "opportunity.bpf"
    assert path.is_file(), f"the spec's example is missing: {path}"
    tokens = kinds(path.read_text(encoding="utf-8"))
    by_text: dict[str, set[Any]] = {}
    for t, v in tokens:
        by_text.setdefault(v, set()).add(t)
    assert all(t in Name for t in by_text["budget_amount"])
    assert by_text["entity"] == {Keyword.Declaration}
    assert Name.Class in by_text["opportunity"]
    assert Name.Function in by_text["lead_to_opportunity"]


# ---- small cases ---------------------------------------------------------------------


def test_field_declaration() -> None:
    src = 'entity lead "Lead" {\n    budget_amount "Budget Amount": money min 0 required\n}\n'
    assert kind_of(src, "entity") in Keyword
    assert kind_of(src, "lead") is Name.Class
    assert kind_of(src, "budget_amount") in Name
    assert kind_of(src, "money") is Keyword.Type
    assert kind_of(src, "min") in Keyword
    assert kind_of(src, "required") in Keyword
    assert kind_of(src, "0") in pygments.token.Number


def test_step_field_is_a_name() -> None:
    src = 'process p on lead { stage s { step budget_amount "Budget" required } }'
    assert kind_of(src, "budget_amount") in Name
    assert kind_of(src, "step") in Keyword
    assert kind_of(src, "s") is Name.Function
    assert kind_of(src, "p") is Name.Function


def test_comment() -> None:
    src = "# comment\nrole agent  # trailing\n"
    tokens = kinds(src)
    assert tokens[0] == (Comment.Single, "# comment")
    assert tokens[-1] == (Comment.Single, "# trailing")
    assert (Name.Class, "agent") in tokens


def test_string_escapes() -> None:
    src = 'rule r on a { error x "say \\"hi\\"\\n\\tand \\\\ bye" }'
    tokens = kinds(src)
    escapes = [v for t, v in tokens if t is String.Escape]
    assert escapes == ['\\"', '\\"', "\\n", "\\t", "\\\\"]
    assert not [v for t, v in tokens if t in Error]


def test_unknown_escape_is_an_error() -> None:
    tokens = kinds('rule r on a { error x "bad \\q" }')
    assert (Error, "\\q") in tokens


@pytest.mark.parametrize("word", ["status", "order", "finish", "description", "stage", "category"])
def test_keyword_like_field_in_an_expression_is_a_name(word: str) -> None:
    src = f"rule r on a {{\n    if {word} = open and {word} is not empty {{ set {word} = {word} }}\n}}\n"
    tokens = kinds(src)
    assert not [v for t, v in tokens if t in Error]
    assert [t for t, v in tokens if v == word] == [Name, Name, Name.Attribute, Name]


def test_keyword_like_field_names_in_declarations() -> None:
    src = "entity e {\n    order: integer\n    status: choice(open, closed)\n    finish: date\n}\n"
    assert kind_of(src, "order") is Name.Attribute
    assert kind_of(src, "status") is Name.Attribute
    assert kind_of(src, "finish") is Name.Attribute
    assert kind_of(src, "open") is Name.Constant
    assert kind_of(src, "date") is Keyword.Type


def test_process_keywords_only_where_expected() -> None:
    src = "process p on a {\n    order 1\n    stage order { step order }\n    if order > 1 { finish }\n}\n"
    assert kind_of(src, "order", 0) is Keyword
    assert kind_of(src, "order", 1) is Name.Function
    assert kind_of(src, "order", 2) is Name.Attribute
    assert kind_of(src, "order", 3) is Name
    assert kind_of(src, "finish") is Keyword


def test_operator_words_and_constants() -> None:
    src = (
        "rule r on a { if not x in [a, b] or y not in [c] and z contains \"q\" or t starts with \"a\" "
        "or u ends with \"b\" or v is empty or w = null or k = true or m != false { hide x } }"
    )
    tokens = kinds(src)
    words = {v for t, v in tokens if t is Operator.Word}
    assert words == {"not", "in", "or", "and", "contains", "starts", "with", "ends", "is", "empty"}
    constants = {v for t, v in tokens if t is Keyword.Constant}
    assert constants == {"null", "true", "false"}
    assert not [v for t, v in tokens if t in Error]


def test_rule_actions_are_keywords() -> None:
    actions = ["set x = 1", "default x = 2", 'error x "m"', 'recommend "m"', "require x", "optional x",
               "lock x", "unlock x", "hide x", "show x"]
    src = "rule r on a {\n" + "\n".join(actions) + "\n}\n"
    tokens = kinds(src)
    for action in actions:
        word = action.split()[0]
        assert (Keyword, word) in tokens, word
    assert not [v for t, v in tokens if t in Error]


def test_calls_and_dotted_names() -> None:
    src = (
        'process p on a { on finish { set opportunity.status = won '
        'call bpf.notify(role: "r", message: upper(account.name) + sales.label(x)) } }'
    )
    tokens = kinds(src)
    assert (Name.Class, "opportunity") in tokens
    assert (Name.Namespace, "bpf") in tokens
    assert (Name.Function, "notify") in tokens
    assert (Name.Builtin, "upper") in tokens
    assert (Name.Function, "label") in tokens
    assert (Name.Attribute, "role") in tokens
    assert (Keyword.Pseudo, "finish") in tokens
    assert not [v for t, v in tokens if t in Error]


def test_typed_literals() -> None:
    src = 'entity e { d: date default date("2026-01-31") }\nrule r on e { if d > datetime("2026-01-31T09:00:00Z") { } }'
    tokens = kinds(src)
    assert [t for t, v in tokens if v in ("date", "datetime")] == [Keyword.Type, Name.Builtin, Name.Builtin]


def test_imports() -> None:
    tokens = kinds('import sales.crm\nimport "common/accounts.bpf"\n')
    assert (Keyword.Namespace, "import") in tokens
    assert (Name.Namespace, "sales.crm") in tokens


def test_keywords_are_whole_words() -> None:
    tokens = kinds("rule r on a { if ifx = orx and notx is empty { hide showy } }")
    assert (Name, "ifx") in tokens
    assert (Name, "orx") in tokens
    assert (Name, "notx") in tokens
    assert (Name.Attribute, "showy") in tokens


@pytest.mark.parametrize("seed", range(5))
def test_any_text_round_trips(seed: int) -> None:
    """Broken and half-typed text never loses characters and never hangs the lexer."""
    rng = random.Random(seed)
    pieces = [
        *'{}()[],.:=<>!-+*/"\\#\n\t ab_1é',
        "if ", "else ", "not ", "is ", "in ", "entity ", "stage ", "on ", "set ", "call ", "x.y(", "step ",
        "starts with ", 'date("', "required ", "rule r on a {", "process p on a {", "choice(",
    ]
    for _ in range(200):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        assert "".join(v for _, v in lex(text)) == text


# ---- derived from the grammar, the model and the built-ins ------------------------------
# The highlighter keeps no word list of its own: these fail if it drifts from what it derives from.


def test_the_keywords_are_the_grammars() -> None:
    assert grammar.keywords() == highlight.KEYWORDS


def test_the_types_are_the_models_field_kinds() -> None:
    assert {*highlight.TYPES, *highlight.OPTION_TYPES, *highlight.REFERENCE_TYPES} == ALL_KINDS
    for kind in sorted(SIMPLE_KINDS):
        assert kind_of(f"entity e {{ f: {kind} }}", kind) is Keyword.Type, kind
    for kind in sorted(ALL_KINDS - SIMPLE_KINDS):
        assert kind_of(f"entity e {{ f: {kind}(a) }}", kind) is Keyword.Type, kind


def test_the_builtin_functions_are_the_registered_ones() -> None:
    registered = {f.name for f in default_registry().functions.values() if f.namespace == ""}
    assert registered
    assert set(highlight.BUILTIN_FUNCTIONS) == registered | {"date", "datetime"}
    for name in sorted(registered):
        assert kind_of(f"rule r on a {{ set x = {name}(y) }}", name) is Name.Builtin, name


def _keyword_cases() -> list[tuple[str, str]]:
    """(word, a snippet where the grammar takes it as a keyword), for every keyword, read from the grammar."""
    cases = [(w, f"{w} x") for w in grammar.leading_keywords("_decl") if w != "extend"]
    cases += [("extend", "extend entity e { }")]
    cases += [(w, f"entity e {{ f: text {w} }}") for w in grammar.leading_keywords("field_mod")]
    cases += [(w, f"process p on e {{ {w} }}") for w in grammar.leading_keywords("process_item")]
    cases += [(w, f"process p on e {{ stage s {{ {w} }} }}") for w in grammar.leading_keywords("stage_item")]
    cases += [(w, f"process p on e {{ on start {{ {w} x }} }}") for w in grammar.leading_keywords("hook_action")]
    cases += [(w, f"rule r on e {{ {w} x }}") for w in grammar.leading_keywords("rule_item")]
    cases += [(w, f"process p on e {{ stage s {w} x {{ }} }}") for w in grammar.words_in("stage_category",
                                                                                           "stage_entity")]
    return cases


@pytest.mark.parametrize(("word", "src"), _keyword_cases(), ids=lambda x: x)
def test_a_grammar_keyword_is_a_keyword_where_the_grammar_takes_it(word: str, src: str) -> None:
    assert kind_of(src, word) in Keyword, src


@pytest.mark.parametrize("word", sorted(grammar.lone_keywords("atom")))
def test_the_grammars_literal_words_are_constants(word: str) -> None:
    assert kind_of(f"rule r on e {{ set x = {word} }}", word) is Keyword.Constant


def _patched_highlighter(monkeypatch: pytest.MonkeyPatch, text: str) -> Any:
    """A fresh copy of the highlight module, built from the grammar ``text``."""
    caches = (grammar.keywords, grammar.rules, grammar.terminal_words)
    monkeypatch.setattr(grammar, "grammar_text", lambda: text)
    for cache in caches:
        cache.cache_clear()
    try:
        spec = importlib.util.spec_from_file_location("patched_highlight", highlight.__file__)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        monkeypatch.undo()
        for cache in caches:
            cache.cache_clear()
    return module


def test_a_keyword_added_to_the_grammar_is_highlighted_as_a_keyword(monkeypatch: pytest.MonkeyPatch) -> None:
    text = grammar.grammar_text()
    patched = re.sub(r'(\n(\s*)\| "show" NAME[^\n]*)', r'\1\n\2| "flag" NAME -> r_flag', text)
    patched = re.sub(r'(\n(\s*)\| sum "contains" sum[^\n]*)', r'\1\n\2| sum "matches" sum -> e_matches', patched)
    assert patched.count("\n") == text.count("\n") + 2, "the grammar changed: update the patch above"
    module = _patched_highlighter(monkeypatch, patched)
    assert {"flag", "matches"} <= module.KEYWORDS
    tokens = [(t, v) for t, v in module.BpfLexer().get_tokens('rule r on a {\n    flag x\n    if y matches "a" { }\n}')
              if v.strip()]
    assert (Keyword, "flag") in tokens and (Name.Attribute, "x") in tokens
    assert (Operator.Word, "matches") in tokens and (String.Double, "a") in tokens
    # the real highlighter is untouched
    assert "flag" not in highlight.KEYWORDS and grammar.keywords() == highlight.KEYWORDS


# ---- registration ----------------------------------------------------------------------


def test_lexer_metadata() -> None:
    assert BpfLexer.name == "bpf"
    assert BpfLexer.aliases == ["bpf"]
    assert BpfLexer.filenames == ["*.bpf"]
    assert BpfLexer.mimetypes == ["text/x-bpf"]


def test_entry_point_declared() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["entry-points"]["pygments.lexers"]["bpf"] == "bpf_dsl.tools.highlight:BpfLexer"


def test_found_by_pygments_when_installed() -> None:
    eps = importlib.metadata.entry_points(group="pygments.lexers")
    if not any(ep.name == "bpf" for ep in eps):
        pytest.skip("the bpf distribution is not installed in this environment")
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename

    assert isinstance(get_lexer_by_name("bpf"), BpfLexer)
    assert isinstance(get_lexer_for_filename("flow.bpf"), BpfLexer)
