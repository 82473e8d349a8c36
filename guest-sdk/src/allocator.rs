//! [`ModuleAllocator`]: the heap of a module, built for calls that each run in a fresh instance.
//!
//! Blocks of up to [`LARGEST_CLASS`] bytes come in power-of-two size classes. A freed block goes
//! on its class's free list and is handed out again first; otherwise blocks are cut from a
//! chunk taken from the system allocator (Rust's dlmalloc in WebAssembly). Larger blocks, and
//! blocks aligned to more than [`CLASS_ALIGN`], go to the system allocator itself.
//!
//! Why not dlmalloc for everything: a projection's `apply` makes some thirty small allocations
//! an event (keys, JSON, strings), and dlmalloc's splitting and coalescing took a sixth of a
//! replay's time; talc, tried too, still a tenth. Here an allocation or a free is a few
//! instructions. What it gives up: freed blocks are not merged or moved between classes, so a
//! call that frees many blocks of one size and then asks for another keeps both. Every call
//! starts from an empty heap, so that is bounded by the call, and the instance's memory limit
//! still applies.
//!
//! Invariants:
//! 1. Every block of class `c` is `8 << c` bytes and aligned to [`CLASS_ALIGN`] (chunks are, and
//!    every class size is a multiple of it), so it serves any request of its class.
//! 2. A block is on at most one free list, and only while it is free: its first word is then the
//!    next free block of its class.
//! 3. Which allocator owns a block follows from its layout alone ([`class_of`]), and `dealloc`
//!    gets the layout `alloc` got, so a block always goes back where it came from.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// The smallest class, in bytes: a free block must hold a pointer.
const SMALLEST_CLASS: usize = 8;
/// The largest class, in bytes.
const LARGEST_CLASS: usize = 32 * 1024;
/// Classes 8, 16, ..., 32 KiB.
const CLASSES: usize =
    (LARGEST_CLASS.trailing_zeros() - SMALLEST_CLASS.trailing_zeros() + 1) as usize;
/// The alignment of every class block.
const CLASS_ALIGN: usize = 8;
/// How much is taken from the system allocator at a time to cut blocks from: the first chunk
/// is small, as most calls (an aggregate's `decide`) need little, and each next one twice the
/// last, up to the largest, for calls that need much (a projection's batch). Small first
/// chunks matter: a call that grows its memory costs the host two `mprotect`s, each flushing
/// every core's TLB, and the module's initial memory has only a little room for the heap.
const FIRST_CHUNK: usize = 1024;
const LARGEST_CHUNK: usize = 1024 * 1024;

/// The heap of a module: size classes over chunks, large blocks from the system allocator.
#[derive(Debug)]
pub struct ModuleAllocator {
    heap: UnsafeCell<Heap>,
}

#[derive(Debug)]
struct Heap {
    /// The first free block of each class, or null.
    free: [*mut u8; CLASSES],
    /// The unused rest of the current chunk.
    next: usize,
    end: usize,
    /// The size of the next chunk.
    chunk: usize,
}

// SAFETY: WebAssembly without the atomics feature has one thread, so the heap is never
// touched from two at once. Elsewhere the type is not `Sync` and cannot be a global allocator.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl Sync for ModuleAllocator {}

impl ModuleAllocator {
    pub const fn new() -> Self {
        Self {
            heap: UnsafeCell::new(Heap {
                free: [ptr::null_mut(); CLASSES],
                next: 0,
                end: 0,
                chunk: FIRST_CHUNK,
            }),
        }
    }
}

impl Default for ModuleAllocator {
    fn default() -> Self {
        Self::new()
    }
}

/// The class that serves `layout`, or `None` for the system allocator.
fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > CLASS_ALIGN || layout.size() > LARGEST_CLASS {
        return None;
    }
    let size = layout.size().max(SMALLEST_CLASS);
    Some((size.next_power_of_two().trailing_zeros() - SMALLEST_CLASS.trailing_zeros()) as usize)
}

fn class_size(class: usize) -> usize {
    SMALLEST_CLASS << class
}

