//! The write path: the writer thread, its batches, checkpoints, and the SQL of each write.

use super::SqliteOptions;
use super::queries::fetch_case;
use crate::error::StoreError;
use crate::model::{
    CaseRecord, CaseStatus, ContactReceipt, Millis, NewContact, Office, Transition, rfc3339,
};
use crate::store::{Created, IdempotencyKey};
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// One queued write and the channel its requester waits on.
pub(super) enum WriteOp {
    Create {
        contact: NewContact,
        key: Option<IdempotencyKey>,
        reply: oneshot::Sender<Result<Created, StoreError>>,
    },
    Transition {
        number: i64,
        operator: String,
        transition: Transition,
        reply: oneshot::Sender<Result<CaseRecord, StoreError>>,
    },
    Shutdown {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// A result computed inside the batch, sent only after the commit.
pub(super) enum Pending {
    Create(
        oneshot::Sender<Result<Created, StoreError>>,
        Result<Created, StoreError>,
    ),
    Transition(
        oneshot::Sender<Result<CaseRecord, StoreError>>,
        Box<Result<CaseRecord, StoreError>>,
    ),
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) commits: AtomicU64,
    pub(super) writes: AtomicU64,
    pub(super) checkpoints: AtomicU64,
}

/// Log size (pages) above which the writer checkpoints as soon as its queue is empty.
const CHECKPOINT_IDLE_PAGES: i32 = 4_000;
/// Log size (pages) above which it checkpoints even with requests waiting, so the log and the
/// cost of one checkpoint stay bounded under sustained load.
const CHECKPOINT_FORCE_PAGES: i32 = 16_000;

thread_local! {
    /// Pages in the log after the last commit on this thread (the writer), from the WAL hook.
    static WAL_PAGES: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

pub(super) fn note_wal_pages(
    _: &rusqlite::hooks::Wal,
    pages: std::ffi::c_int,
) -> rusqlite::Result<()> {
    WAL_PAGES.with(|p| p.set(pages));
    Ok(())
}

/// Copies the log into the database file. Run by the writer between batches, so no write runs
/// concurrently and the checkpoint completes: the next commit then rewrites the log from its
/// start, in place, and its fsync does not have to extend the file.
fn checkpoint(conn: &Connection) {
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "checkpoint failed");
    }
}

/// The writer thread: batch, commit, answer; until shutdown or every sender is gone.
pub(super) fn writer_loop(
    mut conn: Connection,
    mut rx: mpsc::Receiver<WriteOp>,
    options: SqliteOptions,
    counters: &Counters,
) {
    let mut last_prune = Instant::now();
    let mut batch = Vec::with_capacity(options.max_batch);
    let mut shutdown_reply = None;
    while shutdown_reply.is_none() {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        batch.push(first);
        while batch.len() < options.max_batch {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let ops = std::mem::take(&mut batch);
        shutdown_reply = run_batch(&mut conn, ops, counters);
        let pages = WAL_PAGES.with(std::cell::Cell::get);
        if (pages >= CHECKPOINT_IDLE_PAGES && rx.is_empty()) || pages >= CHECKPOINT_FORCE_PAGES {
            checkpoint(&conn);
            counters.checkpoints.fetch_add(1, Ordering::Relaxed);
            WAL_PAGES.with(|p| p.set(0));
        }
        if last_prune.elapsed() > Duration::from_secs(3600) {
            last_prune = Instant::now();
            if let Err(e) = prune_keys(&conn, options.idempotency_ttl) {
                tracing::warn!(error = %e, "pruning idempotency keys failed");
            }
        }
    }
    // Refuse anything sent after shutdown; answer what raced in with "unavailable".
    rx.close();
    while let Ok(op) = rx.try_recv() {
        fail_op(op);
    }
    let result = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .and_then(|()| conn.close().map_err(|(_, e)| e))
        .map_err(StoreError::from);
    match &result {
        Ok(()) => tracing::info!("database closed cleanly"),
        Err(e) => tracing::warn!(error = %e, "closing the database failed"),
    }
    if let Some(reply) = shutdown_reply {
        let _ = reply.send(result);
    }
}

fn fail_op(op: WriteOp) {
    match op {
        WriteOp::Create { reply, .. } => {
            let _ = reply.send(Err(StoreError::Unavailable));
        }
        WriteOp::Transition { reply, .. } => {
            let _ = reply.send(Err(StoreError::Unavailable));
        }
        WriteOp::Shutdown { reply } => {
            let _ = reply.send(Ok(()));
        }
    }
}

/// Runs one batch in one transaction and answers every op after the commit. Returns the
/// shutdown reply if the batch held a shutdown request (ops after it are refused).
fn run_batch(
    conn: &mut Connection,
    ops: Vec<WriteOp>,
    counters: &Counters,
) -> Option<oneshot::Sender<Result<(), StoreError>>> {
    let mut pending = Vec::with_capacity(ops.len());
    let mut shutdown = None;
    let mut refused = Vec::new();
    let outcome = (|| -> Result<(), rusqlite::Error> {
        let mut tx = conn.transaction()?;
        let now = chrono::Utc::now().timestamp_millis();
        for op in ops {
            // After a shutdown request nothing more is taken; after an error that made SQLite
            // roll back the whole transaction (I/O error, disk full), later writes would run
            // in autocommit mode outside the batch, so they are refused instead.
            if shutdown.is_some() || tx.is_autocommit() {
                refused.push(op);
                continue;
            }
            match op {
                WriteOp::Create {
                    contact,
                    key,
                    reply,
                } => {
                    // Without a key the case is one INSERT (its counter triggers run inside
                    // it), which SQLite undoes by itself if it fails; with a key there are two
                    // writes, so a savepoint keeps them all-or-nothing.
                    let result = if key.is_some() {
                        in_savepoint(&mut tx, |c| insert_case(c, &contact, key.as_ref(), now))?
                    } else {
                        insert_case(&tx, &contact, None, now)
                    };
                    pending.push(Pending::Create(reply, result));
                }
                WriteOp::Transition {
                    number,
                    operator,
                    transition,
                    reply,
                } => {
                    // One UPDATE after a read-only check: atomic without a savepoint.
                    let result = apply_transition(&tx, number, &operator, &transition, now);
                    pending.push(Pending::Transition(reply, Box::new(result)));
                }
                WriteOp::Shutdown { reply } => shutdown = Some(reply),
            }
        }
        tx.commit()
    })();
    let committed = outcome.is_ok();
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "batch commit failed; every write in it is refused");
    } else {
        counters.commits.fetch_add(1, Ordering::Relaxed);
        counters
            .writes
            .fetch_add(pending.len() as u64, Ordering::Relaxed);
    }
    for p in pending {
        // An uncommitted success must not be reported as one.
        match p {
            Pending::Create(reply, r) => {
                let r = if committed {
                    r
                } else {
                    Err(batch_failed(&outcome))
                };
                let _ = reply.send(r);
            }
            Pending::Transition(reply, r) => {
                let r = if committed {
                    *r
                } else {
                    Err(batch_failed(&outcome))
                };
                let _ = reply.send(r);
            }
        }
    }
    for op in refused {
        fail_op(op);
    }
    shutdown
}

