//! `cclab serve` crash safety: a server under a burst of concurrent POSTs is killed with SIGKILL;
//! after restart every case that got a 201 is present, and retrying the unanswered requests with
//! their idempotency keys never creates a duplicate. Several kill/restart cycles on one database.

use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const TOKEN: &str = "crash-test-token-0123456789";
const CYCLES: usize = 4;
const CLIENTS: usize = 8;
/// Requests per client per cycle, at most: bounds the test even if the kill came late.
const MAX_PER_CLIENT: usize = 2_000;

struct Server {
    child: Child,
    addr: SocketAddr,
}

fn start(db: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cclab"))
        .args(["serve", "--addr", "127.0.0.1:0", "--log", "warn", "--db"])
        .arg(db)
        .args(["--operator-token", &format!("crash={TOKEN}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn cclab serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    Server { child, addr }
}

/// One HTTP/1.1 request on a fresh connection; `None` if the connection failed or the answer
/// was cut short (the server died).
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    stream.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    // A complete response has a complete JSON body; a cut one does not parse.
    let json = serde_json::from_str(body).ok()?;
    Some((status, json))
}

fn contact(id: &str) -> Value {
    json!({"channel": "phone", "request_type": "report", "event": "crash-test",
           "subject": id, "message": "burst before a SIGKILL"})
}

/// Every case in the store, by paging the received queue (nothing is ever taken here).
fn all_subjects(addr: SocketAddr) -> Vec<(i64, String)> {
    let auth = format!("Bearer {TOKEN}");
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let path = format!("/api/v1/operator/queues/received?limit=500&after={after}");
        let (status, page) =
            request(addr, "GET", &path, &[("authorization", &auth)], None).expect("queue");
        assert_eq!(status, 200, "{page}");
        for c in page["cases"].as_array().unwrap() {
            out.push((
                c["number"].as_i64().unwrap(),
                c["subject"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next_after"].as_i64() {
            Some(n) => after = n,
            None => return out,
        }
    }
}

#[test]
fn acknowledged_cases_survive_sigkill_and_retries_never_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    // id -> case number, for every request that got a 201 (before or after a crash).
    let mut acked: HashMap<String, i64> = HashMap::new();
    let mut attempted: HashSet<String> = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(240);

    for cycle in 0..CYCLES {
        assert!(Instant::now() < deadline, "crash test ran too long");
        let mut server = start(&db);
        let addr = server.addr;
        let stop = Arc::new(AtomicBool::new(false));
        let results = Arc::new(Mutex::new(Vec::<(String, Option<i64>)>::new()));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let stop = stop.clone();
                let results = results.clone();
                thread::spawn(move || {
                    for i in 0..MAX_PER_CLIENT {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let id = format!("c{cycle}-t{c}-{i}");
                        let reply = request(
                            addr,
                            "POST",
                            "/api/v1/contacts",
                            &[("idempotency-key", &id)],
                            Some(&contact(&id)),
                        );
                        let number = match reply {
                            Some((201, v)) => v["number"].as_i64(),
                            Some((status, v)) => panic!("unexpected {status}: {v}"),
                            None => None,
                        };
                        let failed = number.is_none();
                        results.lock().unwrap().push((id, number));
                        if failed {
                            break;
                        }
                    }
                })
            })
            .collect();
        // Let the burst run, then kill the server in the middle of it.
        thread::sleep(Duration::from_millis(300 + 100 * cycle as u64));
        server.child.kill().expect("SIGKILL");
        server.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().expect("client thread");
        }
        let results = std::mem::take(&mut *results.lock().unwrap());
        let in_cycle = results.iter().filter(|(_, n)| n.is_some()).count();
        assert!(
            in_cycle > 0,
            "cycle {cycle}: no request got a 201 before the kill"
        );
        let mut unanswered = Vec::new();
        let sent = results.len();
        for (id, number) in results {
            attempted.insert(id.clone());
            match number {
                Some(n) => {
                    acked.insert(id, n);
                }
                None => unanswered.push(id),
            }
        }

        eprintln!(
            "cycle {cycle}: {sent} requests, {in_cycle} got 201 before SIGKILL, {} unanswered",
            unanswered.len()
        );
        // Restart on the same file: every 201 is there, with its own subject.
        let mut server = start(&db);
        let addr = server.addr;
        let auth = format!("Bearer {TOKEN}");
        for (id, n) in &acked {
            let (status, case) = request(
                addr,
                "GET",
                &format!("/api/v1/operator/cases/{n}"),
                &[("authorization", &auth)],
                None,
            )
            .expect("get after restart");
            assert_eq!(
                status, 200,
                "cycle {cycle}: acknowledged case {n} ({id}) lost"
            );
            assert_eq!(case["subject"], id.as_str());
        }
        // Retry the unanswered requests as a careful client would: same key, same body.
        for id in unanswered {
            let (status, v) = request(
                addr,
                "POST",
                "/api/v1/contacts",
                &[("idempotency-key", &id)],
                Some(&contact(&id)),
            )
            .expect("retry after restart");
            assert_eq!(status, 201, "{v}");
            acked.insert(id, v["number"].as_i64().unwrap());
        }
        // Exactly one case per distinct request: none lost, none duplicated.
        let cases = all_subjects(addr);
        let subjects: HashSet<&str> = cases.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            subjects.len(),
            cases.len(),
            "cycle {cycle}: a request was stored twice"
        );
        assert_eq!(
            cases.len(),
            attempted.len(),
            "cycle {cycle}: cases != requests"
        );
        for (n, subject) in &cases {
            assert_eq!(
                acked.get(subject),
                Some(n),
                "case {n} ({subject}) unaccounted for"
            );
        }
        let (_, stats) = request(addr, "GET", "/api/v1/stats", &[], None).unwrap();
        assert_eq!(stats["total"], attempted.len() as u64);
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    }
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("term.db");
    let mut server = start(&db);
    let (status, _) = request(
        server.addr,
        "POST",
        "/api/v1/contacts",
        &[],
        Some(&contact("t")),
    )
    .expect("post");
    assert_eq!(status, 201);
    let pid = server.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(killed.success());
    let start_wait = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "serve exited with {status}");
            break;
        }
        assert!(
            start_wait.elapsed() < Duration::from_secs(15),
            "serve ignored SIGTERM"
        );
        thread::sleep(Duration::from_millis(20));
    }
    // Closed cleanly: the WAL was checkpointed into the main file and truncated.
    let wal = db.with_extension("db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);
}
