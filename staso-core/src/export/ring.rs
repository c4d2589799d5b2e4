//! The single-producer, single-consumer ring a lane is made of: a thread's finished spans
//! go in, the batcher takes them out.
//!
//! Ours rather than rtrb's for one operation: the end of a span moves its record from the
//! thread's frame straight into the ring's slot ([`Producer::push_unchecked`], inlined,
//! within a run that [`Producer::room`] allowed). rtrb's
//! push takes the value by argument and is not inlined, so a 128-byte record was copied
//! three times on every span (out of the frame, into the call, into the slot). The
//! protocol is the usual one: each side owns its position, publishes it with `Release`
//! after touching the slots and reads the other's with `Acquire`, keeping the last value
//! it saw so that a push into a ring with room reads no line the batcher writes.
//!
//! Self-contained (no `crate::` paths) so that `tests/loom` can compile this very file
//! under loom (`--cfg loom`) and check every interleaving of the two sides.

use self::sync::{Arc, AtomicBool, AtomicUsize, Ordering::*, UnsafeCell};
use std::mem::MaybeUninit;

#[cfg(not(loom))]
mod sync {
    pub(super) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    pub(super) use std::sync::Arc;

    /// `std`'s cell with loom's API, so that the ring's code is the same in both builds.
    #[derive(Debug)]
    pub(super) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(super) fn new(v: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(v))
        }

        #[inline(always)]
        pub(super) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(loom)]
mod sync {
    pub(super) use loom::cell::UnsafeCell;
    pub(super) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    pub(super) use loom::sync::Arc;
}

/// Copies the `T` at `src` to `dst` bit for bit, in 8-byte words when `T` is made of
/// them. A span's record was written into its frame field by field, mostly in 8-byte
/// stores, shortly before it ends; the compiler's copy reads it back in 16-byte loads,
/// each spanning two of those stores, which the CPU cannot forward from its store buffer
/// (the load waits until the stores are written to the cache). Word loads match the
/// stores. Volatile so that the compiler keeps them as words. Measured with `hot` in
/// bursts of 4 000: the cheapest burst 0.3 ns a span cheaper, in 11 of 12 interleaved
/// runs.
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of one `T`, both aligned, and the two do
/// not overlap.
#[inline(always)]
unsafe fn move_bits<T>(src: *const T, dst: *mut T) {
    if std::mem::size_of::<T>() % 8 == 0 && std::mem::align_of::<T>() >= 8 {
        // Words that may be padding (uninitialised): read as `MaybeUninit`, which holds
        // any bits, as a bitwise move copies them.
        let (s, d) = (
            src.cast::<MaybeUninit<u64>>(),
            dst.cast::<MaybeUninit<u64>>(),
        );
        for i in 0..std::mem::size_of::<T>() / 8 {
            // SAFETY: `T` is a whole number of 8-byte words and at least 8-aligned, so
            // word `i < size / 8` of each lies within its `T` and is aligned; the caller
            // vouches for the rest.
            unsafe { d.add(i).write_volatile(s.add(i).read_volatile()) };
        }
    } else {
        // SAFETY: as the caller vouches.
        unsafe { std::ptr::copy_nonoverlapping(src, dst, 1) };
    }
}

/// Keeps the two positions on lines of their own: the producer writes one, the batcher
/// the other, and sharing a line would make every push wait for the batcher's core.
#[repr(align(128))]
struct Padded<T>(T);

struct Shared<T> {
    /// Slots the consumer has read (wrapping; `tail - head` values wait).
    head: Padded<AtomicUsize>,
    /// Slots the producer has written.
    tail: Padded<AtomicUsize>,
    /// Set (`Release`) when the producer is dropped, after its last push.
    producer_gone: AtomicBool,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

// SAFETY: the ring moves `T`s from the producer's thread to the consumer's, so `T: Send`
// is required and enough: a slot is accessed by one side at a time (the producer before it
// publishes `tail` past it, the consumer after it has seen that and before it publishes
// `head` past it), and the positions are atomics.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above; `&Shared` gives access to a slot only through the protocol.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Both ends are gone (this is the last `Arc`, whose drop synchronised with the
        // others'): the values between the positions are owned here.
        let cap = self.slots.len();
        let head = self.head.0.load(Relaxed);
        let tail = self.tail.0.load(Relaxed);
        for pos in 0..tail.wrapping_sub(head) {
            // Positions count from 0 and would wrap after 2^64 values; until then a
            // position's slot is the position modulo the capacity, as both ends keep it.
            let i = head.wrapping_add(pos) % cap;
            // SAFETY: slots from `head` to `tail` hold values written by the producer and
            // not read by the consumer; nothing else can reach them now; each is dropped
            // once.
            self.slots[i].with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}

/// A ring of `capacity` values (at least 1): the producer's end and the consumer's.
pub(crate) fn ring<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let capacity = capacity.max(1);
    let shared = Arc::new(Shared {
        head: Padded(AtomicUsize::new(0)),
        tail: Padded(AtomicUsize::new(0)),
        producer_gone: AtomicBool::new(false),
        slots: (0..capacity)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect(),
    });
    let producer = Producer {
        shared: shared.clone(),
        tail: 0,
        index: 0,
        head_seen: 0,
        capacity,
    };
    let consumer = Consumer {
        shared,
        head: 0,
        index: 0,
        capacity,
    };
    (producer, consumer)
}

/// The thread's end.
pub(crate) struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// Values written (what `shared.tail` says once published).
    tail: usize,
    /// `tail`'s slot, or `capacity` after a run that ended at the last slot (`room`
    /// starts the next run at the first).
    index: usize,
    /// The consumer's position as last read: the ring has at least `capacity - (tail -
    /// head_seen)` free slots.
    head_seen: usize,
    capacity: usize,
}

