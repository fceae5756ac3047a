//! Operator endpoints: bearer auth, the FO/BO workflow, 409 on invalid moves, queue paging.

use crate::support::{ADA, BRUNO, TestServer, contact};
use axum::body::Bytes;
use hyper::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn missing_or_wrong_tokens_are_401() {
    let s = TestServer::start().await;
    let n = s.file(&contact("phone", 0)).await;
    let take = format!("/api/v1/operator/cases/{n}/take");
    let r = s.post_json(&take, &json!({}), &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), "missing_token");
    assert!(r.headers.get("www-authenticate").is_some());
    for header in [
        "Bearer wrong-token-0123456789",
        "Bearer ",
        "Bearer",
        "Basic YWRhOnB3",
        "bearer ada-token-012345678",
    ] {
        let r = s
            .post_json(&take, &json!({}), &[("authorization", header)])
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{header}: {}", r.text);
        let code = r.error_code();
        assert!(code == "invalid_token" || code == "missing_token", "{code}");
    }
    let r = s.get("/api/v1/operator/queues/received").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Nothing moved.
    let v = s.get(&format!("/api/v1/cases/{n}")).await.json();
    assert_eq!(v["status"], "received");
    // The scheme is case-insensitive.
    let r = s
        .post_json(
            &take,
            &json!({}),
            &[("authorization", &format!("bearer {ADA}"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn front_office_answer_closes_the_case() {
    let s = TestServer::start().await;
    let n = s.file(&contact("phone", 0)).await;
    let base = format!("/api/v1/operator/cases/{n}");
    let r = s
        .send(
            Method::POST,
            &format!("{base}/take"),
            &[("authorization", &format!("Bearer {ADA}"))],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "take needs no body: {}", r.text);
    let v = r.json();
    assert_eq!(v["status"], "front_office");
    assert_eq!(v["taken_by"], "ada");
    assert_eq!(v["citizen"]["email"], "maria@example.org");
    let r = s
        .post_as(
            &format!("{base}/answer"),
            ADA,
            &json!({"resolution": "it fell in the Pacific"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.json();
    assert_eq!(v["status"], "closed");
    assert_eq!(v["closed_office"], "front_office");
    assert_eq!(v["closed_by"], "ada");
    assert_eq!(v["resolution"], "it fell in the Pacific");
    let stats = s.get("/api/v1/stats").await.json();
    assert_eq!(stats["closed_front_office"], 1);
    assert_eq!(stats["share_front_office"], 100.0);
}

#[tokio::test]
async fn escalation_to_the_back_office() {
    let s = TestServer::start().await;
    let n = s.file(&contact("pec", 0)).await;
    let base = format!("/api/v1/operator/cases/{n}");
    s.post_as(&format!("{base}/take"), ADA, &json!({})).await;
    let r = s
        .send(
            Method::POST,
            &format!("{base}/escalate"),
            &[("authorization", &format!("Bearer {ADA}"))],
            Bytes::new(),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "escalate body is optional: {}",
        r.text
    );
    assert_eq!(r.json()["status"], "back_office");
    let r = s
        .post_as(
            &format!("{base}/close"),
            BRUNO,
            &json!({"resolution": "answered by letter"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.json();
    assert_eq!(v["closed_by"], "bruno");
    assert_eq!(v["escalated_by"], "ada");
    assert_eq!(v["closed_office"], "back_office");
}

#[tokio::test]
async fn invalid_transitions_are_409_with_a_clear_message() {
    let s = TestServer::start().await;
    let n = s.file(&contact("fax", 0)).await;
    let base = format!("/api/v1/operator/cases/{n}");
    let resolution = json!({"resolution": "x"});
    // Not yet taken: cannot answer, escalate or close.
    for verb in ["answer", "escalate", "close"] {
        let r = s
            .post_as(
                &format!("{base}/{verb}"),
                ADA,
                &resolution_for(verb, &resolution),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{verb}: {}", r.text);
        assert_eq!(r.error_code(), "invalid_transition");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(
            msg.contains(&format!("cannot {verb} case {n}: it is received")),
            "{msg}"
        );
    }
    assert_eq!(
        s.post_as(&format!("{base}/take"), ADA, &json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let r = s.post_as(&format!("{base}/take"), BRUNO, &json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        s.post_as(&format!("{base}/answer"), ADA, &resolution)
            .await
            .status,
        StatusCode::OK
    );
    let r = s.post_as(&format!("{base}/answer"), ADA, &resolution).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text.contains("it is closed"), "{}", r.text);
    // Unknown case: 404; empty resolution: 422.
    let r = s
        .post_as("/api/v1/operator/cases/9999/take", ADA, &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let m = s.file(&contact("fax", 1)).await;
    s.post_as(&format!("/api/v1/operator/cases/{m}/take"), ADA, &json!({}))
        .await;
    let r = s
        .post_as(
            &format!("/api/v1/operator/cases/{m}/answer"),
            ADA,
            &json!({"resolution": " "}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_code(), "invalid_field");
}

fn resolution_for(verb: &str, resolution: &serde_json::Value) -> serde_json::Value {
    if verb == "escalate" {
        json!({})
    } else {
        resolution.clone()
    }
}

#[tokio::test]
async fn racing_operators_get_one_success() {
    let s = std::sync::Arc::new(TestServer::start().await);
    let n = s.file(&contact("phone", 0)).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let token = if i % 2 == 0 { ADA } else { BRUNO };
            s.post_as(
                &format!("/api/v1/operator/cases/{n}/take"),
                token,
                &json!({}),
            )
            .await
            .status
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn queues_page_with_after_and_limit() {
    let s = TestServer::start().await;
    let mut numbers = Vec::new();
    for i in 0..7 {
        numbers.push(s.file(&contact("email", i)).await);
    }
    s.post_as(
        &format!("/api/v1/operator/cases/{}/take", numbers[0]),
        ADA,
        &json!({}),
    )
    .await;
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let r = s
            .get_as(
                &format!("/api/v1/operator/queues/received?limit=2&after={after}"),
                ADA,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let v = r.json();
        assert_eq!(v["status"], "received");
        for c in v["cases"].as_array().unwrap() {
            assert_eq!(c["status"], "received");
            assert!(c["subject"].is_string(), "operators see the text");
            seen.push(c["number"].as_i64().unwrap());
        }
        match v["next_after"].as_i64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(seen, numbers[1..].to_vec());
    let fo = s
        .get_as("/api/v1/operator/queues/front_office", ADA)
        .await
        .json();
    assert_eq!(fo["cases"].as_array().unwrap().len(), 1);
    assert_eq!(fo["next_after"], serde_json::Value::Null);
    for bad in [
        "/api/v1/operator/queues/limbo",
        "/api/v1/operator/queues/received?limit=0",
        "/api/v1/operator/queues/received?limit=501",
        "/api/v1/operator/queues/received?after=x",
        "/api/v1/operator/queues/received?bogus=1",
    ] {
        let r = s.get_as(bad, ADA).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert_eq!(r.error_code(), "bad_parameter");
    }
    let r = s
        .get_as(&format!("/api/v1/operator/cases/{}", numbers[3]), BRUNO)
        .await;
    assert_eq!(r.json()["citizen"]["name"], "Maria Rossi");
}
