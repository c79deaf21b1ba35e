"""The ``bpf`` command: :mod:`.main` (the parser, check, fmt, graph), :mod:`.data` (migrate,
instances, import, export), :mod:`.packs` (plugins, init). The server adds serve and token
through the ``bpf.commands`` entry-point group, so nothing here imports the web stack.
"""

from bpf_dsl.cli.main import main

__all__ = ["main"]
