//! The embedded SQLite backend: one writer thread with group commit, a small pool of readers.
//!
//! Writes (new cases, transitions) go to a single thread over a channel. The thread takes
//! everything queued, up to `max_batch`, runs it in one transaction (one savepoint per
//! operation, so one failing write does not sink its neighbours), commits with
//! `synchronous=FULL` in WAL mode, and only then answers each waiting request. While one commit
//! waits for its fsync, the next batch fills up: under load the cost of one fsync is shared by
//! many requests, and an idle server still commits a lone request at once.
//!
//! Reads run on `spawn_blocking` with pooled read-only connections; WAL lets them proceed while
//! the writer commits.

use super::migrations;
use super::{Created, IdempotencyKey, Store, StoreFuture, WriteStats};
use crate::error::StoreError;
use crate::model::{
    CaseRecord, CaseStatus, Channel, CitizenInput, ContactReceipt, Count, DayCount, Millis,
    NewContact, Office, RequestType, Stats, Transition, rfc3339,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Tuning of the SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Most operations in one transaction; bounds the latency a large batch adds.
    pub max_batch: usize,
    /// Idempotency keys older than this are forgotten (checked at start and hourly).
    pub idempotency_ttl: Duration,
    /// Read-only connections kept for reuse.
    pub read_pool: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            max_batch: 1024,
            idempotency_ttl: Duration::from_secs(24 * 3600),
            read_pool: 8,
        }
    }
}

/// One queued write and the channel its requester waits on.
enum WriteOp {
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
enum Pending {
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
struct Counters {
    commits: AtomicU64,
    writes: AtomicU64,
    checkpoints: AtomicU64,
}

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    tx: mpsc::Sender<WriteOp>,
    readers: Arc<Mutex<Vec<Connection>>>,
    read_pool: usize,
    counters: Arc<Counters>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

fn open_conn(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, switches it to WAL, applies
    /// migrations, and starts the writer thread. Opening is synchronous; the trait's methods
    /// must then be called inside a tokio runtime.
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let mut conn = open_conn(&path, false).map_err(open_err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(%mode, "database did not switch to WAL");
        }
        // FULL: each commit fsyncs the WAL, so a 201 survives a crash of the process and of
        // the machine. Group commit is what keeps this affordable.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(open_err)?;
        let version = migrations::migrate(&mut conn)?;
        prune_keys(&conn, options.idempotency_ttl).map_err(open_err)?;
        // Checkpoints copy the log into the database file and fsync it. SQLite's automatic one
        // runs inside a commit, stalling every request of that batch; the writer thread does
        // them itself instead, after answering, preferably when its queue is empty (see
        // `writer_loop`).
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(open_err)?;
        conn.wal_hook(Some(note_wal_pages));
        tracing::info!(path = %path.display(), schema = version, "database open");

        let (tx, rx) = mpsc::channel(options.max_batch.max(1) * 4);
        let counters = Arc::new(Counters::default());
        let writer = {
            let counters = counters.clone();
            let options = options.clone();
            std::thread::Builder::new()
                .name("cclab-store-writer".into())
                .spawn(move || writer_loop(conn, rx, options, &counters))
                .map_err(StoreError::Thread)?
        };
        Ok(SqliteStore {
            path,
            tx,
            readers: Arc::new(Mutex::new(Vec::new())),
            read_pool: options.read_pool.max(1),
            counters,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Runs `f` on a pooled read connection in the blocking pool.
    fn read<T, F>(&self, f: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = self.readers.clone();
        let path = self.path.clone();
        let cap = self.read_pool;
        let closed = self.tx.is_closed();
        Box::pin(async move {
            if closed {
                return Err(StoreError::Unavailable);
            }
            let task = tokio::task::spawn_blocking(move || {
                let pooled = readers.lock().ok().and_then(|mut p| p.pop());
                let mut conn = match pooled {
                    Some(c) => c,
                    None => open_conn(&path, true)?,
                };
                let out = f(&mut conn);
                if let Ok(mut pool) = readers.lock()
                    && pool.len() < cap
                {
                    pool.push(conn);
                }
                out
            });
            task.await.map_err(|_| StoreError::Unavailable)?
        })
    }

    /// Runs a short query on a pooled read connection on the calling thread. Only for queries
    /// bounded by an index lookup; anything that scans goes through [`Self::read`].
    fn read_inline<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.tx.is_closed() {
            return Err(StoreError::Unavailable);
        }
        let pooled = self.readers.lock().ok().and_then(|mut p| p.pop());
        let mut conn = match pooled {
            Some(c) => c,
            None => open_conn(&self.path, true)?,
        };
        let out = f(&mut conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < self.read_pool
        {
            pool.push(conn);
        }
        out
    }

    async fn send(&self, op: WriteOp) -> Result<(), StoreError> {
        self.tx.send(op).await.map_err(|_| StoreError::Unavailable)
    }
}

impl Store for SqliteStore {
    fn create_case(
        &self,
        contact: NewContact,
        key: Option<IdempotencyKey>,
    ) -> StoreFuture<'_, Created> {
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            self.send(WriteOp::Create {
                contact,
                key,
                reply,
            })
            .await?;
            rx.await.map_err(|_| StoreError::Unavailable)?
        })
    }

