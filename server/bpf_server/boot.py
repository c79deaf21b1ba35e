"""What a server runs on: the program from the given paths, the installed packs (``--demo``), or the database.

- PATHs given: those files and folders (and what they import).
- ``--demo``: also every installed pack's modules; a pack that fails to import, or
  whose module doesn't check beside the others, is reported in one line and left out.
- Neither: the program a server last ran on this database (``bpf instances
  upgrade`` and ``bpf import`` use the same), else an empty program, so that
  ``bpf serve`` on a fresh folder starts (and ``entities`` is empty).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from bpf_dsl.errors import SourceError
from bpf_dsl.service import (
    Program,
    Registry,
    Service,
    Storage,
    Tokens,
    check_packs,
    load,
    load_samples,
    stored_program,
)

EMPTY = Program({}, {}, {}, {})


@dataclass
class Boot:
    """The program to serve, the paths it came from, and one line per problem or choice to report."""

    program: Program
    paths: list[str]
    notes: list[str] = field(default_factory=list)
    latest: bool = False


def plugin_failures(registry: Registry) -> list[str]:
    """One line per pack that failed to load."""
    return [f"plugin pack {f.name} failed to load and is left out: {f.reason}" for f in registry.failures]


def _pack_of(registry: Registry, module: str) -> str:
    return next((p.name for p in registry.packs if module in p.modules), "?")


def load_program(paths: list[str], demo: bool, registry: Registry, storage: Storage | None) -> Boot:
    """Decide and load the program (raises :class:`SourceError` when the given paths don't check)."""
    check_packs(registry)  # a pack whose own modules don't check is left out, with its reason
    notes = plugin_failures(registry)
    accepted = list(paths)
    program = load(accepted, registry) if accepted else None
    if demo:
        for name, module in sorted(registry.modules.items()):
            trial = [*accepted, str(module.path)]
            try:
                program = load(trial, registry)
            except SourceError as err:
                notes.append(f"plugin pack {_pack_of(registry, name)}: module {name} doesn't check and is left out: "
                             f"{err}")
                continue
            except Exception as err:  # a pack's file may be unreadable or worse: report, go on
                notes.append(f"plugin pack {_pack_of(registry, name)}: module {name} failed and is left out: "
                             f"{type(err).__name__}: {err}")
                continue
            accepted = trial
    if program is not None:
        return Boot(program, accepted, notes)
    if not demo and storage is not None:
        stored = stored_program(storage, registry)
        if stored is not None:
            notes.append("no .bpf paths given: serving the model last stored in the database")
            return Boot(stored, [], notes, latest=True)
    if demo:
        notes.append("no .bpf paths given and no installed pack supplies a module: serving an empty model")
    else:
        notes.append("no .bpf paths given and none stored: serving an empty model (give PATHs or --demo)")
    return Boot(EMPTY, [], notes)


#: The user of ``--demo``'s sign-in token, and how long each token lives.
DEMO_USER = "demo"
DEMO_TOKEN_HOURS = 8


def demo_token(storage: Storage, clock: Callable[[], dt.datetime] | None = None) -> str:
    """A new admin token to sign in to the demo with, the earlier ones revoked; the line that shows it.

    The demo is meant to be opened at once, so ``bpf serve --demo`` prints a token on every start. Only a
    token's hash is stored, so an earlier one can't be shown again; instead each start revokes the demo
    user's earlier tokens, and the new one expires after :data:`DEMO_TOKEN_HOURS`: a demo database never
    holds more than one working demo token, and a token printed to a log stops working the same day.
    """
    tokens = Tokens(storage) if clock is None else Tokens(storage, clock=clock)
    now = tokens.clock()
    revoked = 0
    for row in tokens.list():
        if row.user == DEMO_USER and row.revoked_at is None and (row.expires_at is None or row.expires_at > now):
            revoked += tokens.revoke(row.id)
    made = tokens.create(DEMO_USER, ["admin"], DEMO_TOKEN_HOURS / 24)
    earlier = f"; {revoked} earlier demo token(s) revoked" if revoked else ""
    return f"demo sign-in token (admin, for {DEMO_TOKEN_HOURS} hours{earlier}): {made.token}"


def demo_samples(service: Service, registry: Registry) -> str | None:
    """Create the installed packs' sample records (``--demo``); a line to report."""
    try:
        created = load_samples(service, registry)
    except Exception as err:  # sample data must never keep the server from starting
        return f"sample records failed: {type(err).__name__}: {err}"
    return f"{created} sample record(s) created"
