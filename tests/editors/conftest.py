"""The editor files: the TextMate grammars and the VS Code extension, checked with Node's real tools when
Node is there (the tests that need it skip, saying why, when it isn't)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.paths import REPO

EXTENSION = REPO / "editors" / "vscode"
GRAMMARS = REPO / "grammar"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The extension's npm packages (vscode-textmate, vscode-oniguruma, @vscode/vsce...), installed if missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: the TextMate engine and vsce run on Node")
    modules = EXTENSION / "node_modules"
    wanted = ("vscode-textmate", "vscode-oniguruma", "@vscode/vsce", "vscode-languageclient")
    if not all((modules / name).is_dir() for name in wanted):
        try:
            done = subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=EXTENSION, capture_output=True,
                                  text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            pytest.skip(f"`npm install` in editors/vscode could not run ({err}): the npm registry is needed once")
        if done.returncode != 0:
            pytest.skip("`npm install` in editors/vscode failed (is the npm registry reachable?): "
                        + (done.stderr.strip().splitlines() or ["no output"])[-1])
    return modules
