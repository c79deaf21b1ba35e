"""Text to AST: the only package that imports lark.

- :mod:`.lalr`: the LALR parser whose callbacks build the frozen nodes while parsing;
- :mod:`.syntax_errors`: a syntax error explained by example (lark's ``match_examples``);
- :mod:`.lexer`: the grammar's own lexer, which the explainer reads the tokens before an error with.
"""

from bpf_dsl.parser.lalr import (
    MAX_BLOCK_DEPTH,
    MAX_EXPRESSION_DEPTH,
    MAX_SOURCE_BYTES,
    Parser,
    build_bare_lalr,
    get_parser,
    parse,
)

__all__ = ["MAX_BLOCK_DEPTH", "MAX_EXPRESSION_DEPTH", "MAX_SOURCE_BYTES", "Parser", "build_bare_lalr", "get_parser",
           "parse"]
