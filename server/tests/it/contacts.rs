//! `POST /api/v1/contacts`: intake and validation.

use crate::support::{TestServer, contact};
use hyper::StatusCode;
use serde_json::json;

#[tokio::test]
async fn every_channel_and_type_creates_a_case() {
    let s = TestServer::start().await;
    let channels = ["phone", "web_form", "email", "pec", "fax", "letter"];
    let types = [
        "information",
        "report",
        "offer",
        "intervention_request",
        "other",
    ];
    let mut last = 0;
    for (i, ch) in channels.iter().enumerate() {
        let mut body = contact(ch, i);
        body["request_type"] = json!(types[i % types.len()]);
        let r = s.post_json("/api/v1/contacts", &body, &[]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let v = r.json();
        let n = v["number"].as_i64().unwrap();
        assert!(n > last, "case numbers increase");
        last = n;
        assert_eq!(v["status"], "received");
        assert!(v["received_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(
            r.headers.get("location").unwrap(),
            &format!("/api/v1/cases/{n}")
        );
    }
}

#[tokio::test]
async fn minimal_contact_without_event_or_citizen() {
    let s = TestServer::start().await;
    let body = json!({"channel": "letter", "request_type": "other",
                      "subject": "s", "message": "m"});
    let n = s.file(&body).await;
    let v = s.get(&format!("/api/v1/cases/{n}")).await.json();
    assert_eq!(v["event"], serde_json::Value::Null);
}

#[tokio::test]
async fn invalid_fields_are_422_with_the_field_named() {
    let s = TestServer::start().await;
    let cases = [
        (
            json!({"channel": "sms"}),
            "channel",
            "unknown channel \"sms\"",
        ),
        (
            json!({"request_type": "complaint"}),
            "request_type",
            "unknown request type",
        ),
        (json!({"subject": "   "}), "subject", "must not be empty"),
        (
            json!({"subject": "x".repeat(201)}),
            "subject",
            "at most 200",
        ),
        (json!({"event": "e".repeat(65)}), "event", "at most 64"),
        (
            json!({"message": "a\u{0}b"}),
            "message",
            "control characters",
        ),
        (
            json!({"citizen": {"email": "nope"}}),
            "citizen.email",
            "'@'",
        ),
    ];
    for (patch, field, needle) in cases {
        let mut body = contact("phone", 0);
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = s.post_json("/api/v1/contacts", &body, &[]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.error_code(), "invalid_field");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(msg.starts_with(&format!("{field}: ")), "{msg}");
        assert!(msg.contains(needle), "{msg}");
    }
    // Nothing was stored.
    assert_eq!(s.get("/api/v1/stats").await.json()["total"], 0);
}
