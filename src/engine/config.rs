//! Server limits and policies, with safe defaults.
//!
//! Every limit bounds one resource a client could exhaust; SECURITY.md maps
//! each to the attack it stops.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::rate::RateLimit;
use crate::engine::recovery::Recovery;
use crate::protocol::contract::identity::{ContractCheck, ContractIdentity};

/// What to do when a client's outgoing queue is full because it reads slower
/// than messages arrive for it. The server never waits for a slow client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlowConsumer {
    /// Drop the message for that client (logged and counted); keep the connection.
    Drop,
    /// Close the connection with this close code (1008 policy violation or
    /// 1013 try again later); the client may reconnect and resynchronise.
    Close(u16),
}

/// Server configuration. Build one from [`Config::default`] with the setters;
/// read a setting through its field (`config.max_message_size`).
///
/// ```
/// use std::time::Duration;
/// use zocket::{Config, SlowConsumer};
///
/// let config = Config::default()
///     .max_message_size(256 * 1024)
///     .max_connections(50_000)
///     .queue_len(512)
///     .slow_consumer(SlowConsumer::Drop)
///     .heartbeat(Some(Duration::from_secs(15)))
///     .allowed_origins(["https://example.com"])
///     .path("/ws");
/// assert_eq!(config.max_message_size, 256 * 1024);
/// assert_eq!(config.queue_len, 512);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Largest message a client may send, in bytes (set with [`Config::max_message_size()`]).
    pub max_message_size: usize,
    /// Largest single frame a client may send, in bytes.
    pub max_frame_size: usize,
    /// Connections served at once.
    pub max_connections: usize,
    /// Sockets still in their handshake (their own budget, apart from
    /// established connections).
    pub max_pending_handshakes: usize,
    /// Sockets in their handshake from one address; `None`: no cap.
    pub max_pending_handshakes_per_ip: Option<usize>,
    /// Connections from one address; `None`: no cap.
    pub max_connections_per_ip: Option<usize>,
    /// Count connections against the first address of `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// Messages queued for one client before its grace period starts.
    pub queue_len: usize,
    /// Bytes queued for one client before its grace period starts.
    pub queue_bytes: usize,
    /// How long a client's queue may stay over its bounds before the
    /// slow-consumer policy applies.
    pub slow_consumer_grace: Duration,
    /// What happens to a client whose queue is full.
    pub slow_consumer: SlowConsumer,
    /// Time for the upgrade request and `on_connect`.
    pub handshake_timeout: Duration,
    /// Largest HTTP upgrade request head, in bytes.
    pub max_handshake_size: usize,
    /// Ping interval, or `None` for no heartbeat.
    pub heartbeat: Option<Duration>,
    /// How long a closing connection waits for the peer's close frame.
    pub close_timeout: Duration,
    /// How long a graceful shutdown waits for connections to finish.
    pub shutdown_timeout: Duration,
    /// `Origin`s allowed to upgrade; `None` allows any.
    pub allowed_origins: Option<Vec<String>>,
    /// The only path upgrades are accepted on; `None` accepts any.
    pub path: Option<String>,
    /// Static pages served for plain GETs.
    pub(crate) pages: Vec<Page>,
    /// The health-check path, if any.
    pub health_path: Option<String>,
    /// The readiness-check path, if any.
    pub ready_path: Option<String>,
    /// Where the server's own listener answers with the Prometheus metrics
    /// (feature `metrics`); setting it also records the histograms.
    #[cfg(feature = "metrics")]
    pub metrics_path: Option<String>,
    /// Record the histograms without serving them here (an app mounted on
    /// axum serves [`ServerHandle::prometheus`](crate::ServerHandle::prometheus)
    /// itself). Feature `metrics`.
    #[cfg(feature = "metrics")]
    pub record_metrics: bool,
    /// tungstenite's per-connection read buffer, in bytes.
    pub read_buffer_size: usize,
    /// Bytes buffered before tungstenite writes to the socket.
    pub write_buffer_size: usize,
    /// Most bytes pending in one connection's write buffer.
    pub max_write_buffer_size: usize,
    /// Rooms one client may be in at once.
    pub max_rooms_per_client: usize,
    /// How fast one client may send; `None`: no limit.
    pub rate_limit: Option<RateLimit>,
    /// Time a message (all its frames and fragments) may take to arrive.
    pub message_timeout: Duration,
    /// Connection-state recovery; `None` (the default): a dropped client is gone.
    pub recovery: Option<Recovery>,
    /// Read binary frames that hold UTF-8 as text (default `true`).
    pub binary_as_text: bool,
    /// How long [`Ctx::ask`](crate::Ctx::ask) waits for a client's answer
    /// unless the question sets its own timeout.
    pub ask_timeout: Duration,
    /// How long a cluster-wide operation ([`ServerHandle::cluster`](crate::ServerHandle::cluster))
    /// waits for the other nodes' answers by default (2 s).
    pub cluster_timeout: Duration,
    /// How long before its credentials expire a client is warned on
    /// `$zocket.expiring` (see [`Builder::expires`](crate::Builder::expires)).
    pub expiry_warning: Duration,
    /// The app's contract and what to do with clients built against another
    /// one; set by `Builder::contract`.
    pub(crate) contract: Option<(Arc<ContractIdentity>, ContractCheck)>,
}

