"""Security headers on every HTTP answer: a Content-Security-Policy, nosniff, no framing, no referrer.

- ``Content-Security-Policy`` (:data:`PAGE_CSP`): the web page runs only its own
  files (``/static/...``: no inline script, no ``eval``; styles from its own sheet,
  and style properties set from script), talks only to its own origin (``/graphql``
  over HTTP and WebSocket), and may not be framed (``frame-ancestors 'none'``:
  clickjacking), nor post forms elsewhere, nor change its base URL. An injected
  ``<script>`` in a record's text, were the page ever to render one as markup,
  would not run. GraphiQL's page (strawberry's HTML) loads React and GraphiQL from
  unpkg.com and runs one inline script: :func:`graphiql_csp` allows those, the
  inline script by its SHA-256 (not ``'unsafe-inline'``), and inline styles.
- ``X-Content-Type-Options: nosniff``: a file is only what its ``Content-Type``
  says (a JSON answer is never run as a script).
- ``X-Frame-Options: DENY``: ``frame-ancestors`` for browsers that predate it.
- ``Referrer-Policy: no-referrer``: record ids in the page's URLs are not sent to
  other sites (GraphiQL's CDN included).

The headers are added to whatever the app answers (``/``, ``/static/*``,
``/graphql``, ``/healthz``, errors), unless the answer set its own.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import Message, Send

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

#: Where GraphiQL's page loads React, GraphiQL and their styles from (strawberry's HTML, with SRI hashes).
GRAPHIQL_CDN = "https://unpkg.com"

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", PAGE_CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_NAMES = frozenset(name for name, _ in HEADERS)

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def graphiql_csp(html: str) -> str:
    """The policy of GraphiQL's page ``html``: its CDN, and its inline scripts by their hashes."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
                      for body in _INLINE_SCRIPT.findall(html))
    return (f"default-src 'self'; script-src 'self' {GRAPHIQL_CDN} {hashes}; "
            f"style-src 'self' {GRAPHIQL_CDN} 'unsafe-inline'; img-src 'self' data: {GRAPHIQL_CDN}; "
            f"font-src 'self' data: {GRAPHIQL_CDN}; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


def secured(send: Send) -> Send:
    """``send`` adding :data:`HEADERS` to the answer's head, but those the answer set itself."""

    async def send_secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            own = {name.lower() for name, _ in headers if name.lower() in _NAMES}
            headers.extend(header for header in HEADERS if header[0] not in own)
            message["headers"] = headers
        await send(message)

    return send_secured
