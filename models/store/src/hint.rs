//! A cache prefetch hint for per-device state at fleet scale.
//!
//! At a million devices every reading touches per-device state that is cold in cache.
//! The store knows which devices come next (its backlog is in indexing order), so it
//! asks the CPU to start loading their state a few events ahead. A prefetch changes no
//! value and no result: it only moves cache lines, so determinism is unaffected.

const LINE_BYTES: usize = 64;

/// Asks the CPU to bring every cache line of `*r` closer; a no-op off x86-64.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    let start = (r as *const T).cast::<u8>();
    let size = std::mem::size_of::<T>().max(1);
    prefetch_span(start, size);
    // The last byte may sit on one more line when `*r` is not line-aligned (a constant
    // condition: a line-aligned type of whole lines skips it).
    if std::mem::align_of::<T>() % LINE_BYTES != 0 || size % LINE_BYTES != 0 {
        prefetch_line(start.wrapping_add(size - 1));
    }
}

/// Asks the CPU to bring every cache line of `s` closer, for a slice that starts on a
/// line boundary and is whole lines long (a record laid out that way); a no-op off
/// x86-64.
#[inline(always)]
pub fn prefetch_lines<T>(s: &[T]) {
    let start = s.as_ptr().cast::<u8>();
    debug_assert!(start as usize % LINE_BYTES == 0 && std::mem::size_of_val(s) % LINE_BYTES == 0);
    prefetch_span(start, std::mem::size_of_val(s));
}

/// Prefetches the line of every `LINE_BYTES`-th byte of the `len` bytes from `start`.
#[inline(always)]
fn prefetch_span(start: *const u8, len: usize) {
    let mut offset = 0;
    while offset < len {
        prefetch_line(start.wrapping_add(offset));
        offset += LINE_BYTES;
    }
}

#[inline(always)]
fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` is only a hint: it never faults and reads no memory
    // architecturally, whatever the address. SSE is part of the x86-64 baseline, so the
    // target feature is always present.
    unsafe {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
