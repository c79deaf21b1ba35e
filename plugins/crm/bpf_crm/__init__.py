"""bpf's crm pack: the accounts, contacts and leads the other packs share, and D365's security roles.

Registered under the ``bpf.plugins`` entry point as ``crm`` (the object :data:`PACK`):
``import crm`` in a .bpf file loads ``crm.bpf``. The sales, service and marketing
modules import it themselves, so a project that imports any of them, or all three,
has one customer model. ``bpf init DIR --template crm`` starts a project on it;
``bpf serve --demo`` loads :mod:`.samples` (the companies and people the other packs'
samples refer to as ``"@crm.KEY"``). It has no actions or functions.
"""

from __future__ import annotations

from bpf_dsl.plugins import FolderPack

__version__ = "0.1.0"

PACK = FolderPack(__name__, "crm", template="a project on the shared accounts, contacts and leads")
