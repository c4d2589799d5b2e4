//! Short copies into the tape, inline rather than through `memcpy`.

/// Copies `n` bytes from `src` to `dst`. Most captured strings are short (a query, a
/// name, an id): up to 16 bytes they are copied inline, by two overlapping loads and
/// stores of one width, instead of through a call to `memcpy` (~20 instructions more for a
/// 13-byte argument).
///
/// # Safety
/// As [`std::ptr::copy_nonoverlapping`]: `src` valid for reads and `dst` for writes of `n`
/// bytes, the two ranges not overlapping.
#[inline(always)]
pub(super) unsafe fn copy_short(src: *const u8, dst: *mut u8, n: usize) {
    // SAFETY (every branch): the caller's contract; `copy_ends` is called with
    // `size_of::<T>() <= n`.
    unsafe {
        if n > 16 {
            std::ptr::copy_nonoverlapping(src, dst, n);
        } else if n >= 8 {
            copy_ends::<u64>(src, dst, n);
        } else if n >= 4 {
            copy_ends::<u32>(src, dst, n);
        } else {
            for i in 0..n {
                dst.add(i).write(src.add(i).read());
            }
        }
    }
}

/// Copies `n` bytes as two loads and two stores of `T`'s width, one at each end of the
/// range (overlapping when `n` is under twice the width).
///
/// # Safety
/// As [`copy_short`], and `size_of::<T>() <= n`: each access then lies within the first
/// `n` bytes of its range (they start at 0 and at `n - size_of::<T>()`); unaligned reads
/// and writes need no alignment.
#[inline(always)]
unsafe fn copy_ends<T: Copy>(src: *const u8, dst: *mut u8, n: usize) {
    let w = std::mem::size_of::<T>();
    // SAFETY: the contract above.
    unsafe {
        let (a, b) = (
            src.cast::<T>().read_unaligned(),
            src.add(n - w).cast::<T>().read_unaligned(),
        );
        dst.cast::<T>().write_unaligned(a);
        dst.add(n - w).cast::<T>().write_unaligned(b);
    }
}

#[cfg(test)]
mod tests {
    /// Every length across the widths' edges, at odd offsets: each byte lands once, in
    /// order, and nothing past the end is written.
    #[test]
    fn a_short_copy_writes_exactly_its_bytes() {
        let src: Vec<u8> = (1..=40).collect();
        for n in 0..=33 {
            for off in [0, 1, 3] {
                let mut dst = vec![0xEEu8; 48];
                // SAFETY: `src[off..]` holds at least 37 bytes and `dst[off..]` 45; the
                // two are distinct vectors.
                unsafe { super::copy_short(src.as_ptr().add(off), dst.as_mut_ptr().add(off), n) };
                assert_eq!(
                    &dst[off..off + n],
                    &src[off..off + n],
                    "n = {n}, off = {off}"
                );
                assert!(
                    dst[..off].iter().all(|&b| b == 0xEE),
                    "n = {n}, off = {off}"
                );
                assert!(
                    dst[off + n..].iter().all(|&b| b == 0xEE),
                    "n = {n}, off = {off}"
                );
            }
        }
    }
}
