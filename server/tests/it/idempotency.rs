//! `Idempotency-Key`: a retried request gets the original answer, never a second case.

use crate::support::{TestServer, contact};
use hyper::StatusCode;
use std::collections::HashSet;
use std::sync::Arc;

#[tokio::test]
async fn a_retry_returns_the_original_response() {
    let s = TestServer::start().await;
    let body = contact("web_form", 1);
    let key = [("idempotency-key", "retry-me-1")];
    let first = s.post_json("/api/v1/contacts", &body, &key).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let second = s.post_json("/api/v1/contacts", &body, &key).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(first.json(), second.json());
    assert_eq!(s.get("/api/v1/stats").await.json()["total"], 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let s = TestServer::start().await;
    let key = [("idempotency-key", "k-1")];
    s.post_json("/api/v1/contacts", &contact("pec", 1), &key)
        .await;
    let r = s
        .post_json("/api/v1/contacts", &contact("pec", 2), &key)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_code(), "idempotency_key_reused");
    assert_eq!(s.get("/api/v1/stats").await.json()["total"], 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_case() {
    let s = Arc::new(TestServer::start().await);
    // Several keys, each retried by many concurrent clients at once.
    let keys = 8;
    let retries = 16;
    let mut tasks = Vec::new();
    for k in 0..keys {
        for _ in 0..retries {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let key = format!("burst-{k}");
                let r = s
                    .post_json(
                        "/api/v1/contacts",
                        &contact("phone", k),
                        &[("idempotency-key", &key)],
                    )
                    .await;
                assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
                (k, r.json()["number"].as_i64().unwrap())
            }));
        }
    }
    let mut numbers_by_key = vec![HashSet::new(); keys];
    for t in tasks {
        let (k, n) = t.await.unwrap();
        numbers_by_key[k].insert(n);
    }
    for (k, numbers) in numbers_by_key.iter().enumerate() {
        assert_eq!(numbers.len(), 1, "key {k} gave several cases: {numbers:?}");
    }
    let distinct: HashSet<i64> = numbers_by_key.iter().flatten().copied().collect();
    assert_eq!(distinct.len(), keys);
    assert_eq!(s.get("/api/v1/stats").await.json()["total"], keys as u64);
}

#[tokio::test]
async fn keys_survive_a_restart() {
    let mut s = TestServer::start().await;
    let dir = s.keep_dir();
    let body = contact("fax", 3);
    let key = [("idempotency-key", "across-restart")];
    let first = s.post_json("/api/v1/contacts", &body, &key).await.json();
    s.stop().await.unwrap();
    let s = TestServer::start_on(s.db.clone(), crate::support::default_config()).await;
    let again = s.post_json("/api/v1/contacts", &body, &key).await;
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.json(), first);
    drop(dir);
}
