//! Server limits and policies, with safe defaults.
//!
//! Every limit bounds one resource a client could exhaust; SECURITY.md maps
//! each to the attack it stops.

use std::time::Duration;

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

/// Server configuration. Build one from [`Config::default`] with the setters.
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
/// assert_eq!(config.get_max_message_size(), 256 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) max_message_size: usize,
    pub(crate) max_frame_size: usize,
    pub(crate) max_connections: usize,
    pub(crate) max_pending_handshakes: usize,
    pub(crate) queue_len: usize,
    pub(crate) slow_consumer: SlowConsumer,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_handshake_size: usize,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) close_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) allowed_origins: Option<Vec<String>>,
    pub(crate) path: Option<String>,
    pub(crate) pages: Vec<Page>,
    pub(crate) health_path: Option<String>,
    pub(crate) read_buffer_size: usize,
    pub(crate) write_buffer_size: usize,
    pub(crate) max_write_buffer_size: usize,
    pub(crate) conformance_echo: bool,
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
    /// | sockets still in their handshake, beyond that | 1,024 |
    /// | queue length per connection | 256 messages |
    /// | slow consumer | close with 1008 |
    /// | handshake timeout | 10 s |
    /// | max handshake request size | 16 KiB |
    /// | heartbeat | ping every 30 s; a peer silent for 2 intervals is closed |
    /// | close timeout | 5 s |
    /// | shutdown timeout | 30 s |
    /// | allowed origins | any |
    /// | upgrade path | any |
    /// | tungstenite read buffer | 512 B (socket reads go through a 64 KiB stack buffer) |
    /// | write buffer | 16 KiB before a flush; at most 1 MiB pending |
    fn default() -> Self {
        Config {
            max_message_size: 64 << 10,
            max_frame_size: 64 << 10,
            max_connections: 10_000,
            max_pending_handshakes: 1024,
            queue_len: 256,
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
            read_buffer_size: 512,
            write_buffer_size: 16 << 10,
            max_write_buffer_size: 1 << 20,
            conformance_echo: false,
        }
    }
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident, $getter:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.$name = value;
            self
        }
        #[doc = concat!("The current `", stringify!($name), "` setting.")]
        pub fn $getter(&self) -> $ty {
            self.$name
        }
    };
}

impl Config {
    setter!(
        /// Largest message (after reassembling fragments) a client may send, in bytes.
        /// A larger one closes the connection with 1009.
        max_message_size, get_max_message_size: usize
    );
    setter!(
        /// Largest single frame a client may send, in bytes.
        max_frame_size, get_max_frame_size: usize
    );
    setter!(
        /// Connections served at once; an upgrade beyond it gets HTTP 503.
        max_connections, get_max_connections: usize
    );
    setter!(
        /// Sockets accepted but still in their handshake, beyond
        /// `max_connections`; further sockets are closed at once (bounds
        /// slowloris-style floods together with the handshake timeout).
        max_pending_handshakes, get_max_pending_handshakes: usize
    );
    setter!(
        /// Messages queued for one client before the [`SlowConsumer`] policy applies.
        queue_len, get_queue_len: usize
    );
    setter!(
        /// What happens to a client whose queue is full.
        slow_consumer, get_slow_consumer: SlowConsumer
    );
    setter!(
        /// Time a client has to send its complete upgrade request, and for
        /// `on_connect` to answer.
        handshake_timeout, get_handshake_timeout: Duration
    );
    setter!(
        /// Largest HTTP upgrade request head, in bytes; a larger one gets 431.
        max_handshake_size, get_max_handshake_size: usize
    );
    setter!(
        /// Ping interval, or `None` for no heartbeat. A peer from which nothing
        /// (not even a pong) arrives for two intervals is closed with 1001.
        heartbeat, get_heartbeat: Option<Duration>
    );
    setter!(
        /// How long a closing connection waits for the peer's close frame.
        close_timeout, get_close_timeout: Duration
    );
    setter!(
        /// How long a graceful shutdown waits for connections to finish closing
        /// (and their `on_disconnect` to run) before it returns anyway.
        shutdown_timeout, get_shutdown_timeout: Duration
    );
    setter!(
        /// tungstenite's per-connection read buffer, in bytes: the most it takes
        /// from the socket layer per call. Socket reads themselves go through a
        /// 64 KiB stack buffer whatever this is, so a small value (the default,
        /// 512 B) keeps idle connections cheap without a system call per 512 B.
        read_buffer_size, get_read_buffer_size: usize
    );
    setter!(
        /// Bytes buffered before tungstenite writes to the socket.
        write_buffer_size, get_write_buffer_size: usize
    );
    setter!(
        /// Most bytes pending in one connection's write buffer.
        max_write_buffer_size, get_max_write_buffer_size: usize
    );

    /// Echo every text and binary frame back verbatim instead of dispatching
    /// it: the mode the Autobahn conformance suite runs against
    /// (`examples/autobahn_echo.rs`), so the suite exercises zocket's real
    /// handshake, connection loop and limits. Not for applications.
    #[doc(hidden)]
    pub fn conformance_echo(mut self, on: bool) -> Self {
        self.conformance_echo = on;
        self
    }

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

    /// Answer a plain `GET path` with `200 {"status":"ok","connections":N}`.
    pub fn health_check(mut self, path: impl Into<String>) -> Self {
        self.health_path = Some(path.into());
        self
    }
}