    fn get_case(&self, number: i64) -> StoreFuture<'_, CaseRecord> {
        // A primary-key lookup takes microseconds: run it on the async worker rather than pay
        // for a hop to the blocking pool, which would cost more than the query.
        let result = self.read_inline(|conn| fetch_case(conn, number));
        Box::pin(std::future::ready(result))
    }

    fn transition(
        &self,
        number: i64,
        operator: String,
        transition: Transition,
    ) -> StoreFuture<'_, CaseRecord> {
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            self.send(WriteOp::Transition {
                number,
                operator,
                transition,
                reply,
            })
            .await?;
            rx.await.map_err(|_| StoreError::Unavailable)?
        })
    }

    fn list_queue(
        &self,
        status: CaseStatus,
        after: i64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<CaseRecord>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM cases WHERE status = ?1 AND number > ?2
                 ORDER BY number LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![status.as_str(), after, limit], row_to_case)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn recent(&self, limit: u32) -> StoreFuture<'_, Vec<CaseRecord>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM cases ORDER BY number DESC LIMIT ?1"
            ))?;
            let rows = stmt.query_map(params![limit], row_to_case)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn stats(&self) -> StoreFuture<'_, Stats> {
        self.read(|conn| {
            // One read transaction: every figure comes from the same snapshot.
            let tx = conn.transaction()?;
            let stats = compute_stats(&tx)?;
            tx.commit()?;
            Ok(stats)
        })
    }

    fn count_by_status(&self) -> StoreFuture<'_, Vec<(CaseStatus, u64)>> {
        self.read(|conn| {
            let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
            let mut stmt =
                conn.prepare_cached("SELECT status, sum(n) FROM case_counts GROUP BY status")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let s: String = row.get(0)?;
                let n: i64 = row.get(1)?;
                if let Ok(status) = CaseStatus::parse(&s) {
                    counts.insert(status.as_str(), n as u64);
                }
            }
            Ok(CaseStatus::ALL
                .iter()
                .map(|s| (*s, counts.get(s.as_str()).copied().unwrap_or(0)))
                .collect())
        })
    }

    fn ready(&self) -> StoreFuture<'_, ()> {
        let writer_alive = self
            .writer
            .lock()
            .map(|w| w.as_ref().is_some_and(|h| !h.is_finished()))
            .unwrap_or(false);
        let read = self.read(|conn| {
            conn.query_row(
                "SELECT count(*) FROM cases WHERE number = 0",
                [],
                |_| Ok(()),
            )?;
            Ok(())
        });
        Box::pin(async move {
            if !writer_alive {
                return Err(StoreError::Unavailable);
            }
            read.await
        })
    }

    fn write_stats(&self) -> WriteStats {
        WriteStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            writes: self.counters.writes.load(Ordering::Relaxed),
            checkpoints: self.counters.checkpoints.load(Ordering::Relaxed),
        }
    }

    fn shutdown(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            if self.send(WriteOp::Shutdown { reply }).await.is_ok() {
                rx.await.map_err(|_| StoreError::Unavailable)??;
            }
            let handle = self.writer.lock().ok().and_then(|mut w| w.take());
            if let Some(handle) = handle {
                let _ = tokio::task::spawn_blocking(move || handle.join()).await;
            }
            if let Ok(mut pool) = self.readers.lock() {
                pool.clear();
            }
            Ok(())
        })
    }
}

/// Log size (pages) above which the writer checkpoints as soon as its queue is empty.
const CHECKPOINT_IDLE_PAGES: i32 = 1_000;
/// Log size (pages) above which it checkpoints even with requests waiting, so the log and the
/// cost of one checkpoint stay bounded under sustained load.
const CHECKPOINT_FORCE_PAGES: i32 = 4_000;

