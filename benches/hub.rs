//! How the hub's delivery work scales with threads, without sockets
//! (BENCHMARKS.md, "The hub and threads").
//!
//! ```text
//! cargo bench --bench hub                           # 1 .. the machine's cores
//! cargo bench --bench hub -- --threads 1,2,4,8,16   # chosen thread counts
//! cargo bench --bench hub -- --secs 2 --connections 4000 --rooms 64
//! cargo bench --bench hub -- --only room,reply     # some kinds of work only
//! cargo bench --bench hub -- --repeats 5            # median of 5 runs (3 by default)
//! ```
//!
//! Four kinds of work, each run alone with 1, 2, ... threads for `--secs`:
//! replies (one message to one connection), room sends (to the ~30 members
//! of one room), joins and leaves, and broadcasts (to every connection).
//! Each thread owns the connections whose index is its number modulo the
//! thread count and acts on them; a connection's queue wakes its writer
//! when it gets a message (its waker puts it on its thread's ready list),
//! and the thread takes the woken queues after every 256 operations (8
//! broadcasts), as a runtime worker runs the woken writer tasks; the work
//! is synchronous (the hub never awaits), so plain threads stand for
//! runtime worker threads. It prints operations per second per thread
//! count (the median of `--repeats` runs) and the ratio to one thread.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use tungstenite::Utf8Bytes;
use zocket::hub_bench::HubBench;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Reply,
    Room,
    JoinLeave,
    Broadcast,
}

impl Kind {
    /// Its name for `--only`.
    fn flag(self) -> &'static str {
        match self {
            Kind::Reply => "reply",
            Kind::Room => "room",
            Kind::JoinLeave => "join",
            Kind::Broadcast => "broadcast",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Reply => "reply",
            Kind::Room => "room send",
            Kind::JoinLeave => "join + leave",
            Kind::Broadcast => "broadcast",
        }
    }
}

struct Args {
    threads: Vec<usize>,
    /// Only these kinds of work (`reply,room,join,broadcast`); all without.
    only: Option<String>,
    /// Runs per thread count; the median is printed.
    repeats: usize,
    secs: f64,
    connections: usize,
    rooms: usize,
}

