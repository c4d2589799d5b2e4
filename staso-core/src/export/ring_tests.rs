//! The ring's tests, in a file of their own so that `ring.rs` holds the ring.

use super::*;
use std::sync::atomic::AtomicUsize as Count;

/// Counts its drops.
struct Tracked(u32, std::sync::Arc<Count>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.fetch_add(1, Relaxed);
    }
}

fn all<T>(c: &mut Consumer<T>) -> Vec<T> {
    let mut out = Vec::new();
    c.drain(|v| out.push(v));
    out
}

#[test]
fn values_come_out_in_order_across_many_wraps() {
    let (mut p, mut c) = ring::<u32>(3);
    let mut next = 0;
    let mut got = Vec::new();
    for round in 0..100 {
        for _ in 0..=(round % 3) {
            assert!(p.push(next).is_ok());
            next += 1;
        }
        got.extend(all(&mut c));
    }
    assert_eq!(got, (0..next).collect::<Vec<_>>());
    assert!(c.is_empty());
}

#[test]
fn a_full_ring_refuses_and_leaves_the_value_where_it_was() {
    let (mut p, mut c) = ring::<u32>(2);
    assert!(p.push(1).is_ok());
    assert!(p.push(2).is_ok());
    let mut slot = Some(3);
    assert!(!p.push_from(&mut slot));
    assert_eq!(slot, Some(3), "the refused value stays with the caller");
    assert_eq!(p.push(4), Err(4));
    assert_eq!(all(&mut c), vec![1, 2]);
    assert!(
        p.push_from(&mut slot),
        "room again once the consumer has read"
    );
    assert_eq!(slot, None);
    assert_eq!(all(&mut c), vec![3]);
    let mut empty = None;
    assert!(!p.push_from(&mut empty), "nothing to push");
}

#[test]
fn every_value_is_dropped_once_whoever_ends_first() {
    let drops = std::sync::Arc::new(Count::new(0));
    let v = |n| Tracked(n, drops.clone());
    // Values left in the ring when both ends go.
    let (mut p, mut c) = ring(4);
    for n in 0..4 {
        assert!(p.push(v(n)).is_ok());
    }
    assert_eq!(all(&mut c).len(), 4);
    assert_eq!(
        drops.load(Relaxed),
        4,
        "the values read were dropped by the reader"
    );
    for n in 0..3 {
        assert!(p.push(v(n)).is_ok());
    }
    drop(c);
    assert!(
        p.push(v(9)).is_ok(),
        "the producer may outlive the consumer"
    );
    drop(p);
    assert_eq!(
        drops.load(Relaxed),
        8,
        "the four left were dropped with the ring"
    );
}

#[test]
fn a_drain_that_unwinds_does_not_drop_what_it_read_again() {
    let drops = std::sync::Arc::new(Count::new(0));
    let (mut p, mut c) = ring(8);
    for n in 0..5 {
        assert!(p.push(Tracked(n, drops.clone())).is_ok());
    }
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        c.drain(|v| {
            if v.0 == 2 {
                panic!("the batcher's closure fails");
            }
        })
    }));
    assert!(r.is_err());
    assert_eq!(drops.load(Relaxed), 3, "0, 1 and 2 were read and dropped");
    drop(c);
    drop(p);
    assert_eq!(
        drops.load(Relaxed),
        5,
        "3 and 4 dropped with the ring, 2 not twice"
    );
}

#[test]
fn the_consumer_sees_the_producer_go() {
    let (mut p, c) = ring::<u32>(2);
    assert!(p.push(1).is_ok());
    assert!(!c.is_abandoned());
    drop(p);
    assert!(c.is_abandoned());
    assert!(!c.is_empty(), "abandoned, with a value still to read");
}

