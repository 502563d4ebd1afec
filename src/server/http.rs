//! HTTP/1.1 for the upgrade: reading and parsing the request head, the
//! handshake data (headers merged with the query string), and the answers
//! that are not an upgrade (refusals, pages, the health check).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::engine::dispatch::Handshake;
use crate::engine::hub::Hub;
use crate::protocol::contract::identity::{CONTRACT_PARAM, CONTRACT_ROUTES_PARAM};
use crate::protocol::route::{OFFSET_PARAM, SESSION_PARAM};
use crate::protocol::wire::Issue;
use crate::util::fnv1a;

/// A parsed upgrade request head.
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    /// Lower-cased names.
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// What [`parse_head`] found in the bytes read so far.
pub(crate) enum HeadParse {
    /// A whole head, and how many bytes it took.
    Complete(Head, usize),
    /// Not the whole head yet: read more.
    Partial,
    /// More than 64 headers.
    TooManyHeaders,
    /// Not an HTTP/1.1 request.
    Malformed,
}

/// Parses an HTTP/1.1 request head from `buf`.
pub(crate) fn parse_head(buf: &[u8]) -> HeadParse {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => HeadParse::Partial,
        Ok(httparse::Status::Complete(n)) => {
            let target = req.path.unwrap_or("/");
            let (path, query) = match target.split_once('?') {
                Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
                None => (target.to_owned(), None),
            };
            let headers = req
                .headers
                .iter()
                .filter_map(|h| {
                    std::str::from_utf8(h.value)
                        .ok()
                        .map(|v| (h.name.to_ascii_lowercase(), v.trim().to_owned()))
                })
                .collect();
            let head = Head {
                method: req.method.unwrap_or("").to_owned(),
                path,
                query,
                headers,
            };
            HeadParse::Complete(head, n)
        }
        Err(httparse::Error::TooManyHeaders) => HeadParse::TooManyHeaders,
        Err(_) => HeadParse::Malformed,
    }
}

/// Decodes `%XX` and `+` in a query component.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Headers merged with the query string: names lower-cased, the query wins.
pub(crate) fn handshake_map(head: &Head) -> Handshake {
    let mut data = Handshake::default();
    for (name, value) in &head.headers {
        data.headers
            .insert(name.clone(), serde_json::Value::String(value.clone()));
    }
    if let Some(query) = &head.query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            data.query.insert(
                percent_decode(name),
                serde_json::Value::String(percent_decode(value)),
            );
        }
    }
    // The contract and recovery parameters are zocket's, not the app's handshake data.
    for reserved in [
        CONTRACT_PARAM,
        CONTRACT_ROUTES_PARAM,
        SESSION_PARAM,
        OFFSET_PARAM,
    ] {
        data.query.remove(reserved);
        data.headers.remove(reserved);
    }
    data
}

/// Digest of what identifies a client in its handshake: the query
/// parameters (but zocket's own) and the `Authorization` and `Cookie`
/// headers. A session token resumes only a session opened with the same.
pub(crate) fn handshake_identity(head: &Head) -> u64 {
    let mut parts: Vec<(String, String)> = Vec::new();
    if let Some(query) = &head.query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(name);
            if !name.starts_with("zocket-") {
                parts.push((name, percent_decode(value)));
            }
        }
    }
    for header in ["authorization", "cookie"] {
        if let Some(value) = head.header(header) {
            parts.push((format!("header:{header}"), value.to_owned()));
        }
    }
    parts.sort();
    let mut text = String::new();
    for (name, value) in parts {
        text.push_str(&name);
        text.push('\0');
        text.push_str(&value);
        text.push('\0');
    }
    fnv1a(text.as_bytes())
}

/// The percent-decoded value of query parameter `name` (exact name), if present.
pub(crate) fn query_value(head: &Head, name: &str) -> Option<String> {
    let query = head.query.as_deref()?;
    query.split('&').find_map(|pair| {
        let (n, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(n) == name).then(|| percent_decode(value))
    })
}

fn http_response(status: u16, content_type: &str, body: &[u8], extra: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

#[derive(Serialize)]
struct HttpError<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a [Issue]>,
}

/// The body of the 426 answered to a plain HTTP request on a WebSocket route.
pub(crate) const UPGRADE_REQUIRED: &[u8] =
    br#"{"error":"Upgrade Required: this endpoint speaks WebSocket"}"#;

