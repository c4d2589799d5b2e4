//! What the caller's side of a span costs at the floor of two designs, measured the way
//! BENCHMARKS.md measures staso and fastrace (instructions per span under callgrind, the
//! same two-argument function, bursts of 1 000 spans under one root). Not the SDK: a
//! model of it with nothing but a record of staso's size, to say how far each design can
//! go before the SDK's own work (credits, sampling, inheritance, panics, counts) is added.
//!
//! - `ring`: the current design, lean: a span's frame is its record, on a per-thread stack;
//!   at the end the record moves into a single-producer ring the batcher drains.
//! - `buffer`: the record written once, at open, into a per-thread buffer; its end time set
//!   in place; the buffer handed over whole when the thread's outermost span ends.
//!
//! `cargo build --profile bench -p staso-benches --example design_floor`, then
//! `valgrind --tool=callgrind --toggle-collect='*traced*' target/release/examples/design_floor <ring|buffer> 40000`;
//! run directly (`BURST=4000 target/release/examples/design_floor ring 300000`) it prints the
//! caller thread's CPU time a span as `fastrace_hot` and `hot` do: root spans included, the
//! batcher's side between bursts not.
#![allow(missing_docs, clippy::print_stdout)]

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::mpsc;

/// A record the size of staso's (`SPAN_RECORD_BYTES`).
#[derive(Clone, Copy)]
#[allow(dead_code)]
struct Record {
    trace_id: u128,
    span_id: u64,
    parent: u64,
    start: u64,
    end: u64,
    name: &'static str,
    kind: u8,
    status: u8,
    flags: u8,
    callsite: usize,
    agent: [usize; 3],
    conversation: usize,
    extras: usize,
}

const _: () = assert!(std::mem::size_of::<Record>() == staso::__private::SPAN_RECORD_BYTES);

struct Local {
    /// Indices into `buf` of the open spans, innermost last.
    stack: Vec<u32>,
    buf: Vec<Record>,
    next_id: u64,
    ring: Option<rtrb::Producer<Record>>,
    handed: mpsc::Sender<Vec<Record>>,
    spare: Vec<Vec<Record>>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

#[inline(always)]
fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `rdtsc` has no preconditions on x86_64.
    return unsafe { core::arch::x86_64::_rdtsc() };
    #[allow(unreachable_code)]
    std::time::UNIX_EPOCH
        .elapsed()
        .map_or(0, |d| d.as_nanos() as u64)
}

struct Guard(u32);

#[inline(never)]
fn enter(name: &'static str) -> Guard {
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        let l = l.as_mut().expect("set up in main");
        let (trace_id, parent) = match l.stack.last() {
            Some(&i) => (l.buf[i as usize].trace_id, l.buf[i as usize].span_id),
            None => (1, 0),
        };
        l.next_id = l
            .next_id
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(1);
        let i = l.buf.len() as u32;
        l.buf.push(Record {
            trace_id,
            span_id: l.next_id,
            parent,
            start: ticks(),
            end: 0,
            name,
            kind: 2,
            status: 0,
            flags: 0,
            callsite: 0,
            agent: [0; 3],
            conversation: 0,
            extras: 0,
        });
        l.stack.push(i);
        Guard(i)
    })
}

impl Drop for Guard {
    #[inline(never)]
    fn drop(&mut self) {
        LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            let l = l.as_mut().expect("set up in main");
            l.stack.pop();
            if let Some(ring) = l.ring.as_mut() {
                if let Some(mut r) = l.buf.pop() {
                    r.end = ticks();
                    let _ = ring.push(r);
                }
                return;
            }
            l.buf[self.0 as usize].end = ticks();
            if l.stack.is_empty() {
                let fresh = l.spare.pop().unwrap_or_else(|| Vec::with_capacity(1024));
                let full = std::mem::replace(&mut l.buf, fresh);
                let _ = l.handed.send(full);
            }
        })
    }
}

#[inline(never)]
fn traced(a: u64, b: u64) -> u64 {
    let _g = enter("traced");
    black_box(a + b)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "ring".into());
    let n: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(40_000);
    let (producer, mut consumer) = rtrb::RingBuffer::<Record>::new(4096);
    let (handed, taken) = mpsc::channel();
    LOCAL.with(|l| {
        *l.borrow_mut() = Some(Local {
            stack: Vec::with_capacity(64),
            buf: Vec::with_capacity(1024),
            next_id: 1,
            ring: (mode == "ring").then_some(producer),
            handed,
            spare: Vec::new(),
        })
    });
    let burst: u64 = staso_benches::env_or("BURST", 1000);
    let mut done = 0;
    let mut bursts = staso_benches::BurstCpu::default();
    let t = staso_benches::thread_cpu_time();
    let mut untimed = std::time::Duration::ZERO;
    while done < n {
        bursts.time(|| {
            let root = enter("agent");
            for i in 0..burst {
                black_box(traced(i, 1));
            }
            drop(root);
        });
        done += burst;
        // The batcher's side, between bursts (not counted).
        let c = staso_benches::thread_cpu_time();
        while let Ok(r) = consumer.pop() {
            black_box(r.end);
        }
        while let Ok(mut v) = taken.try_recv() {
            black_box(v.len());
            v.clear();
            LOCAL.with(|l| {
                if let Some(l) = l.borrow_mut().as_mut() {
                    l.spare.push(v);
                }
            });
        }
        untimed += staso_benches::thread_cpu_time() - c;
    }
    let cpu = staso_benches::thread_cpu_time() - t - untimed;
    println!(
        "{mode}: {done} spans; thread cpu ns/span {:.1} (incl. root spans)",
        cpu.as_nanos() as f64 / done as f64
    );
    println!("{mode}: {}", bursts.summary(burst));
}
