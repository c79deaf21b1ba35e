"""The database commands of ``bpf``: migrate, instances upgrade, import, export.

``instances upgrade``, ``import`` and ``export`` take no .bpf paths (API.md): they
run on the program a server last ran on the database (stored by ``bpf serve``),
or on ``--model PATH`` files when given.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from .definition import Program
from .errors import UsageError

BATCH = 500


def _service(args: argparse.Namespace) -> Any:
    from . import load
    from .plugins import default_registry
    from .service import Service
    from .service.versions import latest_program
    from .storage import open_storage

    storage = open_storage(args.db)
    registry = default_registry()
    program: Program | None
    if getattr(args, "model", None):
        program = load(args.model, registry)
    else:
        with storage.read() as tx:
            program = latest_program(tx, registry)
        if program is None:
            storage.close()
            raise UsageError("this database has no stored model: run `bpf serve PATH` on it once, or pass --model PATH")
    return Service(program, storage, registry)


def cmd_migrate(args: argparse.Namespace) -> int:
    """``bpf migrate [--db URL]``."""
    from .storage import database_url, open_storage

    storage = open_storage(args.db, migrate=False)
    try:
        applied = storage.migrate()
    finally:
        storage.close()
    url = database_url(args.db)
    print(f"migrated {url}: applied {', '.join(map(str, applied))}" if applied else f"{url} is up to date")
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    """``bpf instances upgrade [--process NAME] [--dry-run] [--db URL]``."""
    from .service.bulk import upgrade_instances

    svc = _service(args)
    try:
        if args.process and args.process not in svc.program.processes:
            raise UsageError(f"no process {args.process!r} in the stored model")
        results = upgrade_instances(svc, args.process, args.dry_run)
    finally:
        svc.storage.close()
    verb = "would move" if args.dry_run else "moved"
    stuck = [r for r in results if not r.moved]
    for r in results:
        if r.moved:
            print(f"{verb} {r.instance_id} ({r.process}) {r.from_version} -> {r.to_version}")
        else:
            print(f"can't move {r.instance_id} ({r.process}, record {r.record_id}): {r.reason}")
    moved = len(results) - len(stuck)
    print(f"{moved} instance(s) {verb}, {len(stuck)} can't move", file=sys.stderr)
    return 1 if stuck else 0


class _Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, total_bytes: int) -> None:
        self.total = max(1, total_bytes)
        self.on = sys.stderr.isatty()

    def show(self, done_bytes: int, rows: int) -> None:
        if not self.on:
            return
        share = min(1.0, done_bytes / self.total)
        bar = "#" * int(share * 30)
        sys.stderr.write(f"\r[{bar:<30}] {share:5.1%} {rows} rows")
        sys.stderr.flush()

    def close(self) -> None:
        if self.on:
            sys.stderr.write("\n")


def _batches(rows: Iterator[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    batch: list[tuple[int, Any]] = []
    for item in rows:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def cmd_import(args: argparse.Namespace) -> int:
    """``bpf import FILE --entity E [--db URL]``."""
    import os

    from .service import SYSTEM
    from .service.bulk import import_batch, read_rows

    fmt = args.format or ("jsonl" if args.file.endswith((".jsonl", ".ndjson", ".json")) else "csv")
    if not os.path.isfile(args.file):
        raise UsageError(f"no such file: {args.file}")
    svc = _service(args)
    try:
        entity = svc.program.entities.get(args.entity)
        if entity is None:
            raise UsageError(f"no entity {args.entity!r} in the model (entities: "
                             f"{', '.join(sorted(svc.program.entities))})")
        progress = _Progress(os.path.getsize(args.file))
        imported = 0
        failures = []
        read = [0]

        def lines(handle: Any) -> Iterator[str]:
            for line in handle:
                read[0] += len(line.encode("utf-8"))
                yield line

        with open(args.file, encoding="utf-8-sig", newline="") as handle:
            for batch in _batches(read_rows(lines(handle), fmt, entity), args.batch_size):
                problems = import_batch(svc, SYSTEM, args.entity, batch, not args.no_process)
                if problems:
                    failures.extend(problems)
                    first, last = batch[0][0], batch[-1][0]
                    print(f"batch of lines {first}-{last} not imported:", file=sys.stderr)
                    for p in problems:
                        print(f"  {args.file}: {p.describe()}", file=sys.stderr)
                else:
                    imported += len(batch)
                progress.show(read[0], imported)
        progress.close()
    finally:
        svc.storage.close()
    print(f"imported {imported} {args.entity} record(s)" + (f", {len(failures)} bad row(s)" if failures else ""))
    return 1 if failures else 0


def cmd_export(args: argparse.Namespace) -> int:
    """``bpf export --entity E [--format csv|jsonl]``."""
    from .service import SYSTEM
    from .service.bulk import export_rows

    svc = _service(args)
    try:
        if args.entity not in svc.program.entities:
            raise UsageError(f"no entity {args.entity!r} in the model")
        out = sys.stdout
        for line in export_rows(svc, SYSTEM, args.entity, args.format):
            out.write(line)
    finally:
        svc.storage.close()
    return 0


def add_commands(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register the database commands on the ``bpf`` parser."""
    p = sub.add_parser("migrate", help="bring the database schema up to date")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(func=cmd_migrate)

    inst = sub.add_parser("instances", help="process instances: upgrade to the newest definitions")
    isub = inst.add_subparsers(dest="instances_command", metavar="COMMAND", parser_class=parser_class)
    p = isub.add_parser("upgrade", help="move running instances to the newest version of their process")
    p.add_argument("--process", metavar="NAME")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--db", metavar="URL")
    p.add_argument("--model", action="append", metavar="PATH", help=".bpf files to use instead of the stored model")
    p.set_defaults(func=cmd_upgrade)

    p = sub.add_parser("import", help="bulk-create records from CSV or JSON lines")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--entity", required=True, metavar="E")
    p.add_argument("--db", metavar="URL")
    p.add_argument("--format", choices=["csv", "jsonl"])
    p.add_argument("--batch-size", type=int, default=BATCH, metavar="N")
    p.add_argument("--no-process", action="store_true", help="don't start the default process on new records")
    p.add_argument("--model", action="append", metavar="PATH")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="write every record of an entity as CSV or JSON lines")
    p.add_argument("--entity", required=True, metavar="E")
    p.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    p.add_argument("--db", metavar="URL")
    p.add_argument("--model", action="append", metavar="PATH")
    p.set_defaults(func=cmd_export)
