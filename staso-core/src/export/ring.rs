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
    /// Transparent: a slice of byte cells is a slice of bytes (see `copy_into`).
    #[derive(Debug)]
    #[repr(transparent)]
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
    /// Bytes the consumer has read from `tape` (wrapping).
    tape_head: Padded<AtomicUsize>,
    /// Bytes that travel with some values (a span's captured tapes, so that they need no
    /// box): a value pushed with [`Producer::push_unchecked_with_tape`] owns the next ones,
    /// as many as it says. Written before the value, so published with it; read back in
    /// the same order. Empty in a ring made without it.
    tape: Box<[UnsafeCell<u8>]>,
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
#[cfg(any(test, loom))]
pub(crate) fn ring<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    ring_with_tape(capacity, 0)
}

/// A ring of `capacity` values and `tape` bytes that travel with them (see
/// [`Producer::push_unchecked_with_tape`]).
pub(crate) fn ring_with_tape<T>(capacity: usize, tape: usize) -> (Producer<T>, Consumer<T>) {
    let capacity = capacity.max(1);
    let shared = Arc::new(Shared {
        head: Padded(AtomicUsize::new(0)),
        tail: Padded(AtomicUsize::new(0)),
        producer_gone: AtomicBool::new(false),
        slots: (0..capacity)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect(),
        tape_head: Padded(AtomicUsize::new(0)),
        tape: (0..tape).map(|_| UnsafeCell::new(0)).collect(),
    });
    let producer = Producer {
        shared: shared.clone(),
        tail: 0,
        index: 0,
        head_seen: 0,
        capacity,
        tape_tail: 0,
        tape_at: 0,
        tape_head_seen: 0,
    };
    let consumer = Consumer {
        shared,
        head: 0,
        index: 0,
        capacity,
        tape_head: 0,
        tape_at: 0,
    };
    (producer, consumer)
}

/// Where the `n` bytes of a value's tape go when the last value's ended at offset `at` of
/// a tape of `capacity` bytes (`at <= capacity`, `n <= capacity`): how many bytes are
/// skipped (the rest of the lap when they would cross its end, so that they are
/// contiguous; else none) and the offset they start at, from which `n` bytes are within
/// the tape. Both sides skip the same bytes: they apply this to the same offsets. An
/// offset is its position modulo `capacity`, kept beside it rather than divided out.
#[inline(always)]
fn tape_place(at: usize, n: usize, capacity: usize) -> (usize, usize) {
    if at + n > capacity {
        (capacity - at, 0)
    } else {
        (0, at)
    }
}

/// Writes `src` into `cells` from `at`.
///
/// # Safety
/// `at + src.len() <= cells.len()`, and no one else reads or writes those bytes meanwhile.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn copy_into(cells: &[UnsafeCell<u8>], at: usize, src: &[u8]) {
    debug_assert!(at <= cells.len() && src.len() <= cells.len() - at);
    // SAFETY: in bounds, as the caller vouches. The cells are bytes (`UnsafeCell` is
    // transparent), so the pointer of the slice is a pointer to them, and writing through
    // a pointer taken from shared references to `UnsafeCell`s is what they allow; no one
    // else touches them meanwhile, as the caller vouches.
    unsafe {
        let dst = cells.as_ptr().add(at).cast::<u8>().cast_mut();
        std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len());
    }
}

/// Loom's: byte by byte, each access checked.
///
/// # Safety
/// As above.
#[cfg(loom)]
unsafe fn copy_into(cells: &[UnsafeCell<u8>], at: usize, src: &[u8]) {
    for (i, b) in src.iter().enumerate() {
        // SAFETY: as the caller vouches; loom checks that no other access overlaps.
        cells[at + i].with_mut(|p| unsafe { *p = *b });
    }
}

/// Runs `f` on the `n` bytes of `cells` from `at`.
///
/// # Safety
/// `at + n <= cells.len()`, and no one writes those bytes meanwhile.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn with_bytes<R>(
    cells: &[UnsafeCell<u8>],
    at: usize,
    n: usize,
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    debug_assert!(at <= cells.len() && n <= cells.len() - at);
    // SAFETY: in bounds and not written meanwhile, as the caller vouches; bytes, as in
    // `copy_into`.
    f(unsafe { std::slice::from_raw_parts(cells.as_ptr().add(at).cast::<u8>(), n) })
}

