"""The grammar's own lexer, for the tools that need tokens without a parse: lark over ``bpf.lark``.

The syntax-error explainer reads the tokens before an error with it (the token just
before, the construct still open), so its idea of a token is the grammar's: a string,
a comment, ``!=`` or a keyword are what the parser saw, never a second, hand-kept
approximation. Nothing here runs while a file parses cleanly.
"""

from __future__ import annotations

from functools import lru_cache

import lark
from lark import Token
from lark.exceptions import LarkError

from bpf_dsl.grammar import grammar_text

# What separates tokens: lexed (``dont_ignore``), then left out of what callers see.
_SKIPPED = frozenset({"WS", "COMMENT"})


@lru_cache(maxsize=1)
def plain_parser() -> lark.Lark:
    """A plain LALR parser over the grammar: no callbacks, no transformer, built once.

    Its parse states are those of the real parser (they don't depend on callbacks), so
    parsing an example with it lands where the real parser would.
    """
    return lark.Lark(grammar_text(), parser="lalr", keep_all_tokens=True, maybe_placeholders=True, cache=True)


def tokens_before(text: str, pos: int) -> list[Token]:
    """The tokens of ``text[:pos]``, comments and whitespace left out.

    Never raises: where the text stops fitting the grammar's tokens (a character no
    token takes, a string not closed), the tokens lexed up to there are the answer.
    """
    found: list[Token] = []
    try:
        for tok in plain_parser().lex(text[:pos], dont_ignore=True):
            if tok.type not in _SKIPPED:
                found.append(tok)
    except LarkError:
        pass  # a lexing error: keep what was lexed before it
    return found


def kind(tok: Token) -> str:
    """A token as the explainer keys it: NAME, STRING or NUMBER, else its text (a keyword, ``{``, ``!=``)."""
    return tok.type if tok.type in ("NAME", "STRING", "NUMBER") else str(tok)
