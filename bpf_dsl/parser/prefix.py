"""What the grammar accepts after a prefix of a file: the words an editor may offer at the cursor.

The LALR parser is fed the prefix's tokens and asked which terminals it would take next
(lark's interactive parser), so the keywords offered are the grammar's own for that place:
``step``, ``action``, ``create``, ``on``... inside a stage, ``required``, ``default``, ``min``...
after a field's type. Nothing is guessed from the text around the cursor.
"""

from __future__ import annotations

from lark.exceptions import LarkError

from bpf_dsl.parser.lexer import plain_parser


def accepted_after(prefix: str) -> frozenset[str] | None:
    """What may come after ``prefix``: keywords and punctuation as written (``stage``, ``{``), other
    tokens by kind (``NAME``, ``STRING``, ``NUMBER``, ``DURATION``); None when ``prefix`` does not
    start a valid file (a mistake before the cursor)."""
    parser = plain_parser()
    try:
        interactive = parser.parse_interactive(prefix)
        interactive.exhaust_lexer()
        terminals = interactive.accepts()  # type: ignore[no-untyped-call]
    except LarkError:
        return None
    out: set[str] = set()
    for name in terminals:
        if name == "$END":
            continue
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            continue
        out.add(pattern.value if pattern.type == "str" else name)
    return frozenset(out)
