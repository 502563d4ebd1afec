//! Entry points for the fuzz targets in `fuzz/` (compiled with `--cfg fuzzing`
//! and in unit tests; not part of the API).

use std::sync::Arc;

use garde::Validate;
use serde::{Deserialize, Serialize};

use crate::app::builder::Zocket;
use crate::app::context::Ctx;
use crate::app::headers::parse_headers;
use crate::engine::config::Config;
use crate::engine::conn::Conn;
use crate::engine::dispatch::{Handlers, dispatch};
use crate::protocol::error::{HandlerError, HandlerResult};
use crate::protocol::route::{Incoming, Namespace, Outgoing, Request, Scope};
use crate::server::http::{HeadParse, handshake_map, parse_head};

/// Headers with every kind of validation the handshake sees in practice.
#[derive(Debug, Deserialize, Validate)]
#[allow(dead_code)]
struct Headers {
    #[garde(length(chars, min = 1, max = 32))]
    name: String,
    #[garde(length(min = 8, max = 128))]
    token: Option<String>,
    #[garde(skip)]
    #[serde(rename = "x-role")]
    role: Option<String>,
}

/// Feeds arbitrary bytes to the HTTP request parser, the header/query merge and
/// the typed, validated headers.
pub fn handshake(data: &[u8]) {
    if let HeadParse::Complete(head, _) = parse_head(data) {
        let map = handshake_map(&head);
        let _ = parse_headers::<Headers>(map);
    }
}

#[derive(Debug, Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1, max = 2000))]
    text: String,
}
#[derive(Debug, Serialize, Deserialize, Validate)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Shape {
    Circle {
        #[garde(range(min = 0.0, max = 1e6))]
        r: f64,
    },
    Polygon {
        #[garde(length(max = 64), inner(length(min = 2, max = 2)))]
        points: Vec<Vec<i32>>,
    },
}
#[derive(Debug, Serialize, Deserialize, Validate)]
struct Draw {
    #[garde(dive)]
    shape: Shape,
    #[garde(skip)]
    layer: Option<u8>,
    #[garde(length(max = 16))]
    tags: Vec<String>,
}

struct Say;
impl Incoming for Say {
    const NAME: &'static str = "say";
    type Payload = Text;
}
struct DrawIt;
impl Incoming for DrawIt {
    const NAME: &'static str = "draw";
    type Payload = Draw;
}
struct Area;
impl Request for Area {
    const NAME: &'static str = "area";
    type Payload = Draw;
    type Response = Text;
}
struct Nothing;
impl Incoming for Nothing {
    const NAME: &'static str = "nothing";
    type Payload = ();
}
struct OnText;
impl Outgoing for OnText {
    const NAME: &'static str = "onText";
    type Payload = Text;
}
struct Ns;
impl Namespace for Ns {
    const NAME: &'static str = "ns";
}
type Router = (
    Say,
    (OnText, (Scope<Ns, (DrawIt, (Nothing, (Area, ())))>, ())),
);

async fn say(t: Text, ctx: Ctx<Router>) -> HandlerResult {
    ctx.reply(OnText, t)?;
    Ok(())
}
async fn draw(_: Draw, _: Ctx<Router>) -> HandlerResult {
    Ok(())
}
async fn area(d: Draw, _: Ctx<Router>) -> Result<Text, HandlerError> {
    Ok(Text {
        text: format!("{} tags", d.tags.len()),
    })
}
async fn nothing(_: (), _: Ctx<Router>) -> HandlerResult {
    Ok(())
}

/// A built app and one registered connection, for feeding frames to dispatch.
pub struct Dispatcher {
    rt: tokio::runtime::Runtime,
    handlers: Arc<Handlers<()>>,
    conn: Conn,
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Dispatcher {
    /// Builds the app.
    pub fn new() -> Self {
        let app = Zocket::<Router>::builder()
            .config(Config::default())
            .on(Say, say)
            .on(DrawIt, draw)
            .on(Nothing, nothing)
            .on_request(Area, area)
            .build()
            .expect("valid router");
        let hub = app.hub.clone();
        let registered = hub.register(None, 0).expect("room for one");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        Dispatcher {
            rt,
            handlers: app.handlers.clone(),
            conn: Conn {
                hub,
                id: registered.id,
            },
        }
    }

    /// Dispatches one text frame (the envelope parse, route lookup, payload
    /// deserialization and validation, and the handler), then drops whatever
    /// the connection's queue holds.
    pub fn frame(&self, text: &str) {
        let _ = self
            .rt
            .block_on(dispatch(&self.handlers, text, &self.conn, &()));
        self.conn.hub.drain(self.conn.id);
    }
}

/// Arbitrary text, read as JSON: zocket's writer must write every value
/// exactly as serde_json does (strings of any content included), and the
/// one-pass envelope reader must agree with the full parse.
pub fn json(text: &str) {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => serde_json::Value::String(text.to_owned()),
    };
    let ours = crate::protocol::json::to_string(&value).expect("a Value always serializes");
    let theirs = serde_json::to_string(&value).expect("a Value always serializes");
    assert_eq!(ours, theirs);
    if let Some((route, payload)) = crate::protocol::wire::fast_envelope(text)
        && let Ok(full) = crate::protocol::wire::parse_envelope(text)
        && serde_json::from_str::<serde_json::Value>(payload).is_ok()
    {
        assert_eq!(route, full.route);
        assert_eq!(Some(payload), full.payload.map(|p| p.get()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_entry_points_accept_anything() {
        handshake(b"GET /?name=x&token=12345678 HTTP/1.1\r\nX-Role: a\r\n\r\n");
        handshake(b"\xff\xfe garbage");
        let d = Dispatcher::new();
        for input in [
            r#"{"type":"say","payload":{"text":"hi"}}"#,
            r#"{"type":"ns.draw","payload":{"shape":{"kind":"circle","r":1},"tags":[]}}"#,
            r#"{"type":"ns.draw","payload":{"shape":{"kind":"polygon","points":[[1]]},"tags":[]}}"#,
            r#"{"type":"ns.nothing"}"#,
            r#"{"type":"ns.area","id":1,"payload":{"shape":{"kind":"circle","r":1},"tags":[]}}"#,
            r#"{"type":"ns.area","id":{},"payload":null}"#,
            "[[[[",
            "",
        ] {
            d.frame(input);
            json(input);
        }
        json("\"\\u0001\\\"x\"");
        json("not json \u{1} \" \\ é");
    }
}
