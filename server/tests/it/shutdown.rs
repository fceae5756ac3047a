//! Graceful shutdown: requests in flight finish, the store closes, data survives a restart.

use crate::support::{TestServer, contact, default_config};
use hyper::{Method, StatusCode};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_then_closes_the_store() {
    let mut s = TestServer::start().await;
    let dir = s.keep_dir();
    let srv = Arc::new(s);
    // Fire a burst and stop while it is in flight: every request either got a 201 (and its
    // case survives) or failed at the connection level; none got an error status.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let srv = srv.clone();
        tasks.push(tokio::spawn(async move {
            let body = serde_json::to_vec(&contact("phone", i)).unwrap();
            let r = srv
                .try_send(
                    Method::POST,
                    "/api/v1/contacts",
                    &[("content-type", "application/json")],
                    body,
                )
                .await?;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            r.json()["number"].as_i64()
        }));
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    srv.stop().await.expect("clean shutdown");
    let mut created = Vec::new();
    for t in tasks {
        if let Some(n) = t.await.unwrap() {
            created.push(n);
        }
    }
    // The WAL was checkpointed and truncated on close.
    let wal = srv.db.with_extension("db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);
    let again = TestServer::start_on(srv.db.clone(), default_config()).await;
    for n in &created {
        assert_eq!(
            again.get(&format!("/api/v1/cases/{n}")).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        again.get("/api/v1/stats").await.json()["total"],
        created.len() as u64
    );
    // Ready before, the stopped server refuses connections after.
    assert!(
        srv.try_send(Method::GET, "/healthz", &[], Vec::new())
            .await
            .is_none()
    );
    drop(dir);
}
