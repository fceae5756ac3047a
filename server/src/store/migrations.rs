//! Schema migrations, applied in order at start. The schema version is SQLite's `user_version`;
//! each step runs in its own transaction, so a crash mid-migration leaves the previous version.
//! Append new steps; never edit a shipped one.

use crate::error::StoreError;
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
    // 2: running totals for /stats and /metrics, kept by triggers in the same transaction as
    // the case they count, so the transparency view never scans the cases table.
    "CREATE TABLE case_counts (
        status        TEXT NOT NULL,
        closed_office TEXT NOT NULL,
        channel       TEXT NOT NULL,
        request_type  TEXT NOT NULL,
        n             INTEGER NOT NULL,
        PRIMARY KEY (status, closed_office, channel, request_type)
    ) WITHOUT ROWID;
    CREATE TABLE day_counts (
        day      INTEGER PRIMARY KEY,
        received INTEGER NOT NULL DEFAULT 0,
        closed   INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO case_counts
        SELECT status, coalesce(closed_office, ''), channel, request_type, count(*)
        FROM cases GROUP BY 1, 2, 3, 4;
    INSERT INTO day_counts (day, received)
        SELECT received_at / 86400000, count(*) FROM cases GROUP BY 1;
    INSERT INTO day_counts (day, closed)
        SELECT closed_at / 86400000, count(*) FROM cases WHERE closed_at IS NOT NULL GROUP BY 1
        ON CONFLICT (day) DO UPDATE SET closed = closed + excluded.closed;
    CREATE TRIGGER cases_count_insert AFTER INSERT ON cases BEGIN
        INSERT INTO case_counts
            VALUES (NEW.status, coalesce(NEW.closed_office, ''), NEW.channel, NEW.request_type, 1)
            ON CONFLICT (status, closed_office, channel, request_type) DO UPDATE SET n = n + 1;
        INSERT INTO day_counts (day, received) VALUES (NEW.received_at / 86400000, 1)
            ON CONFLICT (day) DO UPDATE SET received = received + 1;
    END;
    CREATE TRIGGER cases_count_update AFTER UPDATE OF status ON cases
    WHEN OLD.status IS NOT NEW.status BEGIN
        UPDATE case_counts SET n = n - 1
            WHERE status = OLD.status AND closed_office = coalesce(OLD.closed_office, '')
              AND channel = OLD.channel AND request_type = OLD.request_type;
        INSERT INTO case_counts
            VALUES (NEW.status, coalesce(NEW.closed_office, ''), NEW.channel, NEW.request_type, 1)
            ON CONFLICT (status, closed_office, channel, request_type) DO UPDATE SET n = n + 1;
        INSERT INTO day_counts (day, closed)
            SELECT NEW.closed_at / 86400000, 1
            WHERE NEW.closed_at IS NOT NULL AND OLD.closed_at IS NULL
            ON CONFLICT (day) DO UPDATE SET closed = closed + 1;
    END;
    CREATE TRIGGER cases_no_delete BEFORE DELETE ON cases BEGIN
        SELECT RAISE(ABORT, 'cases are never deleted');
    END;",
];

/// The version a fully migrated database has.
pub const LATEST: u32 = STEPS.len() as u32;

/// Brings the database to [`LATEST`]. A database newer than this binary is refused.
pub fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: LATEST,
        });
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
    fn counters_follow_inserts_and_updates_and_backfill() {
        let mut conn = Connection::open_in_memory().unwrap();
        // Migrate to version 1 only, add a case, then finish: step 2 must backfill it.
        let tx = conn.transaction().unwrap();
        tx.execute_batch(STEPS[0]).unwrap();
        tx.pragma_update(None, "user_version", 1).unwrap();
        tx.commit().unwrap();
        let insert = "INSERT INTO cases (channel, request_type, subject, message, status,
                      received_at) VALUES ('phone', 'report', 's', 'm', 'received', 86400000)";
        conn.execute(insert, []).unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(insert, []).unwrap();
        conn.execute(
            "UPDATE cases SET status = 'closed', closed_office = 'front_office',
             closed_at = 2 * 86400000 WHERE number = 1",
            [],
        )
        .unwrap();
        let counts: Vec<(String, String, i64)> = conn
            .prepare("SELECT status, closed_office, n FROM case_counts WHERE n > 0 ORDER BY 1")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            counts,
            vec![
                ("closed".into(), "front_office".into(), 1),
                ("received".into(), String::new(), 1)
            ]
        );
        let days: Vec<(i64, i64, i64)> = conn
            .prepare("SELECT day, received, closed FROM day_counts ORDER BY day")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(days, vec![(1, 2, 0), (2, 0, 1)]);
        assert!(conn.execute("DELETE FROM cases", []).is_err());
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", LATEST + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(StoreError::SchemaTooNew { found, supported }) if found == LATEST + 1 && supported == LATEST
        ));
    }
}
