"""``bpf deliveries``: the webhook outbox, for operators (list what is pending, delivered or failed; send again).

The running servers send the deliveries; these commands only read the outbox, or set
deliveries back to pending with a fresh count of attempts (``retry``), which the next
server to look sends (within a second, ``BPF_JOBS_POLL``). They need no model.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from bpf_dsl.cli.data import _positive  # one reading of a whole-number option for every command
from bpf_dsl.errors import UsageError

STATUSES = ("pending", "delivered", "failed")


def _moment(at: dt.datetime | None) -> str | None:
    return None if at is None else at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def cmd_list(args: argparse.Namespace) -> int:
    """``bpf deliveries list [--status S] [--first N] [--format text|json] [--db URL]``: newest first."""
    from bpf_dsl.storage import open_storage
    from bpf_dsl.storage.jobs import count_deliveries, list_deliveries

    storage = open_storage(args.db, create=False)  # a read: no database, no deliveries
    try:
        with storage.read() as tx:
            rows = list_deliveries(tx, args.status, args.first)
            counts = count_deliveries(tx)
    finally:
        storage.close()
    if args.format == "json":
        print(json.dumps([{"id": d.id, "status": d.status, "attempts": d.attempts, "event": d.event, "url": d.url,
                           "instance": d.instance_id, "process": d.process, "stage": d.stage,
                           "createdAt": _moment(d.created_at), "nextAt": _moment(d.next_at),
                           "deliveredAt": _moment(d.delivered_at), "lastError": d.last_error} for d in rows],
                         indent=2))
    else:
        for d in rows:
            when = d.delivered_at if d.status == "delivered" else d.next_at if d.status == "pending" else None
            said = f"  {d.last_error}" if d.last_error and d.status != "delivered" else ""
            print(f"{d.id}  {d.status:<9}  {d.attempts:>2}  {_moment(d.created_at)}  {d.event}  {d.url}"
                  f"{'  ' + (_moment(when) or '') if when else ''}{said}")
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES)
    print(f"{len(rows)} shown; {summary}", file=sys.stderr)
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    """``bpf deliveries retry [ID...] [--db URL]``: the failed deliveries (or those named) sent again from now."""
    from bpf_dsl.storage import open_storage
    from bpf_dsl.storage.jobs import get_deliveries, retry_deliveries

    storage = open_storage(args.db, create=False)
    try:
        with storage.write() as tx:
            delivered: list[Any] = []
            if args.ids:
                found = get_deliveries(tx, args.ids)
                unknown = [i for i in args.ids if i not in found]
                if unknown:
                    raise UsageError(f"no delivery {unknown[0]} (see `bpf deliveries list`)")
                delivered = [found[i] for i in dict.fromkeys(args.ids) if found[i].status == "delivered"]
            chosen = retry_deliveries(tx, args.ids or None, dt.datetime.now(dt.UTC))
    finally:
        storage.close()
    for delivery_id in chosen:
        print(f"retrying {delivery_id}")
    for d in delivered:
        print(f"bpf deliveries: {d.id} was delivered at {_moment(d.delivered_at)}: not sent again", file=sys.stderr)
    print(f"{len(chosen)} deliver{'y' if len(chosen) == 1 else 'ies'} set to pending", file=sys.stderr)
    return 1 if delivered else 0


def _usage(args: argparse.Namespace) -> int:
    raise UsageError("bpf deliveries needs a command: list or retry")


def add_commands(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register ``bpf deliveries`` on the ``bpf`` parser."""
    top = sub.add_parser("deliveries", help="webhook deliveries: list, retry")
    top.set_defaults(func=_usage)
    dsub = top.add_subparsers(dest="deliveries_command", metavar="COMMAND", parser_class=parser_class)
    p = dsub.add_parser("list", help="the newest deliveries, with their status, attempts and last error")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--first", type=_positive, default=50, metavar="N", help="how many (50)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(func=cmd_list)
    p = dsub.add_parser("retry", help="send failed deliveries (or those named) again, with a fresh count of attempts")
    p.add_argument("ids", nargs="*", metavar="ID", help="deliveries to send again (default: every failed one)")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(func=cmd_retry)