fn args() -> Args {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut a = Args {
        threads: (1..=cores).collect(),
        only: None,
        repeats: 3,
        secs: 1.0,
        connections: 2000,
        rooms: 64,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().expect("a value after the flag").clone();
        match flag.as_str() {
            "--threads" => {
                a.threads = value()
                    .split(',')
                    .map(|t| t.parse().expect("thread counts"))
                    .collect()
            }
            "--only" => a.only = Some(value()),
            "--repeats" => a.repeats = value().parse::<usize>().expect("a count").max(1),
            "--secs" => a.secs = value().parse().expect("seconds"),
            "--connections" => a.connections = value().parse().expect("a count"),
            "--rooms" => a.rooms = value().parse().expect("a count"),
            "--bench" => {} // cargo bench passes it
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// The connections of one thread whose queues got something since it last
/// looked: what a runtime's run queue holds for their writer tasks.
/// (Wakers and lists are aligned so that two threads' never share a cache
/// line: the benchmark's own false sharing would be counted as the hub's.)
#[derive(Default)]
#[repr(align(128))]
struct ReadyList(Mutex<Vec<usize>>);

/// The waker of connection `i`'s writer: puts it on its thread's list, as
/// waking a task schedules it.
#[repr(align(128))]
struct Writer {
    list: Arc<ReadyList>,
    i: usize,
}

impl Wake for Writer {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.list.0.lock().unwrap().push(self.i)
    }
}

/// Runs `kind` on `threads` threads for `secs`; operations done in all.
fn run(bench: &Arc<HubBench>, kind: Kind, threads: usize, secs: f64) -> u64 {
    let stop = Arc::new(AtomicBool::new(false));
    let text = Utf8Bytes::from_static(r#"{"type":"chat.onMessage","payload":{"text":"hi"}}"#);
    // Connection i's writer runs on thread i % threads; it is woken when
    // its queue gets a message, and then takes the queue (as a writer
    // task does: register the waker, then take).
    let lists: Vec<Arc<ReadyList>> = (0..threads).map(|_| Arc::default()).collect();
    let wakers: Arc<Vec<Waker>> = Arc::new(
        (0..bench.connections())
            .map(|i| {
                let list = lists[i % threads].clone();
                Waker::from(Arc::new(Writer { list, i }))
            })
            .collect(),
    );
    let mut scratch = VecDeque::new();
    for (i, waker) in wakers.iter().enumerate() {
        bench.watch(i, waker);
        bench.drain(i, &mut scratch);
    }
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (bench, stop, text) = (bench.clone(), stop.clone(), text.clone());
            let (list, wakers) = (lists[t].clone(), wakers.clone());
            std::thread::spawn(move || {
                let mine: Vec<usize> = (t..bench.connections()).step_by(threads).collect();
                let my_rooms: Vec<usize> = (t..bench.rooms()).step_by(threads).collect();
                let mut scratch = VecDeque::new();
                let mut ready = Vec::new();
                let mut ops = 0u64;
                let mut next = 0usize;
                // Run the woken writers after this many operations.
                let every = match kind {
                    Kind::Broadcast => 8,
                    _ => 256,
                };
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..every {
                        match kind {
                            Kind::Reply => {
                                let i = mine[next % mine.len()];
                                bench.reply(i, &text);
                            }
                            Kind::Room => {
                                if my_rooms.is_empty() {
                                    break;
                                }
                                bench.room_send(my_rooms[next % my_rooms.len()], &text);
                            }
                            Kind::JoinLeave => bench.join_leave(mine[next % mine.len()]),
                            Kind::Broadcast => {
                                bench.broadcast(&text);
                            }
                        }
                        next += 1;
                        ops += 1;
                    }
                    std::mem::swap(&mut *list.0.lock().unwrap(), &mut ready);
                    for i in ready.drain(..) {
                        bench.watch(i, &wakers[i]);
                        bench.drain(i, &mut scratch);
                    }
                }
                ops
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    workers.into_iter().map(|w| w.join().unwrap()).sum()
}

fn main() {
    let a = args();
    let bench = Arc::new(HubBench::new(a.connections, a.rooms));
    println!(
        "hub: {} connections in {} rooms (~{} members each), {:.1} s per run, threads {:?}, median of {} run(s), thread counts alternating",
        a.connections,
        a.rooms,
        a.connections / a.rooms.max(1),
        a.secs,
        a.threads,
        a.repeats
    );
    println!();
    println!("| work | threads | operations/s | ratio to the first thread count, per thread |");
    println!("|---|---:|---:|---:|");
    for kind in [Kind::Reply, Kind::Room, Kind::JoinLeave, Kind::Broadcast] {
        if a.only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|w| w == kind.flag()))
        {
            continue;
        }
        // Rates per thread count, over the repeats; each repeat runs the
        // thread counts in turn, so a drift of the machine meets them all.
        let mut rates = vec![Vec::new(); a.threads.len()];
        for _ in 0..a.repeats {
            for (i, &threads) in a.threads.iter().enumerate() {
                let started = Instant::now();
                let ops = run(&bench, kind, threads, a.secs);
                rates[i].push(ops as f64 / started.elapsed().as_secs_f64());
            }
        }
        let medians: Vec<f64> = rates
            .into_iter()
            .map(|mut r| {
                r.sort_by(f64::total_cmp);
                r[r.len() / 2]
            })
            .collect();
        // The first thread count's rate per thread (one thread's, by default).
        let base = medians[0] / a.threads[0] as f64;
        for (&threads, rate) in a.threads.iter().zip(medians) {
            println!(
                "| {} | {threads} | {:.0} | {:.2}x |",
                kind.name(),
                rate,
                rate / base
            );
        }
    }
}
