//! A lean HTTP/1.1 client for the dispatcher: one request at a time per connection, requests
//! rendered into a reusable buffer (or sent as pre-rendered bytes when a step has no
//! placeholders), and only what the dispatcher needs read from the answer: the status line,
//! the framing (`Content-Length`, chunked, or close-delimited), keep-alive, captured headers
//! and, when a step captures from JSON, the body. No per-request allocation on the fast path:
//! the read and write buffers belong to the connection and keep their capacity.
//!
//! It replaces hyper's client on the hot path, where hyper's generality (pool bookkeeping,
//! header maps, body streams, a task per connection) cost more CPU per request than the
//! system calls themselves. `fetch_count` (reconciliation) uses it too.

use crate::LoadgenError;
use hyper::header::HeaderName;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most bytes of a response head; a longer one is a transport error.
const MAX_HEAD: usize = 64 * 1024;
/// Most headers of a response.
const MAX_HEADERS: usize = 64;

/// The parsed base URL: where to connect, the `Host` header, the path prefix.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub host: String,
    pub port: u16,
    /// `host[:port]` as written, for the `Host` header.
    pub authority: String,
    /// Path prefix (no trailing slash), prepended to every step's path.
    pub prefix: String,
}

impl Target {
    /// Parses a base URL already checked by `parse_target` (`http://authority[/prefix]`).
    pub fn parse(base: &str) -> Result<Target, LoadgenError> {
        let bad = |reason: &str| LoadgenError::Target {
            url: base.to_string(),
            reason: reason.to_string(),
        };
        let rest = base
            .strip_prefix("http://")
            .ok_or_else(|| bad("expected http://host:port"))?;
        let (authority, prefix) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, p.parse().map_err(|_| bad("bad port number"))?),
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Target {
            host: host.to_string(),
            port,
            authority: authority.to_string(),
            prefix: prefix.trim_end_matches('/').to_string(),
        })
    }
}

/// Why an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The connection could not be established.
    Connect,
    /// A reused connection was closed by the server before answering: safe to retry once on
    /// a new connection (the server saw nothing, or dropped the idle connection).
    Stale,
    /// Reset, closed mid-response, or not HTTP.
    Transport,
}

/// What the dispatcher needs from a response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reply {
    pub status: u16,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
}

/// Reads one answer out of the bytes received so far, a piece at a time: the head once, then
/// the body as it arrives (`Content-Length`, chunked, or up to the end of the stream). The
/// dispatcher's event loop and the async [`Conn`] both drive it.
#[derive(Default)]
pub(crate) struct Reader {
    frame: Option<Frame>,
    /// Chunked: where the next chunk-size line starts, and the body decoded so far.
    chunk_pos: usize,
    chunked: Vec<u8>,
    /// The body of a complete answer that is not chunked, as a range of the buffer.
    body_range: (usize, usize),
}

impl Reader {
    /// Forgets the last answer (a new request goes out).
    pub fn reset(&mut self) {
        self.frame = None;
        self.chunk_pos = 0;
        self.chunked.clear();
        self.body_range = (0, 0);
    }

    /// The body of the complete answer in `buf`.
    pub fn body<'a>(&'a self, buf: &'a [u8]) -> &'a [u8] {
        match &self.frame {
            Some(f) if f.chunked => &self.chunked,
            _ => &buf[self.body_range.0..self.body_range.1],
        }
    }