/// A static HTTP response served for a plain (non-upgrade) GET.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub(crate) path: String,
    pub(crate) content_type: String,
    pub(crate) body: Vec<u8>,
}

impl Default for Config {
    /// The defaults:
    ///
    /// | setting | default |
    /// |---|---|
    /// | max message size | 64 KiB |
    /// | max frame size | 64 KiB |
    /// | max connections | 10,000 |
    /// | sockets still in their handshake | 4,096 in all; 64 per address once half are in use |
    /// | connections per address | no cap |
    /// | trust `X-Forwarded-For` | no |
    /// | queue per connection, soft | 256 messages or 256 KiB |
    /// | queue per connection, hard | 4 x the soft bounds (1,024 messages or 1 MiB) |
    /// | slow consumer | over the soft bounds for 5 s, or at the hard bounds: close with 1008 |
    /// | handshake timeout | 10 s |
    /// | max handshake request size | 16 KiB |
    /// | heartbeat | ping every 30 s; a peer silent for 2 intervals is closed |
    /// | close timeout | 5 s |
    /// | shutdown timeout | 30 s |
    /// | allowed origins | any |
    /// | upgrade path | any |
    /// | tungstenite read buffer | 512 B (socket reads go through a 64 KiB stack buffer) |
    /// | write buffer | 16 KiB before a flush; at most 1 MiB pending |
    /// | rooms per client | 256 |
    /// | time for one message to arrive | 30 s |
    /// | rate limit per client | 1,000 messages/s (bursts of 500), 4 MiB/s (bursts of 8 MiB) |
    /// | a question to a client (`Ctx::ask`) waits | 30 s |
    /// | a cluster-wide operation waits for other nodes | 2 s |
    fn default() -> Self {
        Config {
            max_message_size: 64 << 10,
            max_frame_size: 64 << 10,
            max_connections: 10_000,
            max_pending_handshakes: 4096,
            max_pending_handshakes_per_ip: Some(64),
            max_connections_per_ip: None,
            trust_forwarded_for: false,
            queue_len: 256,
            queue_bytes: 256 << 10,
            slow_consumer_grace: Duration::from_secs(5),
            slow_consumer: SlowConsumer::Close(1008),
            handshake_timeout: Duration::from_secs(10),
            max_handshake_size: 16 << 10,
            heartbeat: Some(Duration::from_secs(30)),
            close_timeout: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(30),
            allowed_origins: None,
            path: None,
            pages: Vec::new(),
            health_path: None,
            ready_path: None,
            #[cfg(feature = "metrics")]
            metrics_path: None,
            #[cfg(feature = "metrics")]
            record_metrics: false,
            contract: None,
            recovery: None,
            binary_as_text: true,
            read_buffer_size: 512,
            write_buffer_size: 16 << 10,
            max_write_buffer_size: 1 << 20,
            max_rooms_per_client: 256,
            rate_limit: Some(RateLimit::default()),
            message_timeout: Duration::from_secs(30),
            ask_timeout: Duration::from_secs(30),
            cluster_timeout: Duration::from_secs(2),
            expiry_warning: Duration::from_secs(30),
        }
    }
}

/// A setter named after its field: `config.queue_len(512)` sets what
/// `config.queue_len` reads.
macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.$name = value;
            self
        }
    };
}

