//! The project's test app run through the public test kit (`zocket::testing`):
//! the same app as `common`, in memory, with typed clients.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use tokio::sync::mpsc;
use zocket::Config;
use zocket::testing::{TestClient, TestServer};

use crate::common::{self, AskWhoami, Disconnected, Echo, OnEcho, TestRouter, Text, User, Whoami};

pub type Kit = TestServer<TestRouter, User>;
pub type K = TestClient<TestRouter>;

/// The test app in memory, its `on_disconnect` events and its echo handler's calls.
pub struct KitApp {
    pub server: Kit,
    pub disconnects: mpsc::UnboundedReceiver<Disconnected>,
    pub echo_calls: Arc<AtomicUsize>,
}

pub fn kit() -> KitApp {
    kit_with(common::config())
}

pub fn kit_with(config: Config) -> KitApp {
    let (app, disconnects, echo_calls) = common::app(config);
    KitApp {
        server: TestServer::new(app),
        disconnects,
        echo_calls,
    }
}

impl KitApp {
    pub async fn client(&self, name: &str) -> K {
        self.server
            .connect([("name", name)])
            .await
            .expect("accepted")
    }
    pub async fn next_disconnect(&mut self) -> Disconnected {
        tokio::time::timeout(common::WAIT, self.disconnects.recv())
            .await
            .expect("on_disconnect within the wait")
            .expect("server alive")
    }
}

/// Round-trips an echo: everything queued for `c` before it arrives first.
pub async fn barrier(c: &mut K) {
    c.send(
        Echo,
        Text {
            text: "barrier".into(),
        },
    )
    .await;
    assert_eq!(c.expect(OnEcho).await.text, "barrier");
}

pub async fn whoami(c: &mut K) -> Whoami {
    c.send(AskWhoami, ()).await;
    c.expect(common::OnWhoami).await
}