/// Loom's: copied out byte by byte, each access checked.
///
/// # Safety
/// As above.
#[cfg(loom)]
unsafe fn with_bytes<R>(
    cells: &[UnsafeCell<u8>],
    at: usize,
    n: usize,
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    // SAFETY: as the caller vouches; loom checks that no other access overlaps.
    let bytes: Vec<u8> = (0..n)
        .map(|i| cells[at + i].with(|p| unsafe { *p }))
        .collect();
    f(&bytes)
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
    /// Tape bytes written (wrapping, skipped ones included), the offset that is in the
    /// tape, and the consumer's tape position as last read.
    tape_tail: usize,
    tape_at: usize,
    tape_head_seen: usize,
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

    /// [`Producer::push_unchecked`] for a value that owns tape bytes: `parts` go into the
    /// tape, one after the other, then `mark` records their length in the value, which is
    /// pushed. False, with nothing written and `slot` as it was, when the tape has no room
    /// for them (or they are empty). The bytes and the value are published together.
    ///
    /// # Safety
    /// As [`Producer::push_unchecked`]; and the consumer's `tape_len` (see
    /// [`Consumer::drain_with`]) reads back the length `mark` records.
    #[inline]
    pub(crate) unsafe fn push_unchecked_with_tape(
        &mut self,
        slot: &mut Option<T>,
        parts: [&[u8]; 2],
        mark: impl FnOnce(&mut T, usize),
    ) -> bool {
        let Some(v) = slot.as_mut() else {
            return false;
        };
        let cap = self.shared.tape.len();
        let n = parts[0].len() + parts[1].len();
        if n == 0 || n > cap {
            return false;
        }
        let (skip, at) = tape_place(self.tape_at, n, cap);
        let end = self.tape_tail.wrapping_add(skip + n);
        if end.wrapping_sub(self.tape_head_seen) > cap {
            self.tape_head_seen = self.shared.tape_head.0.load(Acquire);
            // Room when what was written since the consumer's position fits in the tape,
            // or when it has read everything: the bytes may then go anywhere (the skipped
            // ones count in the positions, so `end` may then be more than a lap ahead).
            if self.tape_head_seen != self.tape_tail && end.wrapping_sub(self.tape_head_seen) > cap
            {
                return false;
            }
        }
        // SAFETY: `tape_place` keeps the `n` bytes from `at` within the tape (`n <= cap`).
        // They are free: they are the positions just before `end`, and the consumer has
        // read (and published as read, `Acquire` above pairing with its `Release`) every
        // position before `end - cap`, or every position written; it reads none past what
        // this side publishes, which these are not yet.
        unsafe {
            copy_into(&self.shared.tape, at, parts[0]);
            copy_into(&self.shared.tape, at + parts[0].len(), parts[1]);
        }
        self.tape_tail = end;
        self.tape_at = at + n;
        mark(v, n);
        // SAFETY: as the caller vouches; the value's `Release` publishes the bytes too.
        unsafe { self.push_unchecked(slot) };
        true
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
    /// Tape bytes read (what `shared.tape_head` says once published), skipped ones
    /// included, and the offset that is in the tape.
    tape_head: usize,
    tape_at: usize,
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
    #[cfg(any(test, loom))]
    pub(crate) fn drain(&mut self, mut take: impl FnMut(T)) -> usize {
        self.drain_with(|_| 0, |v, _| take(v))
    }

    /// [`Consumer::drain`] for values that may own tape bytes: `tape_len` says how many
    /// (what the producer's `mark` recorded), and `take` gets them with the value (empty
    /// for a value that owns none).
    pub(crate) fn drain_with(
        &mut self,
        tape_len: impl Fn(&T) -> usize,
        mut take: impl FnMut(T, &[u8]),
    ) -> usize {
        let cap = self.shared.tape.len();
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
            let len = tape_len(&v);
            if len == 0 || len > cap {
                take(v, &[]);
                continue;
            }
            // The producer wrote them at the same offset (`tape_place` on the same
            // offsets), before the value: visible since the `Acquire` above.
            let (skip, at) = tape_place(self.tape_at, len, cap);
            self.tape_head = self.tape_head.wrapping_add(skip + len);
            self.tape_at = at + len;
            // SAFETY: within the tape as in the push (`len <= cap`). Written before the
            // value was published, and not written again before this side publishes its
            // position past them, after `take`.
            unsafe { with_bytes(&self.shared.tape, at, len, |b| take(v, b)) };
        }
        if n > 0 {
            self.shared.head.0.store(self.head, Release);
            self.shared.tape_head.0.store(self.tape_head, Release);
        }
        n
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // The values read (also those of a `drain` that unwound) are not the ring's any
        // more: what it drops at the end starts after them.
        self.shared.head.0.store(self.head, Release);
        self.shared.tape_head.0.store(self.tape_head, Release);
    }
}

#[cfg(all(test, not(loom)))]
#[path = "ring_tests.rs"]
mod tests;
