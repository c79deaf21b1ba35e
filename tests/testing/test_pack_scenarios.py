"""The installed packs' scenarios (bpf_sales/scenarios/, bpf_service/scenarios/, bpf_marketing/scenarios/) pass on
the pure engine with the packs' own actions, and every process of each pack has a scenario that starts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpf_dsl.plugins import default_registry
from bpf_dsl.testing.coverage import Coverage
from bpf_dsl.testing.report import discover
from bpf_dsl.testing.runner import PASSED, run_file

PACKS = ("sales", "service", "marketing")


def _scenarios(pack: str) -> list[str]:
    registry = default_registry()
    if pack not in registry.modules:
        pytest.skip(f"the {pack} pack is not installed (pip install -e ./plugins/{pack})")
    folder = Path(registry.modules[pack].path).parent / "scenarios"
    found = discover([str(folder)]) if folder.is_dir() else []
    assert found, f"the {pack} pack ships no scenarios in {folder}"
    return found


@pytest.mark.parametrize("pack", PACKS)
def test_the_packs_scenarios_pass(pack: str) -> None:
    registry = default_registry()
    coverage = Coverage()
    results = [r for path in _scenarios(pack) for r in run_file(path, registry, coverage)]
    failed = [f"{r.file}:{r.at.line if r.at else r.span.line}: {r.name}: {r.message}" for r in results
              if r.outcome != PASSED]
    assert not failed, "\n".join(failed)
    # Every process of the pack is started by some scenario (its first stage reached).
    first_stages = {}
    for spot in sorted(coverage.spots.values(), key=lambda s: (s.span.file, s.span.line)):
        if spot.kind == "stage":
            first_stages.setdefault(spot.process, Coverage.key(spot))
    unstarted = sorted(p for p, key in first_stages.items() if key not in coverage.reached)
    assert not unstarted, f"processes of the {pack} pack no scenario starts: {unstarted}"
