//! A server on an ephemeral loopback port and a small HTTP client for it.

use axum::body::Bytes;
use cclab_server::{AppState, Config, OperatorTokens, SqliteOptions, SqliteStore};
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ADA: &str = "ada-token-0123456789";
pub const BRUNO: &str = "bruno-token-0123456789";
/// Every test request must finish within this.
const TIMEOUT: Duration = Duration::from_secs(20);

/// A running server, its database file, and a client.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The server's state, to observe or poke it (e.g. start draining).
    pub state: AppState,
    pub db: PathBuf,
    client: Client<HttpConnector, Full<Bytes>>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    handle: Mutex<Option<JoinHandle<Result<(), cclab_server::ServerError>>>>,
    _dir: Option<tempfile::TempDir>,
}

/// One response: status, headers, body as text.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }

    /// Asserts the JSON error shape and returns the code.
    pub fn error_code(&self) -> String {
        let v = self.json();
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(!msg.is_empty(), "error without message: {}", self.text);
        assert_eq!(
            self.headers.get("content-type").unwrap(),
            "application/json",
            "{}",
            self.text
        );
        v["error"]["code"].as_str().expect("error.code").to_owned()
    }
}

pub fn default_config() -> Config {
    Config::default()
}

impl TestServer {
    /// A server with two operators (ada, bruno) on a fresh database.
    pub async fn start() -> TestServer {
        Self::start_with(default_config()).await
    }

    pub async fn start_with(config: Config) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cases.db");
        let mut s = Self::start_on(db, config).await;
        s._dir = Some(dir);
        s
    }

    /// A server on an existing (or new) database file.
    pub async fn start_on(db: PathBuf, config: Config) -> TestServer {
        let store = SqliteStore::open(&db, SqliteOptions::default()).unwrap();
        let tokens =
            OperatorTokens::from_specs(&[format!("ada={ADA}"), format!("bruno={BRUNO}")]).unwrap();
        let state = AppState::new(Arc::new(store), tokens, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let handle = tokio::spawn(cclab_server::serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        let client = Client::builder(TokioExecutor::new()).build_http();
        TestServer {
            addr,
            state,
            db,
            client,
            stop: Mutex::new(Some(stop)),
            handle: Mutex::new(Some(handle)),
            _dir: None,
        }
    }

    /// Signals shutdown and waits for the server (and its store) to stop.
    pub async fn stop(&self) -> Result<(), cclab_server::ServerError> {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            let _ = stop.send(());
        }
        let handle = self.handle.lock().unwrap().take();
        match handle {
            Some(h) => tokio::time::timeout(TIMEOUT, h)
                .await
                .expect("server did not stop in time")
                .expect("server task panicked"),
            None => Ok(()),
        }
    }

    /// Takes the temporary directory so the database outlives this server.
    pub fn keep_dir(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with raw body bytes and extra headers; panics if it fails.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        self.try_send(method, path, headers, body)
            .await
            .expect("request failed")
    }

    /// Sends a request; `None` if the connection failed (e.g. the server is gone).
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Option<Reply> {
        let mut req = Request::builder().method(method).uri(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body.into())).unwrap();
        let fut = async {
            let res = self.client.request(req).await.ok()?;
            let status = res.status();
            let headers = res.headers().clone();
            let body = res.into_body().collect().await.ok()?.to_bytes();
            Some(Reply {
                status,
                headers,
                text: String::from_utf8_lossy(&body).into_owned(),
            })
        };
        tokio::time::timeout(TIMEOUT, fut)
            .await
            .expect("request timed out")
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], Bytes::new()).await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.send(Method::GET, path, &[("authorization", &auth)], Bytes::new())
            .await
    }

    /// POSTs a JSON value.
    pub async fn post_json(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Reply {
        let mut h = vec![("content-type", "application/json")];
        h.extend_from_slice(headers);
        self.send(Method::POST, path, &h, serde_json::to_vec(body).unwrap())
            .await
    }

    /// POSTs a JSON value as an operator.
    pub async fn post_as(&self, path: &str, token: &str, body: &Value) -> Reply {
        let auth = format!("Bearer {token}");
        self.post_json(path, body, &[("authorization", &auth)])
            .await
    }

    /// Files a contact and returns its case number.
    pub async fn file(&self, body: &Value) -> i64 {
        let r = self.post_json("/api/v1/contacts", body, &[]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()["number"].as_i64().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.get_mut().ok().and_then(|s| s.take()) {
            let _ = stop.send(());
        }
    }
}

/// A valid contact; `n` varies the subject so bodies differ.
pub fn contact(channel: &str, n: usize) -> Value {
    json!({
        "channel": channel,
        "request_type": "information",
        "event": "uars-2011",
        "subject": format!("satellite re-entry {n}"),
        "message": "Where will the UARS satellite fall?",
        "citizen": {"name": "Maria Rossi", "email": "maria@example.org", "phone": "+39 06 000"}
    })
}
