"""The database commands of ``bpf``: migrate, instances upgrade, import, export.

``instances upgrade``, ``import`` and ``export`` take no .bpf paths (API.md): they
run on the program a server last ran on the database (stored by ``bpf serve``),
or on ``--model PATH`` files when given.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from bpf_dsl.errors import UsageError

if TYPE_CHECKING:
    from bpf_dsl.definition import Program
    from bpf_dsl.plugins import Registry
    from bpf_dsl.storage import Storage

BATCH = 500


def _open(args: argparse.Namespace, check: Callable[[Program], None], *,
          create: bool) -> tuple[Storage, Program, Registry]:
    """The database and the program to run on it: ``--model`` files, else the one stored there.

    ``check`` refuses bad input for that program; with ``--model`` it runs before the
    database is opened, so that bad input creates no database. Nothing is written here
    (beyond bringing the schema up to date): the model is stored only by a command
    that changes data (a :class:`Service` records it).
    """
    from bpf_dsl import load
    from bpf_dsl.plugins import default_registry
    from bpf_dsl.service.versions import latest_program
    from bpf_dsl.storage import open_storage

    registry = default_registry()
    program: Program | None = None
    if getattr(args, "model", None):
        program = load(args.model, registry)
        check(program)
    storage = open_storage(args.db, create=create)
    try:
        if program is None:
            with storage.read() as tx:
                program = latest_program(tx, registry)
            if program is None:
                raise UsageError("this database has no stored model: run `bpf serve PATH` on it once, "
                                 "or pass --model PATH")
            check(program)
    except BaseException:
        storage.close()
        raise
    return storage, program, registry


def _entity_check(args: argparse.Namespace) -> Callable[[Program], None]:
    def check(program: Program) -> None:
        if args.entity not in program.entities:
            raise UsageError(f"no entity {args.entity!r} in the model (entities: "
                             f"{', '.join(sorted(program.entities)) or 'none'})")

    return check


def cmd_migrate(args: argparse.Namespace) -> int:
    """``bpf migrate [--db URL]``."""
    from bpf_dsl.storage import database_url, display_url, open_storage, run_migrations

    storage = open_storage(args.db, migrate=False)
    try:
        applied = run_migrations(storage)
    finally:
        storage.close()
    url = display_url(database_url(args.db))
    print(f"migrated {url}: applied {', '.join(map(str, applied))}" if applied else f"{url} is up to date")
    return 0


def _renames(pairs: list[str] | None) -> dict[str, str]:
    """``--rename OLD=NEW`` values as a mapping (a malformed one, or one OLD twice, is a usage error)."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        old, sep, new = pair.partition("=")
        old, new = old.strip(), new.strip()
        if not sep or not old or not new:
            raise UsageError(f"--rename takes OLD=NEW (a stage's old and new names), not {pair!r}")
        if old in out and out[old] != new:
            raise UsageError(f"--rename gives {old!r} two new names: {out[old]!r} and {new!r}")
        out[old] = new
    return out


def cmd_upgrade(args: argparse.Namespace) -> int:
    """``bpf instances upgrade [--process NAME] [--rename OLD=NEW...] [--dry-run] [--db URL]``."""
    from bpf_dsl.service import Service
    from bpf_dsl.service.upgrades import plan_upgrades, upgrade_instances

    renames = _renames(args.rename)

    def check(program: Program) -> None:
        if args.process and args.process not in program.processes:
            raise UsageError(f"no process {args.process!r} in the {'given' if args.model else 'stored'} model")
        targets = [p for name, p in program.processes.items() if args.process in (None, name)]
        for old, new in renames.items():
            if not any(p.stage(new) is not None for p in targets):
                raise UsageError(f"--rename {old}={new}: no stage {new!r} in the "
                                 f"{'given' if args.model else 'stored'} model"
                                 + (f"'s process {args.process!r}" if args.process else ""))

    storage, program, registry = _open(args, check, create=False)  # no database, no instances: don't make one
    try:
        if args.dry_run:
            results = plan_upgrades(program, storage, args.process, renames)  # reads only: a dry run writes nothing
        else:
            # The Service stores the program's definitions (a --model one included): the moved instances
            # run on them from now on.
            results = upgrade_instances(Service(program, storage, registry), args.process, renames)
    finally:
        storage.close()
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


def _instances_usage(args: argparse.Namespace) -> int:
    raise UsageError("bpf instances needs a command: upgrade")


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


