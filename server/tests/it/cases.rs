//! `GET /api/v1/cases/{number}`: the public view.

use crate::support::{ADA, TestServer, contact};
use hyper::StatusCode;
use serde_json::json;

#[tokio::test]
async fn public_view_has_status_and_no_personal_data() {
    let s = TestServer::start().await;
    let n = s.file(&contact("email", 7)).await;
    let r = s.get(&format!("/api/v1/cases/{n}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["number"], n);
    assert_eq!(v["status"], "received");
    assert_eq!(v["channel"], "email");
    assert_eq!(v["request_type"], "information");
    assert_eq!(v["event"], "uars-2011");
    assert!(v["received_at"].is_string());
    assert!(v["taken_at"].is_null() && v["closed_at"].is_null());
    for secret in [
        "Maria",
        "maria@example.org",
        "+39",
        "satellite re-entry",
        "Where will",
    ] {
        assert!(
            !r.text.contains(secret),
            "public view leaks {secret:?}: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn public_view_follows_the_workflow_with_timestamps() {
    let s = TestServer::start().await;
    let n = s.file(&contact("phone", 1)).await;
    let base = format!("/api/v1/operator/cases/{n}");
    s.post_as(&format!("{base}/take"), ADA, &json!({})).await;
    let v = s.get(&format!("/api/v1/cases/{n}")).await.json();
    assert_eq!(v["status"], "front_office");
    assert!(v["taken_at"].is_string());
    s.post_as(
        &format!("{base}/escalate"),
        ADA,
        &json!({"note": "needs research"}),
    )
    .await;
    s.post_as(
        &format!("{base}/close"),
        ADA,
        &json!({"resolution": "done"}),
    )
    .await;
    let v = s.get(&format!("/api/v1/cases/{n}")).await.json();
    assert_eq!(v["status"], "closed");
    assert_eq!(v["closed_office"], "back_office");
    assert!(v["escalated_at"].as_str().unwrap() <= v["closed_at"].as_str().unwrap());
    assert!(
        !s.get(&format!("/api/v1/cases/{n}"))
            .await
            .text
            .contains("research")
    );
}
