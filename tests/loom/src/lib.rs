//! The ring of `staso-core/src/export/ring.rs` (with the tape bytes some values carry) and
//! the batcher's wake-up handshake of
//! `staso-core/src/export/queue/wake.rs`, compiled from those very files, checked under
//! loom: every interleaving of the lane's thread (the producer) and the batcher (the
//! consumer), with the batcher's own rules for a segment that is done, and of a lane
//! filling a batch while the batcher parks.

#[path = "../../../staso-core/src/export/ring.rs"]
#[allow(dead_code)]
mod ring;

// Only under loom: without it the file names tokio's `Notify`, which this crate lacks.
#[cfg(loom)]
#[path = "../../../staso-core/src/export/queue/wake.rs"]
#[allow(dead_code)]
mod wake;

#[cfg(all(test, loom))]
mod wake_tests {
    use super::wake::Wake;
    use loom::thread;
    use std::sync::Arc;

    /// A lane fills a batch while the batcher decides to park: either the batcher sees
    /// the request and stays up, or it parks and the lane leaves it a wake-up. Never a
    /// parked batcher with a request and no wake-up.
    #[test]
    fn a_batch_filled_while_the_batcher_parks_is_never_missed() {
        loom::model(|| {
            let w = Arc::new(Wake::new());
            let lane = {
                let w = w.clone();
                thread::spawn(move || w.want_drain())
            };
            let parked = w.may_park();
            lane.join().expect("lane");
            if parked {
                assert!(w.signal().has_permit(), "a parked batcher is woken");
            } else {
                assert!(w.take_wanted(), "it stayed up for the request");
            }
        });
    }

    /// While the batcher ticks, a lane that fills a batch only raises the flag.
    #[test]
    fn a_ticking_batcher_gets_the_flag_and_no_wake_up() {
        loom::model(|| {
            let w = Arc::new(Wake::new());
            let lane = {
                let w = w.clone();
                thread::spawn(move || w.want_drain())
            };
            lane.join().expect("lane");
            assert!(!w.signal().has_permit());
            assert!(w.take_wanted());
        });
    }
}

#[cfg(all(test, loom))]
mod tests {
    use super::ring::{ring, Consumer};
    use loom::thread;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;

