"""docs/api.md stays in step with the limits the server applies."""

from __future__ import annotations

from pathlib import Path

from bpf_server import limits

DOC = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")


def test_the_limits_table_matches_the_code() -> None:
    rows = {
        "request body": f"{limits.MAX_BODY_BYTES:,} bytes",
        "operation depth": str(limits.MAX_DEPTH),
        "aliases": str(limits.MAX_ALIASES),
        "tokens of a document": f"{limits.MAX_TOKENS:,}",
        "field selections, fragments expanded": str(limits.MAX_FIELDS),
        "one field repeated at one place": str(limits.MAX_REPEATS),
        "a request head (request line and headers)": (f"{limits.MAX_HEADER_BYTES:,} bytes, whole within "
                                                      f"{limits.HEADER_TIMEOUT:g} s"),
        "an idle keep-alive connection": f"{limits.KEEP_ALIVE_SECONDS} s",
        "connections and requests at once, per server process": f"{limits.LIMIT_CONCURRENCY:,}",
        "WebSocket message": f"{limits.MAX_WS_MESSAGE_BYTES:,} bytes",
        "subscriptions per socket": str(limits.MAX_SUBSCRIPTIONS_PER_SOCKET),
    }
    for name, value in rows.items():
        assert f"| {name} | {value}" in DOC, f"docs/api.md: the row `{name}` should say {value}"
