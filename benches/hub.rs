//! How the hub's delivery work scales with threads, without sockets
//! (BENCHMARKS.md, "The hub and threads").
//!
//! ```text
//! cargo bench --bench hub                           # 1 .. the machine's cores
//! cargo bench --bench hub -- --threads 1,2,4,8,16   # chosen thread counts
//! cargo bench --bench hub -- --secs 2 --connections 4000 --rooms 64
//! ```
//!
//! Four kinds of work, each run alone with 1, 2, ... threads for `--secs`:
//! replies (one message to one connection), room sends (to the ~30 members
//! of one room), joins and leaves, and broadcasts (to every connection).
//! Each thread owns the connections whose index is its number modulo the
//! thread count, acts on them and drains their queues, as their writer
//! tasks would; the work is synchronous (the hub never awaits), so plain
//! threads stand for runtime worker threads. It prints operations per
//! second per thread count and the ratio to one thread.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    secs: f64,
    connections: usize,
    rooms: usize,
}

fn args() -> Args {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut a = Args {
        threads: (1..=cores).collect(),
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
            "--secs" => a.secs = value().parse().expect("seconds"),
            "--connections" => a.connections = value().parse().expect("a count"),
            "--rooms" => a.rooms = value().parse().expect("a count"),
            "--bench" => {} // cargo bench passes it
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// Runs `kind` on `threads` threads for `secs`; operations done in all.
fn run(bench: &Arc<HubBench>, kind: Kind, threads: usize, secs: f64) -> u64 {
    let stop = Arc::new(AtomicBool::new(false));
    let text = Utf8Bytes::from_static(r#"{"type":"chat.onMessage","payload":{"text":"hi"}}"#);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (bench, stop, text) = (bench.clone(), stop.clone(), text.clone());
            std::thread::spawn(move || {
                let mine: Vec<usize> = (t..bench.connections()).step_by(threads).collect();
                let my_rooms: Vec<usize> = (t..bench.rooms()).step_by(threads).collect();
                let mut scratch = VecDeque::new();
                let mut ops = 0u64;
                let mut next = 0usize;
                // Drain a thread's own queues this often (in operations).
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
                    for &i in &mine {
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
        "hub: {} connections in {} rooms (~{} members each), {:.1} s per run, threads {:?}",
        a.connections,
        a.rooms,
        a.connections / a.rooms.max(1),
        a.secs,
        a.threads
    );
    println!();
    println!("| work | threads | operations/s | ratio to 1 thread (the first run per thread) |");
    println!("|---|---:|---:|---:|");
    for kind in [Kind::Reply, Kind::Room, Kind::JoinLeave, Kind::Broadcast] {
        let mut one = None;
        for &threads in &a.threads {
            let started = Instant::now();
            let ops = run(&bench, kind, threads, a.secs);
            let rate = ops as f64 / started.elapsed().as_secs_f64();
            // The first run's rate per thread (one thread's, with the default list).
            let base = *one.get_or_insert(rate / threads as f64);
            println!(
                "| {} | {threads} | {:.0} | {:.2}x |",
                kind.name(),
                rate,
                rate / base
            );
        }
    }
}
