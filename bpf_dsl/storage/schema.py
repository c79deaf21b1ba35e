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
]


def statements(dialect: str, sql: list[str]) -> list[str]:
    """The statements of one migration for ``dialect``."""
    return [s.replace("{json}", TYPES[dialect]["json"]).replace("{serial}", TYPES[dialect]["serial"]) for s in sql]
