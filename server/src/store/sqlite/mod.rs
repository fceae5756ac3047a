//! The embedded SQLite backend: one writer thread with group commit, a small pool of readers.
//!
//! Writes (new cases, transitions) go to a single thread over a channel. The thread takes
//! everything queued, up to `max_batch`, runs it in one transaction (a write of several
//! statements gets a savepoint, so one failing write does not sink its neighbours), commits with
//! `synchronous=FULL` in WAL mode, and only then answers each waiting request. While one commit
//! waits for its fsync, the next batch fills up: under load the cost of one fsync is shared by
//! many requests, and an idle server still commits a lone request at once.
//!
//! Reads use pooled read-only connections: point lookups inline, scans on `spawn_blocking`;
//! WAL lets them proceed while the writer commits. `writer.rs` is the write path,
//! `queries.rs` the row mapping and the statistics.

mod queries;
mod writer;

use super::migrations;
use super::{Created, IdempotencyKey, Store, StoreFuture, WriteStats};
use crate::error::StoreError;
use crate::model::{CaseRecord, CaseStatus, NewContact, Stats, Transition};
use queries::{LIST_QUEUE, RECENT, compute_stats, fetch_case, row_to_case};
use rusqlite::{Connection, OpenFlags, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use writer::{Counters, WriteOp, note_wal_pages, prune_keys, writer_loop};

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
            let mut stmt = conn.prepare_cached(LIST_QUEUE)?;
            let rows = stmt.query_map(params![status.as_str(), after, limit], row_to_case)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn recent(&self, limit: u32) -> StoreFuture<'_, Vec<CaseRecord>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(RECENT)?;
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
