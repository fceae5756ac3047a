//! `/healthz`, `/readyz`, `/metrics`, `/status`, `/api/v1/stats` on an empty store.

use crate::support::{TestServer, contact};
use hyper::StatusCode;

#[tokio::test]
async fn health_and_readiness() {
    let s = TestServer::start().await;
    let r = s.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], "ok");
    let r = s.get("/readyz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], "ready");
}

#[tokio::test]
async fn metrics_count_requests_and_cases() {
    let s = TestServer::start().await;
    for i in 0..3 {
        s.file(&contact("phone", i)).await;
    }
    s.get("/api/v1/cases/1").await;
    s.get("/api/v1/cases/777").await;
    s.get("/definitely/not/a/route").await;
    let r = s.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let m = r.text;
    for needle in [
        "# TYPE cclab_http_requests_total counter",
        "cclab_http_requests_total{method=\"POST\",route=\"/api/v1/contacts\",status=\"201\"} 3",
        "cclab_http_requests_total{method=\"GET\",route=\"/api/v1/cases/{number}\",status=\"200\"} 1",
        "cclab_http_requests_total{method=\"GET\",route=\"/api/v1/cases/{number}\",status=\"404\"} 1",
        "cclab_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
        "# TYPE cclab_http_request_duration_seconds histogram",
        "cclab_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/contacts\"} 3",
        "cclab_cases{state=\"received\"} 3",
        "cclab_cases{state=\"closed\"} 0",
        "cclab_store_writes_total 3",
    ] {
        assert!(m.contains(needle), "missing {needle:?} in\n{m}");
    }
    // Every sample line is `name{labels} value` with a numeric value.
    for line in m.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample line {line:?}");
    }
}

#[tokio::test]
async fn status_page_is_server_rendered_html() {
    let s = TestServer::start().await;
    let mut body = contact("letter", 0);
    body["event"] = serde_json::json!("emilia-2012");
    let n = s.file(&body).await;
    let r = s.get("/status").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "text/html; charset=utf-8");
    let html = r.text;
    assert!(html.starts_with("<!doctype html>"));
    assert!(!html.contains("<script"), "no JavaScript");
    assert!(
        html.contains("<tr><th>cases received</th><td class=\"n\">1</td></tr>"),
        "{html}"
    );
    assert!(html.contains(&format!(
        "<tr><td class=\"n\">{n}</td><td>received</td><td>letter</td>"
    )));
    assert!(
        !html.contains("Maria"),
        "no personal data on the public page"
    );
}

#[tokio::test]
async fn stats_on_an_empty_store() {
    let s = TestServer::start().await;
    let v = s.get("/api/v1/stats").await.json();
    assert_eq!(v["total"], 0);
    assert_eq!(v["share_open"], 0.0);
    assert_eq!(v["by_day"].as_array().unwrap().len(), 0);
}
