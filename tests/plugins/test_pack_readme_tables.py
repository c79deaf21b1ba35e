"""Every pack's README has, per process, a table whose pack columns list the process's stages and steps
exactly as the pack's .bpf declares them (labels, names, order, required and action marks).

The packs are found as pip finds them: the ``bpf.plugins`` entry points of ``plugins/*/pyproject.toml``.
Each pack's module (``bpf_NAME/NAME.bpf``) is parsed to learn which processes it declares; their stages
and steps, with the labels they take from their fields, come from the compiled program.

The table format (written at the top of each README's table section):

- a heading (any level) whose text is the process's label, then, before the next heading, a table with
  the columns ``Pack's stage`` and ``Pack's steps`` (beside Microsoft's and a deviation column);
- one row per stage of the pack, in the order the .bpf declares them; a row whose pack's stage is ``—``
  is one of Microsoft's stages the pack doesn't have, and is skipped;
- ``Pack's stage``: the stage's label, then its name in backticks, then anything (its entity, its
  condition): ``Develop `develop` (opportunity)``;
- ``Pack's steps``: the steps' labels separated by ``<br>``; an action step in bold (``**Publish**``);
  a step the .bpf marks ``required`` followed by `` (required)``.
"""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

import bpf_dsl
from bpf_dsl import nodes as n
from bpf_dsl.definition import ProcessDefinition
from bpf_dsl.parser import parse
from bpf_dsl.plugins import ENTRY_POINT_GROUP, Registry

from .helpers import PACKS, PLUGINS

REQUIRED = " (required)"
NONE = "—"


@dataclass(frozen=True)
class Step:
    """One step as a table lists it, or as the .bpf declares it."""

    label: str
    required: bool
    action: bool

    def __str__(self) -> str:
        text = f"**{self.label}**" if self.action else self.label
        return text + (REQUIRED if self.required else "")


@dataclass(frozen=True)
class Stage:
    """One stage: its label, its name and its steps in order."""

    label: str
    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Table:
    """A README table: the heading it stands under and the pack's stages it lists."""

    heading: str
    stages: tuple[Stage, ...]


# -- the packs ------------------------------------------------------------------------------------------

def discover_packs() -> dict[str, Path]:
    """Pack name -> its folder under plugins/, for every ``bpf.plugins`` entry point a pyproject declares."""
    found: dict[str, Path] = {}
    for pyproject in sorted(PLUGINS.glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        for name in project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {}):
            found[name] = pyproject.parent
    return found


PACK_FOLDERS = discover_packs()


def pack_object(name: str) -> object:
    """The object the pack's entry point names (``bpf_sales:PACK``), imported from its folder."""
    folder = PACK_FOLDERS[name]
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    pyproject = tomllib.loads((folder / "pyproject.toml").read_text())
    module, _, attribute = pyproject["project"]["entry-points"][ENTRY_POINT_GROUP][name].partition(":")
    return getattr(importlib.import_module(module), attribute)


_registry: list[Registry] = []


def all_processes() -> dict[str, ProcessDefinition]:
    """The compiled processes of a program importing every pack (compiled once)."""
    if not _registry:
        _registry.append(Registry([(p, "test", pack_object(p)) for p in PACK_FOLDERS], entry_points=False))
    source = "".join(f"import {p}\n" for p in PACK_FOLDERS)
    return dict(bpf_dsl.load_source(source, "<readme-tables>", _registry[0]).processes)


def declared_processes(name: str) -> list[str]:
    """The names of the processes the pack's own module declares, in its order."""
    path = Path(pack_object(name).module_path)  # type: ignore[attr-defined]
    module = parse(path.read_text(), str(path))
    return [d.name for d in module.declarations if isinstance(d, n.Process)]


def from_definition(process: ProcessDefinition) -> tuple[Stage, ...]:
    """The process's stages and steps as the table should list them."""
    return tuple(Stage(s.label, s.name, tuple(Step(st.label, st.required, st.kind == "action") for st in s.steps))
                 for s in process.stages)


# -- the README -----------------------------------------------------------------------------------------

HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
STAGE_CELL = re.compile(r"^(?P<label>[^`]+?)\s*`(?P<name>[^`]+)`")


