//! fastrace's caller side in a loop, for instruction counts beside staso's `hot` example
//! (`valgrind --tool=callgrind --toggle-collect='*traced*' target/release/examples/fastrace_hot 40000`).
#![allow(missing_docs, clippy::print_stdout)]

use fastrace::prelude::*;
use std::hint::black_box;

struct Discard;
impl fastrace::collector::Reporter for Discard {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
}

#[fastrace::trace]
#[inline(never)]
fn traced(a: u64, b: u64) -> u64 {
    black_box(a.wrapping_add(b))
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    fastrace::set_reporter(Discard, fastrace::collector::Config::default());
    let t = staso_benches::thread_cpu_time();
    let mut done = 0;
    while done < n {
        let root = Span::root("agent", SpanContext::random());
        let guard = root.set_local_parent();
        for i in 0..4_000 {
            black_box(traced(black_box(i), 1));
        }
        drop(guard);
        drop(root);
        fastrace::flush();
        done += 4_000;
    }
    let cpu = staso_benches::thread_cpu_time() - t;
    println!(
        "fastrace: thread cpu ns/span {:.1}",
        cpu.as_nanos() as f64 / n as f64
    );
}
