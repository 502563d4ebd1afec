//! A compact, versioned binary encoding of [`Remote`] for adapters that move
//! bytes (Redis pub/sub). Decoding never panics: anything malformed is `None`.

use super::remote::{Remote, Target};
use crate::protocol::client_id::ClientId;

/// The packet version this zocket writes and reads.
pub(crate) const VERSION: u8 = 1;

/// Encodes a [`Remote`] as bytes for a byte transport. The format is private
/// to zocket (versioned); both ends must run compatible zocket versions.
pub fn encode(remote: &Remote) -> Vec<u8> {
    encode_version(remote, VERSION)
}

/// [`encode`] with another version byte (tests of mixed-version clusters).
pub(crate) fn encode_version(remote: &Remote, version: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(remote.text.len() + 32);
    out.push(version);
    out.extend_from_slice(&remote.origin.to_be_bytes());
    // 0: nobody left out; 1: one id; 2: a count, then the ids.
    match remote.except.as_slice() {
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
    match &remote.target {
        Target::All => out.push(0),
        Target::Clients(ids) => {
            out.push(1);
            out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
            for id in ids {
                out.extend_from_slice(&id.as_u128().to_be_bytes());
            }
        }
        Target::Session => out.push(3),
        Target::Presence => out.push(4),
        Target::Cluster { node } => {
            out.push(5);
            out.extend_from_slice(&node.unwrap_or(0).to_be_bytes());
        }
        Target::Rooms(rooms) => {
            out.push(2);
            out.extend_from_slice(&(rooms.len() as u32).to_be_bytes());
            for room in rooms {
                out.extend_from_slice(&(room.len() as u32).to_be_bytes());
                out.extend_from_slice(room.as_bytes());
            }
        }
    }
    out.extend_from_slice(remote.text.as_bytes());
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
        3 => Target::Session,
        4 => Target::Presence,
        5 => Target::Cluster {
            node: Some(r.u32()?).filter(|&n| n != 0),
        },
        _ => return None,
    };
    let text = std::str::from_utf8(r.0).ok()?.to_owned();
    Some(Remote {
        origin,
        target,
        except,
        text,
    })
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
        let remote = Remote {
            origin: 7,
            target: Target::All,
            except: Vec::new(),
            text: r#"{"type":"x"}"#.into(),
        };
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
    fn encoding_round_trips_every_target() {
        for target in [
            Target::All,
            Target::Clients(vec![ClientId::from_u128(1), ClientId::from_u128(u128::MAX)]),
            Target::Rooms(vec!["lobby".into(), String::new(), "é".into()]),
            Target::Session,
            Target::Presence,
            Target::Cluster { node: None },
            Target::Cluster { node: Some(3) },
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
                let remote = Remote {
                    origin: 7,
                    target: target.clone(),
                    except: except.clone(),
                    text: r#"{"type":"x","payload":null}"#.into(),
                };
                assert_eq!(decode(&encode(&remote)), Some(remote));
            }
        }
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
        let mut bad_utf8 = encode(&Remote {
            origin: 1,
            target: Target::All,
            except: Vec::new(),
            text: "ok".into(),
        });
        bad_utf8.push(0xff);
        assert_eq!(decode(&bad_utf8), None);
    }
}