def cells(line: str) -> list[str]:
    """A markdown table row's cells, stripped (labels never hold a ``|``)."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_step(text: str) -> Step:
    """``**Publish** (required)`` -> an action step, required."""
    required = text.endswith(REQUIRED)
    if required:
        text = text[: -len(REQUIRED)].rstrip()
    action = len(text) > 4 and text.startswith("**") and text.endswith("**")
    return Step(text[2:-2] if action else text, required, action)


def parse_row(row: list[str], stage_col: int, steps_col: int, where: str) -> Stage | None:
    """A row's pack's stage, or None for a Microsoft stage the pack doesn't have."""
    stage_cell = row[stage_col] if stage_col < len(row) else ""
    if stage_cell in (NONE, ""):
        return None
    match = STAGE_CELL.match(stage_cell)
    assert match, f"{where}: the pack's stage {stage_cell!r} isn't written `Label `name` ...`"
    steps_cell = row[steps_col] if steps_col < len(row) else ""
    steps = () if steps_cell in (NONE, "") else tuple(parse_step(s.strip()) for s in steps_cell.split("<br>"))
    return Stage(match["label"], match["name"], steps)


def parse_tables(text: str, where: str = "README") -> list[Table]:
    """The tables with a ``Pack's stage`` and a ``Pack's steps`` column, each under its nearest heading."""
    tables: list[Table] = []
    heading = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if m := HEADING.match(line):
            heading = m[1]
        elif line.lstrip().startswith("|") and "Pack's stage" in line and "Pack's steps" in line:
            header = cells(line)
            stage_col, steps_col = header.index("Pack's stage"), header.index("Pack's steps")
            i += 2  # past the header and its |---| line
            stages = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                stage = parse_row(cells(lines[i]), stage_col, steps_col, f"{where}, under {heading!r}")
                if stage is not None:
                    stages.append(stage)
                i += 1
            tables.append(Table(heading, tuple(stages)))
            continue
        i += 1
    return tables


# -- the comparison -------------------------------------------------------------------------------------

def _said(item: str | None) -> str:
    return "nothing" if item is None else repr(item)


def _first_difference(table: list[str], bpf: list[str]) -> str:
    """Where two lists first differ, in words."""
    for index in range(max(len(table), len(bpf))):
        mine = table[index] if index < len(table) else None
        theirs = bpf[index] if index < len(bpf) else None
        if mine != theirs:
            return f"at position {index + 1} the table has {_said(mine)} where the .bpf has {_said(theirs)}"
    return "no difference"


def compare(process: ProcessDefinition, table: tuple[Stage, ...]) -> list[str]:
    """What the table gets wrong about the process: one message per stage or step, naming both."""
    expected = from_definition(process)
    where = f"process {process.label!r} ({process.name})"
    stage_keys = [f"{s.label} `{s.name}`" for s in table]
    expected_keys = [f"{s.label} `{s.name}`" for s in expected]
    if stage_keys != expected_keys:
        return [f"{where}: stages differ: {_first_difference(stage_keys, expected_keys)}\n"
                f"  table: {stage_keys}\n  .bpf:  {expected_keys}"]
    problems = []
    for got, want in zip(table, expected, strict=True):
        got_steps, want_steps = [str(s) for s in got.steps], [str(s) for s in want.steps]
        if got_steps != want_steps:
            problems.append(f"{where}, stage {want.label!r} ({want.name}): steps differ: "
                            f"{_first_difference(got_steps, want_steps)}\n"
                            f"  table: {' <br> '.join(got_steps)}\n  .bpf:  {' <br> '.join(want_steps)}")
    return problems


def readme_problems(pack: str, text: str) -> list[str]:
    """Every difference between ``text`` (the pack's README) and the pack's processes."""
    tables = parse_tables(text, f"{pack}'s README")
    by_heading: dict[str, list[Table]] = {}
    for table in tables:
        by_heading.setdefault(table.heading, []).append(table)
    processes = all_processes()
    problems = []
    declared = declared_processes(pack)
    labels = {processes[p].label for p in declared}
    for name in declared:
        process = processes[name]
        found = by_heading.get(process.label, [])
        if len(found) != 1:
            problems.append(f"process {process.label!r} ({name}): {len(found)} tables under a heading "
                            f"{process.label!r} in the README (want one)")
            continue
        problems += compare(process, found[0].stages)
    problems += [f"a table under {t.heading!r} names no process of the {pack} pack" for t in tables
                 if t.heading not in labels]
    return problems


# -- the tests ------------------------------------------------------------------------------------------

def test_every_repository_pack_is_found() -> None:
    assert set(PACKS) <= set(PACK_FOLDERS), PACK_FOLDERS
    assert {p for p in PACK_FOLDERS if declared_processes(p)} >= {"sales", "service", "marketing"}