// SAFETY: blocks handed out are `class_size` bytes (at least the request) and CLASS_ALIGN-aligned
// (at least the request's alignment), never overlap a live block (invariant 2), and go back to
// the allocator that gave them (invariant 3).
unsafe impl GlobalAlloc for ModuleAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(layout) else {
            // SAFETY: the caller's contract, passed on.
            return unsafe { System.alloc(layout) };
        };
        // SAFETY: one thread (see `Sync`), and no reference to the heap outlives this call.
        let heap = unsafe { &mut *self.heap.get() };
        let block = heap.free[class];
        if !block.is_null() {
            // SAFETY: a free block's first word is the next free block (invariant 2); the
            // block is CLASS_ALIGN-aligned, enough for a pointer.
            heap.free[class] = unsafe { block.cast::<*mut u8>().read() };
            return block;
        }
        let size = class_size(class);
        if heap.end - heap.next < size {
            let length = heap.chunk.max(size);
            heap.chunk = (heap.chunk * 2).min(LARGEST_CHUNK);
            // SAFETY: the length is not zero and CLASS_ALIGN is a power of two.
            let chunk =
                unsafe { System.alloc(Layout::from_size_align_unchecked(length, CLASS_ALIGN)) };
            if chunk.is_null() {
                return chunk;
            }
            // What was left of the old chunk is too small for this block and is given up.
            heap.next = chunk as usize;
            heap.end = heap.next + length;
        }
        let block = heap.next as *mut u8;
        heap.next += size;
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = class_of(layout) else {
            // SAFETY: the block came from the system allocator with this layout (invariant 3).
            return unsafe { System.dealloc(block, layout) };
        };
        // SAFETY: one thread, as in `alloc`.
        let heap = unsafe { &mut *self.heap.get() };
        // SAFETY: the block is ours, free from now on, and large and aligned enough for a pointer.
        unsafe { block.cast::<*mut u8>().write(heap.free[class]) };
        heap.free[class] = block;
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size`, rounded up to the alignment, does not
        // overflow.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class_of(layout), class_of(new_layout)) {
            // The block already has room: a class block is the whole class size.
            (Some(old), Some(new)) if old == new => block,
            // SAFETY: both sizes are the system allocator's, and the block is its.
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            _ => {
                // SAFETY: as for `alloc` and `dealloc`; the copy stays inside both blocks.
                unsafe {
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn sizes_fall_in_the_smallest_class_that_holds_them() {
        let class = |size, align| class_of(Layout::from_size_align(size, align).expect("layout"));
        assert_eq!(class(1, 1), Some(0));
        assert_eq!(class(8, 8), Some(0));
        assert_eq!(class(9, 1), Some(1));
        assert_eq!(class(LARGEST_CLASS, 8), Some(CLASSES - 1));
        assert_eq!(class(LARGEST_CLASS + 1, 1), None);
        assert_eq!(
            class(16, 16),
            None,
            "an alignment above 8 goes to the system allocator"
        );
    }

    /// An operation on the heap: allocate `size` bytes aligned to `1 << align_shift`, free the
    /// live block at `index` (modulo how many are live), or resize it to `size`.
    #[derive(Clone, Debug)]
    enum Op {
        Alloc { size: usize, align_shift: u32 },
        Free { index: usize },
        Resize { index: usize, size: usize },
    }

    fn op() -> impl Strategy<Value = Op> {
        let size = prop_oneof![1usize..64, 1usize..4_096, 1usize..(LARGEST_CLASS * 3)];
        prop_oneof![
            4 => (size.clone(), 0u32..5).prop_map(|(size, align_shift)| Op::Alloc { size, align_shift }),
            2 => any::<usize>().prop_map(|index| Op::Free { index }),
            2 => (any::<usize>(), size).prop_map(|(index, size)| Op::Resize { index, size }),
        ]
    }

    /// A live block, and the byte it is filled with.
    struct Live {
        block: *mut u8,
        layout: Layout,
        fill: u8,
    }

    fn check(live: &Live) {
        assert_eq!(live.block as usize % live.layout.align(), 0, "misaligned");
        // SAFETY: the block is live and `layout.size()` bytes long.
        let bytes = unsafe { std::slice::from_raw_parts(live.block, live.layout.size()) };
        assert!(
            bytes.iter().all(|&b| b == live.fill),
            "a block was overwritten"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Live blocks are aligned, keep their contents through resizes, and never overlap:
        /// each is filled with its own byte, and every one is checked after every operation.
        #[test]
        fn live_blocks_never_overlap_and_keep_their_contents(ops in prop::collection::vec(op(), 1..200)) {
            let heap = ModuleAllocator::new();
            let mut live: Vec<Live> = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                let fill = (n % 251) as u8 + 1;
                match op {
                    Op::Alloc { size, align_shift } => {
                        let layout = Layout::from_size_align(size, 1 << align_shift).expect("layout");
                        // SAFETY: the size is not zero.
                        let block = unsafe { heap.alloc(layout) };
                        prop_assert!(!block.is_null());
                        // SAFETY: the block is `size` bytes and ours.
                        unsafe { block.write_bytes(fill, size) };
                        live.push(Live { block, layout, fill });
                    }
                    Op::Free { index } if !live.is_empty() => {
                        let gone = live.swap_remove(index % live.len());
                        check(&gone);
                        // SAFETY: the block is live, with this layout.
                        unsafe { heap.dealloc(gone.block, gone.layout) };
                    }
                    Op::Resize { index, size } if !live.is_empty() => {
                        let at = index % live.len();
                        let old = &live[at];
                        // SAFETY: the block is live, with this layout; the size is not zero.
                        let block = unsafe { heap.realloc(old.block, old.layout, size) };
                        prop_assert!(!block.is_null());
                        let kept = old.layout.size().min(size);
                        // SAFETY: the resized block holds `size` bytes, the first `kept` copied.
                        let bytes = unsafe { std::slice::from_raw_parts(block, kept) };
                        prop_assert!(bytes.iter().all(|&b| b == old.fill), "contents lost in a resize");
                        // SAFETY: as above.
                        unsafe { block.write_bytes(fill, size) };
                        let layout = Layout::from_size_align(size, old.layout.align()).expect("layout");
                        live[at] = Live { block, layout, fill };
                    }
                    Op::Free { .. } | Op::Resize { .. } => {}
                }
                for block in &live {
                    check(block);
                }
            }
            for block in live {
                // SAFETY: the block is live, with this layout.
                unsafe { heap.dealloc(block.block, block.layout) };
            }
        }
    }

    #[test]
    fn a_freed_block_is_handed_out_again_first() {
        let heap = ModuleAllocator::new();
        let layout = Layout::from_size_align(24, 8).expect("layout");
        // SAFETY: a non-zero size; the block is freed with its layout.
        unsafe {
            let first = heap.alloc(layout);
            let second = heap.alloc(layout);
            assert_ne!(first, second);
            heap.dealloc(first, layout);
            assert_eq!(heap.alloc(layout), first);
            heap.dealloc(first, layout);
            heap.dealloc(second, layout);
        }
    }
}
