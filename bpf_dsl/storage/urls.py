"""Database URLs: which one to use, and how to show one without its password."""

from __future__ import annotations

import os
import re
import urllib.parse

from bpf_dsl.errors import UsageError

DEFAULT_URL = "sqlite:///bpf.db"
_SECRET_PARAM = re.compile(r"(^|[?&])((?:ssl)?password=)[^&#]*", re.IGNORECASE)


def database_url(explicit: str | None = None) -> str:
    """``--db``, else ``BPF_DATABASE_URL``, else ``sqlite:///bpf.db`` in the current folder."""
    if explicit is not None and not explicit.strip():
        # An empty --db is almost always an unset shell variable: quietly using the default would hide it.
        raise UsageError("--db is empty: give a database URL such as sqlite:///bpf.db or postgresql://...")
    return explicit or os.environ.get("BPF_DATABASE_URL") or DEFAULT_URL


def display_url(url: str) -> str:
    """``url`` fit to print: the password (in the user part or a ``password=`` parameter) becomes ``***``."""
    masked = _SECRET_PARAM.sub(r"\1\2***", url)
    try:
        parts = urllib.parse.urlsplit(masked)
    except ValueError:  # not a URL urllib can split (a bad [IPv6] host): hide what follows `user:` up to `@`
        return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", masked)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return masked
    user = userinfo.partition(":")[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{hosts}"))
