"""``bpf plugins`` and ``bpf init`` as real subprocesses, with packs "installed" through a site folder.

A ``*.dist-info`` with ``entry_points.txt`` on ``PYTHONPATH`` is what pip leaves
behind, without pip: the real packs (their folders on the path), and broken ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import PACKS, PLUGINS, subprocess_env, write_dist

BPF = [sys.executable, "-m", "bpf_dsl.cli"]


def run(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BPF, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four real packs and three broken ones, as pip would leave them installed."""
    site = tmp_path_factory.mktemp("site")
    for pack in PACKS:
        write_dist(site, f"bpf-{pack}", "0.1.0", {pack: f"bpf_{pack}:PACK"})
    # Fails to import.
    (site / "bpf_broken_import.py").write_text("import does_not_exist_anywhere\n")
    write_dist(site, "bpf-broken-import", "0.3.0", {"broken_import": "bpf_broken_import"})
    # Imports, but its .bpf module has an error on line 3; its template and action must not be offered.
    package = site / "bpf_broken_bpf"
    package.mkdir()
    (package / "broken.bpf").write_text("role r\nentity e {\n    x: txt\n}\n")
    (package / "__init__.py").write_text(
        "from pathlib import Path\n"
        "from bpf_dsl.plugins import ActionSpec, ModuleSpec, TemplateSpec, hookimpl\n"
        "@hookimpl\n"
        "def bpf_modules():\n"
        "    return [ModuleSpec('broken_bpf', Path(__file__).parent / 'broken.bpf')]\n"
        "@hookimpl\n"
        "def bpf_actions():\n"
        "    return [ActionSpec('broken', 'go', ())]\n"
        "@hookimpl\n"
        "def bpf_templates():\n"
        "    return [TemplateSpec('broken', 'a broken template', {'project.bpf': 'import broken_bpf\\n'})]\n")
    write_dist(site, "bpf-broken-bpf", "0.4.0", {"broken_bpf": "bpf_broken_bpf"})
    # Its hook raises.
    (site / "bpf_broken_hook.py").write_text(
        "from bpf_dsl.plugins import hookimpl\n"
        "@hookimpl\n"
        "def bpf_actions():\n"
        "    raise RuntimeError('the licence server is down')\n")
    write_dist(site, "bpf-broken-hook", "0.5.0", {"broken_hook": "bpf_broken_hook"})
    return site


@pytest.fixture(scope="module")
def env(site: Path) -> dict[str, str]:
    return subprocess_env(site, *(PLUGINS / p for p in PACKS))


def test_plugins_lists_packs_and_reports_broken_ones(env: dict[str, str]) -> None:
    result = run(env, "plugins")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "sales 0.1.0\n  templates: sales\n  modules: sales\n" in out
    assert ("  actions: sales.qualify_lead, sales.disqualify_lead, sales.reopen_lead, sales.close_opportunity, "
            "sales.require_closed\n  functions: sales.lead_score\n  samples: 38 records\n") in out
    assert "crm 0.1.0\n  templates: crm\n  modules: crm\n  samples: 48 records\n" in out
    assert "service 0.1.0\n  templates: service\n" in out and "marketing 0.1.0\n  templates: marketing\n" in out
    lines = out.splitlines()
    assert "broken_import FAILED: import failed: ModuleNotFoundError: No module named 'does_not_exist_anywhere'" \
        in lines
    assert ("broken_bpf FAILED: the module broken_bpf doesn't check: <broken_bpf>/broken.bpf:3:8: BPF030: unknown "
            "field type `txt`") in lines
    assert "broken_hook FAILED: RuntimeError: the licence server is down" in lines
    assert "broken" not in out.split("FAILED")[0].replace("broken_import", "")  # nothing of theirs is offered
    assert "Traceback" not in out + result.stderr


def test_plugins_json(env: dict[str, str]) -> None:
    result = run(env, "plugins", "--format", "json")
    data = json.loads(result.stdout)
    packs = {p["name"]: p for p in data["packs"]}
    assert set(packs) == {"bpf", *PACKS}
    assert packs["marketing"]["actions"] == ["marketing.launch_campaign", "marketing.hand_off"]
    assert packs["service"]["categories"] == ["schedule", "deliver"]
    assert {f["name"] for f in data["failures"]} == {"broken_import", "broken_bpf", "broken_hook"}


@pytest.mark.parametrize("pack", PACKS)
def test_init_from_each_template_checks(env: dict[str, str], tmp_path: Path, pack: str) -> None:
    target = tmp_path / "proj"
    result = run(env, "init", str(target), "--template", pack)
    assert result.returncode == 0, result.stderr
    assert f"created {target} from the {pack} template (2 files)" in result.stdout
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "project.bpf"]
    project = (target / "project.bpf").read_text()
    assert f"import {pack}" in project and "extend entity" in project
    check = run(env, "check", str(target))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 errors, 0 warnings" in check.stderr


def test_init_into_an_empty_existing_folder(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "init", str(tmp_path), "--template", "sales").returncode == 0
    assert (tmp_path / "project.bpf").is_file()


@pytest.mark.parametrize("args", [
    ("init", "{dir}", "--template", "sales"),  # not empty
    ("init", "{file}", "--template", "sales"),  # a file
    ("init", "{new}", "--template", "nope"),  # no such template
    ("init", "{new}", "--template", "broken"),  # its pack's module doesn't check: not offered
    ("init", "{new}"),  # --template is required
])
def test_init_refusals_are_one_line_exit_2(env: dict[str, str], tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    (tmp_path / "file").write_text("x")
    names = {"dir": tmp_path / "full", "file": tmp_path / "file", "new": tmp_path / "new"}
    result = run(env, *(a.format(**names) for a in args))
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("bpf: error:")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine" and sorted(p.name for p in (tmp_path / "full")
                                                                         .iterdir()) == ["keep.txt"]
    assert not (tmp_path / "new").exists()
    if "nope" in args:
        assert "templates: crm, marketing, sales, service" in result.stderr
    if "{dir}" in args:
        assert "is not empty" in result.stderr


def test_a_project_importing_a_missing_pack_is_a_check_error(tmp_path: Path) -> None:
    env = subprocess_env()  # no pack supplying `tickets` is installed (the dev venv may hold the shipped ones)
    (tmp_path / "p.bpf").write_text("import tickets\n")
    result = run(env, "check", str(tmp_path))
    assert result.returncode == 1
    assert "BPF011" in result.stdout and "no installed plugin pack supplies the module `tickets`" in result.stdout
    listing = run(env, "plugins")
    assert listing.returncode == 0 and listing.stdout.startswith("bpf builtin\n") and "tickets" not in listing.stdout

