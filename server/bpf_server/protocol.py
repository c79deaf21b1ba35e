"""uvicorn's HTTP/1.1 protocol (h11) with a deadline for each request head: the slowloris guard.

uvicorn times an idle keep-alive connection out (``timeout_keep_alive``), but from
the first byte of a request it waits for the rest of the head for as long as the
client likes: 300 connections sending a header line every few seconds stayed open
for minutes, each holding a slot of ``limit_concurrency``. :class:`GuardedH11`
gives every request head :data:`~bpf_server.limits.HEADER_TIMEOUT` seconds from
the connection's start (or from the first byte after the previous answer), not
from the last byte: trickling doesn't extend it. A head that is still incomplete
then is answered 408 and the connection closed. Bodies are not timed here: the
view reads them with its size limit, and a request being read holds one of the
``limit_concurrency`` slots.

uvicorn takes the protocol as a class (``http=``); :func:`set_header_timeout` sets
the deadline of ``bpf serve --header-timeout``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .limits import HEADER_TIMEOUT

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is not complete in time."""

    header_timeout: float = HEADER_TIMEOUT
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Waiting for a head (a new connection, or the next request on a kept-alive one): the deadline runs
        # from the first byte, armed once. Once the head is in (a body or an answer under way), it stops.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm()
        else:
            self._disarm()

    def handle_websocket_upgrade(self, event: Any) -> None:
        self._disarm()  # the connection is a WebSocket's now: its own pings keep it
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        self.transport.write(_TIMED_OUT)
        self.transport.close()


def set_header_timeout(seconds: float) -> None:
    """The deadline of every connection of this process from now on (``bpf serve --header-timeout``).

    A class attribute rather than a class made per setting: with ``--workers`` uvicorn sends its
    configuration, the protocol class included, to each worker process by pickling it, which takes a
    class only by its importable name; each worker sets the deadline again from its settings.
    """
    GuardedH11.header_timeout = seconds
