"""While serving, the program is frozen out of the collector's walks and young collections are rarer."""

from __future__ import annotations

import gc
from pathlib import Path

from bpf_server.state import GC_YOUNG

from tests.server.helpers import live_server


def test_serving_freezes_what_was_built_and_raises_the_young_threshold(tmp_path: Path) -> None:
    gc.set_threshold(700, 10, 10)  # the interpreter's defaults, whatever an earlier test left
    with live_server(f"sqlite:///{tmp_path / 'gc.db'}") as live:
        assert live.client(live.token("u", "admin")).gql("{ me { user } }")["me"]["user"] == "u"
        assert gc.get_threshold() == (GC_YOUNG, 10, 10)
        assert gc.get_freeze_count() > 10_000  # the program, its definitions, the schema
