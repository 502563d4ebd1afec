//! [`FrameScanner`]: where the peer is in its stream of WebSocket frames, so a
//! message whose frames stop arriving can be timed out.
//!
//! tungstenite buffers an unfinished frame and the fragments of an unfinished
//! message until the rest arrives, and says nothing meanwhile: a client that
//! sends half a message and then one ping a minute would pin that buffer
//! forever. The scanner reads the frame headers of the bytes as they come off
//! the socket (it never changes them) and knows since when the peer has been
//! in the middle of a frame or of a fragmented message.

use tokio::time::Instant;

/// Tracks frame boundaries and fragmentation in the bytes a peer sends.
#[derive(Debug)]
pub(crate) struct FrameScanner {
    /// The current frame header, as far as it has arrived.
    header: [u8; 14],
    have: u8,
    /// Header bytes needed (2 until the second byte says more).
    need: u8,
    /// Payload bytes of the current frame still to come.
    payload_left: u64,
    /// A data frame without FIN has arrived and its last fragment has not.
    message_open: bool,
    /// Since when the peer has been mid-frame or mid-message.
    since: Option<Instant>,
}

impl Default for FrameScanner {
    fn default() -> Self {
        FrameScanner {
            header: [0; 14],
            have: 0,
            need: 2,
            payload_left: 0,
            message_open: false,
            since: None,
        }
    }
}

impl FrameScanner {
    /// Takes note of bytes read from the peer.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let n = (bytes.len() as u64).min(self.payload_left);
                self.payload_left -= n;
                bytes = &bytes[n as usize..];
                continue;
            }
            let (have, need) = (usize::from(self.have), usize::from(self.need));
            let take = (need - have).min(bytes.len());
            self.header[have..have + take].copy_from_slice(&bytes[..take]);
            self.have += take as u8; // at most 14
            bytes = &bytes[take..];
            if self.have == 2 {
                let len7 = self.header[1] & 0x7f;
                let extended = match len7 {
                    126 => 2,
                    127 => 8,
                    _ => 0,
                };
                let mask = if self.header[1] & 0x80 != 0 { 4 } else { 0 };
                self.need = 2 + extended + mask;
            }
            if self.have >= 2 && self.have == self.need {
                self.end_of_header();
            }
        }
        let mid = self.have > 0 || self.payload_left > 0 || self.message_open;
        match (mid, self.since) {
            (true, None) => self.since = Some(Instant::now()),
            (false, Some(_)) => self.since = None,
            _ => {}
        }
    }

    fn end_of_header(&mut self) {
        let h = &self.header;
        let fin = h[0] & 0x80 != 0;
        let opcode = h[0] & 0x0f;
        self.payload_left = match h[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
            n => u64::from(n),
        };
        match opcode {
            1 | 2 => self.message_open = !fin,
            0 if fin => self.message_open = false,
            _ => {} // a middle fragment, or a control frame (which may come between fragments)
        }
        self.have = 0;
        self.need = 2;
    }

    /// Since when the peer has been in the middle of a frame or a message.
    pub(crate) fn partial_since(&self) -> Option<Instant> {
        self.since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&[1, 2, 3, 4]);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn whole_frames_leave_nothing_partial_however_they_are_cut() {
        let mut bytes = frame(true, 1, b"hello");
        bytes.extend(frame(true, 1, &[b'x'; 300]));
        bytes.extend(frame(true, 2, &[0; 70_000]));
        bytes.extend(frame(true, 9, b"ping"));
        for cut in [1, 2, 3, 7, 64, 1000, bytes.len()] {
            let mut scanner = FrameScanner::default();
            let mut partial_seen = false;
            for piece in bytes.chunks(cut) {
                scanner.feed(piece);
                partial_seen |= scanner.partial_since().is_some();
            }
            assert!(scanner.partial_since().is_none(), "cut {cut}");
            assert_eq!(partial_seen, cut < bytes.len(), "cut {cut}");
        }
    }

    #[test]
    fn a_fragmented_message_is_partial_until_its_last_fragment() {
        let mut scanner = FrameScanner::default();
        scanner.feed(&frame(false, 1, b"first "));
        let since = scanner.partial_since().expect("mid-message");
        scanner.feed(&frame(true, 9, b"ping between fragments"));
        scanner.feed(&frame(false, 0, b"middle "));
        assert_eq!(scanner.partial_since(), Some(since), "timed from the start");
        scanner.feed(&frame(true, 0, b"last"));
        assert!(scanner.partial_since().is_none());
    }
}
