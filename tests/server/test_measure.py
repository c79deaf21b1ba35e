"""The size of a document, each fragment measured once (bpf_server.measure): the figures the limits read."""

from __future__ import annotations

from bpf_server.measure import Measure, Size
from graphql import parse


def sizes(text: str, limit: int = 10**9) -> list[Size]:
    return [size for _, size in Measure(parse(text, max_tokens=100_000), limit).sizes()]


def test_the_figures_of_plain_documents() -> None:
    assert sizes("{ me { user roles } }") == [Size(depth=2, fields=3, aliases=0, repeats=1)]
    assert sizes("{ a: me { user } b: me { user } entities { name fields { name } } }") == [
        Size(depth=3, fields=8, aliases=2, repeats=1)]
    # Fields of one response path: counted wherever they come from (inline fragments, nesting, spreads).
    assert sizes("{ entities { fields { name } fields { name } ... on Entity { fields { name } } } }")[0].repeats == 3
    assert sizes("{ x { a { b } a { b } } x { a { b } } }")[0].repeats == 3
    # Introspection's insides don't count in depth (GraphiQL nests ofType nine times), but count as fields.
    deep_type = "{ __type(name: \"Query\") { " + "ofType { " * 9 + "name" + " }" * 9 + " } }"
    assert sizes(deep_type) == [Size(depth=1, fields=11, aliases=0, repeats=1)]
    assert [s.depth for s in sizes("query A { me { user } } query B { entities { fields { options { name } } } }")
            ] == [2, 4]


def test_fragments_count_at_every_spread_but_are_walked_once() -> None:
    doubling = " ".join(["fragment F0 on Entity { a: name }"]
                        + [f"fragment F{i} on Entity {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 61)])
    size = sizes("{ entities { ...F60 } } " + doubling, limit=2**70)[0]  # 2^60 fields: arithmetic, no walk
    assert (size.fields, size.aliases, size.depth) == (2**60 + 1, 2**60, 2)
    assert size.repeats >= 2**60
    # Past the limit the measure stops: it only needs to say "over".
    assert sizes("{ entities { ...F60 } } " + doubling, limit=500)[0].fields > 500


def test_cycles_unknown_fragments_and_long_chains_end() -> None:
    cycle = "{ entities { ...A } } fragment A on Entity { name ...B } fragment B on Entity { label ...A }"
    assert sizes(cycle)[0].fields == 3  # each fragment once; the spread that closes the cycle adds nothing
    assert sizes("{ entities { ...Nowhere name } }")[0].fields == 2
    chain = " ".join(f"fragment C{i} on Entity {{ ...C{i + 1} }}" for i in range(3000)) + \
        " fragment C3000 on Entity { name }"
    assert sizes("{ entities { ...C0 } } " + chain)[0] == Size(depth=2, fields=2, aliases=0, repeats=1)
    nested = "{ " + "a { " * 190 + "b" + " }" * 190 + " }"  # about as deep as graphql-core parses
    assert sizes(nested)[0].depth == 191
