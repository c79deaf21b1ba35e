"""The web page's files: read once at start, kept gzipped, served with strong ETags and cache headers.

Every file of ``static/`` is read when the app is built and kept in memory (the
folder is about 160 KB), with its gzipped form when that is smaller, and an ETag
that is a hash of its bytes. A response is gzipped when the request's
``Accept-Encoding`` allows it (``Vary: Accept-Encoding``); ``If-None-Match`` with
the ETag answers 304.

The page's shell (``index.html`` as ``/``, ``/records/...``, ``/processes/...``
answer it) is rendered once: its links point at ``/static/{build}/...``, where
``build`` is a hash of the whole folder, so those answers never change and are
cached ``immutable``; modules import each other by relative path, so they resolve
under the same prefix without rewriting. The shell itself, and the files at their
plain names (``/static/app.js``), are ``no-cache``: the browser asks again each
time and gets a 304 while nothing changed. The shell also carries ``<meta
name="bpf-program">``, a tag of what the page's cached metadata depends on (the
schema, the program's entities and process versions, the page's files), and every
``/graphql`` answer carries it as the ``Bpf-Program`` header (:class:`Tagged`), so
a page can tell that its metadata is stale without asking for it again.

Nothing here is used for GraphQL answers: they are not compressed (their CPU per
request matters more than their bytes on the networks this serves).
"""

from __future__ import annotations

import gzip
import hashlib
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bpf_dsl.service import Program

#: A file under the build prefix never changes: the prefix changes with any file of the folder.
IMMUTABLE = "public, max-age=31536000, immutable"
#: The shell and the plain names: kept, but asked again (a 304 while unchanged).
REVALIDATE = "no-cache"
#: The header of every /graphql answer that names the program tag.
PROGRAM_HEADER = "bpf-program"

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
COMPRESSIBLE = (".html", ".js", ".mjs", ".css", ".svg", ".json", ".txt", ".ico")
BUILD_PREFIX = re.compile(r"([0-9a-f]{12})/(.+)")


@dataclass(frozen=True, slots=True)
class Asset:
    """One file as served: its bytes, its gzipped bytes (when smaller), type and ETags."""

    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str
    gzip_etag: str

    @classmethod
    def of(cls, name: str, body: bytes) -> Asset:
        suffix = Path(name).suffix.lower()
        digest = hashlib.sha256(body).hexdigest()[:32]
        gzipped = gzip.compress(body, compresslevel=9, mtime=0) if suffix in COMPRESSIBLE else None
        if gzipped is not None and len(gzipped) >= len(body):
            gzipped = None
        # A strong ETag names one representation: the gzipped bytes get their own.
        return cls(body, gzipped, TYPES.get(suffix, "application/octet-stream"), f'"{digest}"', f'"{digest}-gz"')

    def response(self, request: Request, cache_control: str) -> Response:
        """This file for ``request``: gzipped if accepted, 304 if the client has it, no body for HEAD."""
        zipped = self.gzipped is not None and accepts_gzip(request.headers.get("accept-encoding", ""))
        etag = self.gzip_etag if zipped else self.etag
        headers = {"etag": etag, "cache-control": cache_control, "x-content-type-options": "nosniff"}
        if self.gzipped is not None:
            headers["vary"] = "Accept-Encoding"
        if matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        body = self.gzipped if zipped and self.gzipped is not None else self.body
        if zipped:
            headers["content-encoding"] = "gzip"
        headers["content-length"] = str(len(body))
        return Response(b"" if request.method == "HEAD" else body, media_type=self.media_type, headers=headers)


def accepts_gzip(header: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip;q=0`` refuses it, ``*`` allows it)."""
    star = False
    for part in header.lower().split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding in ("gzip", "x-gzip"):
            return quality > 0
        if coding == "*":
            star = quality > 0
    return star


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` value names ``etag`` (weak comparison, as RFC 9110 asks for it)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


def fingerprint(schema_sdl: str, program: Program) -> str:
    """What the page's metadata is read from: the schema, the entities, the processes' versions."""
    digest = hashlib.sha256(schema_sdl.encode())
    digest.update(repr(sorted(program.entities.items())).encode())
    digest.update(repr(sorted((name, p.version) for name, p in program.processes.items())).encode())
    return digest.hexdigest()


def render_shell(page: str, build: str, tag: str, modules: Iterable[str]) -> str:
    """``index.html`` pointing at the build's files, preloading the modules, carrying the program tag."""
    page = re.sub(r'(\s(?:src|href)=")/static/', rf"\g<1>/static/{build}/", page)
    head = [f'<meta name="bpf-program" content="{html.escape(tag)}">']
    head += [f'<link rel="modulepreload" href="/static/{build}/{html.escape(m)}">' for m in modules]
    return page.replace("</head>", "".join(f"  {line}\n" for line in head) + "</head>", 1)


class Assets:
    """The files of ``folder``, and the shell, ready to serve."""

    def __init__(self, folder: Path, fingerprint: str = "") -> None:
        found: dict[str, bytes] = {}
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                name = path.relative_to(folder).as_posix()
                if path.is_file() and not any(part.startswith(".") for part in name.split("/")):
                    found[name] = path.read_bytes()
        self.build = _digest(found)[:12]
        self.program_tag = hashlib.sha256(f"{self.build}:{fingerprint}".encode()).hexdigest()[:16]
        self.files: Mapping[str, Asset] = {name: Asset.of(name, body) for name, body in found.items()}
        index = found.get("index.html")
        self.shell: Asset | None = None
        if index is not None:
            page = index.decode("utf-8")
            # Every module, fetched at once rather than as each import is found (the page's own script aside).
            modules = [name for name in found if name.endswith(".js") and f'"/static/{name}"' not in page]
            rendered = render_shell(page, self.build, self.program_tag, modules)
            self.shell = Asset.of("index.html", rendered.encode("utf-8"))

    async def file(self, request: Request) -> Response:
        """``/static/{path}``: a file by its plain name (no-cache) or under the build prefix (immutable)."""
        path = request.path_params["path"]
        asset = self.files.get(path)
        if asset is not None:
            return asset.response(request, REVALIDATE)
        versioned = BUILD_PREFIX.fullmatch(path)
        if versioned is not None and (asset := self.files.get(versioned.group(2))) is not None:
            # Another build's prefix (a page loaded before the server was upgraded): today's file, not pinned.
            return asset.response(request, IMMUTABLE if versioned.group(1) == self.build else REVALIDATE)
        return PlainTextResponse("Not Found", status_code=404)

    def page(self, request: Request) -> Response | None:
        """The shell, or None when the folder has no ``index.html``."""
        return None if self.shell is None else self.shell.response(request, REVALIDATE)


def _digest(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name, body in sorted(files.items()):
        digest.update(f"{name}\0{len(body)}\0".encode())
        digest.update(body)
    return digest.hexdigest()


class Tagged:
    """An ASGI app whose HTTP answers carry one more header (``Bpf-Program`` on ``/graphql``)."""

    def __init__(self, app: ASGIApp, name: str, value: str) -> None:
        self.app = app
        self.header = (name.encode("latin-1"), value.encode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = self.header

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, tagged)
