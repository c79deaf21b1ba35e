"""`bpf instances upgrade --dry-run` writes nothing; `bpf export` then `bpf import` gives the same records.

Real subprocesses on a real database of each backend (PostgreSQL when BPF_TEST_POSTGRES_URL is set).
"""

from __future__ import annotations

import json
from pathlib import Path

import bpf_dsl
from bpf_dsl.service import Caller, open_service
from tests.backends import database_url
from tests.cli.helpers import MODEL, bpf, one_error_line, rows, write_model

ANN = Caller("ann", frozenset({"sales"}))
V2 = MODEL.replace("stage two { step budget }", "stage two { step budget }\n    stage three { step hot }")
STATE = ("SELECT process, version FROM definitions ORDER BY process, version",
         "SELECT id, definition_version, version FROM instances ORDER BY id")


def _served_v1(tmp_path: Path, url: str) -> None:
    """What `bpf serve model.bpf` leaves: the v1 model stored, and two records with running instances."""
    svc = open_service(bpf_dsl.load([str(write_model(tmp_path))]), url)
    try:
        for topic in ("a", "b"):
            assert not hasattr(svc.create_record(ANN, "lead", {"topic": topic}), "field_errors")
    finally:
        svc.storage.close()


def test_a_dry_run_with_a_model_writes_nothing_and_the_real_run_stores_the_model(tmp_path: Path, db_url: str) -> None:
    _served_v1(tmp_path, db_url)
    v2 = write_model(tmp_path, V2, "v2.bpf")
    before = [rows(db_url, q) for q in STATE]

    dry = bpf("instances", "upgrade", "--dry-run", "--model", str(v2), "--db", db_url, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("would move") == 2
    assert [rows(db_url, q) for q in STATE] == before  # neither v2's definitions nor the program under "*"

    unknown = bpf("instances", "upgrade", "--process", "nope", "--model", str(v2), "--db", db_url, cwd=tmp_path)
    assert unknown.returncode == 2 and "no process 'nope'" in one_error_line(unknown)
    assert [rows(db_url, q) for q in STATE] == before  # refused before the model was stored

    real = bpf("instances", "upgrade", "--model", str(v2), "--db", db_url, cwd=tmp_path)
    assert real.returncode == 0, real.stderr
    assert real.stdout.count("moved") == 2
    definitions = rows(db_url, STATE[0])
    assert len(definitions) == len(before[0]) + 2  # the new version of `flow`, and the v2 program under "*"
    versions = {v for _, v, _ in rows(db_url, STATE[1])}
    assert len(versions) == 1 and versions.isdisjoint({v for _, v, _ in before[1]})


def test_export_writes_every_field_so_a_round_trip_keeps_empty_values(tmp_path: Path, backend: str) -> None:
    model = write_model(tmp_path)
    # Empty cells in fields that have defaults: a round trip must keep them empty, not apply the defaults.
    source = tmp_path / "in.csv"
    source.write_text("topic,budget,hot,note,tags\nEmpty,,,,\nFull,12.5,false,hello,a;c\nDefaults,3,true,fresh,\n",
                      encoding="utf-8")
    for name in ("one", "two", "three"):
        (tmp_path / name).mkdir()
    with database_url(backend, tmp_path / "one") as first, database_url(backend, tmp_path / "two") as second, \
            database_url(backend, tmp_path / "three") as third:
        made = bpf("import", str(source), "--entity", "lead", "--model", str(model), "--db", first, cwd=tmp_path)
        assert made.returncode == 0, made.stderr

        jsonl = bpf("export", "--entity", "lead", "--format", "jsonl", "--db", first, cwd=tmp_path).stdout
        records = [json.loads(line) for line in jsonl.splitlines()]
        empty = next(r for r in records if r["topic"] == "Empty")
        assert empty == {"id": empty["id"], "topic": "Empty", "budget": None, "hot": None, "note": None, "tags": None}
        (tmp_path / "out.jsonl").write_text(jsonl, encoding="utf-8")
        again = bpf("import", str(tmp_path / "out.jsonl"), "--entity", "lead", "--model", str(model), "--db", second,
                    cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert bpf("export", "--entity", "lead", "--format", "jsonl", "--db", second, cwd=tmp_path).stdout == jsonl

        csv = bpf("export", "--entity", "lead", "--db", first, cwd=tmp_path).stdout
        (tmp_path / "out.csv").write_text(csv, encoding="utf-8")
        third_import = bpf("import", str(tmp_path / "out.csv"), "--entity", "lead", "--model", str(model),
                           "--db", third, cwd=tmp_path)
        assert third_import.returncode == 0, third_import.stderr
        assert bpf("export", "--entity", "lead", "--db", third, cwd=tmp_path).stdout == csv  # byte for byte


def test_export_stores_nothing_and_needs_an_existing_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bpf.db'}"
    _served_v1(tmp_path, url)
    before = rows(url, STATE[0])
    v2 = write_model(tmp_path, V2, "v2.bpf")
    out = bpf("export", "--entity", "lead", "--model", str(v2), "--db", url, cwd=tmp_path)
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 3
    assert rows(url, STATE[0]) == before  # a read: the --model program is not stored
    missing = bpf("export", "--entity", "lead", "--db", f"sqlite:///{tmp_path / 'none.db'}", cwd=tmp_path)
    assert missing.returncode == 1 and "no database at" in one_error_line(missing)
    assert not (tmp_path / "none.db").exists()
