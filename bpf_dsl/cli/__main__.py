"""``python -m bpf_dsl.cli``: the ``bpf`` command."""

import sys

from bpf_dsl.cli.main import main

sys.exit(main())
