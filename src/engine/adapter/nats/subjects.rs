//! How NATS names things for one cluster: the subjects, the prefix as a
//! subject token, the nodes' announcements, and random node ids.

use std::hash::{BuildHasher, Hasher};

/// The subjects of one cluster (nodes sharing a prefix).
#[derive(Debug, Clone)]
pub(super) struct Subjects {
    pub(super) prefix: String,
}

impl Subjects {
    pub(super) fn all(&self) -> String {
        format!("{}.all", self.prefix)
    }
    pub(super) fn node(&self, node: u32) -> String {
        format!("{}.node.{node}", self.prefix)
    }
    /// A room's subject: its name in hex (room names may hold anything; a
    /// subject token may not hold `.`, `*`, `>` or white space).
    pub(super) fn room(&self, room: &str) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(self.prefix.len() + 6 + room.len() * 2);
        s.push_str(&self.prefix);
        s.push_str(".room.");
        if room.is_empty() {
            s.push('_');
        }
        for b in room.bytes() {
            let _ = write!(s, "{b:02x}");
        }
        s
    }
    /// Nodes announce themselves here.
    pub(super) fn hello(&self) -> String {
        format!("{}.hello", self.prefix)
    }
    /// The node that took id `node` answers here.
    pub(super) fn claim(&self, node: u32) -> String {
        format!("{}.claim.{node}", self.prefix)
    }
}

/// `prefix` as one NATS subject token: ASCII letters, digits and `-` as
/// they are, every other byte as `_` and two hex digits (so `a.b` and `a_b`
/// stay apart).
pub(super) fn subject_token(prefix: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(prefix.len());
    for b in prefix.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            let _ = write!(out, "_{b:02x}");
        }
    }
    out
}

/// What a hello says.
pub(super) const ALIVE: u8 = 0;
pub(super) const BYE: u8 = 1;

pub(super) fn hello(node: u32, kind: u8) -> Vec<u8> {
    let mut out = node.to_be_bytes().to_vec();
    out.push(kind);
    out
}

pub(super) fn read_hello(bytes: &[u8]) -> Option<(u32, u8)> {
    let (id, kind) = bytes.split_first_chunk::<4>()?;
    Some((u32::from_be_bytes(*id), *kind.first()?))
}

/// A node id, at random (not 0: "no adapter").
pub(super) fn random_node() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    (h.finish() as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_become_distinct_subject_tokens() {
        assert_eq!(subject_token("chat-1"), "chat-1");
        assert_eq!(subject_token("a.b"), "a_2eb");
        assert_eq!(subject_token("a_b"), "a_5fb");
        assert_eq!(subject_token("x y*>"), "x_20y_2a_3e");
        assert_eq!(subject_token("é"), "_c3_a9");
    }

    #[test]
    fn room_subjects_hold_no_separator_or_wildcard() {
        let subjects = Subjects { prefix: "p".into() };
        assert_eq!(subjects.room("a.b *>"), "p.room.612e62202a3e");
        assert_eq!(subjects.room(""), "p.room._");
    }

    #[test]
    fn hellos_round_trip_and_garbage_is_refused() {
        assert_eq!(read_hello(&hello(7, BYE)), Some((7, BYE)));
        assert_eq!(read_hello(&[1, 2, 3]), None);
    }
}
