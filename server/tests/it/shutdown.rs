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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_completes_during_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TestServer::start().await;
    let dir = s.keep_dir();
    let srv = Arc::new(s);
    let body = serde_json::to_vec(&contact("letter", 1)).unwrap();
    let (first, rest) = body.split_at(10);
    let mut conn = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/contacts HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Shutdown begins while the body is still arriving.
    let stopping = tokio::spawn({
        let srv = srv.clone();
        async move { srv.stop().await }
    });
    let waiting = std::time::Instant::now();
    while !srv.state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "shutdown never began"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !stopping.is_finished(),
        "the server must wait for the request in flight"
    );
    conn.write_all(rest).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_string(&mut answer))
        .await
        .expect("answer")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    stopping.await.unwrap().expect("clean shutdown");
    let again = TestServer::start_on(srv.db.clone(), default_config()).await;
    assert_eq!(again.get("/api/v1/stats").await.json()["total"], 1);
    drop(dir);
}

#[tokio::test]
async fn readyz_is_503_while_draining() {
    let s = TestServer::start().await;
    assert_eq!(s.get("/readyz").await.status, StatusCode::OK);
    s.state
        .draining
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let r = s.get("/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.error_code(), "unavailable");
    // Liveness is unaffected.
    assert_eq!(s.get("/healthz").await.status, StatusCode::OK);
}