    /// Pushes `values` in order, waiting while the ring is full, then drops the producer.
    fn produce<T: Send + 'static>(mut p: super::ring::Producer<T>, values: Vec<T>) {
        for v in values {
            let mut slot = Some(v);
            while !p.push_from(&mut slot) {
                thread::yield_now();
            }
            assert!(slot.is_none(), "a push that succeeded takes the value");
        }
    }

    /// Pushes `values` in order as a lane does: `room` once, then as many unchecked pushes
    /// as it allowed (waiting while the ring is full), then drops the producer.
    fn produce_in_runs<T: Send + 'static>(mut p: super::ring::Producer<T>, values: Vec<T>) {
        let mut run = 0;
        for v in values {
            while run == 0 {
                run = p.room();
                if run == 0 {
                    thread::yield_now();
                }
            }
            let mut slot = Some(v);
            // SAFETY: fewer pushes than `room` allowed were made since it was called.
            unsafe { p.push_unchecked(&mut slot) };
            run -= 1;
            assert!(slot.is_none(), "the push takes the value");
        }
    }

    /// The batcher's loop for one segment: drain; the segment is done once its producer
    /// was seen gone *before* a drain and the ring is empty after it.
    fn consume_until_done<T>(c: &mut Consumer<T>) -> Vec<T> {
        let mut got = Vec::new();
        loop {
            let gone = c.is_abandoned();
            c.drain(|v| got.push(v));
            if gone && c.is_empty() {
                return got;
            }
            thread::yield_now();
        }
    }

    /// Pushes `values` with their tapes as a lane does (`room`, then unchecked pushes),
    /// waiting while the ring or its tape is full, then drops the producer.
    fn produce_taped(mut p: super::ring::Producer<(u32, usize)>, values: Vec<(u32, Vec<u8>)>) {
        let mut run = 0;
        for (v, bytes) in values {
            loop {
                while run == 0 {
                    run = p.room();
                    if run == 0 {
                        thread::yield_now();
                    }
                }
                let mut slot = Some((v, 0));
                // SAFETY: fewer pushes than `room` allowed were made since it was called;
                // the consumer reads the length back from `.1`, as `mark` writes it.
                let (a, b) = bytes.split_at(1);
                if unsafe { p.push_unchecked_with_tape(&mut slot, [a, b], |v, n| v.1 = n) } {
                    run -= 1;
                    break;
                }
                // The tape is full: wait for the reader.
                thread::yield_now();
            }
        }
    }

    #[test]
    fn tape_bytes_pass_with_their_value_and_wait_for_the_reader() {
        // Four bytes of tape, tapes of 2 and 3: the second skips the end of the lap and
        // waits for the first to be read; the third reuses the start of the tape.
        loom::model(|| {
            let (p, mut c) = super::ring::ring_with_tape::<(u32, usize)>(2, 4);
            let values = vec![(1, vec![1, 1]), (2, vec![2, 2, 2]), (3, vec![3, 3])];
            let sent = values.clone();
            let producer = thread::spawn(move || produce_taped(p, sent));
            let mut got = Vec::new();
            loop {
                let gone = c.is_abandoned();
                c.drain_with(|v| v.1, |v, bytes| got.push((v.0, bytes.to_vec())));
                if gone && c.is_empty() {
                    break;
                }
                thread::yield_now();
            }
            producer.join().expect("producer");
            assert_eq!(got, values);
        });
    }

    #[test]
    fn values_pass_in_order_each_once_through_a_small_ring() {
        loom::model(|| {
            let (p, mut c) = ring::<u32>(2);
            let producer = thread::spawn(move || produce(p, vec![1, 2, 3]));
            let got = consume_until_done(&mut c);
            producer.join().expect("producer");
            assert_eq!(got, vec![1, 2, 3]);
        });
    }

    #[test]
    fn runs_of_pushes_wrap_and_wait_for_the_reader() {
        // Two slots, three values: runs end at the last slot and at a full ring.
        loom::model(|| {
            let (p, mut c) = ring::<u32>(2);
            let producer = thread::spawn(move || produce_in_runs(p, vec![1, 2, 3]));
            let got = consume_until_done(&mut c);
            producer.join().expect("producer");
            assert_eq!(got, vec![1, 2, 3]);
        });
    }

    #[test]
    fn a_segment_seen_abandoned_and_then_empty_has_given_everything() {
        // The batcher retires a segment on this rule; a push it missed would be lost.
        loom::model(|| {
            let (p, mut c) = ring::<u32>(4);
            let producer = thread::spawn(move || produce(p, vec![7, 8]));
            let got = consume_until_done(&mut c);
            assert_eq!(got, vec![7, 8]);
            producer.join().expect("producer");
        });
    }

    /// Counts its drops (a plain atomic: read only after the threads are joined).
    struct Tracked(Arc<AtomicUsize>);

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Relaxed);
        }
    }

    #[test]
    fn every_value_is_dropped_once_whichever_end_goes_first() {
        loom::model(|| {
            let drops = Arc::new(AtomicUsize::new(0));
            let (p, mut c) = ring::<Tracked>(2);
            let values = vec![Tracked(drops.clone()), Tracked(drops.clone())];
            let producer = thread::spawn(move || produce(p, values));
            // One drain at some point of the producer's run, then the consumer goes.
            let read = c.drain(drop);
            drop(c);
            producer.join().expect("producer");
            assert!(read <= 2);
            assert_eq!(
                drops.load(Relaxed),
                2,
                "read ones by the reader, the rest by the ring"
            );
        });
    }
}
