"""Field values between the API's JSON, the engine's Python values and storage.

API.md fixes the JSON shapes: text, email, phone and url as strings; integer,
decimal and money as numbers; bool as true/false; date as "YYYY-MM-DD"; datetime
as ISO 8601 with a zone; choice as an option's name; choices as a list of names;
lookup as the referenced record's id; empty as null. In Python (what expressions
and rules see) decimals and money are ``Decimal``, dates ``date``, datetimes aware
``datetime``, choices a sorted tuple.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bpf_dsl.model import BUILTIN_COLUMNS, NUMBER_KINDS, TEXT_KINDS, EntitySpec, FieldSpec

MAX_TEXT = 100_000  # characters; a text field without `max` is still bounded at the door

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().\-]{3,32}$")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://\S+$")


@dataclass(frozen=True, slots=True)
class FieldError:
    """A problem with one field's value (``field`` None: the record as a whole)."""

    field: str | None
    message: str


def to_python(spec: FieldSpec, value: Any) -> Any:
    """A stored (JSON) value as the engine sees it. Trusts that it was validated on the way in."""
    if value is None:
        return None
    kind = spec.type.kind
    try:
        if kind in ("decimal", "money"):
            return Decimal(str(value))
        if kind == "date":
            return dt.date.fromisoformat(value) if isinstance(value, str) else value
        if kind == "datetime":
            return dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if kind == "choices":
            return tuple(sorted(value))
    except (ValueError, TypeError, InvalidOperation):
        return None  # a value stored before the field changed type reads as empty
    return value


