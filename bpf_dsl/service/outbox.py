"""Webhooks (``bpf.webhook``): what a delivery sends, how it is signed, and one attempt over HTTP.

A webhook is written to the outbox (the ``deliveries`` table) in the transaction of
the move whose hook called it, as the exact JSON text to send: a move that rolls back
sends nothing, and a committed one is delivered even if the server dies right after
the commit. A deliverer (``bpf serve``, :mod:`bpf_server.jobs`) claims due deliveries,
POSTs each one (:func:`post`) outside any transaction, and records the outcome; a
failed attempt is tried again after an exponential backoff with jitter
(:meth:`DeliveryPolicy.retry_delay`), up to :attr:`DeliveryPolicy.attempts` times, then
the delivery is ``failed`` (``bpf deliveries retry`` sends it again).

Every attempt of one delivery sends the same body with the same ``Idempotency-Key``
(the delivery's id): a receiver that saw the key before drops the repeat. When
``BPF_WEBHOOK_SECRET`` is set, ``X-Bpf-Signature`` is the lowercase hex HMAC-SHA256 of
the body's bytes under that secret (UTF-8), nothing else: a receiver computes the same
over the raw body it read and compares (in constant time) before parsing it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import random
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bpf_dsl._util import VERSION

#: The environment variable holding the webhooks' signing secret (none: deliveries are not signed).
SECRET_ENV = "BPF_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Bpf-Signature"
#: The most bytes of an answer read (and of its text kept as the error): only its status matters.
_ANSWER_BYTES = 4096


def _env_number(env: Mapping[str, str], name: str, default: float, low: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {text!r}") from None
    if value < low:
        raise ValueError(f"{name} must be at least {low:g}, not {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How webhooks are sent: timeouts, attempts, backoff, and how many at once per server."""

    #: Seconds to connect, to send, and to wait for each part of the answer (a socket timeout per operation).
    timeout: float = 10.0
    #: Attempts before a delivery is ``failed``.
    attempts: int = 8
    #: Seconds before the second attempt; doubled for each attempt after it, up to :attr:`max_backoff`.
    backoff: float = 2.0
    max_backoff: float = 3600.0
    #: Deliveries sent at once by one server: a slow endpoint holds one of them, the others go on.
    concurrency: int = 16

    @property
    def lease(self) -> float:
        """Seconds a claimed delivery is held for the server sending it: past it, another server (or this one,
        restarted) sends it again. Longer than an attempt may take (connecting, sending, the answer)."""
        return 2 * self.timeout + 5

    def retry_delay(self, attempt: int, draw: float | None = None) -> float:
        """Seconds to wait after the failed attempt number ``attempt`` (1, 2, ...): the backoff doubled per
        attempt, capped, of which a random half (``draw`` in [0, 1): jitter) is waited, so that the deliveries
        that failed together (an endpoint down) don't all come back at the same moment."""
        full = min(self.max_backoff, self.backoff * 2.0 ** max(0, attempt - 1))
        return full / 2 + (random.random() if draw is None else draw) * full / 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DeliveryPolicy:
        """The defaults, changed by ``BPF_WEBHOOK_TIMEOUT``, ``BPF_WEBHOOK_ATTEMPTS``, ``BPF_WEBHOOK_BACKOFF`` and
        ``BPF_WEBHOOK_CONCURRENCY`` (raises ValueError for a value that is not a number)."""
        env = os.environ if env is None else env
        base = cls()
        return cls(timeout=_env_number(env, "BPF_WEBHOOK_TIMEOUT", base.timeout, 0.1),
                   attempts=int(_env_number(env, "BPF_WEBHOOK_ATTEMPTS", base.attempts, 1)),
                   backoff=_env_number(env, "BPF_WEBHOOK_BACKOFF", base.backoff, 0),
                   concurrency=int(_env_number(env, "BPF_WEBHOOK_CONCURRENCY", base.concurrency, 1)))


def _moment(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def webhook_body(delivery_id: str, event: str, at: dt.datetime, *, instance_id: str, process: str,
                 stage: str | None, trigger: str, by: str, record_id: str, entity: str | None,
                 values: Mapping[str, Any]) -> str:
    """The JSON text a delivery sends (docs/language.md, "Webhooks"): made once, when the move writes it."""
    return json.dumps({
        "id": delivery_id,
        "event": event,
        "at": _moment(at),
        "instance": {"id": instance_id, "process": process},
        "stage": stage,
        "trigger": trigger,
        "by": by,
        "record": {"id": record_id, "entity": entity, "values": dict(values)},
    }, separators=(",", ":"), ensure_ascii=False, default=str)


def signature(body: bytes, secret: str) -> str:
    """``X-Bpf-Signature``: the lowercase hex HMAC-SHA256 of ``body`` under ``secret`` (its UTF-8 bytes)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def check_url(url: str) -> str | None:
    """What makes ``url`` one that can never be delivered to (None: an http or https URL with a host)."""
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"not an http or https URL: {url[:200]!r}"
    if not parts.hostname:
        return f"no host in the URL {url[:200]!r}"
    return None


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one POST: delivered, or the error (``final``: no later attempt can do better)."""

    delivered: bool
    error: str | None = None
    status: int | None = None
    final: bool = False


def post(delivery_id: str, url: str, body: str, event: str, attempt: int, policy: DeliveryPolicy,
         secret: str | None = None) -> Attempt:
    """POST ``body`` to ``url`` once, in the calling thread; any 2xx answer is delivered.

    Redirects are not followed (a 3xx is a failed attempt: the URL in the model should be the
    final one). Nothing raises: every failure comes back as an :class:`Attempt` with its error.
    """
    problem = check_url(url)
    if problem is not None:
        return Attempt(False, problem, final=True)
    parts = urllib.parse.urlsplit(url)
    data = body.encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"bpf/{VERSION}",
        "Idempotency-Key": delivery_id,
        "X-Bpf-Event": event,
        "X-Bpf-Delivery": delivery_id,
        "X-Bpf-Attempt": str(attempt),
        "Connection": "close",
    }
    if secret:
        headers[SIGNATURE_HEADER] = signature(data, secret)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=policy.timeout)
    try:
        connection.request("POST", path, body=data, headers=headers)
        answer = connection.getresponse()
        said = answer.read(_ANSWER_BYTES)
    except (OSError, http.client.HTTPException) as exc:
        return Attempt(False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    finally:
        connection.close()
    if 200 <= answer.status < 300:
        return Attempt(True, status=answer.status)
    text = said.decode("utf-8", "replace").strip().replace("\n", " ")[:200]
    return Attempt(False, f"HTTP {answer.status}{': ' + text if text else ''}", answer.status)
