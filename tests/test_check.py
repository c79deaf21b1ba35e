"""bpf_dsl.check: library calls write nothing; the check cache is opt-in (the CLI opts in), lives
where the platform keeps caches, and a hit returns the same report as a miss."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bpf_dsl.check import CheckCache, check_paths, load
from tests.paths import EXAMPLES

BROKEN = 'entity lead {\n    topic: text required\n}\nprocess p on lead {\n    stage s { step topc }\n}\n'


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home and cache folder of our own, with no cache setting of bpf's in the environment."""
    monkeypatch.delenv("BPF_CACHE_DIR", raising=False)
    monkeypatch.delenv("BPF_NO_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / ".cache"))
    return tmp_path / "home"


def test_library_calls_write_no_cache(home: Path) -> None:
    report = check_paths([str(p) for p in sorted(EXAMPLES.glob("*.bpf"))])
    assert report.ok and report.program is not None and not report.cached
    load([str(sorted(EXAMPLES.glob("*.bpf"))[0])])
    assert _files(home) == []


def test_the_default_cache_folder_is_the_platforms(home: Path) -> None:
    cache = CheckCache.default()
    assert cache is not None and cache.folder == home / ".cache" / "bpf"


def test_the_cache_can_be_moved_or_turned_off(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BPF_CACHE_DIR", str(home / "elsewhere"))
    cache = CheckCache.default()
    assert cache is not None and cache.folder == home / "elsewhere"
    monkeypatch.setenv("BPF_NO_CACHE", "1")
    assert CheckCache.default() is None


@pytest.mark.parametrize("text", [None, BROKEN], ids=["clean", "with-errors"])
def test_a_cache_hit_returns_the_same_report_as_a_miss(tmp_path: Path, text: str | None) -> None:
    if text is None:
        paths = [str(p) for p in sorted(EXAMPLES.glob("*.bpf"))]
    else:
        (tmp_path / "broken.bpf").write_text(text, encoding="utf-8")
        paths = [str(tmp_path / "broken.bpf")]
    cache = CheckCache(tmp_path / "cache")
    miss = check_paths(paths, cache=cache)
    hit = check_paths(paths, cache=cache)
    assert not miss.cached and hit.cached
    assert hit.diagnostics == miss.diagnostics and hit.sources == miss.sources
    assert hit.render() == miss.render() and hit.ok == miss.ok
    if miss.program is None:
        assert hit.program is None
    else:
        assert hit.program is not None
        assert hit.program.sources == miss.program.sources
        assert {n: p.version for n, p in hit.program.processes.items()} == \
               {n: p.version for n, p in miss.program.processes.items()}
        assert sorted(hit.program.entities) == sorted(miss.program.entities)


def test_bpf_check_keeps_its_cache_in_the_platforms_folder(home: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("BPF_CACHE_DIR", "BPF_NO_CACHE")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    example = str(sorted(EXAMPLES.glob("*.bpf"))[0])
    done = subprocess.run([sys.executable, "-m", "bpf_dsl.cli", "check", example], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [p.suffix for p in _files(home / ".cache" / "bpf")] == [".json"]
