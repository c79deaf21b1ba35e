"""The database commands, run as real subprocesses on a real SQLite file: migrate, import, export, upgrade."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import bpf_dsl
from bpf_dsl.service import Caller, open_service

V1 = """
role sales
entity lead {
    topic: text required
    budget: money min 0
    hot: bool
    tags: choices(a, b, c)
}
process flow on lead {
    roles sales
    stage one { step topic }
    stage two { step budget }
    stage three { step hot }
}
"""
ANN = Caller("ann", frozenset({"sales"}))


def bpf(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bpf_dsl.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def serve_once(tmp_path: Path, text: str) -> str:
    """What `bpf serve` does on start: record the model in the database."""
    url = f"sqlite:///{tmp_path / 'bpf.db'}"
    (tmp_path / "model.bpf").write_text(text)
    svc = open_service(bpf_dsl.load([str(tmp_path / "model.bpf")]), url)
    svc.storage.close()
    return url


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    first = bpf("migrate", "--db", url, cwd=tmp_path)
    assert first.returncode == 0 and "applied 1, 2" in first.stdout
    again = bpf("migrate", "--db", url, cwd=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_import_reports_bad_rows_by_line_and_writes_nothing_of_their_batch(tmp_path: Path) -> None:
    url = serve_once(tmp_path, V1)
    csv = tmp_path / "leads.csv"
    csv.write_text("topic,budget,hot,tags\nFleet,5000,yes,a;b\nVans,-3,no,\nTrucks,10,maybe,z\n")
    result = bpf("import", str(csv), "--entity", "lead", "--db", url, "--batch-size", "10", cwd=tmp_path)
    assert result.returncode == 1
    assert "line 3: budget" in result.stderr and "line 4: hot" in result.stderr and "tags" in result.stderr
    exported = bpf("export", "--entity", "lead", "--db", url, "--format", "jsonl", cwd=tmp_path)
    assert exported.stdout == ""  # the good row shared its batch with bad ones: nothing written


def test_choices_in_a_csv_cell_are_separated_by_semicolons_or_commas(tmp_path: Path) -> None:
    url = serve_once(tmp_path, V1)
    csv = tmp_path / "leads.csv"
    csv.write_text('topic,tags\nSemi,a;c\nComma,"a, c"\nOne,b\n')
    result = bpf("import", str(csv), "--entity", "lead", "--db", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    exported = bpf("export", "--entity", "lead", "--db", url, "--format", "jsonl", cwd=tmp_path)
    tags = {row["topic"]: row["tags"] for row in map(json.loads, exported.stdout.splitlines())}
    assert tags == {"Semi": ["a", "c"], "Comma": ["a", "c"], "One": ["b"]}


def test_import_then_export_round_trip(tmp_path: Path) -> None:
    url = serve_once(tmp_path, V1)
    rows = [{"topic": f"t{i}", "budget": i * 10, "hot": i % 2 == 0, "tags": ["a", "c"]} for i in range(25)]
    jsonl = tmp_path / "leads.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = bpf("import", str(jsonl), "--entity", "lead", "--db", url, "--batch-size", "7", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "imported 25 lead record(s)" in result.stdout
    out = bpf("export", "--entity", "lead", "--db", url, "--format", "jsonl", cwd=tmp_path)
    got = sorted((json.loads(line) for line in out.stdout.splitlines()), key=lambda r: r["topic"])
    assert [{k: v for k, v in r.items() if k != "id"} for r in got] == sorted(rows, key=lambda r: str(r["topic"]))
    csv_out = bpf("export", "--entity", "lead", "--db", url, cwd=tmp_path)
    assert csv_out.stdout.splitlines()[0] == "id,topic,budget,hot,tags"
    assert len(csv_out.stdout.splitlines()) == 26
    svc = open_service(bpf_dsl.load([str(tmp_path / "model.bpf")]), url)
    some = svc.list_records(ANN, "lead", {"topic": "t3"}).items[0]
    assert svc.instances_of(ANN, some.id)[0].active_stage == "one"  # the default process started on import


def test_instances_upgrade_moves_by_stage_name_and_reports_the_rest(tmp_path: Path) -> None:
    url = serve_once(tmp_path, V1)
    program = bpf_dsl.load([str(tmp_path / "model.bpf")])
    svc = open_service(program, url)
    at_one = svc.create_record(ANN, "lead", {"topic": "x"})
    at_three = svc.create_record(ANN, "lead", {"topic": "y", "budget": 5})
    inst3 = svc.instances_of(ANN, at_three.id)[0]  # type: ignore[union-attr]
    assert not isinstance(svc.move_next(ANN, inst3.id), type(None))
    svc.move_next(ANN, inst3.id)
    assert svc.get_instance(ANN, inst3.id).active_stage == "three"  # type: ignore[union-attr]
    old_version = inst3.definition_version
    svc.storage.close()

    v2 = V1.replace("stage three { step hot }", "stage four { step hot }").replace(
        "stage one { step topic }", "stage one { step topic required }")
    serve_once(tmp_path, v2)
    dry = bpf("instances", "upgrade", "--dry-run", "--db", url, cwd=tmp_path)
    assert dry.returncode == 1
    assert "would move" in dry.stdout and "no stage three" in dry.stdout
    svc = open_service(bpf_dsl.load([str(tmp_path / "model.bpf")]), url)
    one = svc.instances_of(ANN, at_one.id)[0]  # type: ignore[union-attr]
    assert one.definition_version == old_version  # a dry run changes nothing
    svc.storage.close()

    real = bpf("instances", "upgrade", "--db", url, cwd=tmp_path)
    assert real.returncode == 1
    svc = open_service(bpf_dsl.load([str(tmp_path / "model.bpf")]), url)
    one = svc.instances_of(ANN, at_one.id)[0]  # type: ignore[union-attr]
    three = svc.get_instance(ANN, inst3.id)
    assert one.definition_version != old_version and one.active_stage == "one"
    assert three is not None and three.definition_version == old_version  # it can't move: it stays as it was
    # The instance that moved now follows the new definition: its first step is required.
    refused = svc.move_next(ANN, one.id)
    assert getattr(refused, "code", None) is None  # topic is filled: the new gate is met
    svc.storage.close()
