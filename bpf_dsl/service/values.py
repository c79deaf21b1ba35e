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
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from bpf_dsl.model import (
    BUILTIN_COLUMNS,
    NUMBER_KINDS,
    TEXT_KINDS,
    EntitySpec,
    FieldSpec,
    kind_problem,
)

MAX_TEXT = 100_000  # characters; a text field without `max` is still bounded at the door
# The bounds of numbers by kind, and the formats of email, phone and url: bpf_dsl.model, where the checker
# reads them too (a declared default is held to them).


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


_PLAIN = frozenset({str, int, bool, float})  # types whose values are their own JSON shape


def to_json(spec: FieldSpec, value: Any) -> Any:
    """A Python value in the API's (and storage's) JSON shape."""
    if value is None or type(value) in _PLAIN:
        return value
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
    fields = entity.fields
    # A value of a plain type is its own JSON shape, and never empty the way () and [] are.
    return {name: value if type(value) in _PLAIN else to_json(fields[name], value)
            for name, value in values.items()
            if value is not None and name in fields and (type(value) in _PLAIN or (value != () and value != []))}


def present(entity: EntitySpec, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Stored (JSON) values with every declared field present, an empty one as None, in declaration order."""
    return {name: stored.get(name) for name in entity.fields}


#: A field's reading of one JSON value: its Python value, or ValueError saying what is wrong.
Converter = Callable[[Any], Any]


def converters(entity: EntitySpec) -> dict[str, Converter]:
    """Each field's :data:`Converter`, made once: what :func:`parse_input` applies to its value."""
    out: dict[str, Converter] = {}
    for name, spec in entity.fields.items():
        convert = _BY_KIND.get(spec.type.kind, _as_is)
        if convert is _choice or convert is _choices:
            out[name] = partial(convert, spec, names=spec.type.option_names)
        else:
            out[name] = partial(convert, spec)
    return out


def parse_input(entity: EntitySpec, raw: Any,
                convert: Mapping[str, Converter] | None = None) -> tuple[dict[str, Any], list[FieldError]]:
    """Validate API input (JSON) field by field: Python values, and an error for each bad one.

    ``convert``: ``entity``'s :func:`converters`, made once by a caller that parses many records.
    """
    if type(raw) is not dict and not isinstance(raw, Mapping):  # (the ABC's check costs more than the loop)
        return {}, [FieldError(None, "values must be an object of field name → value")]
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    fields = entity.fields
    for name, value in raw.items():
        if not isinstance(name, str):
            errors.append(FieldError(None, "field names are strings"))
            continue
        spec = fields.get(name)
        if spec is None:
            why = "is set by the server" if name in BUILTIN_COLUMNS else f"is not a field of {entity.name}"
            errors.append(FieldError(name, f"`{name}` {why}"))
            continue
        try:
            values[name] = _convert(spec, value) if convert is None else convert[name](value)
        except ValueError as exc:
            errors.append(FieldError(name, str(exc)))
    return values, errors


def _convert(spec: FieldSpec, value: Any) -> Any:
    """One JSON value to Python, or ValueError saying what is wrong."""
    if value is None:
        return None
    convert = _BY_KIND.get(spec.type.kind)
    return value if convert is None else convert(spec, value)


def _text(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{spec.label} must be text")
    if value == "":
        return None
    _storable(spec, value)
    if len(value) > MAX_TEXT:
        raise ValueError(f"{spec.label} is longer than {MAX_TEXT} characters")
    problem = kind_problem(spec.type.kind, value)
    if problem:
        raise ValueError(f"{spec.label} {problem}")
    _bounds(spec, len(value), "characters long")
    return value


def _number(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    if type(value) is int:  # what the general case below comes to for a whole number, without the text
        _kind_bounds(spec, value)
        if spec.type.kind == "integer":
            _bounds(spec, value, "")
            return value
        number = Decimal(value)
        _bounds(spec, number, "")
        return number
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{spec.label} must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{spec.label} must be a number") from None
    if not number.is_finite():
        raise ValueError(f"{spec.label} must be a finite number")
    _kind_bounds(spec, number)
    if spec.type.kind == "integer":
        if number != number.to_integral_value():
            raise ValueError(f"{spec.label} must be a whole number")
        _bounds(spec, number, "")
        return int(number)
    _bounds(spec, number, "")
    return number


def _boolean(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ValueError(f"{spec.label} must be true or false")
    return value


def _date(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad()
    except ValueError:
        raise ValueError(f"{spec.label} must be a date as YYYY-MM-DD") from None


def _datetime(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else _bad()
    except ValueError:
        raise ValueError(f"{spec.label} must be an ISO 8601 date and time with a zone") from None
    if moment.tzinfo is None:
        raise ValueError(f"{spec.label} needs a time zone (end it with Z or an offset such as +02:00)")
    return moment


def _choice(spec: FieldSpec, value: Any, names: tuple[str, ...] | None = None) -> Any:
    if value is None:
        return None
    names = spec.type.option_names if names is None else names
    if value not in names:
        raise ValueError(f"{spec.label} must be one of: {', '.join(names)}")
    return value


def _choices(spec: FieldSpec, value: Any, names: tuple[str, ...] | None = None) -> Any:
    if value is None:
        return None
    names = spec.type.option_names if names is None else names
    if not isinstance(value, list) or any(v not in names for v in value):
        raise ValueError(f"{spec.label} must be a list of: {', '.join(names)}")
    return tuple(sorted(set(value)))


def _lookup(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{spec.label} must be the id of a {spec.type.entity} record")
    _storable(spec, value)
    return value


def _as_is(spec: FieldSpec, value: Any) -> Any:
    return value


_BY_KIND: dict[str, Callable[..., Any]] = {
    **dict.fromkeys(TEXT_KINDS, _text), **dict.fromkeys(NUMBER_KINDS, _number), "bool": _boolean, "date": _date,
    "datetime": _datetime, "choice": _choice, "choices": _choices, "lookup": _lookup,
}


def unstorable(text: str) -> str | None:
    """What in ``text`` no database can store (NUL, an unpaired surrogate), or None.

    PostgreSQL refuses both and SQLite would keep them: refused as input, they are a
    clear error on both, never a database error inside a query.
    """
    if "\x00" in text:
        return "the NUL character (\\u0000)"
    if text.isascii():
        return None  # no surrogate either
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


def _kind_bounds(spec: FieldSpec, number: int | float | Decimal) -> None:
    """Raise ValueError if ``number`` is beyond what its field's kind stores exactly (``model.kind_problem``)."""
    problem = kind_problem(spec.type.kind, number)
    if problem:
        raise ValueError(f"{spec.label} {problem}")


def _bounds(spec: FieldSpec, measure: Any, unit: str) -> None:
    suffix = f" {unit}" if unit else ""
    if spec.minimum is not None and measure < spec.minimum:
        raise ValueError(f"{spec.label} must be at least {spec.minimum}{suffix}")
    if spec.maximum is not None and measure > spec.maximum:
        raise ValueError(f"{spec.label} must be at most {spec.maximum}{suffix}")


def missing_required(entity: EntitySpec, values: Mapping[str, Any],
                     fields: tuple[FieldSpec, ...] | None = None) -> list[FieldError]:
    """Declared ``required`` fields without a value (``fields``: the entity's required ones, if known)."""
    return [FieldError(f.name, f"{f.label} is required") for f in (entity.field_list() if fields is None else fields)
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
        problem = kind_problem(kind, value)  # an email, url or phone, as input's
        if problem:
            raise ValueError(f"{spec.label} {problem}")
        _bounds(spec, len(value), "characters long")
    elif kind in NUMBER_KINDS:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise ValueError(f"{spec.label} must be a number")
        if (isinstance(value, float) and not math.isfinite(value)) or (isinstance(value, Decimal)
                                                                      and not value.is_finite()):
            raise ValueError(f"{spec.label} must be a finite number")
        if kind == "integer" and value != int(value):
            raise ValueError(f"{spec.label} must be a whole number")
        _kind_bounds(spec, value)
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