def _import_file(path: str) -> None:
    """Refuse, before the database is opened, a file that is not there, a folder, or not UTF-8 text."""
    from bpf_dsl.errors import ImportFileError
    from bpf_dsl.service.bulk import check_utf8

    if os.path.isdir(path):
        raise UsageError(f"{path} is a folder: give the CSV or JSON-lines file to import")
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path}")
    try:
        with open(path, "rb") as handle:
            check_utf8(handle, path)  # a whole-file check: a bad byte found halfway would leave half an import
    except OSError as err:
        raise ImportFileError(f"can't read {path}: {err.strerror or err}") from err


def cmd_import(args: argparse.Namespace) -> int:
    """``bpf import FILE --entity E [--db URL]``."""
    from bpf_dsl.service import SYSTEM, Service
    from bpf_dsl.service.bulk import Importer, check_header, read_header, read_rows

    fmt = args.format or ("jsonl" if args.file.endswith((".jsonl", ".ndjson", ".json")) else "csv")
    _import_file(args.file)
    entity_check = _entity_check(args)

    def check(program: Program) -> None:
        entity_check(program)
        if fmt == "csv":  # a bad header: one error, before anything is stored (the model included)
            with open(args.file, encoding="utf-8-sig", newline="") as handle:
                header = read_header(handle, args.file)
            if header is not None:
                check_header(header, program.entities[args.entity], args.file)

    # Without --model the database must exist already (it holds the model): don't leave a new, empty one.
    storage, program, registry = _open(args, check, create=bool(args.model))
    try:
        svc = Service(program, storage, registry)
        entity = program.entities[args.entity]
        importer = Importer(svc, SYSTEM, args.entity, not args.no_process, owner=args.owner)
        progress = _Progress(os.path.getsize(args.file))
        imported = 0
        failures = []
        read = [0]

        def lines(handle: Any) -> Iterator[str]:
            for line in handle:
                read[0] += len(line.encode("utf-8"))
                yield line

        with open(args.file, encoding="utf-8-sig", newline="") as handle:
            for batch in _batches(read_rows(lines(handle), fmt, entity, args.file), args.batch_size):
                problems = importer.batch(batch)
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
        storage.close()
    print(f"imported {imported} {args.entity} record(s)" + (f", {len(failures)} bad row(s)" if failures else ""))
    return 1 if failures else 0


def cmd_export(args: argparse.Namespace) -> int:
    """``bpf export --entity E [--format csv|jsonl]``."""
    from bpf_dsl.service.bulk import export_rows

    storage, program, _ = _open(args, _entity_check(args), create=False)  # a read: no Service, nothing stored
    try:
        out = sys.stdout
        for line in export_rows(program, storage, args.entity, args.format, owners=args.owners):
            out.write(line)
    finally:
        storage.close()
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_commands(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register the database commands on the ``bpf`` parser."""
    p = sub.add_parser("migrate", help="bring the database schema up to date")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(func=cmd_migrate)

    inst = sub.add_parser("instances", help="process instances: upgrade to the newest definitions")
    inst.set_defaults(func=_instances_usage)
    isub = inst.add_subparsers(dest="instances_command", metavar="COMMAND", parser_class=parser_class)
    p = isub.add_parser("upgrade", help="move running instances to the newest version of their process")
    p.add_argument("--process", metavar="NAME")
    p.add_argument("--rename", action="append", metavar="OLD=NEW",
                   help="a stage renamed in the new version (repeatable): instances on OLD move to NEW")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--db", metavar="URL")
    p.add_argument("--model", action="append", metavar="PATH", help=".bpf files to use instead of the stored model")
    p.set_defaults(func=cmd_upgrade)

    p = sub.add_parser("import", help="bulk-create records from CSV or JSON lines")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--entity", required=True, metavar="E")
    p.add_argument("--db", metavar="URL")
    p.add_argument("--format", choices=["csv", "jsonl"])
    p.add_argument("--batch-size", type=_positive, default=BATCH, metavar="N", help=f"rows per transaction ({BATCH})")
    p.add_argument("--no-process", action="store_true", help="don't start the default process on new records")
    p.add_argument("--owner", metavar="USER", help="who owns the rows without an `owner` column (default: system)")
    p.add_argument("--model", action="append", metavar="PATH")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="write every record of an entity as CSV or JSON lines")
    p.add_argument("--entity", required=True, metavar="E")
    p.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    p.add_argument("--owners", action="store_true", help="add the owner and created_by columns (import reads them)")
    p.add_argument("--db", metavar="URL")
    p.add_argument("--model", action="append", metavar="PATH")
    p.set_defaults(func=cmd_export)
