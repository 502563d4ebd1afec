//! A connection's timers and tasks (`Ctx::connection`): a cancelled timer
//! never fires, a keyed timer restarts, and both end with the connection.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use zocket::testing::{TestClient, TestServer};
use zocket::{Config, Connection, Ctx, HandlerResult, Incoming, Zocket};

struct Hello;
impl Incoming for Hello {
    const NAME: &'static str = "hello";
    type Payload = ();
}
type R = (Hello, ());

/// An app whose `hello` handler hands its connection to the test.
async fn connected() -> (TestServer<R, ()>, TestClient<R>, Connection<R>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = Zocket::<R>::builder()
        .config(Config::default().close_timeout(Duration::from_millis(200)))
        .on(Hello, move |_: (), ctx: Ctx<R>| {
            let _ = tx.send(ctx.connection());
            async { Ok(()) as HandlerResult }
        })
        .build()
        .unwrap();
    let server = TestServer::new(app);
    let mut client = server.connect([("x", "y")]).await.unwrap();
    client.send(Hello, ()).await;
    let conn = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    (server, client, conn)
}

/// Sends on `tx` when dropped: tells the test a task or timer is gone.
struct Gone(mpsc::UnboundedSender<&'static str>, &'static str);
impl Drop for Gone {
    fn drop(&mut self) {
        let _ = self.0.send(self.1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_timer_never_fires_even_racing_its_deadline() {
    let (_server, _client, conn) = connected().await;
    let (fired_tx, mut fired) = mpsc::unbounded_channel::<usize>();
    let mut racers = Vec::new();
    for i in 0..1000usize {
        let fired_tx = fired_tx.clone();
        // Deadlines and cancels spread over the same few hundred microseconds.
        let deadline = Duration::from_micros((i as u64 * 7) % 300);
        let timer = conn.timer(deadline, move |_| async move {
            let _ = fired_tx.send(i);
        });
        let wait = Duration::from_micros((i as u64 * 13) % 300);
        racers.push(tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            (i, timer.cancel(), timer)
        }));
    }
    drop(fired_tx);
    let mut cancelled = vec![false; 1000];
    let mut timers = Vec::new();
    for racer in racers {
        let (i, ok, timer) = racer.await.unwrap();
        cancelled[i] = ok;
        assert_eq!(ok, !timer.has_fired(), "timer {i}: cancelled and fired");
        timers.push(timer);
    }
    // Every timer's work is dropped once it has fired or been skipped, so the
    // channel ends when the last one is done: what came is all that ever will.
    let mut fired_ids = Vec::new();
    while let Some(i) = tokio::time::timeout(Duration::from_secs(10), fired.recv())
        .await
        .expect("every timer finishes")
    {
        fired_ids.push(i);
    }
    for i in &fired_ids {
        assert!(
            !cancelled[*i],
            "timer {i} fired after cancel() said it never would"
        );
    }
    let won = cancelled.iter().filter(|c| **c).count();
    assert_eq!(
        won + fired_ids.len(),
        1000,
        "each timer either fired or was cancelled"
    );
    println!(
        "1,000 races: {won} cancelled in time, {} fired",
        fired_ids.len()
    );
}

#[tokio::test]
async fn a_restarted_timer_fires_once_for_its_last_start() {
    let (_server, _client, conn) = connected().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    for n in 0..5 {
        let tx = tx.clone();
        conn.restart_timer("typing", Duration::from_millis(50), move |_| async move {
            let _ = tx.send(n);
        });
    }
    assert_eq!(rx.recv().await, Some(4));
    // A cancelled key never fires; cancelling a fired or unknown key says so.
    let tx2 = tx.clone();
    conn.restart_timer("again", Duration::from_millis(20), move |_| async move {
        let _ = tx2.send(99);
    });
    assert!(conn.cancel_timer("again"));
    assert!(!conn.cancel_timer("again"));
    assert!(!conn.cancel_timer("typing"));
    drop(tx);
    assert_eq!(rx.recv().await, None, "nothing else fired");
}

#[tokio::test]
async fn tasks_and_timers_end_with_the_connection() {
    let (_server, client, conn) = connected().await;
    let (tx, mut gone) = mpsc::unbounded_channel();
    // A task that never finishes by itself, and a timer far in the future.
    let guard = Gone(tx.clone(), "task");
    let task = conn
        .spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        })
        .expect("the connection is open");
    let guard = Gone(tx.clone(), "timer");
    let timer = conn.timer(Duration::from_secs(3600), move |_| async move {
        drop(guard);
    });
    assert!(conn.is_connected() && timer.is_pending() && !task.is_finished());
    client.close().await;
    // The timer is cancelled at once; the task goes after the close timeout's grace.
    let mut ended = vec![
        tokio::time::timeout(Duration::from_secs(10), gone.recv())
            .await
            .unwrap()
            .unwrap(),
        tokio::time::timeout(Duration::from_secs(10), gone.recv())
            .await
            .unwrap()
            .unwrap(),
    ];
    ended.sort_unstable();
    assert_eq!(ended, ["task", "timer"]);
    assert!(!timer.has_fired() && !timer.is_pending());
    // Nothing starts on a connection that has ended.
    assert!(!conn.is_connected());
    assert!(conn.spawn(async {}).is_none());
    let late = conn.timer(Duration::ZERO, |_| async {});
    assert!(!late.is_pending() && !late.cancel());
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    conn.restart_timer("late", Duration::ZERO, move |_| async move {
        counted.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}
