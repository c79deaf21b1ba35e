"""Small helpers with no better home: the version, and pausing the garbage collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

VERSION = "0.1.0"  # pyproject.toml's version; a test keeps the two the same
__version__ = VERSION  # the name the facade re-exports (bpf_dsl.__version__)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block (reference counting still frees memory).

    Parsing and compiling a large file allocate hundreds of thousands of small objects
    that all survive; the collector would scan them again and again for cycles there
    are none of. Nested use is safe: only the outermost block re-enables it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
