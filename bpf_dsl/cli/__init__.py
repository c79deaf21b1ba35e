"""The ``bpf`` command: :mod:`.main` (the parser, the table of every command, check, fmt, graph),
:mod:`.data` (migrate, instances, import, export), :mod:`.packs` (plugins, init). The server adds
serve and token through the ``bpf.commands`` entry-point group, so nothing here imports the web
stack; a group is imported only when one of its commands is named (``bpf --help`` lists them all
from ``main.COMMANDS``).
"""

from bpf_dsl.cli.main import main

__all__ = ["main"]
