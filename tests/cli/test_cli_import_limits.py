"""`bpf import` on rows no reader could take whole, and `bpf export`'s CSV with cells a spreadsheet would run.

An over-long CSV cell, JSON nested 100,000 deep and a 5,000-digit integer each ended the
import in an internal error; each is now a bad row with its line number, and the rows
after it are imported. A CSV export writes a text that starts like a formula (``=``,
``+``, ``-``, ``@``, tab, carriage return) behind a single quote, which import drops
again: export → import → export gives the same bytes, and numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from bpf_dsl.service.bulk import MAX_CELL
from tests.cli.helpers import bpf, rows, write_model

MODEL = """
role sales
entity lead {
    topic: text required
    note: text
    amount: money
    count: integer
}
process flow on lead {
    roles sales
    stage one { step topic }
}
"""


def _import(tmp_path: Path, name: str, text: str, db: str = "bpf.db") -> tuple[int, str, str]:
    model = write_model(tmp_path, MODEL)
    data = tmp_path / name
    data.write_text(text, encoding="utf-8")
    result = bpf("import", str(data), "--entity", "lead", "--model", str(model), "--db",
                 f"sqlite:///{tmp_path / db}", "--batch-size", "1", cwd=tmp_path)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout, result.stderr


def _topics(tmp_path: Path, db: str = "bpf.db") -> list[str]:
    return sorted(json.loads(r[0])["topic"] for r in rows(f"sqlite:///{tmp_path / db}", "SELECT data FROM records"))


def test_csv_cells_over_the_limit_are_bad_rows(tmp_path: Path) -> None:
    big = "x" * (MAX_CELL + 10)
    text = ("topic,note\n"
            "first,ok\n"
            f"long,{big}\n"  # line 3: one line
            f'quoted,"{big}\n'  # line 4: a quoted cell over several lines, holding what looks like rows
            "fake,row\n"
            'still in the cell"\n'
            "last,ok\n"  # line 7
            f"{'y' * 100_001},x\n"  # line 8: under the reader's limit, over a text field's
            )
    code, out, err = _import(tmp_path, "leads.csv", text)
    assert code == 1
    assert f"line 3: a cell is longer than {MAX_CELL} characters" in err
    assert f"line 4: a cell is longer than {MAX_CELL} characters" in err
    assert "line 8: topic: topic is longer than 100000 characters" in err.lower()
    assert "imported 2 lead record(s), 3 bad row(s)" in out
    assert _topics(tmp_path) == ["first", "last"]  # nothing of the long quoted cell became a row


def test_jsonl_rows_no_reader_takes_are_bad_rows(tmp_path: Path) -> None:
    text = "\n".join([
        json.dumps({"topic": "first"}),
        "[" * 100_000 + "]" * 100_000,  # line 2: nested 100,000 deep
        '{"topic": "digits", "count": ' + "7" * 5000 + "}",  # line 3: a 5,000-digit integer
        '{"topic": "money", "amount": 1e308}',  # line 4: beyond money's bounds
        json.dumps({"topic": "last", "count": 2**63 - 1, "amount": -12.5}),
    ]) + "\n"
    code, out, err = _import(tmp_path, "leads.jsonl", text)
    assert code == 1
    assert "line 2: JSON nested too deeply to read" in err
    assert "line 3: JSON that can't be read: a number has too many digits" in err
    assert "line 4: amount: amount must be less than 10^15" in err.lower()
    assert "imported 2 lead record(s), 3 bad row(s)" in out
    assert _topics(tmp_path) == ["first", "last"]


def test_csv_numbers_beyond_their_bounds_are_field_errors(tmp_path: Path) -> None:
    text = ("topic,count,amount\n"
            f"digits,{'7' * 5000},\n"
            f"huge,,1{'0' * 5000}\n"
            "inf,,inf\n"
            f"wide,{2**63},\n"
            "ok,-3,-2.5\n")
    code, _, err = _import(tmp_path, "leads.csv", text)
    assert code == 1
    assert "line 2: count: count must be between" in err.lower() and "64-bit integer" in err
    assert "line 3: amount: amount must be less than 10^15" in err.lower()
    assert "line 4: amount: amount must be a finite number" in err.lower()
    assert "line 5: count" in err.lower()
    assert _topics(tmp_path) == ["ok"]


def _export(tmp_path: Path, url: str, name: str) -> str:
    """`bpf export` to a file (its bytes as written: a carriage return inside a cell stays one)."""
    with open(tmp_path / name, "wb") as out:
        result = bpf("export", "--entity", "lead", "--db", url, cwd=tmp_path, stdout=out)
    assert result.returncode == 0, result.stderr
    return (tmp_path / name).read_bytes().decode("utf-8")


FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "@SUM(1+1)", "+1+1", "-2+3", "\tTab", "\rReturn",
            "'=already quoted", "''=twice", "'plain quote", "=", "-"]


def test_csv_export_neutralises_formulas_and_import_gives_them_back(tmp_path: Path) -> None:
    records = [{"topic": f"t{n}", "note": note, "amount": -5 - n, "count": -n} for n, note in enumerate(FORMULAS)]
    code, _, err = _import(tmp_path, "leads.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    assert code == 0, err
    url = f"sqlite:///{tmp_path / 'bpf.db'}"
    exported = _export(tmp_path, url, "first.csv")
    table = list(csv.DictReader(io.StringIO(exported)))
    by_topic = {row["topic"]: row for row in table}
    for n, note in enumerate(FORMULAS):
        cell = by_topic[f"t{n}"]["note"]
        dangerous = note.lstrip("'")[:1] in ("=", "+", "-", "@", "\t", "\r")
        assert cell == ("'" + note if dangerous else note), (note, cell)
        assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r")  # nothing a spreadsheet would run
        assert by_topic[f"t{n}"]["amount"] == str(-5 - n)  # numbers stay numbers, minus sign and all
    # The export imports back to the same records, and exports to the same bytes (ids aside: new ones).
    second = f"sqlite:///{tmp_path / 'second.db'}"
    model = tmp_path / "model.bpf"
    back = bpf("import", str(tmp_path / "first.csv"), "--entity", "lead", "--model", str(model), "--db", second,
               cwd=tmp_path)
    assert back.returncode == 0, back.stderr
    restored = sorted((json.loads(r[0]) for r in rows(second, "SELECT data FROM records")), key=lambda r: r["topic"])
    assert restored == sorted(records, key=lambda r: str(r["topic"]))
    assert _export(tmp_path, second, "second.csv") == exported
    jsonl = bpf("export", "--entity", "lead", "--db", url, "--format", "jsonl", cwd=tmp_path)
    assert {json.loads(line)["note"] for line in jsonl.stdout.splitlines()} == set(FORMULAS)  # JSON: as it is
