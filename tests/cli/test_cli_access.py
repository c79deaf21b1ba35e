"""The command line and access control: `bpf token create` refuses roles the stored model doesn't declare;
`bpf import` sets owners (a column, `--owner`, else the system), `bpf export --owners` writes them back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bpf_dsl
from bpf_dsl.service import open_service
from tests.backends import BACKENDS, database_url

from .helpers import bpf, one_error_line, rows, write_model


def store_model(tmp_path: Path, url: str) -> Path:
    """What `bpf serve` does on start: record the model in the database."""
    path = write_model(tmp_path)
    open_service(bpf_dsl.load([str(path)]), url).storage.close()
    return path


@pytest.mark.parametrize("backend", BACKENDS)
def test_token_create_refuses_a_role_the_stored_model_does_not_declare(tmp_path: Path, backend: str) -> None:
    with database_url(backend, tmp_path) as url:
        # No model stored yet: the roles can't be known, so the token is made, with a warning.
        early = bpf("token", "create", "--user", "ann", "--role", "sales", "--db", url, cwd=tmp_path)
        assert early.returncode == 0, early.stderr
        assert "warning" in early.stderr and "can't be checked" in early.stderr
        assert early.stdout.strip().splitlines()[-1].startswith("bpf_")
        store_model(tmp_path, url)
        wrong = bpf("token", "create", "--user", "bob", "--role", "sales", "--role", "salse", "--db", url,
                    cwd=tmp_path)
        assert wrong.returncode == 2 and wrong.stdout == ""
        line = one_error_line(wrong)
        assert "'salse'" in line and "(roles: admin, sales)" in line
        assert rows(url, "SELECT name FROM users WHERE name = 'bob'") == []  # refused before anything was written
        for user, roles in (("cy", ("sales",)), ("dee", ("admin",)), ("eve", ("admin", "sales"))):
            made = bpf("token", "create", "--user", user, *(a for r in roles for a in ("--role", r)), "--db", url,
                       cwd=tmp_path)
            assert made.returncode == 0 and made.stderr == "", made.stderr


def test_import_owners_and_export_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bpf.db'}"
    model = store_model(tmp_path, url)
    data = tmp_path / "leads.csv"
    data.write_text("topic,owner\nMine,\nTheirs,bob\n", encoding="utf-8")
    done = bpf("import", str(data), "--entity", "lead", "--db", url, "--owner", "ann", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data.write_text("topic\nSystems\n", encoding="utf-8")
    assert bpf("import", str(data), "--entity", "lead", "--db", url, cwd=tmp_path).returncode == 0
    stored = dict(rows(url, "SELECT json_extract(data, '$.topic'), owner || '/' || created_by FROM records"))
    assert stored == {"Mine": "ann/ann", "Theirs": "bob/ann", "Systems": "system/system"}
    plain = bpf("export", "--entity", "lead", "--db", url, cwd=tmp_path).stdout
    assert plain.splitlines()[0] == "id,topic,budget,hot,note,tags"  # as before: the owners only when asked
    jsonl = bpf("export", "--entity", "lead", "--format", "jsonl", "--owners", "--db", url, cwd=tmp_path).stdout
    got = {r["topic"]: (r["owner"], r["created_by"]) for r in map(json.loads, jsonl.splitlines())}
    assert got == {"Mine": ("ann", "ann"), "Theirs": ("bob", "ann"), "Systems": ("system", "system")}
    # A round trip keeps them.
    (tmp_path / "again").mkdir()
    second = f"sqlite:///{tmp_path / 'again' / 'bpf.db'}"
    (tmp_path / "out.jsonl").write_text(jsonl, encoding="utf-8")
    back = bpf("import", str(tmp_path / "out.jsonl"), "--entity", "lead", "--model", str(model), "--db", second,
               cwd=tmp_path)
    assert back.returncode == 0, back.stderr
    again = bpf("export", "--entity", "lead", "--format", "jsonl", "--owners", "--db", second, cwd=tmp_path).stdout
    assert again == jsonl
