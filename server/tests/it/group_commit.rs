//! Group commit: concurrent writes share commits, and every acknowledged write is durable.

use cclab_server::model::{Channel, CitizenInput, NewContact, RequestType};
use cclab_server::{SqliteOptions, SqliteStore, Store};
use std::sync::Arc;

fn new_contact(i: usize) -> NewContact {
    NewContact {
        channel: Channel::ALL[i % Channel::ALL.len()],
        request_type: RequestType::Report,
        event: None,
        subject: format!("group commit {i}"),
        message: "m".into(),
        citizen: CitizenInput::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let store = Arc::new(SqliteStore::open(&path, SqliteOptions::default()).unwrap());
    let n = 400;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.create_case(new_contact(i), None).await })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap().unwrap().receipt.number);
    }
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), n);
    let w = store.write_stats();
    assert_eq!(w.writes, n as u64);
    // 400 writes queued at once cannot each wait for their own fsync.
    assert!(w.commits < w.writes, "no batching: {w:?}");
    store.shutdown().await.unwrap();
    // Closed cleanly, reopened: everything is there.
    let again = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(again.stats().await.unwrap().total, n as u64);
    for number in [numbers[0], numbers[n / 2], numbers[n - 1]] {
        again.get_case(number).await.unwrap();
    }
    // After shutdown the old store refuses work instead of hanging.
    assert!(matches!(
        store.create_case(new_contact(0), None).await,
        Err(cclab_server::StoreError::Unavailable)
    ));
}

#[tokio::test]
async fn max_batch_of_one_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        max_batch: 1,
        ..SqliteOptions::default()
    };
    let store = Arc::new(SqliteStore::open(dir.path().join("one.db"), options).unwrap());
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.create_case(new_contact(i), None).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let w = store.write_stats();
    assert_eq!((w.commits, w.writes), (20, 20));
}
