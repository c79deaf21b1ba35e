"""Dead and self-contradicting `if` arms (BPF097, BPF098): conditions read as sets of values.

Each case is a chain of arms over a small loan model; the test names the arms that must
be reported (by the line of their condition) and checks that no other arm is.
"""

from __future__ import annotations

import pytest

from bpf_dsl.check import check_text

MODEL = """entity loan {
    product: choice(mortgage, auto, personal)
    score: integer
    urgent: bool
    amount: money
    note: text
}
process p on loan {
    stage a {
        step product
        step score
        step urgent
        step amount
        step note
    }
"""


def _report(*arms: str) -> dict[int, str]:
    """Check a chain of ``arms`` (conditions, the last may be ``else``); {arm number (0-based): code}."""
    lines = [MODEL]
    first_line = MODEL.count("\n") + 1
    for i, cond in enumerate(arms):
        head = "    if" if i == 0 else "    } else if"
        lines.append(f"{head} {cond} {{\n        stage s{i} {{\n        }}\n")
    lines.append("    }\n    stage z {\n    }\n}\n")
    report = check_text("".join(lines), "arms.bpf")
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    found: dict[int, str] = {}
    for d in report.diagnostics:
        if d.code in ("BPF097", "BPF098"):
            found[(d.span.line - first_line) // 3] = d.code
    return found


@pytest.mark.parametrize(("arms", "expected"), [
    # A choice tested twice; a choice covered by a list.
    (["product = mortgage", "product = auto", "product = mortgage"], {2: "BPF097"}),
    (["product in [mortgage, auto]", "product = auto"], {1: "BPF097"}),
    (["product = mortgage", "product != mortgage", "product is not empty"], {2: "BPF097"}),
    # `!=` never holds for an empty value: the empty product still reaches the last arm.
    (["product != auto", "product = auto", "product is empty"], {}),
    (["not (product = auto)", "product is empty"], {1: "BPF097"}),
    # Numeric ranges, alone and together.
    (["score < 700", "score < 600"], {1: "BPF097"}),
    (["score < 600", "score < 700"], {}),
    (["score < 5", "score >= 5", "score = 7"], {2: "BPF097"}),
    (["score < 5", "score > 5", "score = 5"], {}),
    (["score < 580 and score > 700"], {0: "BPF098"}),
    (["score >= 10 and score <= 10"], {}),
    (["-3 > score", "score < -4"], {1: "BPF097"}),
    # Booleans: `not urgent` holds for an empty value too.
    (["urgent", "not urgent", "urgent = false"], {2: "BPF097"}),
    (["urgent = true", "urgent = false", "urgent is empty"], {}),
    (["urgent and not urgent"], {0: "BPF098"}),
    (["product = auto and product = mortgage"], {0: "BPF098"}),
    # Several fields: a box within an earlier box.
    (["product in [auto, personal] and amount > 1000", "product = auto and amount > 5000"], {1: "BPF097"}),
    (["product = auto and amount > 1000", "product = auto"], {}),
    (["product = auto or product = personal", "product = personal and score > 3"], {1: "BPF097"}),
    # What isn't read (text, functions) never makes an arm look covered or impossible.
    (["note = \"x\"", "note = \"x\""], {}),
    (["product = auto and note = \"x\"", "product = auto"], {}),
    (["product = auto", "product = auto and note = \"x\""], {1: "BPF097"}),
    (["len(note) > 3 and score < 1 and score > 2"], {0: "BPF098"}),
], ids=lambda x: " | ".join(x) if isinstance(x, list) else str(x))
def test_dead_and_contradicting_arms(arms: list[str], expected: dict[int, str]) -> None:
    assert _report(*arms) == expected


def test_the_warning_names_the_arms_that_cover_it() -> None:
    text = MODEL + """    if score <= 5 {
        stage low {
        }
    } else if score >= 5 {
        stage high {
        }
    } else if score > 3 and score < 8 {
        stage never {
        }
    }
}
"""
    report = check_text(text, "arms.bpf")
    (warning,) = [d for d in report.diagnostics if d.code == "BPF097"]
    first = MODEL.count("\n") + 1
    assert f"the arms at lines {first}, {first + 3}" in warning.message
    assert warning.span.line == first + 6