/// Runs `f` in a savepoint: kept if it succeeds, undone if it fails. The outer error is for
/// failures of the savepoint itself, which sink the whole batch.
fn in_savepoint<T>(
    tx: &mut rusqlite::Transaction<'_>,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> rusqlite::Result<Result<T, StoreError>> {
    let mut sp = tx.savepoint()?;
    let result = f(&sp);
    if result.is_ok() {
        sp.commit()?;
    } else {
        sp.rollback()?;
    }
    Ok(result)
}

fn batch_failed(outcome: &Result<(), rusqlite::Error>) -> StoreError {
    match outcome {
        Err(e) => StoreError::Commit(e.to_string()),
        Ok(()) => StoreError::Unavailable,
    }
}

pub(super) fn prune_keys(conn: &Connection, ttl: Duration) -> rusqlite::Result<usize> {
    let cutoff = chrono::Utc::now().timestamp_millis() - ttl.as_millis() as i64;
    conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at < ?1",
        params![cutoff],
    )
}

fn insert_case(
    conn: &Connection,
    c: &NewContact,
    key: Option<&IdempotencyKey>,
    now: Millis,
) -> Result<Created, StoreError> {
    if let Some(k) = key {
        let found: Option<(Vec<u8>, String)> = conn
            .prepare_cached("SELECT request_digest, response FROM idempotency_keys WHERE key = ?1")?
            .query_row(params![k.key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((digest, response)) = found {
            if digest != k.request_digest {
                return Err(StoreError::IdempotencyMismatch);
            }
            let receipt: ContactReceipt = serde_json::from_str(&response)
                .map_err(|e| StoreError::Corrupt(format!("idempotent response: {e}")))?;
            return Ok(Created {
                receipt,
                replayed: true,
            });
        }
    }
    conn.prepare_cached(
        "INSERT INTO cases (channel, request_type, event, subject, message,
             citizen_name, citizen_email, citizen_phone, status, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'received', ?9)",
    )?
    .execute(params![
        c.channel.as_str(),
        c.request_type.as_str(),
        c.event,
        c.subject,
        c.message,
        c.citizen.name,
        c.citizen.email,
        c.citizen.phone,
        now
    ])?;
    let number = conn.last_insert_rowid();
    let receipt = ContactReceipt {
        number,
        status: CaseStatus::Received,
        received_at: rfc3339(now),
    };
    if let Some(k) = key {
        let response = serde_json::to_string(&receipt).unwrap_or_default();
        conn.prepare_cached(
            "INSERT INTO idempotency_keys (key, request_digest, case_number, response, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            k.key,
            k.request_digest.as_slice(),
            number,
            response,
            now
        ])?;
    }
    Ok(Created {
        receipt,
        replayed: false,
    })
}

fn apply_transition(
    conn: &Connection,
    number: i64,
    operator: &str,
    t: &Transition,
    now: Millis,
) -> Result<CaseRecord, StoreError> {
    let case = fetch_case(conn, number)?;
    if case.status != t.from_status() {
        return Err(StoreError::InvalidTransition {
            number,
            verb: t.verb(),
            actual: case.status,
            expected: t.from_status(),
        });
    }
    let to = t.to_status().as_str();
    match t {
        Transition::Take => conn
            .prepare_cached(
                "UPDATE cases SET status = ?2, taken_at = ?3, taken_by = ?4 WHERE number = ?1",
            )?
            .execute(params![number, to, now, operator])?,
        Transition::Escalate { note } => conn
            .prepare_cached(
                "UPDATE cases SET status = ?2, escalated_at = ?3, escalated_by = ?4,
                     escalation_note = ?5 WHERE number = ?1",
            )?
            .execute(params![number, to, now, operator, note])?,
        Transition::Answer { resolution } | Transition::Close { resolution } => {
            let office = if matches!(t, Transition::Answer { .. }) {
                Office::FrontOffice
            } else {
                Office::BackOffice
            };
            conn.prepare_cached(
                "UPDATE cases SET status = ?2, closed_at = ?3, closed_by = ?4,
                     closed_office = ?5, resolution = ?6 WHERE number = ?1",
            )?
            .execute(params![
                number,
                to,
                now,
                operator,
                office.as_str(),
                resolution
            ])?
        }
    };
    fetch_case(conn, number)
}
