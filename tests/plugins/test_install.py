"""End to end with real pip: install the packs into a fresh venv, list them, init and check, uninstall.

The fresh venv gets bpf itself with ``pip install --no-deps --no-build-isolation
--no-index REPO`` and bpf's runtime dependencies (and hatchling, to build) from
this test run's own environment: a folder of links to its installed packages,
put on the new venv's path by a ``.pth`` file. Links to bpf and to any installed
plugin pack are left out, so the new venv starts without packs. No network is
used (``--no-index``); pip is this environment's, aimed at the new venv with
``--python``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .helpers import PACKS, PLUGINS, REPO

SKIP = {"__pycache__", "bpf_dsl", "bpf_server", "bpf_crm", "bpf_sales", "bpf_service", "bpf_marketing"}


def _pip_version() -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in importlib.metadata.version("pip").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return (0,)


def link_dependencies(target: Path) -> None:
    """Links to every package of this environment except bpf, plugin packs and path hooks."""
    site = Path(sysconfig.get_paths()["purelib"])
    leave_out = set(SKIP)
    for dist in importlib.metadata.distributions(path=[str(site)]):
        name = (dist.metadata["Name"] or "").lower()
        if name == "bpf" or name.startswith("bpf-") or dist.entry_points.select(group="bpf.plugins"):
            leave_out.update(Path(str(f)).parts[0] for f in dist.files or () if not str(f).startswith(".."))
    target.mkdir()
    for entry in site.iterdir():
        if entry.name in leave_out or entry.suffix == ".pth" or entry.name.startswith("__editable__"):
            continue
        (target / entry.name).symlink_to(entry)


class Venv:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.python = root / "bin" / "python"
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        self.env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PIP_CONFIG_FILE=os.devnull,
                        PYTHONNOUSERSITE="1")

    def pip(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "pip", "--python", str(self.python), *args],
                                capture_output=True, text=True, env=self.env, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def bpf(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.root / "bin" / "bpf"), *args], capture_output=True, text=True,
                              env=self.env, cwd=cwd, timeout=120)

    def packs(self) -> dict[str, dict[str, object]]:
        result = self.bpf("plugins", "--format", "json")
        assert result.returncode == 0, result.stderr
        return {p["name"]: p for p in json.loads(result.stdout)["packs"]}


@pytest.mark.skipif(_pip_version() < (22, 3), reason="needs pip 22.3 or newer (pip --python)")
def test_pip_install_list_init_check_uninstall(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True, timeout=120)
    venv = Venv(tmp_path / "venv")
    purelib = subprocess.run([str(venv.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    link_dependencies(tmp_path / "deps")
    (Path(purelib) / "_bpf_test_deps.pth").write_text(f"{tmp_path / 'deps'}\n")

    venv.pip("install", "-q", "--no-deps", "--no-build-isolation", "--no-index", str(REPO))
    assert set(venv.packs()) == {"bpf"}  # a fresh bpf has only its built-ins
    refused = venv.bpf("init", str(tmp_path / "early"), "--template", "sales")
    assert refused.returncode == 2 and "no template named 'sales'" in refused.stderr

    # pip install ./plugins/sales (and the other packs): built as wheels, their dependencies on bpf and on
    # bpf-crm (./plugins/crm, in the same command) satisfied.
    venv.pip("install", "-q", "--no-build-isolation", "--no-index", *(str(PLUGINS / p) for p in PACKS))
    where = subprocess.run([str(venv.python), "-c", "import bpf_sales; print(bpf_sales.__file__)"],
                           capture_output=True, text=True, env=venv.env, check=True).stdout
    assert where.startswith(purelib)  # the installed copy, not the repository's folder
    packs = venv.packs()
    assert set(packs) == {"bpf", *PACKS}
    for pack in PACKS:
        assert packs[pack]["version"] == "0.1.0" and packs[pack]["templates"] == [pack]
        assert packs[pack]["modules"] == [pack] and (packs[pack]["actions"] or pack == "crm")  # crm: records only
        project = tmp_path / f"my-{pack}"
        made = venv.bpf("init", str(project), "--template", pack)
        assert made.returncode == 0, made.stderr
        checked = venv.bpf("check", str(project))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "0 errors" in checked.stderr

    # pip uninstall: the pack and its template are gone; the others stay.
    venv.pip("uninstall", "-y", "-q", "bpf-sales")
    packs = venv.packs()
    assert set(packs) == {"bpf", "crm", "service", "marketing"}  # crm stays: the others need it
    gone = venv.bpf("init", str(tmp_path / "late"), "--template", "sales")
    assert gone.returncode == 2 and "no template named 'sales'" in gone.stderr and not (tmp_path / "late").exists()
    stale = venv.bpf("check", str(tmp_path / "my-sales"))
    assert stale.returncode == 1 and "BPF011" in stale.stdout  # the project's `import sales` no longer resolves
    assert venv.bpf("check", str(tmp_path / "my-marketing")).returncode == 0
