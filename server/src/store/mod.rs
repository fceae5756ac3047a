//! Case storage behind the [`Store`] trait.
//!
//! The HTTP layer sees only this trait, so a second backend (PostgreSQL, for deployments of
//! several instances behind one database) is a new implementation, not a change to the routes.
//! Contract of every implementation:
//! - `create_case` resolves only once the case is committed durably: a 201 depends on it.
//! - transitions are checked against the current status atomically with the update, so two
//!   operators racing on one case get one success and one [`StoreError::InvalidTransition`].
//! - an idempotency key maps to exactly one case, even under concurrent retries.

mod migrations;
mod sqlite;

pub use sqlite::{SqliteOptions, SqliteStore};

use crate::error::StoreError;
use crate::model::{CaseRecord, CaseStatus, ContactReceipt, NewContact, Stats, Transition};
use std::future::Future;
use std::pin::Pin;

/// The boxed future every store method returns, so `dyn Store` works.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The result of `create_case`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The receipt of the first request with this key (or of this request if it had none).
    pub receipt: ContactReceipt,
    /// True when an idempotency key matched an earlier request and no case was created.
    pub replayed: bool,
}

/// An idempotency key with the digest of the request it first came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_digest: [u8; 32],
}

/// Write-path counters, exported on `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Transactions committed (each one fsync of the log).
    pub commits: u64,
    /// Operations (creates and transitions) carried by those commits.
    pub writes: u64,
    /// Checkpoints (log copied into the database file).
    pub checkpoints: u64,
}

/// Durable storage of cases. See the module docs for the contract.
pub trait Store: Send + Sync + 'static {
    /// Creates a case from a validated contact, or replays the receipt stored under `key`.
    fn create_case(
        &self,
        contact: NewContact,
        key: Option<IdempotencyKey>,
    ) -> StoreFuture<'_, Created>;

    /// One case by number.
    fn get_case(&self, number: i64) -> StoreFuture<'_, CaseRecord>;

    /// Applies an operator's move, returning the case after it.
    fn transition(
        &self,
        number: i64,
        operator: String,
        transition: Transition,
    ) -> StoreFuture<'_, CaseRecord>;

    /// Cases in one status with number > `after`, oldest first, at most `limit`.
    fn list_queue(
        &self,
        status: CaseStatus,
        after: i64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<CaseRecord>>;

    /// The newest `limit` cases, newest first (for the public status page).
    fn recent(&self, limit: u32) -> StoreFuture<'_, Vec<CaseRecord>>;

    /// Totals for `/stats` and `/status`, from one consistent snapshot.
    fn stats(&self) -> StoreFuture<'_, Stats>;

    /// Number of cases in each status (for `/metrics`).
    fn count_by_status(&self) -> StoreFuture<'_, Vec<(CaseStatus, u64)>>;

    /// Ok when the store can serve reads and accept writes.
    fn ready(&self) -> StoreFuture<'_, ()>;

    /// Write-path counters.
    fn write_stats(&self) -> WriteStats;

    /// Finishes queued writes and closes the database. Later calls fail with
    /// [`StoreError::Unavailable`].
    fn shutdown(&self) -> StoreFuture<'_, ()>;
}
