"""What a delete would break: the records whose ``required`` lookup points at the record to delete.

Deleting a record empties the lookups that pointed at it (D365's "remove link",
``Service._unlink``). A lookup that is ``required`` can't be empty: the records
holding it could no longer be saved until someone chose another target. So such
a delete is refused, naming the entity, the field and how many records point
there, and nothing is changed; the user repoints or deletes those records first.
"""

from __future__ import annotations

from bpf_dsl.definition import Program
from bpf_dsl.service.results import ValidationFailure
from bpf_dsl.storage import RecordRow, Tx

#: How many of the referring records' ids the message names.
NAMED = 3


def required_referrers(program: Program, tx: Tx, deleted: RecordRow) -> ValidationFailure | None:
    """A refusal naming the records whose required lookup points at ``deleted``; None when there are none."""
    for entity in program.entities.values():
        for spec in entity.field_list():
            if spec.type.kind != "lookup" or spec.type.entity != deleted.entity or not spec.required:
                continue
            # The record itself may be among them (a required lookup of an entity onto itself): it goes too.
            ids = [rid for rid in tx.related(entity.name, spec.name, deleted.id) if rid != deleted.id]
            if not ids:
                continue
            named = ", ".join(ids[:NAMED]) + (f" and {len(ids) - NAMED} more" if len(ids) > NAMED else "")
            records = "record" if len(ids) == 1 else "records"
            return ValidationFailure(
                f"the record can't be deleted: {len(ids)} {entity.label} {records} ({named}) need it in their "
                f"required field {spec.label} ({entity.name}.{spec.name}); point them at another record or "
                "delete them first",
                current_version=deleted.version)
    return None
