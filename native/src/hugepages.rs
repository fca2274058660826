//! Large allocations (the head map's node and entry arrays, hundreds of MB for millions of
//! items) are asked to be backed by transparent huge pages. A block's update reads nodes at
//! random across those arrays: with 4 KiB pages nearly every read also misses the TLB.
//! Only a hint to the kernel (`madvise(MADV_HUGEPAGE)`, which matters where THP is set to
//! `madvise`, a common default); memory contents and every result are the same without it.
//! bench/results/seal-2026-12-04.md: about a tenth off a block's map update at 1M items.

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations from this size on get the hint (for such sizes the system allocator mostly
/// maps fresh memory, whose pages are made when first touched, after the hint).
const LARGE: usize = 8 << 20;

struct HugeLarge;

#[cfg(target_os = "linux")]
fn advise(ptr: *mut u8, size: usize) {
    extern "C" {
        fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
    }
    const MADV_HUGEPAGE: i32 = 14;
    const HUGE: usize = 2 << 20;
    let start = (ptr as usize).div_ceil(HUGE) * HUGE;
    let end = (ptr as usize + size) / HUGE * HUGE;
    if end > start {
        // SAFETY: advice on whole huge pages inside this allocation; it changes no data.
        unsafe { madvise(start as *mut std::ffi::c_void, end - start, MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_ptr: *mut u8, _size: usize) {}

// SAFETY: memory comes from System and goes back to it with the layout it was made with
// (a large realloc: System's alloc, a copy of the smaller size, System's dealloc); the
// hint reads and writes no allocated memory.
unsafe impl GlobalAlloc for HugeLarge {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if layout.size() >= LARGE && !ptr.is_null() {
            advise(ptr, layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if layout.size() >= LARGE && !ptr.is_null() {
            advise(ptr, layout.size());
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size < LARGE {
            return System.realloc(ptr, layout, new_size);
        }
        // A fresh allocation, advised before it is touched, and a copy: the system's
        // realloc would move the old pages (small ones) over instead.
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let out = self.alloc(new_layout);
        if !out.is_null() {
            std::ptr::copy_nonoverlapping(ptr, out, layout.size().min(new_size));
            System.dealloc(ptr, layout);
        }
        out
    }
}

#[global_allocator]
static ALLOCATOR: HugeLarge = HugeLarge;
