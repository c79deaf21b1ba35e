"""Problems of the environment as a user meets them: each is one `bpf: error:` line, and leaves nothing behind.

An unreachable or misnamed database, a file that is not a database, an unwritable
place, a closed pipe, a full disk, a busy port; and passwords never shown.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpf_dsl.storage import display_url
from tests.backends import PG_URL, database_url
from tests.cli.helpers import BPF, bpf, one_error_line, write_model
from tests.plugins.helpers import PLUGINS, subprocess_env, write_dist

needs_pg = pytest.mark.skipif(not PG_URL, reason="needs BPF_TEST_POSTGRES_URL")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "BPF_DATABASE_URL"}
    env.update(extra)
    return env


def _with_password(url: str, password: str) -> str:
    parts = urllib.parse.urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0] or "postgres"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{password}@{hosts}"))


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port some other program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- PostgreSQL that can't be reached ---------------------------------------------------------------------
@pytest.mark.parametrize("url", ["postgresql://nobody:s3cret@127.0.0.1:1/x",
                                 "postgresql://nobody@127.0.0.1:5432/x?sslmode=bogus"])
def test_an_unreachable_postgresql_is_one_line_at_once(tmp_path: Path, url: str) -> None:
    started = time.monotonic()
    result = bpf("migrate", "--db", url, cwd=tmp_path, timeout=60)
    assert time.monotonic() - started < 15  # not the pool's 30-second wait
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith(f"bpf: error: can't connect to {display_url(url)}: ")
    assert "s3cret" not in line and "pool" not in result.stderr


@needs_pg
def test_a_missing_postgresql_database_is_named(tmp_path: Path) -> None:
    assert PG_URL is not None
    url = urllib.parse.urlunsplit(urllib.parse.urlsplit(PG_URL)._replace(path="/bpf_no_such_database"))
    result = bpf("token", "list", "--db", url, cwd=tmp_path, timeout=60)
    assert result.returncode == 1 and "bpf_no_such_database" in one_error_line(result)


def test_serve_and_bpf_database_url_report_an_unreachable_database_the_same_way(tmp_path: Path) -> None:
    env = _env(BPF_DATABASE_URL="postgresql://postgres:s3cret@127.0.0.1:1/x")
    result = bpf("serve", "--port", str(_free_port()), cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "can't connect to postgresql://postgres:***@127.0.0.1:1/x" in line and "s3cret" not in line


# -- passwords ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://postgres:s3cret@db.example:5432/bpf", "postgresql://postgres:***@db.example:5432/bpf"),
    ("postgresql://u:p%40ss@h1,h2/bpf?sslmode=require", "postgresql://u:***@h1,h2/bpf?sslmode=require"),
    ("postgresql://h/bpf?user=u&password=s3cret", "postgresql://h/bpf?user=u&password=***"),
    ("postgresql://u@h/bpf", "postgresql://u@h/bpf"),
    ("sqlite:///bpf.db", "sqlite:///bpf.db"),
])
def test_display_url_masks_passwords(url: str, shown: str) -> None:
    assert display_url(url) == shown


def test_an_unknown_url_is_shown_without_its_password(tmp_path: Path) -> None:
    result = bpf("migrate", "--db", "mysql://root:s3cret@localhost/x", cwd=tmp_path)
    assert result.returncode == 2 and "mysql://root:***@localhost/x" in one_error_line(result)


@needs_pg
def test_migrate_and_serve_show_a_postgresql_url_without_its_password(tmp_path: Path) -> None:
    with database_url("postgres", tmp_path) as url:
        secret_url = _with_password(url, "s3cret")
        migrated = bpf("migrate", "--db", secret_url, cwd=tmp_path)
        assert migrated.returncode == 0, migrated.stderr
        assert "postgres:***@" in migrated.stdout and "s3cret" not in migrated.stdout + migrated.stderr
        port = _free_port()
        with subprocess.Popen([*BPF, "serve", "--db", secret_url, "--port", str(port)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as server:
            try:
                assert server.stdout is not None
                seen = ""
                while "http://" not in seen:
                    line = server.stdout.readline()
                    assert line, seen
                    seen += line
            finally:
                server.terminate()
                server.wait(timeout=30)
        assert "postgres:***@" in seen and "s3cret" not in seen


# -- SQLite files that are not databases, places that can't be written --------------------------------------
def test_a_sqlite_path_that_is_a_folder_or_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "folder.db").mkdir()
    not_db = tmp_path / "notes.db"
    not_db.write_text("shopping list: " + "eggs " * 40, encoding="utf-8")
    folder = bpf("migrate", "--db", f"sqlite:///{tmp_path / 'folder.db'}", cwd=tmp_path)
    assert folder.returncode == 1 and "is a folder, not a database file" in one_error_line(folder)
    other = bpf("token", "create", "--user", "u", "--role", "admin", "--db", f"sqlite:///{not_db}", cwd=tmp_path)
    assert other.returncode == 1
    assert one_error_line(other) == f"bpf: error: {not_db} is not a bpf database (file is not a database)"
    under_file = bpf("migrate", "--db", f"sqlite:///{not_db}/x.db", cwd=tmp_path)
    assert under_file.returncode == 1 and "not a folder" in one_error_line(under_file)


def test_a_sqlite_file_in_a_place_no_one_may_write(tmp_path: Path) -> None:
    result = bpf("migrate", "--db", "sqlite:////proc/bpf-test.db", cwd=tmp_path)  # not even root writes /proc
    assert result.returncode == 1 and "/proc/bpf-test.db" in one_error_line(result)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write read-only files")
def test_a_read_only_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    assert bpf("migrate", "--db", f"sqlite:///{db}", cwd=tmp_path).returncode == 0
    db.chmod(0o444)
    result = bpf("migrate", "--db", f"sqlite:///{db}", cwd=tmp_path)
    assert result.returncode == 1 and "no permission" in one_error_line(result)


def test_a_schema_newer_than_this_build_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bpf.db'}"
    assert bpf("migrate", "--db", url, cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "bpf.db") as conn:
        conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')")
    conn.close()
    result = bpf("migrate", "--db", url, cwd=tmp_path)
    assert result.returncode == 1 and "schema version 999, newer than this bpf knows" in one_error_line(result)
    tokens = bpf("token", "create", "--user", "u", "--role", "admin", "--db", url, cwd=tmp_path)
    assert tokens.returncode == 1 and "newer than this bpf" in one_error_line(tokens)


def test_an_empty_db_option_is_refused(tmp_path: Path) -> None:
    result = bpf("migrate", "--db", "", cwd=tmp_path)
    assert result.returncode == 2 and "--db is empty" in one_error_line(result)
    assert not (tmp_path / "bpf.db").exists()


def test_commands_that_read_leave_no_new_database_behind(tmp_path: Path) -> None:
    for args in (("token", "list"), ("token", "revoke", "abc"), ("instances", "upgrade", "--dry-run"),
                 ("export", "--entity", "lead")):
        result = bpf(*args, cwd=tmp_path)
        assert result.returncode == 1 and "no database at bpf.db" in one_error_line(result), args
    assert not (tmp_path / "bpf.db").exists()


# -- bpf init ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["a-file/project", "/proc/bpf-test-project"])
def test_init_where_no_folder_can_be_made(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                          where: str) -> None:
    # The sales pack "installed" for the subprocess (the test venv need not hold it), with the crm pack it imports.
    site = tmp_path_factory.mktemp("site")
    write_dist(site, "bpf-sales", "0.1.0", {"sales": "bpf_sales:PACK"})
    write_dist(site, "bpf-crm", "0.1.0", {"crm": "bpf_crm:PACK"})
    env = subprocess_env(site, PLUGINS / "sales", PLUGINS / "crm")
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    result = bpf("init", where, "--template", "sales", cwd=tmp_path, env=env)
    assert result.returncode == 1 and "can't create" in one_error_line(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


# -- output that can't be written --------------------------------------------------------------------------
@pytest.fixture
def exported(tmp_path: Path) -> str:
    """A database with 4000 leads: more output than a pipe holds."""
    url = f"sqlite:///{tmp_path / 'bpf.db'}"
    data = tmp_path / "leads.csv"
    data.write_text("topic,note\n" + "".join(f"lead {i},{'n' * 40}\n" for i in range(4000)), encoding="utf-8")
    made = bpf("import", str(data), "--entity", "lead", "--model", str(write_model(tmp_path)), "--db", url,
               "--no-process", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    return url


def test_export_into_a_pipe_closed_early_ends_quietly(tmp_path: Path, exported: str) -> None:
    with subprocess.Popen([*BPF, "export", "--entity", "lead", "--db", exported], cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().startswith(b"id,")
        proc.stdout.close()  # like `| head -1`
        err = proc.stderr.read()
        code = proc.wait(timeout=60)
    assert code in (0, 141) and err == b""


def test_output_to_a_full_disk_is_one_line(tmp_path: Path, exported: str) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        for args in (("export", "--entity", "lead", "--db", exported), ("plugins",)):  # a big output, a small one
            result = bpf(*args, cwd=tmp_path, stdout=full)
            assert result.returncode == 1, args
            assert one_error_line(result) == "bpf: error: can't write the output: No space left on device"


# -- bpf serve ---------------------------------------------------------------------------------------------
def test_serve_on_a_busy_port_says_so_and_leaves_no_database(tmp_path: Path, busy_port: int) -> None:
    result = bpf("serve", "--port", str(busy_port), "--db", f"sqlite:///{tmp_path / 'new.db'}", cwd=tmp_path)
    assert result.returncode == 1
    assert one_error_line(result) == f"bpf: error: can't listen on 127.0.0.1:{busy_port}: address already in use"
    assert not (tmp_path / "new.db").exists()


def test_serve_on_an_unknown_host(tmp_path: Path) -> None:
    result = bpf("serve", "--host", "no-such-host.invalid", "--db", f"sqlite:///{tmp_path / 'new.db'}", cwd=tmp_path)
    assert result.returncode == 1 and "can't listen on no-such-host.invalid:8000" in one_error_line(result)
    assert not (tmp_path / "new.db").exists()


def test_serve_with_model_errors_creates_no_database(tmp_path: Path) -> None:
    (tmp_path / "broken.bpf").write_text("entity x {\n", encoding="utf-8")
    result = bpf("serve", "broken.bpf", "--port", str(_free_port()), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "bpf.db").exists()


# -- the command line itself -------------------------------------------------------------------------------
def test_instances_without_a_command_is_one_line(tmp_path: Path) -> None:
    result = bpf("instances", cwd=tmp_path)
    assert result.returncode == 2
    assert one_error_line(result) == "bpf: error: bpf instances needs a command: upgrade"


def test_debug_is_accepted_after_the_command_too(tmp_path: Path) -> None:
    model = write_model(tmp_path)
    assert bpf("check", str(model), "--debug", cwd=tmp_path).returncode == 0
    assert bpf("--debug", "check", str(model), cwd=tmp_path).returncode == 0
    (tmp_path / "folder.db").mkdir()
    failed = bpf("token", "list", "--db", f"sqlite:///{tmp_path / 'folder.db'}", "--debug", cwd=tmp_path)
    assert failed.returncode != 0 and "Traceback" in failed.stderr  # --debug took effect


def test_check_of_a_folder_without_bpf_files_warns(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = bpf("check", "empty", cwd=tmp_path)
    assert result.returncode == 0
    assert "bpf check: warning: no .bpf files in empty" in result.stderr.splitlines()
