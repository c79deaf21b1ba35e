"""The server's subcommands of ``bpf`` (registered through the ``bpf.commands`` entry point): serve, token."""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import os
import socket
import sys
from typing import TYPE_CHECKING, Any

from bpf_dsl.errors import ListenError, UsageError

if TYPE_CHECKING:
    from bpf_dsl.service import Tokens


def add_commands(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register ``serve`` and ``token`` on ``bpf``'s subparsers."""
    p = sub.add_parser("serve", help="the GraphQL server and the web page")
    p.add_argument("paths", nargs="*", metavar="PATH", help=".bpf files or folders")
    p.add_argument("--db", metavar="URL", help="sqlite:///FILE (default sqlite:///bpf.db) or postgresql://...")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, metavar="N", help="server processes (PostgreSQL for N > 1)")
    p.add_argument("--demo", action="store_true", help="also every installed plugin pack, with sample records")
    p.add_argument("--no-graphiql", action="store_true", help="don't serve GraphiQL at GET /graphql")
    p.add_argument("--limit-concurrency", type=int, default=1000, metavar="N",
                   help="connections and requests at once per server process; 503 beyond (default 1000)")
    p.add_argument("--header-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="close a connection whose request head is not complete in this time (default 10)")
    p.set_defaults(func=cmd_serve)

    t = sub.add_parser("token", help="API tokens: create, revoke, list")
    tsub = t.add_subparsers(dest="token_command", metavar="COMMAND", parser_class=parser_class)
    c = tsub.add_parser("create", help="create a user if needed and a token, printed alone on the last line")
    c.add_argument("--user", required=True, metavar="NAME")
    c.add_argument("--role", action="append", required=True, metavar="ROLE", help="repeat for several roles")
    c.add_argument("--expires-days", type=float, metavar="N", help="the token stops working after N days")
    c.add_argument("--db", metavar="URL")
    c.set_defaults(func=cmd_token_create)
    r = tsub.add_parser("revoke", help="revoke a token by its id")
    r.add_argument("token_id", metavar="TOKEN_ID")
    r.add_argument("--db", metavar="URL")
    r.set_defaults(func=cmd_token_revoke)
    ls = tsub.add_parser("list", help="every token: id, user, roles, created, expires, last used, revoked")
    ls.add_argument("--db", metavar="URL")
    ls.set_defaults(func=cmd_token_list)
    t.set_defaults(func=_token_usage)


def _token_usage(args: argparse.Namespace) -> int:
    raise UsageError("bpf token needs a command: create, revoke or list")


def _tokens(db: str | None, *, create: bool = False) -> Tokens:
    from bpf_dsl.service import Tokens, open_storage

    # Only `token create` may make a new database: listing or revoking in the wrong folder leaves no file behind.
    return Tokens(open_storage(db, create=create))


def cmd_token_create(args: argparse.Namespace) -> int:
    """``bpf token create --user NAME --role ROLE [--role ROLE...] [--expires-days N] [--db URL]``."""
    tokens = _tokens(args.db, create=True)
    try:
        _check_roles(tokens, args.role)
        made = tokens.create(args.user, args.role, args.expires_days)
    finally:
        tokens.close()
    if made.previous_roles is not None and tuple(made.previous_roles) != made.roles:
        print(f"bpf token: the roles of {made.user} changed from {', '.join(made.previous_roles) or 'none'} "
              f"to {', '.join(made.roles)}", file=sys.stderr)
    expires = f", expires {_when(made.expires_at)}" if made.expires_at else ""
    print(f"token {made.id} for {made.user} (roles: {', '.join(made.roles)}{expires}); it is shown only once:")
    print(made.token)
    return 0


def _check_roles(tokens: Tokens, roles: list[str]) -> None:
    """Refuse a role the model stored in the database doesn't declare (``admin`` always exists): a typo would
    make a token that may do nothing. With no model stored yet, only warn: the roles can't be known."""
    known = tokens.declared_roles()
    if known is None:
        print("bpf token: warning: this database holds no model yet (`bpf serve PATH` stores it), so the roles "
              "can't be checked", file=sys.stderr)
        return
    unknown = sorted({r.strip() for r in roles if r.strip()} - known)
    if unknown:
        names = ", ".join(repr(r) for r in unknown)
        raise UsageError(f"the model stored in the database declares no role {names} (roles: "
                         f"{', '.join(sorted(known))})")


def cmd_token_revoke(args: argparse.Namespace) -> int:
    """``bpf token revoke TOKEN_ID``."""
    from bpf_dsl.service import token_id_of

    token_id = token_id_of(args.token_id) or args.token_id  # a whole token names its id too
    tokens = _tokens(args.db)
    try:
        done = tokens.revoke(token_id)
        if not done:  # unknown, or revoked before: which one decides the message and the exit code
            found = tokens.get(token_id)
    finally:
        tokens.close()
    if done:
        print(f"revoked {token_id}")
        return 0
    if found is None:
        raise UsageError(f"no token {args.token_id} to revoke (see `bpf token list`)")
    # Revoking is idempotent: the token can't be used, which is what was asked (exit 0), but say it was so before.
    print(f"{token_id} was already revoked on {_when(found.revoked_at)}")
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    """``bpf token list``."""
    tokens = _tokens(args.db)
    try:
        rows = tokens.list()
    finally:
        tokens.close()
    table = [("ID", "USER", "ROLES", "CREATED", "EXPIRES", "LAST USED", "REVOKED")]
    table += [(r.id, r.user, ",".join(r.roles), _when(r.created_at), _when(r.expires_at), _when(r.last_used_at),
               _when(r.revoked_at)) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value is not None else "-"


def check_listen(host: str, port: int) -> None:
    """Bind ``host:port`` once and let go, as the server will bind it, or raise :class:`ListenError`.

    Done before the database is opened: a busy port then leaves nothing behind, and
    is said in one line rather than in uvicorn's log after start-up. Binds every
    address the host resolves to, with the options asyncio's server uses.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise ListenError(f"can't listen on {where}: unknown host ({err.strerror})") from err
    opened: list[socket.socket] = []
    unavailable: list[OSError] = []
    try:
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            opened.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free to the server
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as err:
                if err.errno != errno.EADDRNOTAVAIL:
                    raise
                unavailable.append(err)  # asyncio skips such an address too (an IP family that is off)
        if len(unavailable) == len(addresses):
            raise unavailable[0]
    except OSError as err:
        reason = err.strerror or str(err)
        raise ListenError(f"can't listen on {where}: {reason[:1].lower()}{reason[1:]}") from err
    finally:
        for sock in opened:
            sock.close()


def cmd_serve(args: argparse.Namespace) -> int:
    """``bpf serve [PATH...] [--db URL] [--host H] [--port P] [--workers N] [--demo] [--no-graphiql]``."""
    import uvicorn

    from bpf_dsl.service import Service, database_url, default_registry, display_url, open_storage

    from .app import configure_logging, create_app
    from .boot import demo_samples, demo_token, load_program
    from .limits import KEEP_ALIVE_SECONDS, MAX_HEADER_BYTES, MAX_WS_MESSAGE_BYTES
    from .protocol import GuardedH11, set_header_timeout
    from .settings import ENV, Settings

    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        raise UsageError(f"no such file or folder: {missing[0]}")
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if not 0 < args.port < 65536:
        raise UsageError("--port must be between 1 and 65535")
    if args.limit_concurrency < 1:
        raise UsageError("--limit-concurrency must be at least 1")
    if not args.header_timeout > 0:
        raise UsageError("--header-timeout must be a positive number of seconds")
    url = database_url(args.db)
    configure_logging()
    registry = default_registry()
    # Check the model, then the address, before opening the database: a model with errors or a busy
    # port must not leave a new database file behind. Only a server without paths needs the database
    # to decide its model (the one stored there).
    from_database = not args.paths and not args.demo
    boot = None if from_database else load_program(list(args.paths), args.demo, registry, None)
    check_listen(args.host, args.port)
    storage = open_storage(url)  # migrates first
    try:
        if boot is None:
            boot = load_program([], False, registry, storage)
    except BaseException:
        storage.close()
        raise
    for note in boot.notes:
        print(f"bpf serve: {note}", file=sys.stderr)
    if args.workers > 1 and url.startswith("sqlite"):
        print("bpf serve: several workers on SQLite: subscriptions only hear the events of their own worker; "
              "use PostgreSQL to share them", file=sys.stderr)
    settings = Settings(db=url, paths=tuple(boot.paths), latest=boot.latest, graphiql=not args.no_graphiql,
                        host=args.host, port=args.port, workers=args.workers, header_timeout=args.header_timeout)
    service = Service(boot.program, storage, registry)
    if args.demo:
        line = demo_samples(service, registry)
        if line:
            print(f"bpf serve: {line}", file=sys.stderr)
        print(f"bpf serve: {demo_token(storage)}", file=sys.stderr)
    # uvicorn's limits, set rather than left to its defaults (docs/api.md, "Limits"): an idle connection
    # closes after KEEP_ALIVE_SECONDS, a request head must be whole within --header-timeout (GuardedH11:
    # uvicorn has no such timeout) and within MAX_HEADER_BYTES, and past --limit-concurrency connections
    # or requests a process answers 503 rather than taking on more than it can serve.
    set_header_timeout(args.header_timeout)
    common: dict[str, Any] = {"host": args.host, "port": args.port, "ws_max_size": MAX_WS_MESSAGE_BYTES,
                              "log_level": "info", "access_log": False, "timeout_graceful_shutdown": 5,
                              "http": GuardedH11, "timeout_keep_alive": KEEP_ALIVE_SECONDS,
                              "limit_concurrency": args.limit_concurrency,
                              "h11_max_incomplete_event_size": MAX_HEADER_BYTES}
    print(f"bpf serve: {len(boot.program.processes)} process(es), {len(boot.program.entities)} entit(ies) on "
          f"{display_url(url)}; http://{args.host}:{args.port}/", file=sys.stderr)
    if args.workers == 1:
        uvicorn.run(create_app(service, settings), **common)
        storage.close()
        return 0
    storage.close()
    os.environ[ENV] = settings.to_env()
    uvicorn.run("bpf_server.app:create_app_from_env", factory=True, workers=args.workers, **common)
    return 0
