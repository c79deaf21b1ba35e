"""Bulk import and export of records (moving instances to a newer version is in upgrades.py).

Import works in batches; each batch is one transaction, so a bad row leaves its
whole batch unwritten and is reported with its line number. A problem of the
file as a whole (not UTF-8, a bad CSV header) is found before any batch is written.

Export writes every field of every record, empty ones included (``null`` in JSON
lines, an empty cell in CSV), so that importing an export gives the same records:
a field left out would get its declared default instead.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from bpf_dsl._util import gc_paused
from bpf_dsl.definition import ProcessDefinition, Program
from bpf_dsl.engine import Moved, start, start_is_plain
from bpf_dsl.errors import ConflictError, ImportFileError
from bpf_dsl.model import EntitySpec
from bpf_dsl.plugins import Change
from bpf_dsl.service.core import Service, _Abort, _Work
from bpf_dsl.service.data import TxData
from bpf_dsl.service.ids import ordered_id, ordered_ids
from bpf_dsl.service.records import prepare, shape_of
from bpf_dsl.service.results import SYSTEM, Caller, ProcessEvent, ValidationFailure
from bpf_dsl.service.rows import row_of
from bpf_dsl.service.values import MAX_TEXT, FieldError, converters, parse_input, present, unstorable
from bpf_dsl.storage import InstanceRow, RecordRow, Storage, Tx


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
            except RecursionError:  # json's decoder recurses once per level of nesting
                yield number, RowError(number, (FieldError(None, "JSON nested too deeply to read"),))
            except ValueError as exc:  # a number of more digits than Python converts (sys.get_int_max_str_digits)
                why = "a number has too many digits" if "digits" in str(exc) else str(exc)
                yield number, RowError(number, (FieldError(None, f"JSON that can't be read: {why}"),))
        return
    # csv's limit on a cell, set rather than assumed (it is process-wide state, which anything may change).
    csv.field_size_limit(MAX_CELL)
    lines = _Lines(text)
    reader = csv.reader(lines)
    header = _header(reader, name)
    if header is None:
        return
    check_header(header, entity, name)
    columns = [(column, _reader(entity, column)) for column in header]  # each column's reading, looked up once
    while True:
        first = lines.count + 1  # the line the row starts on
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a cell over MAX_CELL: the reader gave up in the middle of the row
            lines.skip_rest()
            why = (f"a cell is longer than {MAX_CELL} characters (a text field holds at most {MAX_TEXT})"
                   if "field limit" in str(exc) else f"not CSV: {exc}")
            yield first, RowError(first, (FieldError(None, why),))
            continue
        lines.row_done()
        number = lines.count  # the row's last line: a quoted cell may span several
        if not cells:
            continue  # a blank line
        if len(cells) != len(header):
            count = f"{len(cells)} cell{'s' * (len(cells) != 1)}"
            more = "more" if len(cells) > len(header) else "fewer"
            yield number, RowError(number, (FieldError(None, f"{count}, {more} than the header's "
                                                             f"{len(header)} columns"),))
            continue
        yield number, {column: _text_cell(cell) if read is None else read(cell)
                       for (column, read), cell in zip(columns, cells, strict=True)}


#: The longest CSV cell read (csv's default limit, named): longer than any field's value may be (MAX_TEXT).
MAX_CELL = 131_072
assert MAX_CELL > MAX_TEXT


class _Lines:
    """The lines of a CSV text as the csv reader takes them, counted, with the parity of the quote characters of
    the row being read: after the reader gives up inside a quoted cell (one over :data:`MAX_CELL`), the rest of
    that cell is skipped, to the line that closes its quotes, rather than read as rows of its own."""

    def __init__(self, text: Iterable[str]) -> None:
        self._text = iter(text)
        self.count = 0
        self._open = False  # an odd number of quote characters so far in this row: inside a quoted cell

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._text)
        self.count += 1
        if line.count('"') % 2:
            self._open = not self._open
        return line

    def row_done(self) -> None:
        """The reader ended a row."""
        self._open = False

    def skip_rest(self) -> None:
        """Drop the lines up to the one that closes the quoted cell the reader gave up in (if it was in one)."""
        while self._open:
            if next(self, None) is None:
                break
        self._open = False


def read_header(text: Iterable[str], name: str = "the file") -> list[str] | None:
    """The header of a CSV text (None when it is empty)."""
    csv.field_size_limit(MAX_CELL)
    return _header(csv.reader(text), name)


def _header(reader: Iterator[list[str]], name: str) -> list[str] | None:
    try:
        return next(reader, None)
    except csv.Error as exc:  # every row would be wrong: one error for the file
        raise ImportFileError(f"{name}: line 1: the header can't be read as CSV: {exc}") from None


def check_header(header: list[str], entity: EntitySpec, name: str) -> None:
    """Raise :class:`ImportFileError` if a CSV header names a column twice or one that is not a field."""
    twice = [column for column, count in Counter(header).items() if count > 1]
    if twice:
        raise ImportFileError(f"{name}: line 1: the header names the column {twice[0]!r} twice")
    unknown = [c for c in header if c not in _COLUMNS and c not in entity.fields]
    if unknown:
        listed = ", ".join(repr(c) for c in unknown)
        raise ImportFileError(f"{name}: line 1: the header has column(s) that are not fields of {entity.name}: "
                              f"{listed} (fields: id, {', '.join(entity.fields)}; and owner, created_by)")


#: The columns of an import or export that are no fields: the record's id, and who owns and made it.
_COLUMNS = ("id", "owner", "created_by")


def _reader(entity: EntitySpec, name: str) -> Callable[[str], Any] | None:
    """How a CSV cell of the column ``name`` reads in the JSON shape of its field (CSV has only text), an empty
    cell as None. None: as it is, where the field takes text (and in ``id``)."""
    spec = entity.fields.get(name)
    return _READERS.get(spec.type.kind) if spec is not None else None


def _number(raw: str) -> Any:
    if not raw:
        return None
    try:
        number = Decimal(raw.strip())
    except InvalidOperation:
        return raw  # left as text: validation names the field
    if not number.is_finite() or abs(number) >= _HUGE:
        return raw.strip()  # read by the field's validation, which says what is wrong (infinite, out of bounds)
    return int(number) if number == number.to_integral_value() else float(number)


_HUGE = Decimal(2) ** 64  # beyond every number field's bounds (values.py): not made an int or a float here


_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _bool(raw: str) -> Any:
    if not raw:
        return None
    return _BOOLS.get(raw.strip().lower(), raw)


def _choices(raw: str) -> Any:
    # Option names are identifiers: neither `;` (what export writes) nor `,` (what people type) can be in one,
    # so either separates them.
    if not raw:
        return None
    return [part.strip() for part in _CHOICE_SEPARATOR.split(raw) if part.strip()]


_CHOICE_SEPARATOR = re.compile(r"[;,]")


_READERS: dict[str, Callable[[str], Any]] = {
    "integer": _number, "decimal": _number, "money": _number, "bool": _bool, "choices": _choices,
}


def import_batch(service: Service, caller: Caller, entity: str, rows: list[tuple[int, Any]],
                 start_process: bool) -> list[RowError]:
    """Create every row of a batch in one transaction; any bad row rolls the batch back."""
    return Importer(service, caller, entity, start_process).batch(rows)


class Importer:
    """Creates the rows of a file batch by batch: each batch is one transaction, all or nothing.

    Every row is validated as ``create_record`` validates (values, defaults, business
    rules, bounds, required fields, lookups, uniqueness) and, unless ``start_process``
    is False, gets the caller's default process on ``entity``, started by the engine
    with its first visit and history. What is the same for every row is looked up
    once (the entity, the process); what a batch writes is gathered and written at
    the end in one ``executemany`` per table, the stage counters summed. A start that
    runs hooks (``on start``, the first stage's ``on enter``) writes its row on its
    own, through the service, after the rows gathered before it.
    """

    def __init__(self, service: Service, caller: Caller, entity: str, start_process: bool,
                 owner: str | None = None) -> None:
        self.service = service
        self.caller = caller
        self.spec = service.program.entities[entity]
        #: The owner (and creator) of a row without an ``owner`` (``created_by``) column: ``owner``, else the
        #: importing user (the command line imports as the system: ``bpf import --owner`` names someone).
        self.owner = owner or caller.user
        access = service.access
        self.allowed = access.may_create(caller, entity)
        self.hidden = access.hidden(caller, entity)
        mine = service.visible_processes(caller, entity) if start_process else []
        self.process = mine[0] if mine else None
        self.shape = shape_of(self.spec)
        self.convert = converters(self.spec)
        self.unique = tuple(f.name for f in self.shape.unique)
        self.hooks = service.registry.hears_changes()
        self.plain = self.process is not None and start_is_plain(self.process)

    def batch(self, rows: list[tuple[int, Any]]) -> list[RowError]:
        """Import ``rows`` ((line, JSON-shaped values or a :class:`RowError`)) in one transaction; the bad rows."""
        problems: list[RowError] = []

        def command(tx: Tx, data: TxData, work: _Work) -> None:
            problems.clear()  # a retried batch starts over
            ready = self._validate(tx, data, rows, problems)
            if not problems:
                self._write(tx, data, work, ready, problems)
            if problems:
                raise _Abort(ValidationFailure(f"{len(problems)} bad row(s)"))

        try:
            with gc_paused():  # a batch's many small objects are freed when it ends: no cycles to look for
                self.service._run(command)
        except ConflictError:  # an id taken meanwhile by another writer (the retries found it taken every time)
            problems.append(RowError(rows[0][0], (FieldError("id", "a record with one of these ids exists"),)))
        return problems

    def _validate(self, tx: Tx, data: TxData, rows: list[tuple[int, Any]],
                  problems: list[RowError]) -> list[tuple[int, RecordRow]]:
        """The rows to write, each validated as if the rows before it were written; the bad ones in ``problems``."""
        spec, now = self.spec, data.now
        given = [str(g["id"]) for _, g in rows if isinstance(g, dict) and g.get("id")]
        taken = tx.existing_record_ids(given) if given else set()
        first_line: dict[str, int] = {}  # id -> the line that has it, in this batch
        seen: dict[tuple[str, Any], int] = {}  # (unique field, stored value) -> the line that has it
        ready: list[tuple[int, RecordRow]] = []
        fresh = iter(ordered_ids(len(rows)))  # in file order, so that an export gives the rows back in it
        for line, row in rows:
            if isinstance(row, RowError):
                problems.append(row)
                continue
            raw = dict(row) if isinstance(row, dict) else row
            record_id = raw.pop("id", None) if isinstance(raw, dict) else None
            owner, created_by, barred = self._who(raw)
            if barred:
                problems.append(RowError(line, barred))
                continue
            values, errors = parse_input(spec, raw, self.convert)
            if errors:
                problems.append(RowError(line, tuple(errors)))
                continue
            prepared = prepare(data, spec, values, record_id=None, before=None, enforce_locks=False,
                               checked=True, shape=self.shape)
            found = list(prepared.errors)
            keys = [(name, _key(prepared.values[name])) for name in self.unique if name in prepared.values]
            for key in keys:  # the database holds no row of this batch yet: its rows are compared here
                if key in seen and not any(e.field == key[0] for e in found):
                    label = spec.fields[key[0]].label
                    found.append(FieldError(key[0], f"{label} must be unique; another {spec.name} has this value"))
            if found:
                problems.append(RowError(line, tuple(found)))
                continue
            rid = str(record_id) if record_id else next(fresh)
            if record_id:
                if rid in taken:
                    problems.append(RowError(line, (FieldError("id", f"a record with the id {rid} exists"),)))
                    continue
                if rid in first_line:
                    problems.append(RowError(line, (FieldError("id", f"the id {rid} is on line {first_line[rid]} "
                                                                     "too"),)))
                    continue
                first_line[rid] = line
            for key in keys:
                seen[key] = line
            record = RecordRow(rid, spec.name, prepared.values, 1, now, now, None, owner, created_by)
            data.remember(record)  # the rows after it see it (a lookup of it), as they would once it is written
            ready.append((line, record))
        return ready

    def _who(self, raw: Any) -> tuple[str, str, tuple[FieldError, ...]]:
        """A row's owner and creator (its columns, popped, else the importer's owner), and why the caller may
        not import it (create not granted, a field restricted to other roles)."""
        if not self.allowed:
            return "", "", (FieldError(None, f"not allowed: your roles may not create {self.spec.name} records"),)
        if not isinstance(raw, dict):
            return self.owner, self.owner, ()  # parse_input says what is wrong with it
        names = {}
        errors = []
        for column in ("owner", "created_by"):
            given = raw.pop(column, None)
            if given is not None and (not isinstance(given, str) or unstorable(given)):
                errors.append(FieldError(column, "must be a user's name"))
            names[column] = given.strip() if isinstance(given, str) and given.strip() else self.owner
        errors += [FieldError(n, f"not allowed: {self.spec.fields[n].label} is restricted to other roles")
                   for n in raw if n in self.hidden]
        return names["owner"], names["created_by"], tuple(errors)

    def _write(self, tx: Tx, data: TxData, work: _Work, ready: list[tuple[int, RecordRow]],
               problems: list[RowError]) -> None:
        """Write the validated rows with their instances: gathered, one ``executemany`` per table."""
        defn, caller, service = self.process, self.caller, self.service
        records: list[RecordRow] = []
        instances: list[InstanceRow] = []
        visits: list[tuple[str, str, str, str, str, dt.datetime, str]] = []
        events: list[tuple[str, str, str | None, dt.datetime, str, dict[str, Any]]] = []

        def flush() -> None:
            tx.insert_records(records)
            tx.insert_instances(instances)
            tx.open_visits(visits)
            tx.append_events(events)
            for gathered in (records, instances, visits, events):
                gathered.clear()

        if defn is None:
            records.extend(record for _, record in ready)
            flush()
            return
        now, user, entity, listened = data.now, caller.user, defn.entity, bool(service.listeners)
        fresh = iter(ordered_ids(len(ready)))
        # A start that runs no hook is the same for every record but for its ids: started once, copied.
        plain = _outline(defn, start(defn, _INSTANCE, _RECORD, now, data, user), now, _RECORD) if self.plain else None
        for line, record in ready:
            rid, iid = record.id, next(fresh)
            outline = plain
            if outline is None:
                # Its hooks read the record: started on it, with its ids.
                outline = _outline(defn, start(defn, iid, rid, now, data, user, new_id=ordered_id), now, rid)
            if outline is None:
                # Hooks ran (records to write, actions to call): this row goes through the service's own start.
                flush()
                tx.insert_record(record)
                try:
                    service._start_instance(tx, data, work, caller, defn, rid, make_active=True)
                except _Abort as abort:
                    problems.append(RowError(line, (FieldError(None, f"the record was not created: "
                                                                     f"{abort.failure.message}"),)))
                    return
                continue
            t = outline.row
            for kind, stage in outline.changes if self.hooks else ():  # no pack hears changes: nothing to tell
                change = Change(kind, defn.name, iid, rid, None, stage, t.status, user)
                veto = service.registry.before_change(change)
                if veto:
                    problems.append(RowError(line, (FieldError(None, f"the record was not created: {veto}"),)))
                    return
                work.changes.append(change)
            records.append(RecordRow(rid, record.entity, record.values, record.version, record.created_at,
                                     record.updated_at, iid, record.owner, record.created_by))
            instances.append(InstanceRow(iid, rid, t.process, t.definition_version, t.status, t.active_stage,
                                         t.traversed, {entity: rid}, t.stage_started_at, t.created_at, t.updated_at,
                                         t.completed_at, t.version, t.actions_done))
            for stage in outline.visits:
                visits.append((iid, defn.name, stage, entity, rid, now, outline.visit_by))
            for kind, stage, by in outline.logged:
                events.append((iid, kind, stage, now, by, {}))
            for kind, stage, by in outline.published if listened else ():  # nobody subscribed: nothing to tell
                work.events.append(ProcessEvent(kind, iid, rid, defn.name, stage, now, by))
        flush()


_INSTANCE, _RECORD = "<instance>", "<record>"  # the ids a plain start is made with, once for all rows
_LOGGED = ("started", "finished", "abandoned", "reactivated")  # the kinds the service logs in instance_events


@dataclass(frozen=True, slots=True)
class _Outline:
    """What starting a process writes for one record, as the service writes it, but for the ids."""

    row: InstanceRow  # the instance (its ids and bound record are filled in for each row)
    visits: tuple[str, ...]  # the stages whose visits it opens (on the primary record)
    visit_by: str
    logged: tuple[tuple[str, str | None, str], ...]  # (kind, stage, by) of its history events
    published: tuple[tuple[str, str | None, str], ...]  # of the events published after commit
    changes: tuple[tuple[str, str | None], ...]  # (kind, stage) of the changes the packs' hooks hear


def _outline(defn: ProcessDefinition, moved: Moved, now: dt.datetime, record_id: str) -> _Outline | None:
    """The outline of a start (what ``Service._start_instance`` would write); None if it needs the service:
    its hooks had effects, a visit opened elsewhere than on the primary record, or on a stage with an sla
    (whose visit the service writes with its due time)."""
    state = moved.state
    if moved.effects or state.bound != ((defn.entity, record_id),):
        return None
    for op in moved.visits:
        stage = defn.stage(op.stage)
        if op.kind != "open" or stage is None or stage.entity != defn.entity or stage.sla_seconds is not None:
            return None
    return _Outline(row_of(state, defn, now), tuple(op.stage for op in moved.visits),
                    moved.events[0].by if moved.events else SYSTEM.user,
                    tuple((e.kind, e.stage, e.by) for e in moved.events if e.kind in _LOGGED),
                    tuple((e.kind, e.stage, e.by) for e in moved.events),
                    tuple((e.kind, e.stage) for e in moved.events if e.kind != "notification"))


def _key(value: Any) -> Any:
    """A stored value as a dict key (lists of choices are not hashable)."""
    return value if isinstance(value, str | int | float | bool) else json.dumps(value, sort_keys=True)


def export_rows(program: Program, storage: Storage, entity: str, fmt: str, page_size: int = 500,
                owners: bool = False) -> Iterator[str]:
    """Every record of ``entity`` as CSV (with a header) or JSON lines, page by page; reads only. Every field:
    the command line exports as an admin. ``owners``: with the ``owner`` and ``created_by`` columns too (what an
    import reads back)."""
    spec = program.entities[entity]
    names = ["id", *spec.fields, *(("owner", "created_by") if owners else ())]
    after: str | None = None
    if fmt == "csv":
        yield _csv_line(names)
    while True:
        with storage.read() as tx:
            page = tx.list_records(entity, {}, None, None, page_size, after, newest_first=False)
        for rec in page.items:
            values = {"id": rec.id, **present(spec, rec.values)}  # empty fields too: null
            if owners:
                values.update(owner=rec.owner, created_by=rec.created_by)
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
    if isinstance(value, str):
        return neutral(value)
    return str(value)  # a number (-5 stays a number: only text is neutralised)


#: What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection"): its first character.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutral(text: str) -> str:
    """A text value as a CSV export writes it: with a single quote before it when a spreadsheet would take it
    for a formula (``=HYPERLINK(...)``, ``@SUM(1+1)``), which the spreadsheet then shows as text.

    A text that already starts with quotes before such a character gets one more, so that import, which
    drops one (:func:`unneutral`), gives back every text exactly.
    """
    return "'" + text if text.lstrip("'").startswith(FORMULA_START) else text


def unneutral(text: str) -> str:
    """A CSV cell of text as import reads it: the single quote :func:`neutral` added is dropped."""
    return text[1:] if text.startswith("'") and text.lstrip("'").startswith(FORMULA_START) else text


def _text_cell(cell: str) -> str | None:
    """A CSV cell of a column read as it is (text, ids, dates...): empty as None, an export's quote dropped."""
    if not cell:
        return None
    return unneutral(cell) if cell[0] == "'" else cell


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    # Written with csv's "\r\n", which makes it quote a cell holding a carriage return as well as one holding
    # a line feed (with "\n" it left a lone "\r" unquoted, and a reader took it for the end of the line); the
    # row still ends with "\n".
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()[:-2] + "\n"