/// Writes an HTTP response and closes the socket.
pub(crate) async fn respond<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, response: Vec<u8>) {
    let write = async {
        stream.write_all(&response).await?;
        stream.shutdown().await
    };
    if tokio::time::timeout(Duration::from_secs(5), write)
        .await
        .is_ok()
    {
        // Lingering close: read (and drop) what the client is still sending,
        // briefly and boundedly, so closing with unread bytes does not reset
        // the connection before the client has read our response.
        let drain = async {
            let mut buf = [0u8; 4096];
            let mut left: usize = 64 * 1024;
            while left > 0 {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => left = left.saturating_sub(n),
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    }
}

/// What reading a request head came to.
pub(crate) enum HeadRead {
    /// A complete head, and the bytes read past it.
    Ready(Head, Vec<u8>),
    /// A head we refuse (too large, malformed): answer this and close.
    Refuse(Refusal),
    /// The peer closed or the socket failed before a whole head came.
    Hangup,
}

/// Reads the request head, within the size limit.
pub(crate) async fn read_head<S: AsyncRead + Unpin>(stream: &mut S, max: usize) -> HeadRead {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return HeadRead::Hangup,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        match parse_head(&buf) {
            HeadParse::Complete(head, used) => {
                let rest = buf.split_off(used);
                return HeadRead::Ready(head, rest);
            }
            HeadParse::Partial if buf.len() >= max => {
                return HeadRead::Refuse(Refusal::new(431, "Request head too large", None));
            }
            HeadParse::Partial => {}
            HeadParse::TooManyHeaders => {
                return HeadRead::Refuse(Refusal::new(431, "Too many headers", None));
            }
            HeadParse::Malformed => {
                return HeadRead::Refuse(Refusal::new(400, "Malformed HTTP request", None));
            }
        }
    }
}

/// An upgrade refused before any socket opens: the HTTP status and JSON body,
/// and what a client that asked for it hears in band instead
/// (`zocket-refusal=message`: the reason and the details).
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) message: String,
    pub(crate) details: Vec<Issue>,
}

impl Refusal {
    pub(crate) fn new(status: u16, error: &str, details: Option<&[Issue]>) -> Self {
        Refusal {
            status,
            body: serde_json::to_vec(&HttpError { error, details }).unwrap_or_default(),
            message: error.to_owned(),
            details: details.map(<[Issue]>::to_vec).unwrap_or_default(),
        }
    }
    /// A refusal whose HTTP body is `body`, serialized; in band it is
    /// `message` with `details`.
    pub(crate) fn with_body(
        status: u16,
        message: &str,
        details: Vec<Issue>,
        body: &impl serde::Serialize,
    ) -> Self {
        Refusal {
            status,
            body: serde_json::to_vec(body).unwrap_or_default(),
            message: message.to_owned(),
            details,
        }
    }
    /// The whole HTTP response.
    pub(crate) fn http(&self) -> Vec<u8> {
        http_response(self.status, "application/json", &self.body, "")
    }
}

/// The answer to a plain (non-upgrade) HTTP request: a page, the health or
/// readiness check, the metrics, 404 or 426.
pub(crate) fn plain_http(hub: &Arc<Hub>, head: &Head) -> Vec<u8> {
    let config = &hub.config;
    if head.method == "GET" || head.method == "HEAD" {
        let path = Some(head.path.as_str());
        if config.health_path.as_deref() == path {
            let connections = hub.connection_count();
            let body = format!("{{\"status\":\"ok\",\"connections\":{connections}}}");
            return http_response(200, "application/json", body.as_bytes(), "");
        }
        if config.ready_path.as_deref() == path {
            let reasons = hub.unready();
            return if reasons.is_empty() {
                http_response(200, "application/json", br#"{"status":"ready"}"#, "")
            } else {
                let body = serde_json::json!({"status": "not ready", "reasons": reasons});
                http_response(503, "application/json", body.to_string().as_bytes(), "")
            };
        }
        #[cfg(feature = "metrics")]
        if config.metrics_path.as_deref() == path {
            let body = crate::engine::prometheus::render(hub);
            return http_response(
                200,
                crate::engine::prometheus::CONTENT_TYPE,
                body.as_bytes(),
                "",
            );
        }
        if let Some(page) = config.pages.iter().find(|p| p.path == head.path) {
            return http_response(200, &page.content_type, &page.body, "");
        }
    }
    match &config.path {
        Some(path) if *path != head.path => Refusal::new(404, "Not found", None).http(),
        _ => http_response(
            426,
            "application/json",
            UPGRADE_REQUIRED,
            "Upgrade: websocket\r\n",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_keep_their_case_and_header_names_are_lowercased() {
        let raw = b"GET /ws?Token=q%20v&name=a+b&flag&userName=Al HTTP/1.1\r\nHost: x\r\nToken: h\r\nX-Extra: 1\r\n\r\nrest";
        let HeadParse::Complete(head, used) = parse_head(raw) else {
            panic!("a complete head");
        };
        assert_eq!(&raw[used..], b"rest");
        assert_eq!(head.path, "/ws");
        let data = handshake_map(&head);
        assert_eq!(data.query["Token"], "q v");
        assert_eq!(data.query["name"], "a b");
        assert_eq!(data.query["flag"], "");
        assert_eq!(data.query["userName"], "Al");
        assert_eq!(data.headers["token"], "h");
        assert_eq!(data.headers["x-extra"], "1");
        assert_eq!(data.headers["host"], "x");
    }

    #[test]
    fn percent_decoding_tolerates_garbage() {
        assert_eq!(percent_decode("%41%zz%"), "A%zz%");
        assert_eq!(percent_decode("%e2%82%ac"), "€");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn incomplete_and_malformed_heads() {
        assert!(matches!(
            parse_head(b"GET / HTTP/1.1\r\nHost"),
            HeadParse::Partial
        ));
        assert!(matches!(
            parse_head(b"\x00\x01garbage\r\n\r\n"),
            HeadParse::Malformed
        ));
    }
}