impl Config {
    setter!(
        /// Read a binary frame that holds UTF-8 (JSON) as if it were a text
        /// frame, as the original Zocket server does (default `true`). With
        /// `false`, every binary frame is answered `unsupported_frame`; a
        /// binary frame that is not UTF-8 always is.
        binary_as_text: bool
    );
    setter!(
        /// Connection-state recovery (off by default). With it, the server
        /// greets each client on `$zocket.welcome` with a session token,
        /// numbers the messages it writes (`"offset"`), and keeps a dropped
        /// client's session (id, rooms, messages sent to it) for
        /// [`Recovery::window`]: a client that reconnects in time with its
        /// token and last offset gets it back with exactly the messages it
        /// missed, and `on_disconnect` runs only when the window ends without
        /// a resume. See PROTOCOL.md.
        recovery: Option<Recovery>
    );
    setter!(
        /// Largest message (after reassembling fragments) a client may send, in bytes.
        /// A larger one closes the connection with 1009.
        max_message_size: usize
    );
    setter!(
        /// Largest single frame a client may send, in bytes.
        max_frame_size: usize
    );
    setter!(
        /// Connections served at once; an upgrade beyond it gets HTTP 503.
        max_connections: usize
    );
    setter!(
        /// Sockets accepted but still in their handshake, in all: a budget
        /// of their own, apart from `max_connections`. Further sockets are
        /// closed at once (bounds slowloris-style floods together with the
        /// handshake timeout).
        max_pending_handshakes: usize
    );
    setter!(
        /// Sockets in their handshake from one address once more than half of
        /// `max_pending_handshakes` are in use; further sockets from it are
        /// closed at once, so one host cannot hold the handshake budget that
        /// other hosts need. While the budget is plentiful a host may use it
        /// freely (a burst of connects from one machine is normal). `None`
        /// turns it off (behind a proxy, every socket comes from the proxy).
        max_pending_handshakes_per_ip: Option<usize>
    );
    setter!(
        /// Connections from one address; an upgrade beyond it gets HTTP 429.
        /// The address is the socket's peer, or the first address of
        /// `X-Forwarded-For` with `trust_forwarded_for`. Off (`None`) by
        /// default: behind NAT or a proxy one address carries many users, and
        /// a load test runs from one machine; set it when clients connect
        /// directly.
        max_connections_per_ip: Option<usize>
    );
    setter!(
        /// Count connections against the first address in the request's
        /// `X-Forwarded-For` header instead of the socket's peer. Turn it on
        /// only behind a proxy that sets the header: otherwise any client can
        /// claim any address. Pending handshakes are always counted by the
        /// socket's peer (the header is not read yet).
        trust_forwarded_for: bool
    );
    setter!(
        /// Messages queued for one client before its grace period starts
        /// (the soft bound; the hard bound is four times it). A queue over a
        /// soft bound keeps accepting messages for `slow_consumer_grace`; one
        /// that stays over it longer, or reaches a hard bound, gets the
        /// [`SlowConsumer`] policy. A reader that falls behind for a moment is
        /// left alone; one that does not keep up is not.
        queue_len: usize
    );
    setter!(
        /// Bytes queued for one client before its grace period starts (the
        /// soft bound; the hard bound is four times it). See `queue_len`.
        queue_bytes: usize
    );
    setter!(
        /// How long a client's queue may stay over its soft bounds before the
        /// [`SlowConsumer`] policy applies. See `queue_len`.
        slow_consumer_grace: Duration
    );
    setter!(
        /// What happens to a client whose queue is full.
        slow_consumer: SlowConsumer
    );
    setter!(
        /// Time a client has to send its complete upgrade request, and for
        /// `on_connect` to answer.
        handshake_timeout: Duration
    );
    setter!(
        /// Largest HTTP upgrade request head, in bytes; a larger one gets 431.
        max_handshake_size: usize
    );
    setter!(
        /// Ping interval, or `None` for no heartbeat. A peer from which nothing
        /// (not even a pong) arrives for two intervals is closed with 1001.
        heartbeat: Option<Duration>
    );
    setter!(
        /// How long a closing connection waits for the peer's close frame.
        close_timeout: Duration
    );
    setter!(
        /// How long a graceful shutdown waits for connections to finish closing
        /// (and their `on_disconnect` to run) before it returns anyway.
        shutdown_timeout: Duration
    );
    setter!(
        /// tungstenite's per-connection read buffer, in bytes: the most it takes
        /// from the socket layer per call. Socket reads themselves go through a
        /// 64 KiB stack buffer whatever this is, so a small value (the default,
        /// 512 B) keeps idle connections cheap without a system call per 512 B.
        read_buffer_size: usize
    );
    setter!(
        /// Bytes buffered before tungstenite writes to the socket.
        write_buffer_size: usize
    );
    setter!(
        /// Most bytes pending in one connection's write buffer.
        max_write_buffer_size: usize
    );
    setter!(
        /// How fast one client may send ([`RateLimit`]); `None` turns the
        /// limit off. A message over it is dropped with `rate_limited` on
        /// `$zocket.error`; a client that keeps sending while limited is
        /// closed with 1008.
        rate_limit: Option<RateLimit>
    );
    setter!(
        /// Time a message may take to arrive, from its first byte to its last
        /// (every frame and fragment). A client that starts a message and
        /// stops sending it is closed with 1008 and the partial message's
        /// buffer is freed, instead of being kept for as long as the client
        /// answers pings.
        message_timeout: Duration
    );
    setter!(
        /// How long a question to a client ([`Ctx::ask`](crate::Ctx::ask))
        /// waits for its answer by default (30 s); `Ask::timeout` overrides
        /// it per question.
        ask_timeout: Duration
    );
    setter!(
        /// How long a cluster-wide operation
        /// ([`ServerHandle::cluster`](crate::ServerHandle::cluster)) waits for
        /// the other nodes' answers by default (2 s); `Cluster::timeout`
        /// overrides it per call.
        cluster_timeout: Duration
    );
    setter!(
        /// How long before a connection's credentials expire
        /// ([`Builder::expires`](crate::Builder::expires)) its client is warned
        /// on `$zocket.expiring` (30 s; at most half the time left).
        expiry_warning: Duration
    );
    setter!(
        /// Rooms one client may be in at once; a join beyond it is refused with
        /// a [`Reject`](crate::Reject) (`rejected` for the client), never silently.
        /// It bounds the memory one client can pin in the room index and the
        /// work its disconnect does (leaving each room takes that room's lock).
        max_rooms_per_client: usize
    );