def decode(entity: EntitySpec, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared field's Python value (missing ones as None)."""
    return {name: to_python(spec, stored.get(name)) for name, spec in entity.fields.items()}


def to_json(spec: FieldSpec, value: Any) -> Any:
    """A Python value in the API's (and storage's) JSON shape."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list | set | frozenset):
        return sorted(value)
    return value


def encode(entity: EntitySpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """Python values to JSON, dropping empties (an absent field and null mean the same)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        spec = entity.fields.get(name)
        if spec is None or value is None or value == () or value == []:
            continue
        out[name] = to_json(spec, value)
    return out


def present(entity: EntitySpec, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Stored (JSON) values with every declared field present, an empty one as None, in declaration order."""
    return {name: stored.get(name) for name in entity.fields}


def parse_input(entity: EntitySpec, raw: Any) -> tuple[dict[str, Any], list[FieldError]]:
    """Validate API input (JSON) field by field: Python values, and an error for each bad one."""
    if not isinstance(raw, Mapping):
        return {}, [FieldError(None, "values must be an object of field name → value")]
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, value in raw.items():
        if not isinstance(name, str):
            errors.append(FieldError(None, "field names are strings"))
            continue
        spec = entity.fields.get(name)
        if spec is None:
            why = "is set by the server" if name in BUILTIN_COLUMNS else f"is not a field of {entity.name}"
            errors.append(FieldError(name, f"`{name}` {why}"))
            continue
        try:
            values[name] = _convert(spec, value)
        except ValueError as exc:
            errors.append(FieldError(name, str(exc)))
    return values, errors


def _convert(spec: FieldSpec, value: Any) -> Any:
    """One JSON value to Python, or ValueError saying what is wrong."""
    if value is None:
        return None
    kind = spec.type.kind
    if kind in TEXT_KINDS:
        if not isinstance(value, str):
            raise ValueError(f"{spec.label} must be text")
        if value == "":
            return None
        _storable(spec, value)
        if len(value) > MAX_TEXT:
            raise ValueError(f"{spec.label} is longer than {MAX_TEXT} characters")
        checks = {"email": (_EMAIL, "an email address such as ann@example.com"),
                  "phone": (_PHONE, "a phone number such as +44 20 7946 0000"),
                  "url": (_URL, "a URL such as https://example.com")}
        if kind in checks and not checks[kind][0].match(value):
            raise ValueError(f"{spec.label} must be {checks[kind][1]}")
        _bounds(spec, len(value), "characters long")
        return value
    if kind in NUMBER_KINDS:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{spec.label} must be a number")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{spec.label} must be a number") from None
        if not number.is_finite():
            raise ValueError(f"{spec.label} must be a finite number")
        if kind == "integer":
            if number != number.to_integral_value():
                raise ValueError(f"{spec.label} must be a whole number")
            _bounds(spec, number, "")
            return int(number)
        _bounds(spec, number, "")
        return number
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{spec.label} must be true or false")
        return value
    if kind == "date":
        try:
            return dt.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad()
        except ValueError:
            raise ValueError(f"{spec.label} must be a date as YYYY-MM-DD") from None
    if kind == "datetime":
        try:
            moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else _bad()
        except ValueError:
            raise ValueError(f"{spec.label} must be an ISO 8601 date and time with a zone") from None
        if moment.tzinfo is None:
            raise ValueError(f"{spec.label} needs a time zone (end it with Z or an offset such as +02:00)")
        return moment
    if kind == "choice":
        if value not in spec.type.option_names:
            raise ValueError(f"{spec.label} must be one of: {', '.join(spec.type.option_names)}")
        return value
    if kind == "choices":
        if not isinstance(value, list) or any(v not in spec.type.option_names for v in value):
            raise ValueError(f"{spec.label} must be a list of: {', '.join(spec.type.option_names)}")
        return tuple(sorted(set(value)))
    if kind == "lookup":
        if not isinstance(value, str) or not value:
            raise ValueError(f"{spec.label} must be the id of a {spec.type.entity} record")
        _storable(spec, value)
        return value
    return value


def unstorable(text: str) -> str | None:
    """What in ``text`` no database can store (NUL, an unpaired surrogate), or None.

    PostgreSQL refuses both and SQLite would keep them: refused as input, they are a
    clear error on both, never a database error inside a query.
    """
    if "\x00" in text:
        return "the NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "an unpaired surrogate (not valid Unicode)"
    return None


def _storable(spec: FieldSpec, text: str) -> None:
    problem = unstorable(text)
    if problem:
        raise ValueError(f"{spec.label} holds {problem}, which can't be stored")


def _bad() -> Any:
    raise ValueError("bad value")


def _bounds(spec: FieldSpec, measure: Any, unit: str) -> None:
    suffix = f" {unit}" if unit else ""
    if spec.minimum is not None and measure < spec.minimum:
        raise ValueError(f"{spec.label} must be at least {spec.minimum}{suffix}")
    if spec.maximum is not None and measure > spec.maximum:
        raise ValueError(f"{spec.label} must be at most {spec.maximum}{suffix}")


def missing_required(entity: EntitySpec, values: Mapping[str, Any]) -> list[FieldError]:
    """Declared ``required`` fields without a value."""
    return [FieldError(f.name, f"{f.label} is required") for f in entity.field_list()
            if f.required and (values.get(f.name) is None or values.get(f.name) == ())]


def check_values(entity: EntitySpec, values: Mapping[str, Any]) -> list[FieldError]:
    """Bounds and options of values that didn't come from API input (rules, hooks, actions, ``create``).

    API input is checked as it is parsed; values computed on the server must hold to
    the same declarations before they are stored.
    """
    errors: list[FieldError] = []
    for name, value in values.items():
        spec = entity.fields.get(name)
        if spec is None or value is None:
            continue
        try:
            _check_computed(spec, value)
        except ValueError as exc:
            errors.append(FieldError(name, str(exc)))
    return errors


def _check_computed(spec: FieldSpec, value: Any) -> None:
    kind = spec.type.kind
    if kind in TEXT_KINDS:
        if not isinstance(value, str):
            raise ValueError(f"{spec.label} must be text")
        _storable(spec, value)
        _bounds(spec, len(value), "characters long")
    elif kind in NUMBER_KINDS:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise ValueError(f"{spec.label} must be a number")
        if kind == "integer" and value != int(value):
            raise ValueError(f"{spec.label} must be a whole number")
        _bounds(spec, value, "")
    elif kind == "choice" and value not in spec.type.option_names:
        raise ValueError(f"{spec.label} must be one of: {', '.join(spec.type.option_names)}")
    elif kind == "choices" and (not isinstance(value, tuple | list | set | frozenset)
                                or any(v not in spec.type.option_names for v in value)):
        raise ValueError(f"{spec.label} must be a list of: {', '.join(spec.type.option_names)}")
    elif kind == "bool" and not isinstance(value, bool):
        raise ValueError(f"{spec.label} must be true or false, not {_shown(value)}")
    elif kind == "date" and (not isinstance(value, dt.date) or isinstance(value, dt.datetime)):
        raise ValueError(f"{spec.label} must be a date, not {_shown(value)}")
    elif kind == "datetime" and not isinstance(value, dt.datetime):
        raise ValueError(f"{spec.label} must be a date and time, not {_shown(value)}")
    elif kind == "lookup" and (not isinstance(value, str) or not value):
        raise ValueError(f"{spec.label} must be the id of a {spec.type.entity} record, not {_shown(value)}")


def _shown(value: Any) -> str:
    """A computed value as an author would recognise it in a message."""
    return f"{type(value).__name__} {value!r}"
