//! Connection-state recovery: what a session keeps so a client that drops
//! for a moment can resume it (same id, same rooms, the messages it missed).
//!
//! Every text message written to a client with recovery on carries its
//! position in the session, `"offset": n` (1, 2, 3, ...), and the connection
//! keeps the last messages it wrote ([`History`]); while a dropped client is
//! away, messages for it wait in its outgoing queue. A client that comes back
//! within the window with its token and the last offset it received gets the
//! written messages after that offset again, then the queued ones.

use std::collections::VecDeque;
use std::time::Duration;

use tungstenite::Utf8Bytes;

/// Recovery settings ([`Config::recovery`](crate::Config::recovery)); off by default.
///
/// ```
/// use std::time::Duration;
/// use zocket::{Config, Recovery};
///
/// let config = Config::default().recovery(Some(Recovery::default().window(Duration::from_secs(60))));
/// assert_eq!(config.recovery.unwrap().history_len, 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// How long a dropped session waits for its client (default 2 minutes).
    /// `on_disconnect` runs when it ends without a resume.
    pub window: Duration,
    /// Messages written to a client that are kept to be sent again, in case
    /// the connection dropped before they arrived (default 1,024).
    pub history_len: usize,
    /// The same bound in bytes (default 1 MiB).
    pub history_bytes: usize,
}

impl Default for Recovery {
    fn default() -> Self {
        Recovery {
            window: Duration::from_secs(120),
            history_len: 1024,
            history_bytes: 1024 * 1024,
        }
    }
}

impl Recovery {
    /// Sets how long a dropped session waits for its client.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }
    /// Sets how many written messages are kept (and how many bytes of them).
    pub fn history(mut self, messages: usize, bytes: usize) -> Self {
        self.history_len = messages;
        self.history_bytes = bytes;
        self
    }
}

/// The last messages written to one client, with their offsets.
#[derive(Debug)]
pub(crate) struct History {
    /// The offset the next written message gets.
    next: u64,
    kept: VecDeque<(u64, Utf8Bytes)>,
    bytes: usize,
    max_len: usize,
    max_bytes: usize,
}

impl History {
    pub(crate) fn new(recovery: &Recovery) -> Self {
        History {
            next: 1,
            kept: VecDeque::new(),
            bytes: 0,
            max_len: recovery.history_len.max(1),
            max_bytes: recovery.history_bytes.max(1),
        }
    }

    /// A history that continues a session from another node: its next offset is `next`.
    pub(crate) fn continuing(recovery: &Recovery, next: u64) -> Self {
        History {
            next: next.max(1),
            ..History::new(recovery)
        }
    }

    /// The offset the next written message gets.
    pub(crate) fn next(&self) -> u64 {
        self.next
    }

    /// Gives `text` the next offset, keeps it, and returns the text to write.
    pub(crate) fn record(&mut self, text: Utf8Bytes) -> Utf8Bytes {
        let offset = self.next;
        self.next += 1;
        let written = with_offset(&text, offset);
        self.bytes += text.len();
        self.kept.push_back((offset, text));
        while self.kept.len() > self.max_len || (self.bytes > self.max_bytes && self.kept.len() > 1)
        {
            if let Some((_, old)) = self.kept.pop_front() {
                self.bytes -= old.len();
            }
        }
        written
    }

    /// The written messages after offset `last`, ready to write again; `None`
    /// when some of them are no longer kept (or `last` is in the future).
    pub(crate) fn since(&self, last: u64) -> Option<Vec<Utf8Bytes>> {
        if last >= self.next {
            return None;
        }
        let first_kept = self.kept.front().map_or(self.next, |(o, _)| *o);
        if last + 1 < first_kept {
            return None;
        }
        Some(
            self.kept
                .iter()
                .filter(|(o, _)| *o > last)
                .map(|(o, t)| with_offset(t, *o))
                .collect(),
        )
    }

    /// Bytes held (for the memory figure).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// `{"type":..,"payload":..}` becomes `{"type":..,"payload":..,"offset":n}`.
/// Every message zocket writes is a JSON object it encoded itself.
pub(crate) fn with_offset(text: &Utf8Bytes, offset: u64) -> Utf8Bytes {
    let s = text.as_str();
    match s.strip_suffix('}') {
        Some(body) => {
            let mut out = String::with_capacity(s.len() + 24);
            out.push_str(body);
            if body.trim_end().ends_with('{') {
                out.push_str("\"offset\":");
            } else {
                out.push_str(",\"offset\":");
            }
            out.push_str(&offset.to_string());
            out.push('}');
            out.into()
        }
        None => text.clone(),
    }
}

/// A session token's secret: 128 bits from the OS generator, or `None` when
/// it cannot be read (the connection then gets no resumable session).
pub(crate) fn new_secret() -> Option<[u8; 16]> {
    crate::util::random_bytes()
}

/// Formats a token for the client.
pub(crate) fn token(id: crate::protocol::client_id::ClientId, secret: &[u8; 16]) -> String {
    let mut out = format!("{id}.");
    for b in secret {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Reads a token: the client id it names and its secret.
pub(crate) fn parse_token(token: &str) -> Option<(crate::protocol::client_id::ClientId, [u8; 16])> {
    let (id, hex) = token.split_once('.')?;
    if hex.len() != 32 || id.len() > 40 {
        return None;
    }
    let id = id.parse().ok()?;
    let mut secret = [0u8; 16];
    for (i, byte) in secret.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some((id, secret))
}

/// Compares two secrets in time independent of where they differ.
pub(crate) fn same_secret(a: &[u8; 16], b: &[u8; 16]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Utf8Bytes {
        s.to_owned().into()
    }

    #[test]
    fn offsets_are_appended_to_the_envelope() {
        assert_eq!(
            with_offset(&text(r#"{"type":"a","payload":1}"#), 7).as_str(),
            r#"{"type":"a","payload":1,"offset":7}"#
        );
        assert_eq!(with_offset(&text("{}"), 1).as_str(), r#"{"offset":1}"#);
    }

    #[test]
    fn history_replays_what_follows_an_offset_and_knows_what_it_lost() {
        let mut h = History::new(&Recovery::default().history(3, 1 << 20));
        for i in 1..=5 {
            let written = h.record(text(&format!(r#"{{"n":{i}}}"#)));
            assert_eq!(written.as_str(), format!(r#"{{"n":{i},"offset":{i}}}"#));
        }
        // Kept: 3, 4, 5.
        let again: Vec<String> = h.since(3).unwrap().iter().map(|t| t.to_string()).collect();
        assert_eq!(again, [r#"{"n":4,"offset":4}"#, r#"{"n":5,"offset":5}"#]);
        assert_eq!(h.since(2).unwrap().len(), 3);
        assert_eq!(h.since(5).unwrap().len(), 0, "nothing missed");
        assert!(h.since(1).is_none(), "offset 2 is no longer kept");
        assert!(h.since(6).is_none(), "an offset never written");
        assert!(h.bytes() > 0);
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let id: crate::protocol::client_id::ClientId = "4294967297".parse().unwrap();
        let secret = [7u8; 16];
        let t = token(id, &secret);
        assert_eq!(parse_token(&t), Some((id, secret)));
        for bad in [
            "",
            "1",
            "1.",
            "x.00",
            "1.zz000000000000000000000000000000",
            &t[..t.len() - 1],
        ] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
        assert!(same_secret(&secret, &[7u8; 16]));
        assert!(!same_secret(&secret, &[8u8; 16]));
    }
}
