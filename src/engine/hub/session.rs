//! A recovery session's own state: its secret, the handshake it belongs
//! to, and whether its client is attached, away, resuming, or gone.

use tungstenite::Utf8Bytes;

use crate::engine::recovery::{new_secret, same_secret, token};
use crate::protocol::client_id::ClientId;

/// A slot's session (recovery on).
pub(crate) struct Session {
    pub(super) secret: [u8; 16],
    /// Digest of the handshake's credentials: a token only resumes for the
    /// same ones.
    pub(super) identity: u64,
    pub(super) state: State,
    /// Whether the connection now in the slot took over a dropped session.
    pub(crate) recovered: bool,
    /// Messages for it were dropped while it was away: never resumed.
    pub(super) lost: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Attached,
    /// Away; `epoch` names this absence, for its expiry.
    Detached {
        epoch: u64,
    },
    /// A client presented the token; its `on_connect` is running.
    Resuming {
        epoch: u64,
    },
    /// Expired, or lost messages it could not keep: never resumed.
    Gone,
}

/// What a connection is greeted with on `$zocket.welcome`, and the messages
/// it gets again first.
pub(crate) struct Welcome {
    pub(crate) token: String,
    pub(crate) recovered: bool,
    pub(crate) replay: Vec<Utf8Bytes>,
}

/// Why a token did not resume a session (for the log; the client just gets a
/// fresh session).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NoResume {
    /// Not a token, or no such session, or another secret or identity.
    Unknown,
    /// The session is connected, expired, or being resumed by someone else.
    NotAway,
    /// Messages after the client's offset are no longer kept.
    TooFarBehind,
}

impl Session {
    /// Whether this session may be handed to another node for a client
    /// presenting `secret` with handshake `identity`: it is away, whole, and
    /// theirs. Claims it (no local resume or expiry can take it meanwhile).
    pub(super) fn may_hand_over(&mut self, secret: &[u8; 16], identity: u64) -> bool {
        let State::Detached { epoch } = self.state else {
            return false;
        };
        if !same_secret(&self.secret, secret) || self.identity != identity || self.lost {
            return false;
        }
        self.state = State::Resuming { epoch };
        true
    }

    /// The session left this node for good.
    pub(super) fn gone(&mut self) {
        self.state = State::Gone;
    }

    /// A new session for `id`, or `None` when no secret can be drawn from
    /// the OS generator: then the connection gets no resumable session (fail
    /// closed, logged), never a guessable token.
    pub(crate) fn new(id: ClientId, identity: u64) -> Option<(Session, Welcome)> {
        let Some(secret) = new_secret() else {
            tracing::error!(client = %id, "the OS random generator failed: this connection gets no resumable session");
            return None;
        };
        let welcome = Welcome {
            token: token(id, &secret),
            recovered: false,
            replay: Vec::new(),
        };
        let session = Session {
            secret,
            identity,
            state: State::Attached,
            recovered: false,
            lost: false,
        };
        Some((session, welcome))
    }
}
