"""The program the durability tests run: one entity and a 4-stage process without gates."""

from __future__ import annotations

from pathlib import Path

STAGES = ("a", "b", "c", "d")
PROCESS = "hammer"
ENTITY = "item"

PROGRAM = f"""\
entity {ENTITY} "Item" {{
    name: text
}}

process {PROCESS} "Hammer" on {ENTITY} {{
""" + "".join(f'    stage {s} "{s.upper()}" {{\n    }}\n' for s in STAGES) + "}\n"


def write_program(folder: Path) -> Path:
    """The program as a .bpf file in ``folder``."""
    path = folder / "hammer.bpf"
    path.write_text(PROGRAM, encoding="utf-8")
    return path


def expected_traversed(active_stage: str) -> tuple[str, ...]:
    """The traversed path of an instance of this linear process standing on ``active_stage``.

    With no branches, ``move_next`` appends the next stage and ``move_previous`` pops the
    last one, so the traversed path is always the prefix of STAGES that ends at the active stage.
    """
    return STAGES[:STAGES.index(active_stage) + 1]