impl<T> Producer<T> {
    /// Moves the value in `slot` into the ring, leaving `None` there: one copy, from where
    /// the value lies into its slot. False, and `slot` left as it was, when the ring is
    /// full or `slot` is empty. Checks the room on every call: the hot path is
    /// [`Producer::room`] once for a run of [`Producer::push_unchecked`].
    pub(crate) fn push_from(&mut self, slot: &mut Option<T>) -> bool {
        if slot.is_none() || self.room() == 0 {
            return false;
        }
        // SAFETY: `room` just said there is a slot for at least this push.
        unsafe { self.push_unchecked(slot) };
        true
    }

    /// Moves `v` into the ring, or gives it back when the ring is full.
    #[inline]
    pub(crate) fn push(&mut self, v: T) -> Result<(), T> {
        let mut slot = Some(v);
        if self.push_from(&mut slot) {
            return Ok(());
        }
        match slot {
            Some(v) => Err(v),
            None => unreachable!("a refused push leaves the value where it was"),
        }
    }

    /// How many values the next pushes may write without a check: free slots (as far as
    /// the consumer's last position seen says, read again when that says none) up to the
    /// end of the slots, where the next run starts over at the first. 0 when the ring is
    /// full.
    #[cold]
    pub(crate) fn room(&mut self) -> usize {
        if self.index == self.capacity {
            self.index = 0;
        }
        let mut free = self.capacity - self.tail.wrapping_sub(self.head_seen);
        if free == 0 {
            self.head_seen = self.shared.head.0.load(Acquire);
            free = self.capacity - self.tail.wrapping_sub(self.head_seen);
        }
        free.min(self.capacity - self.index)
    }

    /// Moves the value in `slot` (which must hold one: else nothing is written) into the
    /// next slot and publishes it.
    ///
    /// # Safety
    /// Fewer pushes than the last [`Producer::room`] returned were made since it was
    /// called: the slot at `index` exists (`index < capacity`) and is free.
    #[inline(always)]
    pub(crate) unsafe fn push_unchecked(&mut self, slot: &mut Option<T>) {
        let Some(v) = slot.as_ref() else {
            return;
        };
        let src: *const T = v;
        // SAFETY: by the contract, `index < capacity`, so the slot exists, and it is free:
        // `room` saw the consumer past it, so it has read whatever was in it and will not
        // look at it before `tail` is published past it, below.
        let cell = unsafe { self.shared.slots.get_unchecked(self.index) };
        cell.with_mut(|dst| {
            // SAFETY: `src` points to an initialised `T` in `slot`, `dst` to the free
            // slot; the two do not overlap (one is in the ring's allocation, the other is
            // borrowed mutably from the caller). The value is moved bitwise: the slot owns
            // it from here.
            unsafe { move_bits(src, (*dst).as_mut_ptr()) }
        });
        // SAFETY: the value in `slot` was moved out above; writing `None` over it without
        // dropping it is what completes the move (no double drop, nothing leaked).
        unsafe { std::ptr::write(slot, None) };
        // Within the run `room` allowed: no wrap here (`room` wraps the index).
        self.index += 1;
        self.tail = self.tail.wrapping_add(1);
        self.shared.tail.0.store(self.tail, Release);
    }

    /// How many values the ring holds at most.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // After every push: a consumer that sees the flag sees all of them.
        self.shared.producer_gone.store(true, Release);
    }
}

/// The batcher's end.
pub(crate) struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// Values read (what `shared.head` says once published).
    head: usize,
    /// `head`'s slot.
    index: usize,
    capacity: usize,
}

impl<T> Consumer<T> {
    /// Whether no value waits now.
    pub(crate) fn is_empty(&self) -> bool {
        self.shared.tail.0.load(Acquire) == self.head
    }

    /// Whether the producer is gone. Seen before [`Consumer::is_empty`], a `true` here
    /// means that once the ring is empty it stays so.
    pub(crate) fn is_abandoned(&self) -> bool {
        self.shared.producer_gone.load(Acquire)
    }

    /// Hands `take` every value the ring holds now (not what the producer adds meanwhile:
    /// chasing it would keep the positions' lines moving between the two cores), and frees
    /// their slots at once at the end. Returns how many.
    pub(crate) fn drain(&mut self, mut take: impl FnMut(T)) -> usize {
        let tail = self.shared.tail.0.load(Acquire);
        let n = tail.wrapping_sub(self.head);
        for _ in 0..n {
            // SAFETY: `index < capacity` (kept below), and the slot holds a value: the
            // producer published `tail` past it (`Acquire` above pairs with its `Release`,
            // so the value's bytes are visible), and this side has not read it yet.
            let cell = unsafe { self.shared.slots.get_unchecked(self.index) };
            // SAFETY: as above, the slot is initialised; it is read once, and `head` moves
            // past it before the value can be dropped (if `take` unwinds, `Drop` publishes
            // `head`, so the ring does not drop it again).
            let v = cell.with_mut(|p| unsafe { (*p).assume_init_read() });
            self.head = self.head.wrapping_add(1);
            self.index += 1;
            if self.index == self.capacity {
                self.index = 0;
            }
            take(v);
        }
        if n > 0 {
            self.shared.head.0.store(self.head, Release);
        }
        n
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // The values read (also those of a `drain` that unwound) are not the ring's any
        // more: what it drops at the end starts after them.
        self.shared.head.0.store(self.head, Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
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
}
