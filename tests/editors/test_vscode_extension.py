"""The VS Code extension packaged with `npx @vscode/vsce package`, as a user would build it: the .vsix holds the
manifest, the client, the language configuration, vscode-languageclient, and the grammars as grammar/ has them."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.editors.conftest import EXTENSION, GRAMMARS


def test_the_extension_packages_into_a_vsix(node_modules: Path, tmp_path: Path) -> None:
    if shutil.which("npx") is None:
        pytest.skip("npx is not installed (it comes with npm): `npx @vscode/vsce package` can't run")
    vsix = tmp_path / "bpf.vsix"
    # No LICENSE file of its own and no repository URL: said explicitly, so vsce never stops to ask.
    done = subprocess.run(["npx", "--no-install", "@vscode/vsce", "package", "--skip-license",
                           "--allow-missing-repository", "--out", str(vsix)], cwd=EXTENSION, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(vsix) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("extension/package.json"))
        for grammar in ("bpf.tmLanguage.json", "bpft.tmLanguage.json"):
            shipped = archive.read(f"extension/syntaxes/{grammar}").decode("utf-8")
            assert shipped == (GRAMMARS / grammar).read_text(encoding="utf-8"), grammar
        client = archive.read("extension/extension.js").decode("utf-8")
    assert {"extension/language-configuration.json", "extension/readme.md"} <= names
    assert any(n.startswith("extension/node_modules/vscode-languageclient/") for n in names)
    assert not any(n.startswith(("extension/node_modules/vscode-textmate/", "extension/scripts/")) for n in names)
    assert manifest["main"] == "./extension.js" and "onLanguage:bpf" in manifest["activationEvents"]
    assert 'require("vscode-languageclient/node")' in client and '"lsp"' in client
