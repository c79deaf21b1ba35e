"""Subscribers hear of a move before they hear what its hooks said (a notification from `on enter`)."""

from __future__ import annotations

from bpf_dsl.service import ProcessEvent

from .conftest import ADMIN, OpenSvc, ok, program

MODEL = """
role agent
entity ticket {
    title: text required
}
process support on ticket {
    roles agent
    on start {
        call bpf.notify(role: "agent", message: "new ticket")
    }
    stage triage {
        step title
        on exit {
            call bpf.notify(role: "agent", message: "triaged")
        }
    }
    stage resolve {
        step title
        on enter {
            call bpf.notify(role: "agent", message: "to resolve")
        }
    }
}
"""


def test_a_move_is_published_before_the_notifications_of_its_hooks(open_svc: OpenSvc) -> None:
    svc = open_svc(program(MODEL))
    heard: list[ProcessEvent] = []
    svc.subscribe(heard.append)
    record = ok(svc.create_record(ADMIN, "ticket", {"title": "Printer"}))
    assert [e.kind for e in heard] == ["started", "notification"]
    heard.clear()
    ok(svc.move_next(ADMIN, record.active_instance_id))
    assert [(e.kind, e.stage) for e in heard] == [("stage_changed", "resolve"), ("notification", "triage"),
                                                  ("notification", "resolve")]
