"""The page's files over a real uvicorn: gzip when asked, strong ETags and 304s, cache headers, the build prefix.

Bodies are read raw (``iter_raw``), as they came over the wire, so a gzipped answer is
checked by decompressing it here, not by the client's transparent decoding.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass

import httpx
import pytest
from bpf_server.app import STATIC
from bpf_server.assets import accepts_gzip, matches

from tests.server.helpers import Live

TEXT_FILES = sorted(p.name for p in STATIC.iterdir() if p.suffix in (".js", ".css"))


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    raw: bytes

    @property
    def body(self) -> bytes:
        """The body as the file's bytes (decompressed if it came gzipped)."""
        return gzip.decompress(self.raw) if self.headers.get("content-encoding") == "gzip" else self.raw


def fetch(live: Live, path: str, method: str = "GET", **headers: str) -> Answer:
    """One request with exactly these extra headers; the body as sent."""
    sent = {"accept-encoding": "identity", **{k.replace("_", "-"): v for k, v in headers.items()}}
    with httpx.Client(base_url=live.url, timeout=30) as client, client.stream(method, path, headers=sent) as response:
        return Answer(response.status_code, response.headers, b"".join(response.iter_raw()))


def shell_links(live: Live) -> list[str]:
    """The /static/... addresses the page's shell points at."""
    page = fetch(live, "/").body.decode()
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', page)


def test_there_are_files_to_serve() -> None:
    assert "app.js" in TEXT_FILES and "style.css" in TEXT_FILES


@pytest.mark.parametrize("name", TEXT_FILES)
def test_gzip_when_asked_and_the_same_bytes(sqlite_live: Live, name: str) -> None:
    on_disk = (STATIC / name).read_bytes()
    zipped = fetch(sqlite_live, f"/static/{name}", accept_encoding="gzip, deflate, br")
    assert zipped.status == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert len(zipped.raw) < len(on_disk) and int(zipped.headers["content-length"]) == len(zipped.raw)
    assert gzip.decompress(zipped.raw) == on_disk
    assert zipped.headers["vary"].lower() == "accept-encoding"

    plain = fetch(sqlite_live, f"/static/{name}")
    assert plain.status == 200 and "content-encoding" not in plain.headers
    assert plain.raw == on_disk and int(plain.headers["content-length"]) == len(on_disk)
    assert plain.headers["vary"].lower() == "accept-encoding"
    assert plain.headers["content-type"].startswith("text/javascript" if name.endswith(".js") else "text/css")
    assert plain.headers["x-content-type-options"] == "nosniff"


def test_what_accept_encoding_allows() -> None:
    assert accepts_gzip("gzip") and accepts_gzip("br, gzip;q=0.5") and accepts_gzip("*") and accepts_gzip("GZIP")
    assert not accepts_gzip("") and not accepts_gzip("identity") and not accepts_gzip("br")
    assert not accepts_gzip("gzip;q=0") and not accepts_gzip("gzip; q=0.0, *") and not accepts_gzip("*;q=0")
    assert matches('"a", W/"b"', '"b"') and matches("*", '"x"')
    assert not matches('"a"', '"b"') and not matches(None, '"a"')


def test_strong_etags_and_304(sqlite_live: Live) -> None:
    live = sqlite_live
    zipped = fetch(live, "/static/app.js", accept_encoding="gzip")
    plain = fetch(live, "/static/app.js")
    for answer in (zipped, plain):
        assert re.fullmatch(r'"[0-9a-f-]+(-gz)?"', answer.headers["etag"]), "a strong ETag (no W/)"
    assert zipped.headers["etag"] != plain.headers["etag"], "each representation has its own ETag"

    again = fetch(live, "/static/app.js", accept_encoding="gzip", if_none_match=zipped.headers["etag"])
    assert again.status == 304 and again.raw == b""
    assert again.headers["etag"] == zipped.headers["etag"]
    assert again.headers["cache-control"] == zipped.headers["cache-control"]
    assert again.headers["vary"].lower() == "accept-encoding"
    assert fetch(live, "/static/app.js", if_none_match=plain.headers["etag"]).status == 304
    assert fetch(live, "/static/app.js", if_none_match=f'"other", {plain.headers["etag"]}').status == 304
    # The gzipped bytes' ETag is not the plain bytes': a client that no longer takes gzip gets them whole.
    changed = fetch(live, "/static/app.js", if_none_match=zipped.headers["etag"])
    assert changed.status == 200 and changed.raw == (STATIC / "app.js").read_bytes()
    assert fetch(live, "/static/app.js", if_none_match='"not-this-one"').status == 200


