"""`bpf deliveries list|retry`: the webhook outbox for operators, as real subprocesses on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import bpf_dsl
from bpf_dsl.service import Attempt, Caller, DeliveryPolicy, Outbox, Service, open_service
from bpf_dsl.storage import InstanceRow

from .helpers import bpf, one_error_line

MODEL = """
role sales
entity lead {
    topic: text required
}
process flow on lead {
    roles sales
    stage one {
        step topic
        on exit {
            call bpf.webhook(url: "http://127.0.0.1:9/hook", event: "left_one")
        }
    }
    stage two { step topic }
}
"""
ANN = Caller("ann", frozenset({"sales"}))


def _outbox(tmp_path: Path) -> tuple[str, Service, Outbox, list[str]]:
    """A database with three deliveries: one delivered, one failed, one pending."""
    url = f"sqlite:///{tmp_path / 'bpf.db'}"
    svc = open_service(bpf_dsl.load_source(MODEL), url)
    ids = []
    for topic in ("a", "b", "c"):
        record = svc.create_record(ANN, "lead", {"topic": topic})
        assert not isinstance(record, Exception) and hasattr(record, "id")
        row = svc.instances_of(ANN, record.id)[0]
        moved = svc.move_next(ANN, row.id)
        assert isinstance(moved, InstanceRow)
        ids.append(svc.deliveries_of([moved])[0][0].id)
    outbox = Outbox(svc, DeliveryPolicy(attempts=1), secret="")
    first, second = outbox.claim(2)  # the third stays pending, never tried
    assert outbox.record(first, Attempt(True, status=200)) == "delivered"
    assert outbox.record(second, Attempt(False, "HTTP 503: down")) == "failed"
    return url, svc, outbox, ids


def test_list_shows_each_delivery_with_its_status(tmp_path: Path) -> None:
    url, svc, _, ids = _outbox(tmp_path)
    svc.storage.close()
    shown = bpf("deliveries", "list", "--db", url, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(reversed(ids))  # newest first
    assert [line.split()[1] for line in lines] == ["pending", "failed", "delivered"]
    assert "HTTP 503: down" in lines[1] and "left_one" in lines[0]
    assert shown.stderr.strip() == "3 shown; 1 pending, 1 delivered, 1 failed"
    failed = bpf("deliveries", "list", "--status", "failed", "--format", "json", "--db", url, cwd=tmp_path)
    [row] = json.loads(failed.stdout)
    assert (row["id"], row["status"], row["attempts"], row["lastError"]) == (ids[1], "failed", 1, "HTTP 503: down")


def test_retry_sets_failed_deliveries_back_to_pending(tmp_path: Path) -> None:
    url, svc, outbox, ids = _outbox(tmp_path)
    again = bpf("deliveries", "retry", "--db", url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [f"retrying {ids[1]}"]
    assert {d.id: (d.status, d.attempts) for d in outbox.recent()} == {
        ids[0]: ("delivered", 1), ids[1]: ("pending", 0), ids[2]: ("pending", 0)}
    assert {d.id for d in outbox.claim(10)} == {ids[1], ids[2]}  # due now: the next server to look sends them
    # Named: a delivered one is not sent again (exit 1); an unknown id is a bad invocation.
    named = bpf("deliveries", "retry", ids[0], ids[2], "--db", url, cwd=tmp_path)
    assert named.returncode == 1 and named.stdout.splitlines() == [f"retrying {ids[2]}"]
    assert f"{ids[0]} was delivered at" in named.stderr
    unknown = bpf("deliveries", "retry", "nope", "--db", url, cwd=tmp_path)
    assert unknown.returncode == 2 and "no delivery nope" in one_error_line(unknown)
    svc.storage.close()


def test_deliveries_needs_a_command_and_an_existing_database(tmp_path: Path) -> None:
    bare = bpf("deliveries", cwd=tmp_path)
    assert bare.returncode == 2 and "list or retry" in one_error_line(bare)
    missing = bpf("deliveries", "list", "--db", f"sqlite:///{tmp_path / 'none.db'}", cwd=tmp_path)
    assert missing.returncode == 1 and not (tmp_path / "none.db").exists()
