//! The allocator, its table of held blocks, and a recording.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::frozen;
use crate::needle::{Finder, Hit, Needle};

/// How many freed blocks one recording holds. Blocks freed past that are freed at once,
/// unscanned, and counted by [`Freed::not_held`], so a test can insist on none.
pub const CAPACITY: usize = 1 << 20;

/// A held block: where it is and the layout it goes back to [`System`] with.
struct Block {
    address: AtomicPtr<u8>,
    size: AtomicUsize,
    align: AtomicUsize,
}

impl Block {
    const fn empty() -> Self {
        Self {
            address: AtomicPtr::new(ptr::null_mut()),
            size: AtomicUsize::new(0),
            align: AtomicUsize::new(0),
        }
    }
}

/// The held blocks of the current recording: a static table, so that holding a block never
/// allocates (an allocator that allocated while freeing would recurse into itself).
static HELD: [Block; CAPACITY] = [const { Block::empty() }; CAPACITY];

/// How many blocks the current recording has been given; past [`CAPACITY`] they were not
/// held.
static NOTED: AtomicUsize = AtomicUsize::new(0);

/// One recording at a time: the table belongs to it until its [`Freed`] is dropped.
static SESSION: Mutex<()> = Mutex::new(());

thread_local! {
    /// Whether this thread's frees are being held. Const-initialized and without a
    /// destructor, so reading it never allocates and works at any point of a thread's life.
    static RECORDING: Cell<bool> = const { Cell::new(false) };
}

fn recording() -> bool {
    RECORDING.try_with(Cell::get).unwrap_or(false)
}

/// The global allocator: [`System`], except that while [`record`] runs, the blocks the
/// recording thread frees are held for [`Freed::hits`] instead of freed, and a reallocation
/// always moves (so its old block is held too: whether a real allocator grows a block in
/// place is up to it, and a test must see every copy a move can leave).
#[derive(Debug, Clone, Copy, Default)]
pub struct HoldingAllocator;

// SAFETY: every block comes from `System` and goes back to it with the layout it was
// allocated with: at once, or (when held) later in `Freed::drop`, with the layout noted in
// the table. A held block is not touched in between except to be read.
unsafe impl GlobalAlloc for HoldingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract (a layout of non-zero size), passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if recording() && hold(block, layout) {
            return;
        }
        // SAFETY: `block` came from `System` with `layout` (the caller's contract: it came
        // from this allocator, which takes every block from `System`).
        unsafe { System.dealloc(block, layout) }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !recording() {
            // SAFETY: the caller's contract, passed on unchanged.
            return unsafe { System.realloc(block, layout, new_size) };
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        // SAFETY: `new_size` is non-zero (the caller's contract), so is `new_layout`'s size.
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            // SAFETY: `block` is live for `layout.size()` bytes, `moved` for `new_size`, and
            // they are distinct blocks, so the shorter length is in bounds of both.
            unsafe { ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size)) };
            // SAFETY: `block` is the caller's live block of `layout`, which a successful
            // reallocation gives up.
            unsafe { self.dealloc(block, layout) };
        }
        moved
    }
}

/// Notes `block` in the table; false when the table is full.
fn hold(block: *mut u8, layout: Layout) -> bool {
    let Some(slot) = HELD.get(NOTED.fetch_add(1, Relaxed)) else {
        return false;
    };
    slot.address.store(block, Relaxed);
    slot.size.store(layout.size(), Relaxed);
    slot.align.store(layout.align(), Relaxed);
    true
}

/// Sets this thread's recording flag for as long as it lives, even if the code panics.
struct Recording;

impl Recording {
    fn start() -> Self {
        RECORDING.set(true);
        Self
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        RECORDING.set(false);
    }
}

/// Runs `code`, holding every block it frees on this thread, and returns its result with
/// the held blocks.
///
/// Recordings are one at a time, process-wide: a second one waits until the first one's
/// [`Freed`] is dropped (on the same thread, calling `record` again before then deadlocks).
/// Blocks other threads free meanwhile are freed as usual.
pub fn record<R>(code: impl FnOnce() -> R) -> (R, Freed) {
    let session = SESSION.lock().unwrap_or_else(PoisonError::into_inner);
    NOTED.store(0, Relaxed);
    let result = {
        let _recording = Recording::start();
        code()
    };
    let noted = NOTED.load(Relaxed);
    let freed = Freed {
        held: noted.min(CAPACITY),
        not_held: noted.saturating_sub(CAPACITY),
        _session: session,
    };
    (result, freed)
}

/// The blocks a [`record`]ed run freed, held until this drops.
///
/// It is not `Send`: it holds the recording's lock, which is the recording thread's.
pub struct Freed {
    held: usize,
    not_held: usize,
    _session: MutexGuard<'static, ()>,
}

impl Freed {
    /// How many freed blocks are held.
    #[must_use]
    pub fn blocks(&self) -> usize {
        self.held
    }

    /// How many blocks were freed after the table was full, unscanned.
    #[must_use]
    pub fn not_held(&self) -> usize {
        self.not_held
    }

    /// The held blocks' total size in bytes.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.slots().map(|slot| slot.size.load(Relaxed)).sum()
    }

    /// Every needle found in a held block (see [`FRAGMENT`](crate::FRAGMENT) for what
    /// counts), with the number of blocks holding it; empty when no held block holds any.
    #[must_use]
    pub fn hits<'n>(&self, needles: &'n [Needle]) -> Vec<Hit<'n>> {
        let finder = Finder::new(needles);
        let mut counts = vec![0; needles.len()];
        let mut found = vec![false; needles.len()];
        let mut copy = Vec::new();
        for slot in self.slots() {
            copy.clear();
            // SAFETY: a held block is allocated, `size` bytes long, and abandoned by the code
            // that freed it; nothing writes it until `Freed::drop` frees it.
            unsafe {
                frozen::copy_into(
                    slot.address.load(Relaxed),
                    slot.size.load(Relaxed),
                    &mut copy,
                );
            }
            found.fill(false);
            finder.mark(&copy, &mut found);
            for (count, found) in counts.iter_mut().zip(&found) {
                *count += usize::from(*found);
            }
        }
        needles
            .iter()
            .zip(counts)
            .filter(|(_, blocks)| *blocks > 0)
            .map(|(needle, blocks)| Hit {
                needle: needle.label(),
                blocks,
            })
            .collect()
    }

    fn slots(&self) -> impl Iterator<Item = &'static Block> {
        HELD.iter().take(self.held)
    }
}

impl Drop for Freed {
    fn drop(&mut self) {
        for slot in self.slots() {
            let block = slot.address.swap(ptr::null_mut(), Relaxed);
            let layout = Layout::from_size_align(slot.size.load(Relaxed), slot.align.load(Relaxed));
            if let (false, Ok(layout)) = (block.is_null(), layout) {
                // SAFETY: the block was held instead of freed, with the layout it came from
                // `System` with, and this is the one place that frees it (the address is
                // taken out of the table first).
                unsafe { System.dealloc(block, layout) };
            }
        }
    }
}
