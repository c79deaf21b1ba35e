"""What ``bpf serve`` was asked for, passed to worker processes through one environment variable.

uvicorn starts ``--workers N`` processes from an import string and a factory
(:func:`bpf_server.app.create_app_from_env`), so the settings travel as JSON in
:data:`ENV`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from bpf_dsl.errors import UsageError

ENV = "BPF_SERVER_SETTINGS"


@dataclass(frozen=True)
class Settings:
    """A server's settings. ``paths`` are .bpf files or folders (a demo's pack modules included)."""

    db: str
    paths: tuple[str, ...] = ()
    latest: bool = False  # no paths: serve the program last stored in the database
    graphiql: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    header_timeout: float = 10.0  # seconds for a request head (bpf_server.limits.HEADER_TIMEOUT)

    def to_env(self) -> str:
        """JSON for :data:`ENV`."""
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> Settings:
        """The settings a ``bpf serve`` parent process left in :data:`ENV`."""
        text = os.environ.get(ENV)
        if not text:
            raise UsageError(f"{ENV} is not set: start the server with `bpf serve`")
        data = json.loads(text)
        data["paths"] = tuple(data.get("paths", ()))
        return cls(**data)
