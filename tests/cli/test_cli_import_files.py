"""`bpf import` on files that are wrong as a whole or row by row: clear errors, line numbers, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import bpf, one_error_line, rows, write_model


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, str]:
    """(the --model path, a database URL in tmp_path)."""
    return str(write_model(tmp_path)), f"sqlite:///{tmp_path / 'bpf.db'}"


def _imported(url: str) -> list[str]:
    return sorted(r[0] for r in rows(url, "SELECT id FROM records"))


def test_rows_with_more_or_fewer_cells_than_the_header_are_bad_rows(tmp_path: Path, setup: tuple[str, str]) -> None:
    model, url = setup
    data = tmp_path / "leads.csv"
    data.write_text("topic,budget\nFine,1\nLonger,2,oops\nShorter\nAlso fine,3\n", encoding="utf-8")
    result = bpf("import", str(data), "--entity", "lead", "--model", model, "--db", url, "--batch-size", "2",
                 cwd=tmp_path)
    assert result.returncode == 1
    assert "line 3: 3 cells, more than the header's 2 columns" in result.stderr
    assert "line 4: 1 cell, fewer than the header's 2 columns" in result.stderr
    assert "imported 0 lead record(s), 2 bad row(s)" in result.stdout  # both batches held a bad row
    assert _imported(url) == []


@pytest.mark.parametrize(("header", "says"), [
    ("topic,budget,topic", "names the column 'topic' twice"),
    ("topic,colour,size", "not fields of lead: 'colour', 'size'"),
])
def test_a_bad_header_is_one_error_and_nothing_is_imported(tmp_path: Path, setup: tuple[str, str], header: str,
                                                           says: str) -> None:
    model, url = setup
    data = tmp_path / "leads.csv"
    data.write_text(header + "\n" + "\n".join(f"t{i},1,2" for i in range(30)) + "\n", encoding="utf-8")
    result = bpf("import", str(data), "--entity", "lead", "--model", model, "--db", url, "--batch-size", "5",
                 cwd=tmp_path)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "line 1" in line and says in line and str(data) in line
    assert not (tmp_path / "bpf.db").exists()  # refused before the database was made


def test_an_unknown_entity_stores_nothing(tmp_path: Path, setup: tuple[str, str]) -> None:
    model, url = setup
    data = tmp_path / "leads.csv"
    data.write_text("topic\nA\n", encoding="utf-8")
    result = bpf("import", str(data), "--entity", "nope", "--model", model, "--db", url, cwd=tmp_path)
    assert result.returncode == 2 and "no entity 'nope'" in one_error_line(result)
    assert not (tmp_path / "bpf.db").exists()


def test_a_file_that_is_not_utf8_is_refused_naming_the_line_before_anything_is_written(
        tmp_path: Path, setup: tuple[str, str]) -> None:
    model, url = setup
    data = tmp_path / "latin1.csv"
    data.write_bytes(b"topic\n" + b"".join(b"fine %d\n" % i for i in range(20)) + "Caf\u00e9\n".encode("latin-1"))
    result = bpf("import", str(data), "--entity", "lead", "--model", model, "--db", url, "--batch-size", "5",
                 cwd=tmp_path)
    assert result.returncode == 1
    line = one_error_line(result)
    assert str(data) in line and "line 22 is not UTF-8" in line
    assert not (tmp_path / "bpf.db").exists()  # refused before the database was opened


def test_an_empty_cell_stays_empty_though_the_field_has_a_default(tmp_path: Path, setup: tuple[str, str]) -> None:
    model, url = setup
    data = tmp_path / "leads.csv"
    data.write_text("topic,hot,note\nEmpty,,\n", encoding="utf-8")
    assert bpf("import", str(data), "--entity", "lead", "--model", model, "--db", url, cwd=tmp_path).returncode == 0
    out = bpf("export", "--entity", "lead", "--db", url, cwd=tmp_path).stdout
    assert out.splitlines()[1].split(",")[1:] == ["Empty", "", "", "", ""]


@pytest.mark.parametrize("size", ["0", "-3", "x"])
def test_a_batch_size_below_one_is_a_bad_invocation(tmp_path: Path, setup: tuple[str, str], size: str) -> None:
    model, url = setup
    data = tmp_path / "leads.csv"
    data.write_text("topic\nA\n", encoding="utf-8")
    result = bpf("import", str(data), "--entity", "lead", "--model", model, "--db", url, f"--batch-size={size}",
                 cwd=tmp_path)
    assert result.returncode == 2 and "--batch-size" in one_error_line(result)
    assert not (tmp_path / "bpf.db").exists()


def test_importing_a_folder_says_it_is_a_folder(tmp_path: Path, setup: tuple[str, str]) -> None:
    model, url = setup
    result = bpf("import", ".", "--entity", "lead", "--model", model, "--db", url, cwd=tmp_path)
    assert result.returncode == 2 and "is a folder" in one_error_line(result)


def test_import_without_a_model_into_a_missing_database_leaves_no_file(tmp_path: Path) -> None:
    data = tmp_path / "leads.csv"
    data.write_text("topic\nA\n", encoding="utf-8")
    result = bpf("import", str(data), "--entity", "lead", cwd=tmp_path)
    assert result.returncode == 1 and "no database at" in one_error_line(result)
    assert not (tmp_path / "bpf.db").exists()
