"""Bulk import and export of records, and moving instances to their process's newest version.

Import works in batches; each batch is one transaction, so a bad row leaves its
whole batch unwritten and is reported with its line number. A problem of the
file as a whole (not UTF-8, a bad CSV header) is found before any batch is written.

Export writes every field of every record, empty ones included (``null`` in JSON
lines, an empty cell in CSV), so that importing an export gives the same records:
a field left out would get its declared default instead.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from bpf_dsl.definition import Program
from bpf_dsl.errors import ConflictError, ImportFileError
from bpf_dsl.model import EntitySpec
from bpf_dsl.service.core import Service, _Abort, _Work
from bpf_dsl.service.data import TxData
from bpf_dsl.service.results import Caller, ValidationFailure
from bpf_dsl.service.values import FieldError, parse_input, present
from bpf_dsl.storage import Storage, Tx


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that could not be imported."""

    line: int
    errors: tuple[FieldError, ...]

    def describe(self) -> str:
        """``line 12: budget: must be a number; ...``."""
        parts = [f"{e.field}: {e.message}" if e.field else e.message for e in self.errors]
        return f"line {self.line}: {'; '.join(parts)}"


def check_utf8(handle: IO[bytes], name: str) -> None:
    """Raise :class:`ImportFileError` naming the first line of ``handle`` that is not UTF-8."""
    for number, line in enumerate(handle, start=1):
        try:
            line.decode("utf-8")  # a line break never falls inside a UTF-8 sequence: lines decode alone
        except UnicodeDecodeError as err:
            raise ImportFileError(f"{name}: line {number} is not UTF-8 text (byte 0x{line[err.start]:02x} at "
                                  f"column {err.start + 1}); save the file as UTF-8") from None


def read_rows(text: Iterable[str], fmt: str, entity: EntitySpec, name: str = "the file") -> Iterator[tuple[int, Any]]:
    """(line number, JSON-shaped values or a :class:`RowError`) for each data row of a CSV or JSON-lines file.

    A CSV header that names a column twice, or a column that is not a field (nor ``id``),
    raises :class:`ImportFileError` before the first row: every row would be wrong.
    """
    if fmt == "jsonl":
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, RowError(number, (FieldError(None, f"not JSON: {exc.msg}"),))
        return
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    check_header(header, entity, name)
    for cells in reader:
        number = reader.line_num  # the row's last line: a quoted cell may span several
        if not cells:
            continue  # a blank line
        if len(cells) != len(header):
            count = f"{len(cells)} cell{'s' * (len(cells) != 1)}"
            more = "more" if len(cells) > len(header) else "fewer"
            yield number, RowError(number, (FieldError(None, f"{count}, {more} than the header's "
                                                             f"{len(header)} columns"),))
            continue
        yield number, {k: _cell(entity, k, v) for k, v in zip(header, cells, strict=True)}


def read_header(text: Iterable[str]) -> list[str] | None:
    """The header of a CSV text (None when it is empty)."""
    return next(csv.reader(text), None)


def check_header(header: list[str], entity: EntitySpec, name: str) -> None:
    """Raise :class:`ImportFileError` if a CSV header names a column twice or one that is not a field."""
    twice = [column for column, count in Counter(header).items() if count > 1]
    if twice:
        raise ImportFileError(f"{name}: line 1: the header names the column {twice[0]!r} twice")
    unknown = [c for c in header if c != "id" and c not in entity.fields]
    if unknown:
        listed = ", ".join(repr(c) for c in unknown)
        raise ImportFileError(f"{name}: line 1: the header has column(s) that are not fields of {entity.name}: "
                              f"{listed} (fields: id, {', '.join(entity.fields)})")


def _cell(entity: EntitySpec, name: str, raw: str | None) -> Any:
    """A CSV cell in the JSON shape of its field (CSV has only text)."""
    if raw is None or raw == "":
        return None
    spec = entity.fields.get(name)
    if spec is None:
        return raw
    kind = spec.type.kind
    if kind in ("integer", "decimal", "money"):
        try:
            number = Decimal(raw.strip())
        except InvalidOperation:
            return raw  # left as text: validation names the field
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "bool":
        lowered = raw.strip().lower()
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(lowered, raw)
    if kind == "choices":
        return [part.strip() for part in raw.split(";") if part.strip()]
    return raw


