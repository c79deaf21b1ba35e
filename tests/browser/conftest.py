"""Browser tests: a live `bpf serve` on a free loopback port, driven by Debian's Chromium through
Playwright's Python client (never a downloaded browser). Skipped, with the reason, when either
is missing; CI installs both."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.helpers import PACKS, PLUGINS, write_dist
from tests.server.helpers import free_port, stop_process, wait_healthy

CHROMIUM = Path("/usr/bin/chromium")
from tests.paths import EXAMPLES  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "docs" / "images"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]

def _bpf() -> list[str]:
    beside = Path(sys.executable).with_name("bpf")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("bpf")
    return [found] if found else [sys.executable, "-m", "bpf_dsl.cli"]


@dataclass
class Server:
    """A running `bpf serve`: its address and a token for ann (salesperson and sales manager)."""

    url: str
    token: str
    db: str

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """A GraphQL call as ann (for setting up data; the page itself is what the tests drive)."""
        request = urllib.request.Request(
            f"{self.url}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
        assert not body.get("errors"), body
        return body["data"]  # type: ignore[no-any-return]


def _packs_env(folder: Path) -> dict[str, str]:
    """The shipped packs "installed" for a subprocess when this venv doesn't hold them (CI installs only bpf).

    A ``*.dist-info`` with entry points on PYTHONPATH is what pip leaves behind (see tests/plugins).
    """
    installed = {ep.name for ep in importlib.metadata.entry_points(group="bpf.plugins")}
    if installed.issuperset(PACKS):
        return {}
    site = folder / "site"
    for pack in PACKS:
        write_dist(site, f"bpf-{pack}", "0.1.0", {pack: f"bpf_{pack}:PACK"})
    paths = [site, *(PLUGINS / pack for pack in PACKS)]
    return {"PYTHONPATH": os.pathsep.join(str(p) for p in paths)}


def _start(folder: Path, files: list[Path], roles: list[str]) -> tuple[Server, subprocess.Popen[bytes], Any]:
    """`bpf token create` for ann with `roles`, then `bpf serve files` on a free port; waits for /healthz."""
    db = f"sqlite:///{folder / 'bpf.db'}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **_packs_env(folder)}
    role_args = [arg for role in roles for arg in ("--role", role)]
    made = subprocess.run([*_bpf(), "token", "create", "--user", "ann", *role_args, "--db", db],
                          capture_output=True, text=True, timeout=120, env=env)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1].strip()
    port = free_port()
    log = (folder / "serve.log").open("w")
    command = [*_bpf(), "serve", *map(str, files), "--db", db, "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, timeout=60)
    except RuntimeError:
        proc.kill()
        log.close()
        pytest.fail("bpf serve did not start:\n" + (folder / "serve.log").read_text())
    return Server(url, token, db), proc, log


def _stop(proc: subprocess.Popen[bytes], log: Any) -> None:
    stop_process(proc)
    log.close()


def _require_tools() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    if sync_playwright is None:
        pytest.skip("Playwright's Python client is not installed (pip install playwright)")
    serve_help = subprocess.run([*_bpf(), "serve", "--help"], capture_output=True, text=True, timeout=120)
    if serve_help.returncode != 0:
        pytest.fail(f"`bpf serve` is not available: {serve_help.stderr.strip()}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The spec's two examples, served; ann is a salesperson, a sales manager and a service agent (cases are the
    agents': since access control, a role with no process on an entity may do nothing with its records)."""
    _require_tools()
    files = [EXAMPLES / "opportunity.bpf", EXAMPLES / "case.bpf"]
    running, proc, log = _start(tmp_path_factory.mktemp("browser"), files, ["salesperson", "sales_manager", "agent"])
    try:
        yield running
    finally:
        _stop(proc, log)


@pytest.fixture(scope="session")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str, list[str]], Server]]:
    """serve(bpf_source, roles): another server for a test's own .bpf source (stopped at the end)."""
    _require_tools()
    started: list[tuple[subprocess.Popen[bytes], Any]] = []

    def go(source: str, roles: list[str]) -> Server:
        folder = tmp_path_factory.mktemp("browser-own")
        (folder / "flows.bpf").write_text(source)
        running, proc, log = _start(folder, [folder / "flows.bpf"], roles)
        started.append((proc, log))
        return running

    try:
        yield go
    finally:
        for proc, log in started:
            _stop(proc, log)


@pytest.fixture(scope="session")
def sales(serve: Callable[[str, list[str]], Server]) -> Server:
    """The sales pack (`import sales`, as `bpf serve --demo` has it), served without sample records;
    ann is a salesperson and a sales manager."""
    return serve("import sales\n", ["salesperson", "sales_manager"])


def token_for(target: Server, user: str, roles: list[str]) -> Server:
    """The same server seen by another user with other roles (`bpf token create` on its database)."""
    role_args = [arg for role in roles for arg in ("--role", role)]
    made = subprocess.run([*_bpf(), "token", "create", "--user", user, *role_args, "--db", target.db],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert made.returncode == 0, made.stderr
    return Server(target.url, made.stdout.strip().splitlines()[-1].strip(), target.db)


@pytest.fixture(scope="session")
def browser(server: Server) -> Iterator[Browser]:
    assert sync_playwright is not None
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", timezone_id="Europe/London")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture()
def sign_in(server: Server) -> Callable[..., None]:
    """sign_in(page, path="/", on=server): open `path` and sign in through the one field labelled "Token"."""

    def go(page: Page, path: str = "/", on: Server | None = None) -> None:
        target = on or server
        page.goto(target.url + path)
        page.get_by_label("Token", exact=True).fill(target.token)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Sign out").wait_for()

    return go