    /// Looks at `buf`, everything received since the request went out; `eof`: the peer has
    /// closed. `Ok(None)`: more bytes are needed. `head` says the request was a HEAD (no body
    /// follows); the values of the headers named in `want` go to `got` (same order).
    pub fn advance(
        &mut self,
        buf: &mut Vec<u8>,
        eof: bool,
        head: bool,
        want: &[HeaderName],
        got: &mut Vec<Option<Arc<str>>>,
    ) -> Result<Option<Reply>, Failure> {
        if self.frame.is_none() {
            match parse_head(buf, head, want, got)? {
                Some(f) => {
                    self.chunk_pos = f.head_len;
                    self.frame = Some(f);
                }
                None if eof || buf.len() > MAX_HEAD => return Err(Failure::Transport),
                None => return Ok(None),
            }
        }
        let f = self.frame.as_ref().expect("frame parsed above");
        let (status, mut keep_alive) = (f.status, f.keep_alive);
        if f.chunked {
            match self.decode_chunks(buf)? {
                Some(end) => keep_alive &= buf.len() == end,
                None if eof => return Err(Failure::Transport),
                None => return Ok(None),
            }
        } else if let Some(n) = f.length {
            let end = f.head_len + n;
            if buf.len() < end {
                return if eof {
                    Err(Failure::Transport)
                } else {
                    Ok(None)
                };
            }
            // Anything past the answer was not asked for: do not reuse the connection.
            keep_alive &= buf.len() == end;
            self.body_range = (f.head_len, end);
        } else {
            // No framing: the body ends with the connection.
            if !eof {
                return Ok(None);
            }
            keep_alive = false;
            self.body_range = (f.head_len, buf.len());
        }
        Ok(Some(Reply { status, keep_alive }))
    }

    /// Decodes the chunks complete in `buf` from `chunk_pos` on; the end of the answer once
    /// the last chunk and the trailers are in.
    fn decode_chunks(&mut self, buf: &[u8]) -> Result<Option<usize>, Failure> {
        loop {
            let pos = self.chunk_pos;
            let Some(line) = line_end(buf, pos)? else {
                return Ok(None);
            };
            let size_text = buf[pos..line].split(|&b| b == b';').next().unwrap_or(&[]);
            let size = std::str::from_utf8(size_text)
                .ok()
                .and_then(|t| usize::from_str_radix(t.trim(), 16).ok())
                .ok_or(Failure::Transport)?;
            let data = line + 2;
            if size == 0 {
                // Trailers, up to an empty line.
                let mut at = data;
                loop {
                    let Some(end) = line_end(buf, at)? else {
                        return Ok(None);
                    };
                    if end == at {
                        return Ok(Some(end + 2));
                    }
                    at = end + 2;
                }
            }
            if buf.len() < data + size + 2 {
                return Ok(None);
            }
            self.chunked.extend_from_slice(&buf[data..data + size]);
            self.chunk_pos = data + size + 2;
        }
    }
}

/// The index of the CRLF ending the line that starts at `pos`; `None` if not in yet.
fn line_end(buf: &[u8], pos: usize) -> Result<Option<usize>, Failure> {
    match buf.get(pos..).and_then(find_crlf) {
        Some(i) => Ok(Some(pos + i)),
        None if buf.len() > pos + MAX_HEAD => Err(Failure::Transport),
        None => Ok(None),
    }
}

/// Parses the head at the start of `buf`; `None` if incomplete. Interim (1xx) responses are
/// skipped (drained from `buf`).
fn parse_head(
    buf: &mut Vec<u8>,
    head: bool,
    want: &[HeaderName],
    got: &mut Vec<Option<Arc<str>>>,
) -> Result<Option<Frame>, Failure> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut headers);
        let len = match res.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(Failure::Transport),
        };
        let status = res.code.ok_or(Failure::Transport)?;
        if (100..200).contains(&status) && status != 101 {
            buf.drain(..len);
            continue;
        }
        let mut f = Frame {
            head_len: len,
            status,
            length: None,
            chunked: false,
            keep_alive: res.version == Some(1),
        };
        got.clear();
        got.resize(want.len(), None);
        for h in res.headers.iter() {
            let name = h.name;
            if name.eq_ignore_ascii_case("content-length") {
                let v = std::str::from_utf8(h.value).map_err(|_| Failure::Transport)?;
                f.length = Some(v.trim().parse().map_err(|_| Failure::Transport)?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                f.chunked = ends_with_token(h.value, b"chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                if contains_token(h.value, b"close") {
                    f.keep_alive = false;
                } else if contains_token(h.value, b"keep-alive") {
                    f.keep_alive = true;
                }
            }
            for (slot, w) in want.iter().enumerate() {
                if got[slot].is_none() && name.eq_ignore_ascii_case(w.as_str()) {
                    got[slot] = std::str::from_utf8(h.value).ok().map(Arc::from);
                }
            }
        }
        if head || status == 204 || status == 304 {
            f.length = Some(0);
            f.chunked = false;
        }
        return Ok(Some(f));
    }
}