thread_local! {
    /// Pages in the log after the last commit on this thread (the writer), from the WAL hook.
    static WAL_PAGES: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

fn note_wal_pages(_: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
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
fn writer_loop(
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

fn prune_keys(conn: &Connection, ttl: Duration) -> rusqlite::Result<usize> {
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

const COLUMNS: &str = "number, channel, request_type, event, subject, message, citizen_name,
    citizen_email, citizen_phone, status, received_at, taken_at, taken_by, escalated_at,
    escalated_by, escalation_note, closed_at, closed_by, closed_office, resolution";

fn fetch_case(conn: &Connection, number: i64) -> Result<CaseRecord, StoreError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM cases WHERE number = ?1"))?
        .query_row(params![number], row_to_case)
        .optional()?
        .ok_or(StoreError::NotFound(number))
}

fn parse_col<T>(
    idx: usize,
    text: &str,
    parse: fn(&str) -> Result<T, String>,
) -> rusqlite::Result<T> {
    parse(text).map_err(|m| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, m.into())
    })
}

fn row_to_case(row: &Row<'_>) -> rusqlite::Result<CaseRecord> {
    let channel: String = row.get(1)?;
    let request_type: String = row.get(2)?;
    let status: String = row.get(9)?;
    let office: Option<String> = row.get(18)?;
    Ok(CaseRecord {
        number: row.get(0)?,
        contact: NewContact {
            channel: parse_col(1, &channel, Channel::parse)?,
            request_type: parse_col(2, &request_type, RequestType::parse)?,
            event: row.get(3)?,
            subject: row.get(4)?,
            message: row.get(5)?,
            citizen: CitizenInput {
                name: row.get(6)?,
                email: row.get(7)?,
                phone: row.get(8)?,
            },
        },
        status: parse_col(9, &status, CaseStatus::parse)?,
        received_at: row.get(10)?,
        taken_at: row.get(11)?,
        taken_by: row.get(12)?,
        escalated_at: row.get(13)?,
        escalated_by: row.get(14)?,
        escalation_note: row.get(15)?,
        closed_at: row.get(16)?,
        closed_by: row.get(17)?,
        closed_office: office
            .map(|o| parse_col(18, &o, Office::parse))
            .transpose()?,
        resolution: row.get(19)?,
    })
}

fn labelled_counts(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<Count>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok(Count {
            key: r.get(0)?,
            count: r.get::<_, i64>(1)? as u64,
        })
    })?;
    rows.collect()
}

fn share(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (part as f64 * 10_000.0 / total as f64).round() / 100.0
    }
}

fn compute_stats(conn: &Connection) -> Result<Stats, StoreError> {
    // Everything comes from the trigger-maintained counters (migration 2): no scan of cases.
    let mut s = Stats::default();
    let by_status = labelled_counts(
        conn,
        "SELECT status, sum(n) FROM case_counts GROUP BY status HAVING sum(n) > 0",
    )?;
    s.by_status = CaseStatus::ALL
        .iter()
        .map(|st| Count {
            key: st.as_str().to_owned(),
            count: by_status
                .iter()
                .find(|c| c.key == st.as_str())
                .map_or(0, |c| c.count),
        })
        .collect();
    for c in &by_status {
        s.total += c.count;
        if c.key == CaseStatus::Closed.as_str() {
            s.closed += c.count;
        }
    }
    s.open = s.total - s.closed;
    for c in labelled_counts(
        conn,
        "SELECT closed_office, sum(n) FROM case_counts WHERE status = 'closed'
         GROUP BY closed_office",
    )? {
        match Office::parse(&c.key) {
            Ok(Office::FrontOffice) => s.closed_front_office = c.count,
            Ok(Office::BackOffice) => s.closed_back_office = c.count,
            Err(_) => {}
        }
    }
    s.share_front_office = share(s.closed_front_office, s.total);
    s.share_back_office = share(s.closed_back_office, s.total);
    s.share_open = share(s.open, s.total);
    s.by_channel = labelled_counts(
        conn,
        "SELECT channel, sum(n) FROM case_counts GROUP BY channel HAVING sum(n) > 0
         ORDER BY sum(n) DESC, channel",
    )?;
    s.by_request_type = labelled_counts(
        conn,
        "SELECT request_type, sum(n) FROM case_counts GROUP BY request_type HAVING sum(n) > 0
         ORDER BY sum(n) DESC, request_type",
    )?;
    let mut stmt =
        conn.prepare_cached("SELECT day, received, closed FROM day_counts ORDER BY day")?;
    let rows = stmt.query_map([], |r| {
        let day: i64 = r.get(0)?;
        Ok(DayCount {
            day: chrono::DateTime::from_timestamp(day * 86_400, 0)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            received: r.get::<_, i64>(1)? as u64,
            closed: r.get::<_, i64>(2)? as u64,
        })
    })?;
    s.by_day = rows.collect::<Result<_, _>>()?;
    Ok(s)
}
