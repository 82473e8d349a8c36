//! The tables, and the schema's versions.
//!
//! | table | holds |
//! |---|---|
//! | `cairn_schema` | one row per version applied |
//! | `log_head` | one row: the position of the newest event (0 for an empty log) |
//! | `streams` | a stream's name and version, from its first append on |
//! | `events` | every event: its position (the key), id, stream, version, type, data and metadata as given (text, byte for byte), and when it was written |
//! | `append_keys` | (stream, idempotency key): the versions and positions the append made with it wrote, and when (version 2) |
//! | `snapshots` | (stream, snapshot key): the version folded and the state, byte for byte (version 3) |
//! | `commands` | the command log: a command by its id, with what came of it (version 4) |
//! | `modules` | (name, version): kind, hash, when it was kept (version 5; unknown for a version `cairn migrate` brought from a store that did not record it, version 7) |
//! | `module_blobs` | a module's bytes by their hash (version 5) |
//! | `module_states` | the runtime's opaque state for a module (version 5) |
//! | `removed_modules` | a removed module's name and the version that was latest (version 5) |
//! | `models` | a read model's name and checkpoint (version 5) |
//! | `model_rows` | (model, key): value, a read model's entries (version 5) |
//! | `runner_lease` | one row: the epoch of the runner lease, moved on by each node that takes it (version 6) |
//!
//! Invariants, kept by `append.rs` (5 by `snapshots.rs`, 6 with `command_log.rs`, 7 by
//! `modules.rs`, 8 by `read_models.rs`, 9 by `lease.rs` and `read_models.rs`):
//! 1. `events` holds positions `1..=log_head.position` with no gap, and no transaction that
//!    wrote some of them is uncommitted while a later one is committed: an append updates
//!    `log_head` last and holds its row lock until it commits, so appends commit in position
//!    order.
//! 2. A stream's events have versions `1..=streams.version` with no gap, in position order;
//!    its row changes only in a transaction that appends to it, under the row's lock.
//! 3. An event id is stored once (`events.id` is unique).
//! 4. An `append_keys` row is written in the transaction that appended the versions and
//!    positions it names, under an advisory lock of its (stream, key) taken before the
//!    stream's row, and never changes.
//! 5. Nothing that reads events reads `snapshots`; a snapshot's version is at most its
//!    stream's when it is written.
//! 6. A `commands` row with verdict `appended` is written in the transaction that appended the
//!    versions and positions it names, and never changes; a row of another verdict is replaced
//!    by any later entry of its id (`command_log.rs`).
//! 7. `modules` has versions `1..=n` of a name, each naming a hash `module_blobs` holds; a put
//!    or removal of a name holds the name's advisory lock to commit (`modules.rs`). A name is
//!    removed when `removed_modules` names its latest version; it then has no `module_states`
//!    row.
//! 8. A model's `model_rows` and its `models` row change together, in one transaction, and its
//!    checkpoint only grows but for a replacement (`read_models.rs`); rows exist only for a
//!    model with a `models` row.
//! 9. A read model write of a node that took the runner lease (a commit, amendment,
//!    replacement or drop, a module state, a removal that drops models) commits only while
//!    `runner_lease.epoch` is the one it took, read `FOR SHARE` in the write's transaction
//!    (`lease.rs`).

use tokio_postgres::Transaction;

use crate::store::OpenError;

/// The schema this build reads and writes.
pub const SCHEMA_VERSION: i32 = 7;

/// The advisory lock under which a node moves the schema on, so two nodes starting at once
/// do not both try.
const SCHEMA_LOCK: i64 = 0x6361_6972_6e5f_7363; // "cairn_sc"

/// Each version's statements, applied in order to a database that has fewer.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        r"
CREATE TABLE log_head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    position bigint NOT NULL CHECK (position >= 0)
);
INSERT INTO log_head (position) VALUES (0);
CREATE TABLE streams (
    name text PRIMARY KEY,
    version bigint NOT NULL CHECK (version > 0)
);
CREATE TABLE events (
    position bigint PRIMARY KEY CHECK (position > 0),
    id uuid NOT NULL UNIQUE,
    stream text NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    event_type text NOT NULL,
    data text NOT NULL,
    metadata text NOT NULL,
    recorded_at bigint NOT NULL,
    UNIQUE (stream, version)
);
",
    ),
    (
        2,
        r"
CREATE TABLE append_keys (
    stream text NOT NULL,
    key text NOT NULL,
    first_version bigint NOT NULL,
    last_version bigint NOT NULL,
    first_position bigint NOT NULL,
    last_position bigint NOT NULL,
    recorded_at bigint NOT NULL,
    PRIMARY KEY (stream, key)
);
",
    ),
    (
        3,
        r"
CREATE TABLE snapshots (
    stream text NOT NULL,
    key text NOT NULL,
    version bigint NOT NULL CHECK (version >= 0),
    state bytea NOT NULL,
    PRIMARY KEY (stream, key)
);
",
    ),
    (
        4,
        r"
CREATE TABLE commands (
    id uuid PRIMARY KEY,
    command_type text NOT NULL,
    data text NOT NULL,
    idempotency_key text,
    time bigint NOT NULL,
    aggregate text NOT NULL,
    stream text NOT NULL,
    decided_at bigint NOT NULL,
    module_hash text NOT NULL,
    verdict text NOT NULL CHECK (verdict IN ('appended', 'unchanged', 'rejected', 'invalid')),
    message text,
    first_version bigint,
    last_version bigint,
    first_position bigint,
    last_position bigint
);
",
    ),
    (
        5,
        r"
CREATE TABLE modules (
    name text NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    kind text NOT NULL,
    hash text NOT NULL,
    uploaded_at bigint NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE module_blobs (
    hash text PRIMARY KEY,
    bytes bytea NOT NULL
);
CREATE TABLE module_states (
    name text PRIMARY KEY,
    state bytea NOT NULL
);
CREATE TABLE removed_modules (
    name text PRIMARY KEY,
    version bigint NOT NULL
);
CREATE TABLE models (
    name text PRIMARY KEY,
    checkpoint bigint NOT NULL CHECK (checkpoint >= 0)
);
CREATE TABLE model_rows (
    model text NOT NULL,
    key bytea NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (model, key)
);
",
    ),
    (
        6,
        r"
CREATE TABLE runner_lease (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    epoch bigint NOT NULL CHECK (epoch >= 0)
);
INSERT INTO runner_lease (epoch) VALUES (0);
",
    ),
    (
        7,
        r"
ALTER TABLE modules ALTER COLUMN uploaded_at DROP NOT NULL;
",
    ),
];

/// Brings the database to [`SCHEMA_VERSION`], or refuses one that is newer.
pub(crate) async fn prepare(tx: &Transaction<'_>) -> Result<(), OpenError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS cairn_schema (version integer PRIMARY KEY)")
        .await?;
    let found: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM cairn_schema", &[])
        .await?
        .get(0);
    if found > SCHEMA_VERSION {
        return Err(OpenError::NewerSchema {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (version, statements) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        tx.batch_execute(statements).await?;
        tx.execute("INSERT INTO cairn_schema (version) VALUES ($1)", &[version])
            .await?;
        tracing::info!(version, "the PostgreSQL schema moved on");
    }
    Ok(())
}