/// One keep-alive connection on tokio, for one-off requests (reconciliation).
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    reader: Reader,
    /// Whether a request already went over this connection (a failure before any answer is
    /// then `Stale`, not `Transport`).
    used: bool,
}

impl Conn {
    pub async fn connect(target: &Target) -> Result<Conn, Failure> {
        let stream = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|_| Failure::Connect)?;
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
            reader: Reader::default(),
            used: false,
        })
    }

    /// The body of the last reply.
    pub fn body(&self) -> &[u8] {
        self.reader.body(&self.buf)
    }

    /// Sends `request` and reads the answer (see [`Reader::advance`]).
    pub async fn exchange(
        &mut self,
        request: &[u8],
        head: bool,
        want: &[HeaderName],
        got: &mut Vec<Option<Arc<str>>>,
    ) -> Result<Reply, Failure> {
        let early = if self.used {
            Failure::Stale
        } else {
            Failure::Transport
        };
        self.used = true;
        self.stream.write_all(request).await.map_err(|_| early)?;
        self.buf.clear();
        self.reader.reset();
        loop {
            if self.buf.capacity() - self.buf.len() < 1024 {
                self.buf.reserve(self.buf.capacity().max(4096));
            }
            let n = self.stream.read_buf(&mut self.buf).await.map_err(|_| {
                if self.buf.is_empty() {
                    early
                } else {
                    Failure::Transport
                }
            })?;
            if n == 0 && self.buf.is_empty() {
                return Err(early);
            }
            if let Some(r) = self
                .reader
                .advance(&mut self.buf, n == 0, head, want, got)?
            {
                return Ok(r);
            }
        }
    }
}

/// The framing of a response, read from its head.
struct Frame {
    head_len: usize,
    status: u16,
    length: Option<usize>,
    chunked: bool,
    keep_alive: bool,
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

fn contains_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

fn ends_with_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .next_back()
        .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// Writes the request line, `Host` and the step's fixed part of the head into `out`.
/// `host` is false when the step sets its own `Host` header.
pub(crate) fn start_request(
    out: &mut String,
    method: &str,
    path: &str,
    target: &Target,
    host: bool,
) {
    out.push_str(method);
    out.push(' ');
    out.push_str(&target.prefix);
    out.push_str(path);
    out.push_str(" HTTP/1.1\r\n");
    if host {
        push_header(out, "host", &target.authority);
    }
}

/// Appends a header line.
pub(crate) fn push_header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push_str("\r\n");
}

/// Ends the head (with `Content-Length` when there is a body) and appends the body.
pub(crate) fn finish_request(out: &mut String, body: Option<&str>) {
    if let Some(b) = body {
        use std::fmt::Write;
        let _ = write!(out, "content-length: {}\r\n", b.len());
    }
    out.push_str("\r\n");
    if let Some(b) = body {
        out.push_str(b);
    }
}

/// Whether a rendered path is a valid request target (visible ASCII, starting with `/`).
pub(crate) fn valid_path(p: &str) -> bool {
    p.starts_with('/') && p.bytes().all(|b| (0x21..0x7f).contains(&b))
}

