"""Numbered schema migrations, written once for both dialects.

``{json}`` and ``{serial}`` are filled per dialect. A migration is applied in
the same transaction that records it in ``schema_migrations``, so a crash
never leaves half a migration.
"""

from __future__ import annotations

TYPES = {
    "sqlite": {"json": "TEXT", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"},
    "postgres": {"json": "JSONB", "serial": "BIGSERIAL PRIMARY KEY"},
}

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "records, instances, history", [
        """CREATE TABLE records (
            id TEXT PRIMARY KEY,
            entity TEXT NOT NULL,
            data {json} NOT NULL,
            version INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            active_instance_id TEXT
        )""",
        "CREATE INDEX records_by_entity ON records (entity, id)",
        """CREATE TABLE instances (
            id TEXT PRIMARY KEY,
            record_id TEXT NOT NULL,
            process TEXT NOT NULL,
            definition_version TEXT NOT NULL,
            status TEXT NOT NULL,
            active_stage TEXT NOT NULL,
            traversed {json} NOT NULL,
            bound {json} NOT NULL,
            actions_done {json} NOT NULL,
            stage_started_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            completed_at TEXT,
            version INTEGER NOT NULL,
            UNIQUE (record_id, process)
        )""",
        # "records in stage X of process P" and the per-stage counts read only this index.
        "CREATE INDEX instances_by_stage ON instances (process, status, active_stage)",
        """CREATE TABLE stage_visits (
            id {serial},
            instance_id TEXT NOT NULL,
            process TEXT NOT NULL,
            stage TEXT NOT NULL,
            entity TEXT NOT NULL,
            record_id TEXT NOT NULL,
            entered_at TEXT NOT NULL,
            exited_at TEXT,
            by_user TEXT NOT NULL
        )""",
        "CREATE INDEX visits_by_instance ON stage_visits (instance_id, id)",
        "CREATE INDEX visits_by_process ON stage_visits (process, stage)",
        """CREATE TABLE instance_events (
            id {serial},
            instance_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            stage TEXT,
            at TEXT NOT NULL,
            by_user TEXT NOT NULL,
            data {json} NOT NULL
        )""",
        "CREATE INDEX events_by_instance ON instance_events (instance_id, id)",
        """CREATE TABLE definitions (
            process TEXT NOT NULL,
            version TEXT NOT NULL,
            source {json} NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (process, version)
        )""",
    ]),
    (2, "users and tokens", [
        """CREATE TABLE users (
            name TEXT PRIMARY KEY,
            roles {json} NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            user_name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            last_used_at TEXT,
            revoked_at TEXT
        )""",
    ]),
    (3, "kept counts of instances per stage", [
        # "How many records stand in each stage" is read often and must not cost a scan of a
        # million instances: every instance write keeps these counters. Each (process, status,
        # stage) is split over a few shards so concurrent moves on PostgreSQL don't all queue on
        # one counter row; reads add the shards up.
        """CREATE TABLE stage_counts (
            process TEXT NOT NULL,
            status TEXT NOT NULL,
            active_stage TEXT NOT NULL,
            shard INTEGER NOT NULL,
            n BIGINT NOT NULL,
            PRIMARY KEY (process, status, active_stage, shard)
        )""",
        """INSERT INTO stage_counts (process, status, active_stage, shard, n)
           SELECT process, status, active_stage, 0, count(*) FROM instances GROUP BY process, status, active_stage""",
    ]),
    (4, "records other records' instances work on", [
        # A record takes part in the instances of other records that reached it (the opportunity a
        # lead's process created): its reads list them, and deleting it asks for them. One row per
        # (record, instance), written when such a stage visit opens.
        """CREATE TABLE instance_records (
            record_id TEXT NOT NULL,
            instance_id TEXT NOT NULL,
            PRIMARY KEY (record_id, instance_id)
        )""",
        """INSERT INTO instance_records (record_id, instance_id)
           SELECT DISTINCT v.record_id, v.instance_id FROM stage_visits v
           JOIN instances i ON i.id = v.instance_id WHERE v.record_id <> i.record_id""",
    ]),
    (5, "records newest first", [
        # `records` lists an entity's records newest first, page by page.
        "CREATE INDEX records_by_entity_created ON records (entity, created_at, id)",
    ]),
    (6, "record owners", [
        # Who owns a record (its `own` grants and `assign`) and who created it: user names (LANGUAGE.md).
        "ALTER TABLE records ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE records ADD COLUMN created_by TEXT NOT NULL DEFAULT ''",
        # Records stored before: the user of the first stage visit on them (creating a record starts its
        # default process as the creating user), by the record's own instances first, else by another
        # record's instance that reached it; a record that no process ever touched is the system's. Both
        # lookups go by index (instances by record, instance_records by record, visits by instance).
        """UPDATE records SET owner = COALESCE(
            (SELECT v.by_user FROM instances i JOIN stage_visits v ON v.instance_id = i.id
             WHERE i.record_id = records.id AND v.record_id = records.id ORDER BY v.id LIMIT 1),
            (SELECT v.by_user FROM instance_records l JOIN stage_visits v ON v.instance_id = l.instance_id
             WHERE l.record_id = records.id AND v.record_id = records.id ORDER BY v.id LIMIT 1),
            'system')""",
        "UPDATE records SET created_by = owner",
        # `records` of a caller whose read is `own`: that owner's records of an entity, newest first.
        "CREATE INDEX records_by_owner ON records (entity, owner, created_at, id)",
    ]),
    (7, "finish outcomes", [
        # The `finish OUTCOME` a finished instance ended on; NULL while active, aborted, or ended without one.
        "ALTER TABLE instances ADD COLUMN outcome TEXT",
        # Outcome counts per process (analytics) read only this index.
        "CREATE INDEX instances_by_outcome ON instances (process, outcome)",
    ]),
    (8, "stage SLAs and notifications", [
        # A visit of a stage with an `sla` is due at entered_at + sla; overdue_at is when its `on overdue` fired.
        "ALTER TABLE stage_visits ADD COLUMN due_at TEXT",
        "ALTER TABLE stage_visits ADD COLUMN overdue_at TEXT",
        # The durable table of due timers is this index: only the open, unfired visits with a due time are in it
        # (a visit leaves it when it closes or fires), so finding the next due visit reads its first entry.
        """CREATE INDEX visits_due ON stage_visits (due_at)
           WHERE due_at IS NOT NULL AND overdue_at IS NULL AND exited_at IS NULL""",
        # `bpf.notify`: a role's inbox (newest first) and an instance's notifications.
        """CREATE TABLE notifications (
            id {serial},
            instance_id TEXT NOT NULL,
            process TEXT NOT NULL,
            stage TEXT,
            role TEXT NOT NULL,
            message TEXT NOT NULL,
            at TEXT NOT NULL,
            by_user TEXT NOT NULL
        )""",
        "CREATE INDEX notifications_by_role ON notifications (role, id)",
        "CREATE INDEX notifications_by_instance ON notifications (instance_id, id)",
    ]),
    (9, "webhook outbox", [
        # `bpf.webhook`: written in the move's transaction, sent after its commit. `body` is the exact JSON text
        # sent (and signed) at every attempt; `next_at` is when the next attempt is due, pushed forward by a
        # server's claim (its lease) while it sends.
        """CREATE TABLE deliveries (
            id TEXT PRIMARY KEY,
            instance_id TEXT NOT NULL,
            process TEXT NOT NULL,
            stage TEXT,
            url TEXT NOT NULL,
            event TEXT NOT NULL,
            body TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            next_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            delivered_at TEXT
        )""",
        # The next due (status 'pending', by next_at), and a status's newest (bpf deliveries list).
        "CREATE INDEX deliveries_due ON deliveries (status, next_at)",
        "CREATE INDEX deliveries_by_instance ON deliveries (instance_id, id)",
        "CREATE INDEX deliveries_by_status ON deliveries (status, id)",
    ]),
]


def statements(dialect: str, sql: list[str]) -> list[str]:
    """The statements of one migration for ``dialect``."""
    return [s.replace("{json}", TYPES[dialect]["json"]).replace("{serial}", TYPES[dialect]["serial"]) for s in sql]
