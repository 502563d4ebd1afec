//! Questions the server asked clients ([`ClientRequest`](crate::ClientRequest)
//! routes) and is waiting to hear answered, by client and question id.
//!
//! A question is keyed by the client it was asked of, so only that client's
//! connection can answer it; every question of a client ends (its waiter
//! sees [`Answer`] never come) when the client's session ends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::oneshot;

use crate::protocol::client_id::ClientId;
use crate::util::lock_unpoisoned;

/// What a client answered.
#[derive(Debug)]
pub(crate) enum Answer {
    /// `$zocket.reply`: the raw JSON of its payload.
    Reply(String),
    /// `$zocket.error`: the client's message.
    Refused(String),
}

type Waiters = HashMap<ClientId, HashMap<u64, oneshot::Sender<Answer>>>;

/// The waiting questions of one hub.
#[derive(Default)]
pub(crate) struct Asks {
    next: AtomicU64,
    waiting: Mutex<Waiters>,
}

impl Asks {
    /// Opens a question to `client`: its id and where its answer will arrive.
    pub(crate) fn open(&self, client: ClientId) -> (u64, oneshot::Receiver<Answer>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        lock_unpoisoned(&self.waiting)
            .entry(client)
            .or_default()
            .insert(id, tx);
        (id, rx)
    }

    /// Hands `client`'s answer to question `id` to its waiter; `false` when
    /// no such question is waiting (answered already, timed out, or never
    /// asked of this client).
    pub(crate) fn answer(&self, client: ClientId, id: u64, answer: Answer) -> bool {
        let tx = {
            let mut waiting = lock_unpoisoned(&self.waiting);
            let Some(questions) = waiting.get_mut(&client) else {
                return false;
            };
            let tx = questions.remove(&id);
            if questions.is_empty() {
                waiting.remove(&client);
            }
            tx
        };
        tx.is_some_and(|tx| tx.send(answer).is_ok())
    }

    /// Stops waiting for question `id` (its timeout passed).
    pub(crate) fn forget(&self, client: ClientId, id: u64) {
        let mut waiting = lock_unpoisoned(&self.waiting);
        if let Some(questions) = waiting.get_mut(&client) {
            questions.remove(&id);
            if questions.is_empty() {
                waiting.remove(&client);
            }
        }
    }

    /// `client`'s session ended: every question to it ends unanswered.
    pub(crate) fn end(&self, client: ClientId) {
        let questions = lock_unpoisoned(&self.waiting).remove(&client);
        drop(questions);
    }

    /// How many questions are waiting (for tests and metrics).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock_unpoisoned(&self.waiting)
            .values()
            .map(HashMap::len)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_asked_client_answers_and_an_end_releases_the_waiters() {
        let asks = Asks::default();
        let (a, b) = (ClientId::new(0, 1, 0), ClientId::new(0, 2, 1));
        let (id, rx) = asks.open(a);
        assert!(
            !asks.answer(b, id, Answer::Reply("1".into())),
            "b was not asked"
        );
        assert!(asks.answer(a, id, Answer::Reply("2".into())));
        assert!(matches!(rx.await, Ok(Answer::Reply(r)) if r == "2"));
        assert!(
            !asks.answer(a, id, Answer::Reply("3".into())),
            "answered already"
        );

        let (_, rx) = asks.open(a);
        let (late, _rx2) = asks.open(a);
        asks.forget(a, late);
        assert_eq!(asks.len(), 1);
        asks.end(a);
        assert!(rx.await.is_err(), "the waiter learns the session ended");
        assert_eq!(asks.len(), 0);
    }
}