/// Whether a rendered header value is valid (no control characters but tab).
pub(crate) fn valid_header_value(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// GETs `path` of the target and reads the JSON pointer as an integer (reconciliation).
pub async fn fetch_count(target: &str, path: &str, pointer: &str) -> Result<u64, String> {
    let t = Target::parse(target).map_err(|e| e.to_string())?;
    if !valid_path(path) {
        return Err(format!("bad path {path:?}"));
    }
    let mut req = String::new();
    start_request(&mut req, "GET", path, &t, true);
    finish_request(&mut req, None);
    let mut conn = Conn::connect(&t)
        .await
        .map_err(|_| "cannot connect".to_string())?;
    let reply = conn
        .exchange(req.as_bytes(), false, &[], &mut Vec::new())
        .await
        .map_err(|e| format!("request failed: {e:?}"))?;
    if !(200..300).contains(&reply.status) {
        return Err(format!("status {}", reply.status));
    }
    let v: serde_json::Value =
        serde_json::from_slice(conn.body()).map_err(|e| format!("not JSON: {e}"))?;
    v.pointer(pointer)
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| format!("no integer at {pointer}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("http://127.0.0.1:8080/api").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8080));
        assert_eq!(
            (t.authority.as_str(), t.prefix.as_str()),
            ("127.0.0.1:8080", "/api")
        );
        let t = Target::parse("http://example.org").unwrap();
        assert_eq!((t.port, t.prefix.as_str()), (80, ""));
        let t = Target::parse("http://[::1]:9000").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9000));
    }

    #[test]
    fn requests_render_with_length() {
        let t = Target::parse("http://h:1/p").unwrap();
        let mut out = String::new();
        start_request(&mut out, "POST", "/x", &t, true);
        push_header(&mut out, "content-type", "application/json");
        finish_request(&mut out, Some("{}"));
        assert_eq!(
            out,
            "POST /p/x HTTP/1.1\r\nhost: h:1\r\ncontent-type: application/json\r\n\
             content-length: 2\r\n\r\n{}"
        );
    }

    #[test]
    fn validity() {
        assert!(valid_path("/a/b%20c"));
        assert!(!valid_path("/a b"));
        assert!(!valid_path("a"));
        assert!(valid_header_value("Bearer x\ty"));
        assert!(!valid_header_value("x\r\ny: z"));
    }

    /// Serves `answers` (raw bytes) one per request on one connection.
    async fn serve(answers: Vec<&'static [u8]>) -> Target {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            for a in answers {
                let mut b = [0u8; 4096];
                let _ = s.read(&mut b).await;
                s.write_all(a).await.unwrap();
            }
        });
        Target::parse(&format!("http://{addr}")).unwrap()
    }

    #[tokio::test]
    async fn framing_chunked_interim_and_close() {
        let t = serve(vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nLocation: /c/9\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\": 1\r\n1\r\n}\r\n0\r\nT: v\r\n\r\n",
            b"HTTP/1.1 503 Busy\r\nConnection: close\r\n\r\nbye",
        ])
        .await;
        let mut c = Conn::connect(&t).await.unwrap();
        let loc = HeaderName::from_static("location");
        let mut got = Vec::new();
        let r = c
            .exchange(b"GET / HTTP/1.1\r\n\r\n", false, &[loc], &mut got)
            .await
            .unwrap();
        assert_eq!((r.status, r.keep_alive), (201, true));
        assert_eq!(c.body(), b"hello");
        assert_eq!(got[0].as_deref(), Some("/c/9"));
        let r = c
            .exchange(b"GET / HTTP/1.1\r\n\r\n", false, &[], &mut got)
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(c.body(), b"{\"a\": 1}");
        let r = c
            .exchange(b"GET / HTTP/1.1\r\n\r\n", false, &[], &mut got)
            .await
            .unwrap();
        assert_eq!((r.status, r.keep_alive), (503, false));
        assert_eq!(c.body(), b"bye");
        // The server has gone: a reused connection fails as stale (retry on a new one).
        let e = c
            .exchange(b"GET / HTTP/1.1\r\n\r\n", false, &[], &mut got)
            .await;
        assert_eq!(e.unwrap_err(), Failure::Stale);
    }
}
