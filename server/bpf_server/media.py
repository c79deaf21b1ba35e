"""The media type of a GraphQL answer over HTTP: ``application/json``, or ``application/graphql-response+json``.

The GraphQL-over-HTTP specification defines ``application/graphql-response+json``
so that a client can tell a GraphQL answer from any other JSON (a proxy's error
page, say) by its status code: with it, a request that could not be executed at
all (its document does not parse or validate, its variables can't be coerced)
is answered **400 with no ``data`` entry**; with ``application/json`` such a
request is answered 200 with ``"data": null``, as before (and as strawberry
answers). A client gets the new type when its ``Accept`` prefers it; with no
``Accept``, ``*/*`` or ``application/json`` nothing changes.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def _rank(accept: str, media: str) -> tuple[float, int, int]:
    """How much ``accept`` wants ``media``: (quality, how specific the range that names it, -its position).

    The most specific range that matches decides the quality (RFC 9110, 12.5.1); a range named
    earlier wins a tie, as clients list what they prefer first.
    """
    main = media.partition("/")[0]
    best = (0.0, -1, 0)
    for position, part in enumerate(accept.split(",")):
        kind, *params = part.split(";")
        kind = kind.strip().lower()
        specific = 2 if kind == media else 1 if kind == f"{main}/*" else 0 if kind == "*/*" else -1
        if specific <= best[1]:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        best = (quality, specific, -position)
    return best


def prefers_graphql_response(accept: str | None) -> bool:
    """Whether an ``Accept`` header prefers ``application/graphql-response+json`` to ``application/json``."""
    if not accept or "graphql-response" not in accept.lower():
        return False  # the common case, decided without parsing
    wanted = _rank(accept, GRAPHQL_RESPONSE)
    return wanted[0] > 0 and wanted > _rank(accept, JSON)


def is_request_error(answer: dict[str, Any]) -> bool:
    """Whether an answer is that of a request that was not executed: no data, and errors none of which has a
    ``path`` (parse, validation and variable-coercion errors have none; an error of a field has one)."""
    errors = answer.get("errors") or ()
    return answer.get("data") is None and bool(errors) and all("path" not in e for e in errors)


def shape(answer: dict[str, Any], graphql_response: bool) -> tuple[int, dict[str, Any]]:
    """The status and body of an answer in the media type chosen (see the module's docstring)."""
    if graphql_response and is_request_error(answer):
        return 400, {key: value for key, value in answer.items() if key != "data"}
    return 200, answer


def media_type(graphql_response: bool) -> str:
    """The ``Content-Type`` of an answer."""
    return GRAPHQL_RESPONSE if graphql_response else JSON
