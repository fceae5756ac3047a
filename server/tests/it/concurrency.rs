//! N parallel clients: the final counts agree with `/stats`, and every 201 is readable.

use crate::support::{ADA, TestServer, contact};
use hyper::StatusCode;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

const CHANNELS: [&str; 6] = ["phone", "web_form", "email", "pec", "fax", "letter"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_clients_agree_with_stats() {
    let s = Arc::new(TestServer::start().await);
    let clients = 16;
    let per_client = 25;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for i in 0..per_client {
                let ch = CHANNELS[(c + i) % CHANNELS.len()];
                let n = s.file(&contact(ch, c * 1000 + i)).await;
                mine.push((n, ch));
                // Every third case is taken and answered at the front office, every fifth of
                // those escalated instead, to exercise writes of both kinds at once.
                if i % 3 == 0 {
                    let base = format!("/api/v1/operator/cases/{n}");
                    let r = s.post_as(&format!("{base}/take"), ADA, &json!({})).await;
                    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                    let r = if i % 5 == 0 {
                        s.post_as(&format!("{base}/escalate"), ADA, &json!({}))
                            .await
                    } else {
                        s.post_as(&format!("{base}/answer"), ADA, &json!({"resolution": "ok"}))
                            .await
                    };
                    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                }
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let total = clients * per_client;
    let distinct: HashSet<i64> = all.iter().map(|(n, _)| *n).collect();
    assert_eq!(distinct.len(), total, "case numbers are unique");

    let mut by_channel: BTreeMap<String, u64> = BTreeMap::new();
    for (_, ch) in &all {
        *by_channel.entry((*ch).to_owned()).or_default() += 1;
    }
    let (mut answered, mut escalated) = (0u64, 0u64);
    for c in 0..clients {
        let _ = c;
        for i in 0..per_client {
            if i % 3 == 0 {
                if i % 5 == 0 {
                    escalated += 1
                } else {
                    answered += 1
                }
            }
        }
    }
    let stats = s.get("/api/v1/stats").await.json();
    assert_eq!(stats["total"], total as u64);
    assert_eq!(stats["closed"], answered);
    assert_eq!(stats["closed_front_office"], answered);
    assert_eq!(stats["open"], total as u64 - answered);
    let status_counts: BTreeMap<String, u64> = stats["by_status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(status_counts["back_office"], escalated);
    assert_eq!(
        status_counts["received"],
        total as u64 - answered - escalated
    );
    let stat_channels: BTreeMap<String, u64> = stats["by_channel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(stat_channels, by_channel);
    let day_total: u64 = stats["by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["received"].as_u64().unwrap())
        .sum();
    assert_eq!(day_total, total as u64);
    let shares = stats["share_front_office"].as_f64().unwrap()
        + stats["share_back_office"].as_f64().unwrap()
        + stats["share_open"].as_f64().unwrap();
    assert!((shares - 100.0).abs() < 0.05, "{shares}");
    for (n, _) in all.iter().step_by(37) {
        assert_eq!(
            s.get(&format!("/api/v1/cases/{n}")).await.status,
            StatusCode::OK
        );
    }
}
