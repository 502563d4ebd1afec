//! [`Delivery`]: a validated, serialized outgoing message waiting for its
//! recipients.

use std::fmt;
use std::sync::Arc;

use tungstenite::Utf8Bytes;

use crate::engine::adapter::Target;
use crate::engine::hub::Hub;
use crate::protocol::client_id::ClientId;
use crate::protocol::error::SendError;
use crate::protocol::route::marker_name;
use crate::protocol::route::{AsJson, Encode, Outgoing};
use crate::protocol::router::{Contains, wire_name};
use crate::protocol::wire;

/// Validates and serializes `payload` for route `O` of router `R`; `sender`
/// is the client whose handler sends it, if any.
pub(crate) fn prepare<R, O, I>(
    hub: &Arc<Hub>,
    sender: Option<ClientId>,
    _route: O,
    payload: O::Payload,
) -> Result<Delivery, SendError<O::Payload>>
where
    O: Outgoing,
    O::Payload: Encode,
    R: Contains<O, I>,
{
    let route = wire_name::<R, O, I>(marker_name!(O));
    if let Err(report) = payload.check_sent() {
        return Err(SendError::Invalid {
            route,
            payload,
            report,
        });
    }
    match wire::encode(&route, &AsJson(&payload)) {
        Ok(text) => Ok(Delivery {
            hub: hub.clone(),
            text: Utf8Bytes::from(text),
            except: Vec::new(),
            sender,
            route,
        }),
        Err(source) => Err(SendError::Serialize {
            route,
            payload,
            source,
        }),
    }
}

/// A validated, serialized message waiting for its recipients.
///
/// The message is serialized once; every recipient's queue gets the same shared
/// bytes. Nothing is sent until you pick the recipients; each method returns how
/// many connections (on this server) the message was queued for. Queuing never
/// waits: a client whose queue is full gets the configured
/// [`SlowConsumer`](crate::SlowConsumer) policy.
#[must_use = "a Delivery sends nothing until you choose recipients: .to(..), .to_room(..) or .broadcast()"]
pub struct Delivery {
    hub: Arc<Hub>,
    text: Utf8Bytes,
    except: Vec<ClientId>,
    sender: Option<ClientId>,
    route: String,
}

impl Delivery {
    /// Leaves clients out of the recipients: one id (typically the sender,
    /// `.except(ctx.id())`) or several (`.except([a, b])`, a `Vec`, a slice).
    /// Calls add up: `.except(a).except(b)` leaves out both.
    pub fn except(mut self, ids: impl ExceptIds) -> Self {
        ids.extend_into(&mut self.except);
        self
    }
    /// Leaves the sending client out (no effect outside a handler).
    pub fn except_sender(mut self) -> Self {
        if let Some(sender) = self.sender {
            self.except.push(sender);
        }
        self
    }
    /// Sends to these clients. Ids of clients that are gone are skipped.
    /// With an adapter, ids issued by other nodes are sent through it.
    /// Returns this node's count.
    pub fn to(self, ids: impl IntoIterator<Item = ClientId>) -> usize {
        let n = self.hub.deliver_clients(ids, &self.text, &self.except);
        self.counted(n)
    }
    /// Sends to every member of these rooms, each member once (on every
    /// node, with an adapter). Returns this node's count.
    pub fn to_room<S: AsRef<str>>(self, rooms: impl IntoIterator<Item = S>) -> usize {
        let n = self.hub.deliver_rooms(rooms, &self.text, &self.except);
        self.counted(n)
    }
    /// Sends to every connected client (on every node, with an adapter).
    /// Returns this node's count.
    pub fn broadcast(self) -> usize {
        let n = self.hub.deliver(Target::All, &self.text, &self.except);
        self.counted(n)
    }
    fn counted(self, recipients: usize) -> usize {
        self.hub.counters.message_out(&self.route, recipients);
        recipients
    }
    /// The JSON text that will be sent.
    pub fn text(&self) -> &str {
        self.text.as_str()
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("text", &self.text())
            .field("except", &self.except)
            .finish()
    }
}

/// The clients [`Delivery::except`] leaves out: a [`ClientId`], an array,
/// a slice or a `Vec` of them, or an `Option<ClientId>`.
pub trait ExceptIds {
    #[doc(hidden)]
    fn extend_into(self, out: &mut Vec<ClientId>);
}

impl ExceptIds for ClientId {
    fn extend_into(self, out: &mut Vec<ClientId>) {
        out.push(self);
    }
}

impl ExceptIds for Option<ClientId> {
    fn extend_into(self, out: &mut Vec<ClientId>) {
        out.extend(self);
    }
}

impl<const N: usize> ExceptIds for [ClientId; N] {
    fn extend_into(self, out: &mut Vec<ClientId>) {
        out.extend(self);
    }
}

impl ExceptIds for &[ClientId] {
    fn extend_into(self, out: &mut Vec<ClientId>) {
        out.extend_from_slice(self);
    }
}

impl ExceptIds for Vec<ClientId> {
    fn extend_into(self, out: &mut Vec<ClientId>) {
        out.extend(self);
    }
}
