//! A compact, versioned binary encoding of [`Remote`] for adapters that move
//! bytes (Redis pub/sub). Decoding never panics: anything malformed is `None`.

use super::remote::{Opaque, Packet, Remote, Target};
use crate::protocol::client_id::ClientId;

/// The packet version this zocket writes and reads.
pub(crate) const VERSION: u8 = 1;

/// Encodes a [`Remote`] as bytes for a byte transport. The format is private
/// to zocket (versioned); both ends must run compatible zocket versions.
pub fn encode(remote: &Remote) -> Vec<u8> {
    encode_version(remote, VERSION)
}

/// [`encode`] with another version byte (tests of mixed-version clusters).
///
/// Version 1: the version byte, the origin node, who is left out (0:
/// nobody; 1: one id; 2: a count, then the ids), the kind (0: delivery to
/// everyone; 1: to clients, a count and the ids; 2: to rooms, a count and
/// each name with its length; 3: session; 4: presence; 5: cluster, then the
/// node, 0 for every node), then the rest is the text or body.
pub(crate) fn encode_version(remote: &Remote, version: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(remote.packet.len() + 32);
    out.push(version);
    out.extend_from_slice(&remote.origin.to_be_bytes());
    let (except, rest) = match &remote.packet {
        Packet::Delivery { except, text, .. } => (except.as_slice(), text.as_bytes()),
        Packet::Session(body) | Packet::Presence(body) | Packet::Cluster { body, .. } => {
            (&[][..], &body.0[..])
        }
    };
    match except {
        [] => out.push(0),
        [id] => {
            out.push(1);
            out.extend_from_slice(&id.as_u128().to_be_bytes());
        }
        ids => {
            out.push(2);
            out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
            for id in ids {
                out.extend_from_slice(&id.as_u128().to_be_bytes());
            }
        }
    }
    match &remote.packet {
        Packet::Delivery {
            target: Target::All,
            ..
        } => out.push(0),
        Packet::Delivery {
            target: Target::Clients(ids),
            ..
        } => {
            out.push(1);
            out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
            for id in ids {
                out.extend_from_slice(&id.as_u128().to_be_bytes());
            }
        }
        Packet::Delivery {
            target: Target::Rooms(rooms),
            ..
        } => {
            out.push(2);
            out.extend_from_slice(&(rooms.len() as u32).to_be_bytes());
            for room in rooms {
                out.extend_from_slice(&(room.len() as u32).to_be_bytes());
                out.extend_from_slice(room.as_bytes());
            }
        }
        Packet::Session(_) => out.push(3),
        Packet::Presence(_) => out.push(4),
        Packet::Cluster { node, .. } => {
            out.push(5);
            out.extend_from_slice(&node.unwrap_or(0).to_be_bytes());
        }
    }
    out.extend_from_slice(rest);
    out
}

/// Decodes bytes made by [`encode`]; `None` for anything malformed or of
/// another version.
pub fn decode(bytes: &[u8]) -> Option<Remote> {
    decode_version(bytes, VERSION).ok()
}

/// Why bytes were not decoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Undecodable {
    /// Another packet version than this node's (a node of another zocket
    /// release): not read at all, so never misread.
    Version(u8),
    /// Not a packet.
    Malformed,
}

/// Decodes bytes of packet version `version`.
pub(crate) fn decode_version(bytes: &[u8], version: u8) -> Result<Remote, Undecodable> {
    match bytes.first() {
        None => return Err(Undecodable::Malformed),
        Some(&v) if v != version => return Err(Undecodable::Version(v)),
        Some(_) => {}
    }
    decode_body(&bytes[1..]).ok_or(Undecodable::Malformed)
}

