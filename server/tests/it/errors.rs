//! Every class of bad input gets a 4xx JSON error, never a 5xx.

use crate::support::{TestServer, contact};
use axum::body::Bytes;
use cclab_server::Config;
use hyper::{Method, StatusCode};

const CT: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn malformed_json_is_400() {
    let s = TestServer::start().await;
    for body in ["{", "not json", "{\"channel\": \"phone\",}", "\u{0}"] {
        let r = s
            .send(Method::POST, "/api/v1/contacts", &[CT], body.to_owned())
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body:?}: {}", r.text);
        assert_eq!(r.error_code(), "malformed_json");
    }
}

#[tokio::test]
async fn wrong_types_and_missing_or_unknown_fields_are_422() {
    let s = TestServer::start().await;
    for body in [
        r#"{"channel": 7, "request_type": "report", "subject": "s", "message": "m"}"#,
        r#"{"channel": "phone", "subject": "s", "message": "m"}"#,
        r#"{"channel": "phone", "request_type": "report", "subject": "s", "message": "m", "x": 1}"#,
        r#"[1, 2, 3]"#,
        r#"{"channel": "phone", "request_type": "report", "subject": "s", "message": "m", "citizen": "bob"}"#,
    ] {
        let r = s
            .send(Method::POST, "/api/v1/contacts", &[CT], body.to_owned())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert_eq!(r.error_code(), "invalid_body");
    }
}

#[tokio::test]
async fn missing_content_type_is_415() {
    let s = TestServer::start().await;
    let body = serde_json::to_vec(&contact("phone", 0)).unwrap();
    let r = s.send(Method::POST, "/api/v1/contacts", &[], body).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.error_code(), "unsupported_media_type");
}

#[tokio::test]
async fn oversize_body_is_413() {
    let s = TestServer::start_with(Config {
        max_body_bytes: 1024,
        ..Config::default()
    })
    .await;
    let mut body = contact("email", 0);
    body["message"] = serde_json::json!("x".repeat(4096));
    let r = s.post_json("/api/v1/contacts", &body, &[]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.error_code(), "payload_too_large");
    // Also when the client lies with no content-length (chunked would stream; a big body of
    // garbage must still be refused, not buffered).
    let r = s
        .send(
            Method::POST,
            "/api/v1/contacts",
            &[CT],
            Bytes::from(vec![b'{'; 1 << 20]),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json() {
    let s = TestServer::start().await;
    let r = s.get("/api/v1/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "not_found");
    let r = s
        .send(Method::DELETE, "/api/v1/contacts", &[], Bytes::new())
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.error_code(), "method_not_allowed");
}

#[tokio::test]
async fn bad_case_numbers_are_400_and_unknown_ones_404() {
    let s = TestServer::start().await;
    for bad in ["abc", "0", "-4", "1.5", "99999999999999999999999", "%FF"] {
        let r = s.get(&format!("/api/v1/cases/{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert_eq!(r.error_code(), "bad_parameter");
    }
    let r = s.get("/api/v1/cases/424242").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "case_not_found");
}

#[tokio::test]
async fn bad_idempotency_key_is_400() {
    let s = TestServer::start().await;
    let long = "k".repeat(256);
    for key in ["", long.as_str(), "has space"] {
        let r = s
            .post_json(
                "/api/v1/contacts",
                &contact("fax", 0),
                &[("idempotency-key", key)],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{key:?}: {}", r.text);
        assert_eq!(r.error_code(), "bad_header");
    }
}

#[tokio::test]
async fn rate_limit_is_off_by_default_and_429_when_set() {
    let s = TestServer::start().await;
    for i in 0..30 {
        s.file(&contact("phone", i)).await;
    }
    let s = TestServer::start_with(Config {
        rate_limit: Some(cclab_server::RateLimit {
            per_second: 0.5,
            burst: 3,
        }),
        ..Config::default()
    })
    .await;
    for i in 0..3 {
        s.file(&contact("phone", i)).await;
    }
    let r = s
        .post_json("/api/v1/contacts", &contact("phone", 9), &[])
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.error_code(), "rate_limited");
    assert!(r.headers.get("retry-after").is_some());
    // Reads are not limited.
    assert_eq!(s.get("/api/v1/stats").await.status, StatusCode::OK);
}

#[tokio::test]
async fn garbage_never_gets_a_5xx() {
    let s = TestServer::start().await;
    let bodies: [&[u8]; 6] = [
        b"",
        b"null",
        b"{\"channel\":null}",
        &[0xff, 0xfe, 0x00],
        b"{\"channel\":\"phone\",\"request_type\":\"report\",\"subject\":\"\\ud800\",\"message\":\"m\"}",
        b"{\"channel\":\"phone\",\"request_type\":\"report\",\"subject\":\"a\\u0007b\",\"message\":\"m\"}",
    ];
    let paths = [
        "/api/v1/contacts",
        "/api/v1/operator/cases/1/answer",
        "/api/v1/operator/cases/1/escalate",
        "/api/v1/cases/1",
    ];
    for path in paths {
        for body in bodies {
            for ct in [Some("application/json"), Some("text/plain"), None] {
                let headers: Vec<(&str, &str)> =
                    ct.map(|c| ("content-type", c)).into_iter().collect();
                let r = s
                    .send(Method::POST, path, &headers, Bytes::copy_from_slice(body))
                    .await;
                assert!(
                    r.status.is_client_error(),
                    "{path} {body:?} {ct:?}: {} {}",
                    r.status,
                    r.text
                );
                r.error_code();
            }
        }
    }
}

#[tokio::test]
async fn a_body_that_never_arrives_is_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start_with(Config {
        body_timeout: std::time::Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    conn.write_all(
        b"POST /api/v1/contacts HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
          content-length: 100\r\nconnection: close\r\n\r\n{\"channel\":",
    )
    .await
    .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        conn.read_to_string(&mut answer),
    )
    .await
    .expect("server answered")
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
}
