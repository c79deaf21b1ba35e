"""The built-in functions and actions, registered like any plugin pack."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Protocol

from bpf_dsl.plugins.specs import ActionSpec, FunctionSpec, Param, hookimpl

D365_CATEGORIES = ("qualify", "develop", "propose", "close", "identify", "research", "resolve", "approval")


class Clock(Protocol):
    """What time-aware functions need from the evaluation environment."""

    def now(self) -> dt.datetime:
        """The moment the expression is evaluated at (timezone-aware)."""


def _today(env: Clock) -> dt.date:
    return env.now().date()


def _now(env: Clock) -> dt.datetime:
    return env.now()


def _as_datetime(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    return dt.datetime(v.year, v.month, v.day, tzinfo=dt.UTC)


def _days_between(a: Any, b: Any) -> int | None:
    if a is None or b is None:
        return None
    if isinstance(a, dt.datetime) or isinstance(b, dt.datetime):
        return (_as_datetime(b) - _as_datetime(a)).days
    return (b - a).days  # type: ignore[no-any-return]


def _len(x: Any) -> int | None:
    return None if x is None else len(x)


def _lower(x: Any) -> str | None:
    return None if x is None else str(x).lower()


def _upper(x: Any) -> str | None:
    return None if x is None else str(x).upper()


def _coalesce(a: Any, b: Any) -> Any:
    return b if a is None or a == "" else a


FUNCTIONS = (
    FunctionSpec("", "today", (), "date", _today, needs_env=True, description="the current date (UTC)"),
    FunctionSpec("", "now", (), "datetime", _now, needs_env=True, description="the current moment"),
    FunctionSpec("", "days_between", (Param("a", "temporal"), Param("b", "temporal")), "integer", _days_between,
                 description="whole days from a to b"),
    FunctionSpec("", "len", (Param("x", "sized"),), "integer", _len, description="length of a text or a set"),
    FunctionSpec("", "lower", (Param("x", "text"),), "text", _lower, description="text in lower case"),
    FunctionSpec("", "upper", (Param("x", "text"),), "text", _upper, description="text in upper case"),
    FunctionSpec("", "coalesce", (Param("a", "any"), Param("b", "any")), "same", _coalesce,
                 description="a, or b when a is empty"),
)


def _notify(context: Any, role: str, message: str) -> None:
    # The engine's context records the notification in the history and publishes it.
    context.notify(role=role, message=message)


def _webhook(context: Any, url: str, event: str) -> None:
    # Written to the outbox in the move's transaction; delivered after the commit (LANGUAGE.md, hook actions).
    context.webhook(url=url, event=event)


ACTIONS = (
    ActionSpec("bpf", "notify", (Param("role", "text"), Param("message", "text")), _notify,
               "record a notification for a role in the history and publish it to subscribers"),
    ActionSpec("bpf", "webhook", (Param("url", "text"), Param("event", "text")), _webhook,
               "POST the event, the instance, its record's values, the stage and the time to url once the move "
               "commits (an outbox: at least once, retried with backoff, never failing the move)"),
)


@hookimpl
def bpf_functions() -> Iterable[FunctionSpec]:
    """The built-in functions of expressions."""
    return FUNCTIONS


@hookimpl
def bpf_actions() -> Iterable[ActionSpec]:
    """The built-in actions (namespace ``bpf``)."""
    return ACTIONS


@hookimpl
def bpf_stage_categories() -> Iterable[str]:
    """D365's stage categories."""
    return D365_CATEGORIES