#[test]
fn a_thread_pushes_while_another_drains() {
    let (mut p, mut c) = ring::<u64>(16);
    const N: u64 = 200_000;
    let producer = std::thread::spawn(move || {
        for n in 0..N {
            let mut slot = Some(n);
            while !p.push_from(&mut slot) {
                std::thread::yield_now();
            }
        }
    });
    let mut next = 0;
    while next < N {
        c.drain(|v| {
            assert_eq!(v, next, "in order, each once");
            next += 1;
        });
        std::thread::yield_now();
    }
    producer.join().expect("producer");
    assert!(c.is_abandoned() && c.is_empty());
}

/// A value and the length of its tape, as a span's record carries it.
type Taped = (u32, usize);

fn tape_of(n: u32) -> Vec<u8> {
    (0..n % 7 + 1)
        .map(|i| (n as u8).wrapping_mul(31).wrapping_add(i as u8))
        .collect()
}

/// Pushes `v` with its tape, as a lane does (after `room`); false when the tape is full.
fn push_taped(p: &mut Producer<Taped>, v: u32) -> bool {
    if p.room() == 0 {
        return false;
    }
    let bytes = tape_of(v);
    let (a, b) = bytes.split_at(bytes.len() / 2);
    let mut slot = Some((v, 0));
    // SAFETY: `room` allowed a push, and `drain_taped` reads the length back from `.1`.
    let pushed = unsafe { p.push_unchecked_with_tape(&mut slot, [a, b], |v, n| v.1 = n) };
    assert_eq!(
        pushed,
        slot.is_none(),
        "a push takes the value, a refusal leaves it"
    );
    pushed
}

fn drain_taped(c: &mut Consumer<Taped>) -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    c.drain_with(|v| v.1, |v, bytes| out.push((v.0, bytes.to_vec())));
    out
}

#[test]
fn values_come_out_with_their_tape_bytes_across_many_laps() {
    // 32 bytes of tape, up to three tapes of 1 to 7 between two drains: they wrap, and
    // skip the end of a lap.
    let (mut p, mut c) = ring_with_tape::<Taped>(4, 32);
    let mut next = 0;
    let mut got = Vec::new();
    for round in 0..200 {
        for _ in 0..=(round % 3) {
            assert!(push_taped(&mut p, next), "room for {next}");
            next += 1;
        }
        got.extend(drain_taped(&mut c));
    }
    let want: Vec<_> = (0..next).map(|n| (n, tape_of(n))).collect();
    assert_eq!(got, want);
}

#[test]
fn a_full_tape_refuses_and_leaves_the_value_where_it_was() {
    let (mut p, mut c) = ring_with_tape::<Taped>(8, 8);
    assert!(push_taped(&mut p, 5), "6 bytes of 8");
    assert!(
        !push_taped(&mut p, 5),
        "6 more do not fit before the reader moves"
    );
    // A value without a tape still goes in.
    assert!(p.push((9, 0)).is_ok());
    assert_eq!(drain_taped(&mut c), vec![(5, tape_of(5)), (9, Vec::new())]);
    assert!(push_taped(&mut p, 5), "room again once the reader has read");
    assert_eq!(drain_taped(&mut c), vec![(5, tape_of(5))]);
    let mut slot = Some((1, 0));
    // SAFETY: the ring has room for a value.
    let big =
        unsafe { p.push_unchecked_with_tape(&mut slot, [&[0u8; 9][..], &[]], |v, n| v.1 = n) };
    assert!(
        !big && slot.is_some(),
        "a tape larger than the ring's never fits"
    );
    let (mut none, _) = ring_with_tape::<Taped>(2, 0);
    assert!(
        !push_taped(&mut none, 1),
        "a ring made without a tape takes none"
    );
}

#[test]
fn a_thread_pushes_tapes_while_another_drains() {
    let (mut p, mut c) = ring_with_tape::<Taped>(64, 256);
    const N: u32 = 100_000;
    let producer = std::thread::spawn(move || {
        for n in 0..N {
            while !push_taped(&mut p, n) {
                std::thread::yield_now();
            }
        }
    });
    let mut got = 0;
    while got < N {
        for (v, bytes) in drain_taped(&mut c) {
            assert_eq!((v, bytes), (got, tape_of(got)));
            got += 1;
        }
    }
    producer.join().expect("producer");
}
