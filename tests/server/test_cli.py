"""`bpf token` and `bpf serve` as a user runs them: exit codes, one-line errors, what gets served."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from bpf_server.boot import load_program

from bpf_dsl.plugins import ModuleSpec, Registry, hookimpl
from tests.server.helpers import Client, example_paths, serve_process


def bpf(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bpf_dsl.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_tokens(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'bpf.db'}"
    made = bpf("token", "create", "--user", "ann", "--role", "salesperson", "--role", "sales_manager", "--db", db,
               cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("bpf_") and " " not in token
    token_id = token.split("_")[1]
    listed = bpf("token", "list", "--db", db, cwd=tmp_path)
    assert listed.returncode == 0 and token_id in listed.stdout and "sales_manager,salesperson" in listed.stdout
    assert token not in listed.stdout and token.split("_", 2)[2] not in (tmp_path / "bpf.db").read_bytes().decode(
        "latin-1")
    again = bpf("token", "create", "--user", "ann", "--role", "admin", "--db", db, cwd=tmp_path)
    assert again.returncode == 0 and "roles of ann changed" in again.stderr
    assert bpf("token", "revoke", token_id, "--db", db, cwd=tmp_path).returncode == 0
    twice = bpf("token", "revoke", token_id, "--db", db, cwd=tmp_path)  # idempotent: says so, exit 0
    assert twice.returncode == 0 and f"{token_id} was already revoked" in twice.stdout
    unknown = bpf("token", "revoke", "0123456789abcdef", "--db", db, cwd=tmp_path)
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1
    no_role = bpf("token", "create", "--user", "x", "--db", db, cwd=tmp_path)
    assert no_role.returncode == 2 and len(no_role.stderr.strip().splitlines()) == 1
    default = bpf("token", "create", "--user", "here", "--role", "admin", cwd=tmp_path)  # sqlite:///bpf.db here
    assert default.returncode == 0 and (tmp_path / "bpf.db").exists()


def test_serve_refuses_bad_input(tmp_path: Path) -> None:
    missing = bpf("serve", "nowhere.bpf", "--db", f"sqlite:///{tmp_path / 'a.db'}", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "nowhere.bpf" in missing.stderr
    broken = tmp_path / "broken.bpf"
    broken.write_text("entity x {\n", encoding="utf-8")
    failed = bpf("serve", str(broken), "--db", f"sqlite:///{tmp_path / 'a.db'}", cwd=tmp_path)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    bad_db = bpf("serve", "--db", "mysql://x", cwd=tmp_path)
    assert bad_db.returncode == 2


def test_serve_without_paths_uses_the_stored_model(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'bpf.db'}"
    made = bpf("token", "create", "--user", "root", "--role", "admin", "--db", db, cwd=tmp_path)
    token = made.stdout.strip().splitlines()[-1]
    with serve_process(db, extra=("--no-graphiql",)) as url:
        assert Client(url, token).gql("{ entities { name } }") == {"entities": []}
        assert httpx.get(url + "/graphql", headers={"Accept": "text/html"}).status_code == 404
    with serve_process(db, *example_paths()) as url:
        assert len(Client(url, token).gql("{ entities { name } }")["entities"]) == 5
    with serve_process(db, extra=("--workers", "2")) as url:
        names = {e["name"] for e in Client(url, token).gql("{ entities { name } }")["entities"]}
        assert "lead" in names  # the model the last server stored, in both worker processes
        for _ in range(4):
            assert Client(url, token).gql("{ processes { name } }")["processes"]


class Broken:
    @hookimpl
    def bpf_modules(self) -> Any:
        raise RuntimeError("pack is broken")


class BadModule:
    def __init__(self, path: Path) -> None:
        self.path = path

    @hookimpl
    def bpf_modules(self) -> Any:
        return [ModuleSpec("badmod", self.path)]


def test_a_broken_pack_is_reported_and_left_out(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bpf"
    bad.write_text("entity lead { topic: text }\n", encoding="utf-8")  # clashes with the example's lead
    registry = Registry([("broken", "1", Broken()), ("clashing", "2", BadModule(bad))], entry_points=False)
    boot = load_program(example_paths(), True, registry, None)
    assert "lead_to_opportunity" in boot.program.processes
    assert any("broken" in n and "pack is broken" in n for n in boot.notes), boot.notes
    assert any("clashing" in n and "badmod" in n for n in boot.notes), boot.notes
    assert str(bad) not in boot.paths
