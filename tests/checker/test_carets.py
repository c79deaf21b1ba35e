"""A diagnostic's caret stands under the token at fault, not next to it.

Each case marks the offending token with ``«`` and ``»``; the diagnostic of its code must
start there (line and column) and, on the same line, end where the token ends. The
kinds: a name that isn't a field, in every statement that names one; a default, min or
max that doesn't fit (the value); two operands whose types don't fit (the one that
differs from the other side); a comparison with null (the ``null``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bpf_dsl import check_text

ENTITIES = """\
entity account {
    name: text
    tier: choice(gold, silver)
}

entity deal {
    amount: money
    approved: bool
    title: text
    closed_on: date
    account: lookup(account)
}
"""


def _rule(body: str) -> str:
    return ENTITIES + "\nrule r on deal {\n    " + body + "\n}\n"


def _stage(body: str) -> str:
    return ENTITIES + "\nprocess p on deal {\n    stage s {\n        step amount\n        " + body + "\n    }\n}\n"


def _process(body: str) -> str:
    return ENTITIES + "\nprocess p on deal {\n    stage s {\n        step amount\n    }\n    " + body + "\n}\n"


def _fields(decl: str) -> str:
    return "entity e {\n    " + decl + "\n}\n"


_VIA = """
process p on account {
    stage a {
        step name
    }
    stage d on deal via account {
        create {
            %s
        }
        step amount
    }
}
"""

CASES = {
    # an unknown field, in every statement that names one
    "rule set": (_rule('set «notes» = "big"'), "BPF022"),
    "rule default": (_rule('default «notes» = "big"'), "BPF022"),
    "rule error": (_rule('error «notes» "too big"'), "BPF022"),
    "rule recommend": (_rule('recommend «notes» "look"'), "BPF022"),
    "rule require": (_rule("require «notes»"), "BPF022"),
    "rule optional": (_rule("optional «notes»"), "BPF022"),
    "rule lock": (_rule("lock «notes»"), "BPF022"),
    "rule unlock": (_rule("unlock «notes»"), "BPF022"),
    "rule hide": (_rule("hide «notes»"), "BPF022"),
    "rule show": (_rule("show «notes»"), "BPF022"),
    "rule action in an if arm": (_rule("if approved {\n        show «notes»\n    }"), "BPF022"),
    "rule set of a built-in column": (_rule("set «created_at» = now()"), "BPF026"),
    "stage hook set": (_stage('on exit {\n            set «notes» = "big"\n        }'), "BPF022"),
    "process hook set": (_process('on finish {\n        set «notes» = "big"\n    }'), "BPF022"),
    "process hook set ENTITY.FIELD": (_process('on finish {\n        set deal.«notes» = "big"\n    }'), "BPF022"),
    "hook set of a built-in column": (_process("on finish {\n        set deal.«version» = 2\n    }"), "BPF026"),
    "create assignment": (ENTITIES + _VIA % "«notes» = name", "BPF047"),
    "step": (_stage("step «notes»"), "BPF044"),
    "condition": (_rule("if «notes» > 1 {\n        hide title\n    }"), "BPF029"),
    "condition through a lookup": (_rule('if account.«nme» = "x" {\n        hide title\n    }'), "BPF022"),
    "condition through a non-lookup": (_rule("if «title».size > 1 {\n        hide title\n    }"), "BPF022"),
    "value of a set": (_rule("set amount = «notes» + 1"), "BPF029"),
    # a default, min or max that doesn't fit: the value
    "default of a bool": (_fields("flag: bool default «3»"), "BPF032"),
    "default of an integer": (_fields("count: integer default «1.5»"), "BPF032"),
    "default of a date": (_fields('due: date default «"tomorrow"»'), "BPF032"),
    "default outside min": (_fields("price: money min 0 default «-3»"), "BPF032"),
    "default outside max length": (_fields('code: text max 3 default «"long"»'), "BPF032"),
    "default not an option": (_fields("tier: choice(gold, silver) default «bronze»"), "BPF032"),
    "default of a lookup": ("entity a { n: text }\n" + _fields("parent: lookup(a) default «x»"), "BPF032"),
    "min of a text": (_fields("code: text min «-1»"), "BPF033"),
    "max below min": (_fields("rate: decimal min 10 max «5»"), "BPF033"),
    # operands whose types don't fit: the one that differs from the other side
    "compare money with a string": (_rule('if amount > «"ten"» {\n        hide title\n    }'), "BPF034"),
    "compare a string with money": (_rule('if «"ten"» < amount {\n        hide title\n    }'), "BPF034"),
    "compare two fields": (_rule("if amount > «closed_on» {\n        hide title\n    }"), "BPF034"),
    "compare yes/no with a date": (_rule("if approved = «closed_on» {\n        hide title\n    }"), "BPF034"),
    "compare with a function": (_rule("if «1» = upper(title) {\n        hide title\n    }"), "BPF034"),
    "an item of an in list": (_rule('if amount in [1, «"x"»] {\n        hide title\n    }'), "BPF034"),
    "arithmetic on a string": (_rule('set amount = amount + «"x"»'), "BPF034"),
    "arithmetic on a field": (_rule("default title = «\"Deal \"» + amount"), "BPF034"),
    "arithmetic two fields": (_rule("set title = title + «amount»"), "BPF034"),
    "arithmetic along a chain": (_rule("set amount = amount + 1 + «title»"), "BPF034"),
    "arithmetic in a condition": (_rule("if closed_on * «2» > 1 {\n        hide title\n    }"), "BPF034"),
    # a comparison with null: the null
    "comparison with null": (_rule("if amount = «null» {\n        hide title\n    }"), "BPF095"),
    "null on the left": (_rule("if «null» != amount {\n        hide title\n    }"), "BPF095"),
}


def _marked(source: str) -> tuple[str, int, int, int]:
    """The source without its marks, and the marked token's line, column and end column (1-based)."""
    start = source.index("«")
    end = source.index("»") - 1
    text = source.replace("«", "").replace("»", "")
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return text, line, column, column + (end - start)