@pytest.mark.parametrize("pack", sorted(PACK_FOLDERS))
def test_readme_tables_match_the_processes(pack: str) -> None:
    problems = readme_problems(pack, (PACK_FOLDERS[pack] / "README.md").read_text())
    assert not problems, f"plugins/{PACK_FOLDERS[pack].name}/README.md:\n" + "\n".join(problems)


SAMPLE = """\
### Opportunity Sales Process

| Microsoft's stage | Microsoft's steps | Pack's stage | Pack's steps | Deviation, reason, source |
|---|---|---|---|---|
| Qualify | Identify Contact | Qualify `qualify` | Identify Contact<br>Identify Account (required)<br>\
Purchase Timeframe<br>Estimated Budget<br>Purchase Process<br>Identify Decision Maker<br>Capture Summary | — |
| Develop | Customer Need | Develop `develop` | Customer Need (required)<br>Proposed Solution<br>\
Identify Stakeholders<br>Identify Competitors | — |
| Propose | | Propose `propose` | Identify Sales Team<br>Develop Proposal (required)<br>Complete Internal Review<br>\
Present Proposal<br>Discount (%)<br>**Notify manager** | |
| Close | | Close `close` | Complete Final Proposal<br>Present Final Proposal<br>Confirm Decision Date (required)<br>\
Send Thank You<br>File De-brief<br>Status<br>**Close as won**<br>**Close as lost** | |
| Lost | | — | — | Microsoft's only |
"""


def _opportunity_sales() -> ProcessDefinition:
    return all_processes()["opportunity_sales"]


def _sample_stages(text: str) -> tuple[Stage, ...]:
    [table] = parse_tables(text)
    assert table.heading == "Opportunity Sales Process"
    return table.stages


def test_the_sample_table_matches() -> None:
    """The comparison passes on a right table (so the failures below are the mutations')."""
    assert compare(_opportunity_sales(), _sample_stages(SAMPLE)) == []


@pytest.mark.parametrize(("old", "new", "message"), [
    ("Estimated Budget<br>", "Est. Budget<br>",
     "stage 'Qualify' (qualify): steps differ: at position 4 the table has 'Est. Budget' where the .bpf has "
     "'Estimated Budget'"),
    ("Proposed Solution<br>Identify Stakeholders", "Identify Stakeholders<br>Proposed Solution",
     "stage 'Develop' (develop): steps differ: at position 2 the table has 'Identify Stakeholders' where the .bpf "
     "has 'Proposed Solution'"),
    ("<br>**Close as lost**", "",
     "stage 'Close' (close): steps differ: at position 8 the table has nothing where the .bpf has '**Close as lost**'"),
    ("Customer Need (required)", "Customer Need",
     "stage 'Develop' (develop): steps differ: at position 1 the table has 'Customer Need' where the .bpf has "
     "'Customer Need (required)'"),
    ("**Notify manager**", "Notify manager",
     "stage 'Propose' (propose): steps differ: at position 6 the table has 'Notify manager' where the .bpf has "
     "'**Notify manager**'"),
    ("| Propose `propose` |", "| Proposal `propose` |",
     "stages differ: at position 3 the table has 'Proposal `propose`' where the .bpf has 'Propose `propose`'"),
])
def test_a_changed_label_fails_naming_process_stage_and_label(old: str, new: str, message: str) -> None:
    mutated = SAMPLE.replace(old, new, 1)
    assert mutated != SAMPLE
    problems = compare(_opportunity_sales(), _sample_stages(mutated))
    assert len(problems) == 1, problems
    assert problems[0].startswith("process 'Opportunity Sales Process' (opportunity_sales)"), problems[0]
    assert message in problems[0], problems[0]


def test_a_missing_or_misnamed_table_is_reported() -> None:
    """A process without a table under its label, and a table under no process's label, are both named;
    a pack's stage written without its name is refused."""
    readme = (PACK_FOLDERS["sales"] / "README.md").read_text()
    assert readme_problems("sales", readme) == []
    renamed = readme.replace("### Opportunity Sales Process", "### Opportunity Process", 1)
    assert renamed != readme
    assert readme_problems("sales", renamed) == [
        "process 'Opportunity Sales Process' (opportunity_sales): 0 tables under a heading "
        "'Opportunity Sales Process' in the README (want one)",
        "a table under 'Opportunity Process' names no process of the sales pack"]
    with pytest.raises(AssertionError, match="isn't written"):
        parse_tables(SAMPLE.replace("Develop `develop`", "Develop"))
