//! Schema migrations, applied in order at start. The schema version is SQLite's `user_version`;
//! each step runs in its own transaction, so a crash mid-migration leaves the previous version.
//! Append new steps; never edit a shipped one.

use rusqlite::Connection;

/// Step `i` upgrades from version `i` to `i + 1`.
const STEPS: &[&str] = &[
    // 1: cases, their queues, and idempotency keys.
    "CREATE TABLE cases (
        number          INTEGER PRIMARY KEY,
        channel         TEXT NOT NULL,
        request_type    TEXT NOT NULL,
        event           TEXT,
        subject         TEXT NOT NULL,
        message         TEXT NOT NULL,
        citizen_name    TEXT,
        citizen_email   TEXT,
        citizen_phone   TEXT,
        status          TEXT NOT NULL,
        received_at     INTEGER NOT NULL,
        taken_at        INTEGER,
        taken_by        TEXT,
        escalated_at    INTEGER,
        escalated_by    TEXT,
        escalation_note TEXT,
        closed_at       INTEGER,
        closed_by       TEXT,
        closed_office   TEXT,
        resolution      TEXT
    );
    CREATE INDEX cases_by_status ON cases (status, number);
    CREATE TABLE idempotency_keys (
        key            TEXT PRIMARY KEY,
        request_digest BLOB NOT NULL,
        case_number    INTEGER NOT NULL REFERENCES cases (number),
        response       TEXT NOT NULL,
        created_at     INTEGER NOT NULL
    );
    CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);",
];

/// The version a fully migrated database has.
pub const LATEST: u32 = STEPS.len() as u32;

/// Brings the database to [`LATEST`]. A database newer than this binary is refused.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<u32> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "database schema version {current} is newer than this server's {LATEST}"
        )));
    }
    for (i, sql) in STEPS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    Ok(LATEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), LATEST);
        assert_eq!(migrate(&mut conn).unwrap(), LATEST);
        let v: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, LATEST);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", LATEST + 1)
            .unwrap();
        assert!(migrate(&mut conn).is_err());
    }
}