    /// Accept upgrades only from these `Origin`s (exact match, e.g.
    /// `"https://example.com"`); others get HTTP 403. Browsers always send
    /// `Origin`, so this stops cross-site WebSocket hijacking. Requests without an
    /// `Origin` header (non-browser clients) are accepted.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Accept upgrades only on this path (e.g. `"/ws"`); other paths get 404.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Serve `body` with `content_type` for a plain `GET path` (not an upgrade),
    /// for example the HTML page of a browser client.
    pub fn page(
        mut self,
        path: impl Into<String>,
        content_type: impl Into<String>,
        body: impl Into<Vec<u8>>,
    ) -> Self {
        self.pages.push(Page {
            path: path.into(),
            content_type: content_type.into(),
            body: body.into(),
        });
        self
    }

    /// Answer a plain `GET path` with `200 {"status":"ok","connections":N}`:
    /// the process is alive and serving HTTP. It answers at the connection
    /// cap too (only WebSocket upgrades count against it).
    pub fn health_check(mut self, path: impl Into<String>) -> Self {
        self.health_path = Some(path.into());
        self
    }

    /// Answer a plain `GET path` with `200 {"status":"ready"}` while the
    /// server accepts connections and its adapter (if any) is connected to
    /// the other nodes, and `503 {"status":"not ready","reasons":[..]}`
    /// otherwise (`"shutting down"`, `"adapter disconnected"`): what a load
    /// balancer's readiness probe asks. It answers at the connection cap too.
    pub fn ready_check(mut self, path: impl Into<String>) -> Self {
        self.ready_path = Some(path.into());
        self
    }

    /// Serve the Prometheus metrics (text exposition format) at `path` on the
    /// server's own listener, and record the histograms (feature `metrics`).
    /// Label values are route wire names and error kinds only, so the number
    /// of series is bounded by the router.
    #[cfg(feature = "metrics")]
    pub fn metrics_path(mut self, path: impl Into<String>) -> Self {
        self.metrics_path = Some(path.into());
        self
    }

    /// Record the histograms without serving `/metrics` on this listener:
    /// for an app mounted on axum, whose own route serves
    /// [`ServerHandle::prometheus`](crate::ServerHandle::prometheus)
    /// (feature `metrics`). Recording costs two clock reads per handled
    /// message and one per batch written.
    #[cfg(feature = "metrics")]
    pub fn record_metrics(mut self, record: bool) -> Self {
        self.record_metrics = record;
        self
    }

    /// Whether the histograms are recorded.
    pub(crate) fn records_timings(&self) -> bool {
        #[cfg(feature = "metrics")]
        return self.record_metrics || self.metrics_path.is_some();
        #[cfg(not(feature = "metrics"))]
        false
    }
}
