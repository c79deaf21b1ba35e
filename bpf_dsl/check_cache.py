"""An on-disk cache of check results: re-checking unchanged files costs a hash of each file.

An entry is keyed by the root paths, the installed plugins and bpf's own
version; it lists every file the check read (imports included) with its
content hash, and is used only when every one of them still hashes the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic
from .grammar_file import grammar_text
from .plugins import Registry

FORMAT = 1


def cache_dir() -> Path | None:
    """Where entries live (``BPF_CACHE_DIR``, else the user's cache folder); None when disabled."""
    if os.environ.get("BPF_NO_CACHE"):
        return None
    base = os.environ.get("BPF_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "bpf"


def _fingerprint(registry: Registry) -> str:
    from . import __version__

    parts = [__version__, str(FORMAT), hashlib.sha256(grammar_text().encode()).hexdigest(), _code_stamp()]
    parts += [f"{p.name}={p.version}" for p in registry.packs]
    parts += [f"{a.dotted}{a.params!r}" for a in registry.actions.values()]
    parts += [f"{f.dotted}{f.params!r}{f.returns}" for f in registry.functions.values()]
    parts += sorted(registry.categories)
    parts += [f"{m.name}:{m.path}" for m in registry.modules.values()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


_stamp: str | None = None


def _code_stamp() -> str:
    """The checker's own code: an edited bpf_dsl (a developer's tree) must not reuse old results."""
    global _stamp
    if _stamp is None:
        package = Path(__file__).resolve().parent
        entries = sorted(f"{p.relative_to(package)}:{p.stat().st_mtime_ns}:{p.stat().st_size}"
                         for p in package.rglob("*.py"))
        _stamp = hashlib.sha256("\n".join(entries).encode()).hexdigest()
    return _stamp


def _key(paths: list[str], registry: Registry) -> str:
    from .loader import expand_paths

    # Folders as the files they hold now: a .bpf file added to a checked folder is a new key.
    roots = "\n".join(os.path.abspath(p) for p in expand_paths(paths))
    return hashlib.sha256((roots + "\0" + _fingerprint(registry)).encode()).hexdigest()


def digest(data: bytes) -> str:
    """The content hash used for files."""
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def lookup(paths: list[str], registry: Registry) -> tuple[list[Diagnostic], dict[str, str]] | None:
    """Cached diagnostics and sources for ``paths`` if no file they read has changed."""
    base = cache_dir()
    if base is None:
        return None
    try:
        entry = json.loads((base / (_key(paths, registry) + ".json")).read_text(encoding="utf-8"))
        if entry.get("format") != FORMAT:
            return None
        sources: dict[str, str] = {}
        for display, (real, expected) in entry["files"].items():
            data = Path(real).read_bytes()
            if digest(data) != expected:
                return None
            sources[display] = data.decode("utf-8")
        return [Diagnostic.from_json(d) for d in entry["diagnostics"]], sources
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(paths: list[str], registry: Registry, files: dict[str, str], sources: dict[str, str],
          diagnostics: list[Diagnostic]) -> None:
    """Record a result; files that couldn't be read make the result uncacheable."""
    base = cache_dir()
    if base is None or any(d.code in ("BPF007", "BPF010") for d in diagnostics):
        return
    entry: dict[str, Any] = {
        "format": FORMAT,
        "files": {display: [real, digest(sources[display].encode("utf-8"))] for display, real in files.items()
                  if display in sources},
        "diagnostics": [d.as_json() for d in diagnostics],
    }
    try:
        base.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=base, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(entry, out)
        os.replace(tmp, base / (_key(paths, registry) + ".json"))
    except OSError:
        pass  # a cache that can't be written only costs speed