fn decode_body(bytes: &[u8]) -> Option<Remote> {
    let mut r = Reader(bytes);
    let origin = r.u32()?;
    let except = match r.u8()? {
        0 => Vec::new(),
        1 => vec![ClientId::from_u128(r.u128()?)],
        2 => r.ids()?,
        _ => return None,
    };
    let target = match r.u8()? {
        0 => Target::All,
        1 => Target::Clients(r.ids()?),
        2 => {
            let n = r.u32()? as usize;
            if n > r.0.len() / 4 {
                return None;
            }
            let mut rooms = Vec::with_capacity(n);
            for _ in 0..n {
                let len = r.u32()? as usize;
                rooms.push(String::from_utf8(r.take(len)?.to_vec()).ok()?);
            }
            Target::Rooms(rooms)
        }
        kind @ 3..=5 => {
            let node = if kind == 5 { Some(r.u32()?) } else { None };
            let body = Opaque(r.0.into());
            let packet = match node {
                None if kind == 3 => Packet::Session(body),
                None => Packet::Presence(body),
                Some(node) => Packet::Cluster {
                    node: Some(node).filter(|&n| n != 0),
                    body,
                },
            };
            return except.is_empty().then_some(Remote { origin, packet });
        }
        _ => return None,
    };
    let text = std::str::from_utf8(r.0).ok()?.to_owned();
    Some(Remote::delivery(origin, target, except, text))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// A count, then that many ids.
    fn ids(&mut self) -> Option<Vec<ClientId>> {
        let n = self.u32()? as usize;
        // Each id is 16 bytes: refuse counts the input cannot hold.
        if n > self.0.len() / 16 {
            return None;
        }
        (0..n)
            .map(|_| self.u128().map(ClientId::from_u128))
            .collect()
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
    }
    fn u128(&mut self) -> Option<u128> {
        self.take(16)
            .map(|b| u128::from_be_bytes(b.try_into().expect("16 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_version_is_told_apart_and_never_read() {
        let remote = Remote::delivery(7, Target::All, Vec::new(), r#"{"type":"x"}"#.into());
        let newer = encode_version(&remote, VERSION + 1);
        assert_eq!(
            decode_version(&newer, VERSION),
            Err(Undecodable::Version(VERSION + 1))
        );
        assert!(decode(&newer).is_none());
        assert_eq!(decode_version(&newer, VERSION + 1), Ok(remote.clone()));
        assert_eq!(decode_version(&[], VERSION), Err(Undecodable::Malformed));
        assert_eq!(
            decode_version(&[VERSION, 1], VERSION),
            Err(Undecodable::Malformed)
        );
    }

    #[test]
    fn encoding_round_trips_every_packet() {
        let body = || Opaque(br#"{"kind":"ask","to":3}"#.to_vec().into());
        for packet in [
            Packet::Session(body()),
            Packet::Presence(body()),
            Packet::Presence(Opaque(Box::new([0xff, 0]))),
            Packet::Cluster {
                node: None,
                body: body(),
            },
            Packet::Cluster {
                node: Some(3),
                body: body(),
            },
        ] {
            let remote = Remote { origin: 7, packet };
            assert_eq!(decode(&encode(&remote)), Some(remote));
        }
        for target in [
            Target::All,
            Target::Clients(vec![ClientId::from_u128(1), ClientId::from_u128(u128::MAX)]),
            Target::Rooms(vec!["lobby".into(), String::new(), "é".into()]),
        ] {
            for except in [
                Vec::new(),
                vec![ClientId::from_u128(42)],
                vec![
                    ClientId::from_u128(1),
                    ClientId::from_u128(2),
                    ClientId::from_u128(3),
                ],
            ] {
                let text = r#"{"type":"x","payload":null}"#.into();
                let remote = Remote::delivery(7, target.clone(), except.clone(), text);
                assert_eq!(decode(&encode(&remote)), Some(remote));
            }
        }
    }

    /// Version 1's bytes, written out: what nodes of earlier releases
    /// speaking version 1 write and read (the typed packet did not change them).
    #[test]
    fn version_1_bytes_are_as_documented() {
        let delivery = Remote::delivery(7, Target::All, vec![ClientId::from_u128(9)], "hi".into());
        let mut expected = vec![1, 0, 0, 0, 7, 1];
        expected.extend_from_slice(&9u128.to_be_bytes());
        expected.extend_from_slice(&[0, b'h', b'i']);
        assert_eq!(encode(&delivery), expected);
        let session = Remote {
            origin: 7,
            packet: Packet::Session(Opaque(b"{}".to_vec().into())),
        };
        assert_eq!(encode(&session), [1, 0, 0, 0, 7, 0, 3, b'{', b'}']);
        let cluster = Remote {
            origin: 2,
            packet: Packet::Cluster {
                node: Some(5),
                body: Opaque(Box::new([])),
            },
        };
        assert_eq!(encode(&cluster), [1, 0, 0, 0, 2, 0, 5, 0, 0, 0, 5]);
        // zocket's own messages leave nobody out: bytes that do are not a packet.
        assert_eq!(
            decode(&[
                1, 0, 0, 0, 7, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 4
            ]),
            None
        );
    }

    #[test]
    fn malformed_bytes_decode_to_none() {
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[9]), None);
        assert_eq!(decode(&[1, 0, 0, 0, 1, 0, 1, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(
            decode(&[1, 0, 0, 0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 9, b'x']),
            None
        );
        let mut bad_utf8 = encode(&Remote::delivery(1, Target::All, Vec::new(), "ok".into()));
        bad_utf8.push(0xff);
        assert_eq!(decode(&bad_utf8), None);
    }
}