@pytest.mark.parametrize(("source", "code"), list(CASES.values()), ids=list(CASES))
def test_the_caret_is_under_the_token_at_fault(source: str, code: str) -> None:
    text, line, column, end_column = _marked(source)
    report = check_text(text, "carets.bpf")
    found = [d for d in report.diagnostics if d.code == code]
    shown = report.render() or "(no diagnostics)"
    assert len(found) == 1, f"expected one {code}:\n{shown}"
    d = found[0]
    assert (d.span.line, d.span.column) == (line, column), shown
    assert (d.span.end_line, d.span.end_column) == (line, end_column), shown


def test_the_cases_cover_the_issues_examples() -> None:
    sources = [source for source, _ in CASES.values()]
    assert any('set «notes» = "big"' in s for s in sources)
    assert any("flag: bool default «3»" in s for s in sources)
    assert any('if amount > «"ten"»' in s for s in sources)


# ---- the command line's summary --------------------------------------------------------------


def test_the_summary_line_starts_a_line(tmp_path: Path) -> None:
    # Enough diagnostics to overflow stdout's buffer, and both streams into one pipe, without
    # PYTHONUNBUFFERED: as in a terminal, a CI log or `bpf check ... 2>&1 | less`.
    many = "\n".join(f'    set notes_{i} = "big"' for i in range(300))
    (tmp_path / "a.bpf").write_text(ENTITIES + "\nrule r on deal {\n" + many + "\n}\n", encoding="utf-8")
    (tmp_path / "b.bpf").write_text('rule r2 on deal {\n    if amount > "ten" {\n        hide title\n    }\n}\n',
                                    encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["BPF_CACHE_DIR"] = str(tmp_path / "cache")
    result = subprocess.run(
        [sys.executable, "-m", "bpf_dsl.cli", "check", "a.bpf", "b.bpf"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    assert lines[-1] == "failed: 2 files checked, 301 errors, 0 warnings", lines[-3:]
    assert [line for line in lines if "failed:" in line] == [lines[-1]]
    assert lines[-2] == '    hint: compare values of the same kind: numbers with numbers, dates with dates, a choice ' \
                        'with its options'
