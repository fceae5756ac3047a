//! The OpenAPI document matches the routes the server really serves.

use crate::support::TestServer;
use hyper::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;

fn document() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
        .expect("server/openapi.json");
    serde_json::from_str(&text).expect("openapi.json is JSON")
}

fn documented() -> BTreeSet<(String, String)> {
    let doc = document();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn document_lists_exactly_the_route_table() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let served: BTreeSet<(String, String)> = cclab_server::routes::route_list()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    let documented = documented();
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "routes missing from openapi.json: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "openapi.json documents routes not served: {extra:?}"
    );
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let s = TestServer::start().await;
    for (method, path) in documented() {
        let concrete = path
            .replace("{number}", "1")
            .replace("{status}", "received");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let r = s.send(method.clone(), &concrete, &[], Vec::new()).await;
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        if r.status == StatusCode::NOT_FOUND {
            assert_ne!(r.error_code(), "not_found", "{method} {path} is not routed");
        }
    }
    // The served copy is the file.
    let served = s.get("/api/v1/openapi.json").await.json();
    assert_eq!(served, document());
}

#[test]
fn documented_error_codes_and_enums_match_the_code() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let channels: Vec<&str> = schemas["Channel"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let expected: Vec<&str> = cclab_server::model::Channel::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(channels, expected);
    let types: Vec<&str> = schemas["RequestType"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let expected: Vec<&str> = cclab_server::model::RequestType::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(types, expected);
    let statuses: Vec<&str> = schemas["CaseStatus"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let expected: Vec<&str> = cclab_server::model::CaseStatus::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(statuses, expected);
}
