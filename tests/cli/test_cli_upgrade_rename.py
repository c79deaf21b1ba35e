"""`bpf instances upgrade --rename OLD=NEW`, and a stage inserted before an instance's active stage.

Real `bpf` subprocesses on a real database of each backend. The model's second stage is renamed
(or a stage is inserted before it) in a new version; instances, finished ones included, follow a
rename; a path the new version no longer allows is listed with the inserted stage, never moved in
silence.
"""

from __future__ import annotations

from pathlib import Path

import bpf_dsl
from bpf_dsl.service import Caller, open_service
from bpf_dsl.storage import InstanceRow
from tests.cli.helpers import MODEL, bpf, one_error_line, write_model

ANN = Caller("ann", frozenset({"sales"}))
RENAMED = MODEL.replace("stage two { step budget }", "stage second { step budget }")
INSERTED = MODEL.replace("stage two { step budget }", "stage checks { step hot }\n    stage two { step budget }")


def _instances(tmp_path: Path, url: str, finish_one: bool) -> list[str]:
    """Two instances moved to `two` (the first then finished), as a v1 server leaves them."""
    svc = open_service(bpf_dsl.load([str(write_model(tmp_path))]), url)
    ids = []
    try:
        for topic in ("a", "b"):
            rec = svc.create_record(ANN, "lead", {"topic": topic, "budget": 5})
            (inst,) = svc.instances_of(ANN, rec.id)  # type: ignore[union-attr]
            assert isinstance(svc.move_next(ANN, inst.id), InstanceRow)
            ids.append(inst.id)
        if finish_one:
            assert isinstance(svc.finish(ANN, ids[0]), InstanceRow)
    finally:
        svc.storage.close()
    return ids


def _state(url: str, model: Path, instance_id: str) -> tuple[str, tuple[str, ...], str]:
    svc = open_service(bpf_dsl.load([str(model)]), url)
    try:
        row = svc.get_instance(ANN, instance_id)
        assert row is not None
        return row.active_stage, row.traversed, row.status
    finally:
        svc.storage.close()


def test_a_renamed_stage_strands_instances_until_rename_moves_them(tmp_path: Path, db_url: str) -> None:
    ids = _instances(tmp_path, db_url, finish_one=True)
    v2 = write_model(tmp_path, RENAMED, "v2.bpf")

    stuck = bpf("instances", "upgrade", "--model", str(v2), "--db", db_url, cwd=tmp_path)
    assert stuck.returncode == 1
    assert stuck.stdout.count("can't move") == 2
    assert "the new version has no stage two (if it was renamed: --rename two=NEW_NAME)" in stuck.stdout

    dry = bpf("instances", "upgrade", "--rename", "two=second", "--dry-run", "--model", str(v2), "--db", db_url,
              cwd=tmp_path)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert dry.stdout.count("would move") == 2
    assert _state(db_url, v2, ids[1])[0] == "two"  # a dry run moves nothing

    real = bpf("instances", "upgrade", "--rename", "two=second", "--model", str(v2), "--db", db_url, cwd=tmp_path)
    assert real.returncode == 0, real.stdout + real.stderr
    assert real.stdout.count("moved") == 2
    assert _state(db_url, v2, ids[0]) == ("second", ("one", "second"), "finished")
    assert _state(db_url, v2, ids[1]) == ("second", ("one", "second"), "active")

    # The moved instance runs on the new version: back to `one` and forward to `second` again.
    svc = open_service(bpf_dsl.load([str(v2)]), db_url)
    try:
        back = svc.move_previous(ANN, ids[1])
        assert isinstance(back, InstanceRow) and back.active_stage == "one"
        forward = svc.move_next(ANN, ids[1])
        assert isinstance(forward, InstanceRow) and forward.active_stage == "second"
        with svc.storage.read() as tx:
            assert tx.stage_counts("flow") == {"second": 1}  # the counters followed the rename
    finally:
        svc.storage.close()


def test_a_stage_inserted_before_the_active_one_is_listed_not_skipped(tmp_path: Path, db_url: str) -> None:
    ids = _instances(tmp_path, db_url, finish_one=False)
    v2 = write_model(tmp_path, INSERTED, "v2.bpf")
    result = bpf("instances", "upgrade", "--model", str(v2), "--db", db_url, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.count("in the new version two can't follow one: the new version puts checks after one") == 2
    assert _state(db_url, v2, ids[0])[0] == "two"


def test_bad_renames_are_usage_errors(tmp_path: Path, db_url: str) -> None:
    _instances(tmp_path, db_url, finish_one=False)
    v2 = write_model(tmp_path, RENAMED, "v2.bpf")
    malformed = bpf("instances", "upgrade", "--rename", "two", "--model", str(v2), "--db", db_url, cwd=tmp_path)
    assert malformed.returncode == 2 and "--rename takes OLD=NEW" in one_error_line(malformed)
    unknown = bpf("instances", "upgrade", "--rename", "two=nope", "--model", str(v2), "--db", db_url, cwd=tmp_path)
    assert unknown.returncode == 2 and "no stage 'nope'" in one_error_line(unknown)