def import_batch(service: Service, caller: Caller, entity: str, rows: list[tuple[int, Any]],
                 start_process: bool) -> list[RowError]:
    """Create every row of a batch in one transaction; any bad row rolls the batch back."""
    spec = service.program.entities[entity]
    chosen = service.visible_processes(caller, entity)[0] if start_process and service.visible_processes(
        caller, entity) else None
    problems: list[RowError] = []

    def command(tx: Tx, data: TxData, work: _Work) -> None:
        problems.clear()  # a retried batch starts over
        for line, given in rows:
            if isinstance(given, RowError):
                problems.append(given)
                continue
            raw = dict(given) if isinstance(given, dict) else given
            record_id = raw.pop("id", None) if isinstance(raw, dict) else None
            values, errors = parse_input(spec, raw)
            if errors:
                problems.append(RowError(line, tuple(errors)))
                continue
            try:
                row = service._insert_record(data, entity, values, enforce_locks=False,
                                             record_id=str(record_id) if record_id else None)
            except _Abort as abort:
                failure = abort.failure
                errs = failure.field_errors if isinstance(failure, ValidationFailure) else ()
                problems.append(RowError(line, errs or (FieldError(None, failure.message),)))
                continue
            if chosen is not None:
                service._start_instance(tx, data, work, caller, chosen, row.id, make_active=True)
        if problems:
            raise _Abort(ValidationFailure(f"{len(problems)} bad row(s)"))

    try:
        service._run(command)
    except ConflictError:  # a row's id is taken (the retries found it taken every time)
        problems.append(RowError(rows[0][0], (FieldError("id", "a record with one of these ids exists"),)))
    return problems


def export_rows(program: Program, storage: Storage, entity: str, fmt: str, page_size: int = 500) -> Iterator[str]:
    """Every record of ``entity`` as CSV (with a header) or JSON lines, page by page; reads only."""
    spec = program.entities[entity]
    names = ["id", *spec.fields]
    after: str | None = None
    if fmt == "csv":
        yield _csv_line(names)
    while True:
        with storage.read() as tx:
            page = tx.list_records(entity, {}, None, None, page_size, after, newest_first=False)
        for rec in page.items:
            values = {"id": rec.id, **present(spec, rec.values)}  # empty fields too: null
            if fmt == "jsonl":
                yield json.dumps(values, sort_keys=True) + "\n"
            else:
                yield _csv_line([_csv_value(values[n]) for n in names])
        if page.next_cursor is None:
            return
        after = page.next_cursor


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class Upgrade:
    """What ``bpf instances upgrade`` did (or would do) with one instance."""

    instance_id: str
    record_id: str
    process: str
    from_version: str
    to_version: str | None
    moved: bool
    reason: str = ""


def plan_upgrades(program: Program, storage: Storage, process: str | None) -> list[Upgrade]:
    """What moving instances to the newest version of their process would do; reads only (a dry run).

    An instance can move when its active stage and every stage of its traversed path
    exist by name in the newest version; ``moved`` is True for those.
    """
    out: list[Upgrade] = []
    with storage.read() as tx:
        rows = tx.running_instances(process)
    for row in rows:
        defn = program.processes.get(row.process)
        if defn is None:
            out.append(Upgrade(row.id, row.record_id, row.process, row.definition_version, None, False,
                               "the process is no longer declared"))
            continue
        if row.definition_version == defn.version:
            continue
        missing = [s for s in (*row.traversed, row.active_stage) if defn.stage(s) is None]
        if missing:
            out.append(Upgrade(row.id, row.record_id, row.process, row.definition_version, defn.version, False,
                               f"the new version has no stage {', '.join(dict.fromkeys(missing))}"))
            continue
        out.append(Upgrade(row.id, row.record_id, row.process, row.definition_version, defn.version, True))
    return out


def upgrade_instances(service: Service, process: str | None) -> list[Upgrade]:
    """Move instances to the newest version of their process, by stage name; report those that can't move."""
    planned = plan_upgrades(service.program, service.storage, process)
    for upgrade in planned:
        if upgrade.moved and upgrade.to_version is not None:
            _move_version(service, upgrade.instance_id, upgrade.to_version)
    return planned


def _move_version(service: Service, instance_id: str, version: str) -> None:
    def command(tx: Tx, data: TxData, work: _Work) -> None:
        current = tx.get_instance(instance_id, lock=True)
        if current is None or current.definition_version == version:
            return
        moved = replace(current, definition_version=version, version=current.version + 1, updated_at=data.now)
        if not tx.update_instance(moved, current.version):
            from bpf_dsl.service.core import _Conflict

            raise _Conflict()

    service._run(command)