def test_cache_control(sqlite_live: Live) -> None:
    live = sqlite_live
    # Plain names and the shell: kept, asked again each time.
    assert fetch(live, "/static/app.js").headers["cache-control"] == "no-cache"
    for path in ("/", "/records/abc", "/processes/lead_to_opportunity"):
        shell = fetch(live, path, accept_encoding="gzip")
        assert shell.status == 200 and shell.headers["cache-control"] == "no-cache"
        assert shell.headers["content-type"].startswith("text/html")
        assert shell.headers["content-encoding"] == "gzip" and b"<html" in shell.body
        assert fetch(live, path, accept_encoding="gzip", if_none_match=shell.headers["etag"]).status == 304
    # What the shell points at: under the build prefix, never changing, and the files' own bytes.
    links = shell_links(live)
    assert {"/static/app.js", "/static/style.css", "/static/favicon.svg"} <= {re.sub(r"/[0-9a-f]{12}/", "/", x)
                                                                              for x in links}
    builds = {link.split("/")[2] for link in links}
    assert len(builds) == 1 and re.fullmatch(r"[0-9a-f]{12}", builds.pop())
    for link in links:
        answer = fetch(live, link, accept_encoding="gzip")
        assert answer.status == 200, link
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.body == (STATIC / link.rsplit("/", 1)[1]).read_bytes()
    # Every module is preloaded, so the browser fetches them at once, not one import level at a time.
    preloaded = {link.rsplit("/", 1)[1] for link in links}
    assert {p.name for p in STATIC.glob("*.js")} <= preloaded
    # A page from an older build asks for its prefix: it gets today's file, not pinned as immutable.
    old = fetch(live, "/static/000000000000/app.js")
    assert old.status == 200 and old.headers["cache-control"] == "no-cache"


def test_the_raw_index_is_still_the_file(sqlite_live: Live) -> None:
    raw = fetch(sqlite_live, "/static/index.html")
    assert raw.status == 200 and raw.raw == (STATIC / "index.html").read_bytes()


def test_head_requests(sqlite_live: Live) -> None:
    live = sqlite_live
    for path in ("/static/bar.js", "/", f"/static/{shell_links(live)[0].split('/')[2]}/style.css"):
        for encoding in ("gzip", "identity"):
            got = fetch(live, path, accept_encoding=encoding)
            head = fetch(live, path, "HEAD", accept_encoding=encoding)
            assert head.status == 200 and head.raw == b""
            for name in ("content-length", "content-type", "etag", "cache-control", "vary"):
                assert head.headers.get(name) == got.headers.get(name), (path, name)
            assert head.headers.get("content-encoding") == got.headers.get("content-encoding")
    assert fetch(live, "/static/nope.js", "HEAD").status == 404


def test_unknown_files_are_404(sqlite_live: Live) -> None:
    live = sqlite_live
    build = shell_links(live)[0].split("/")[2]
    for path in ("/static/no-such-file.js", f"/static/{build}/no-such-file.js", "/static/", f"/static/{build}/",
                 "/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/APP.JS"):
        assert fetch(live, path).status == 404, path
    assert fetch(live, "/static/app.js", "POST").status == 405


def test_the_program_tag_is_in_the_page_and_on_every_graphql_answer(sqlite_live: Live) -> None:
    live = sqlite_live
    page = fetch(live, "/").body.decode()
    found = re.search(r'<meta name="bpf-program" content="([0-9a-f]+)">', page)
    assert found, page
    token = live.token("ann", "salesperson")
    answer = live.client(token).post("{ me { user } }")
    assert answer.status_code == 200 and answer.headers["bpf-program"] == found.group(1)
    assert "content-encoding" not in answer.headers, "GraphQL answers are not compressed"
    refused = live.client(None).post("{ me { user } }")
    assert refused.status_code == 401 and refused.headers["bpf-program"] == found.group(1)
