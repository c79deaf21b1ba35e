"""Text to AST: the only package that imports lark.

- :mod:`.lalr`: the LALR parser whose callbacks build the frozen nodes while parsing;
- :mod:`.syntax_errors`: a syntax error explained by example (lark's ``match_examples``).
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
