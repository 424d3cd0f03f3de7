//! Reading the bytes of a freed block.
//!
//! A freed block may hold bytes the language counts as uninitialized: never written since
//! the allocation, or struct padding that a typed copy carried in. Reading those as `u8` in
//! Rust is undefined behaviour, whatever the hardware holds. A value an inline-assembly load
//! puts in a register is an ordinary, initialized value whatever the memory held (the
//! assembly is opaque to the compiler), so every byte is read that way, and only the copies
//! are looked at.

/// Appends the `len` bytes at `block` to `out`.
///
/// # Safety
/// `block .. block + len` must be allocated and readable, and nothing may write to it while
/// this runs.
pub(crate) unsafe fn copy_into(block: *const u8, len: usize, out: &mut Vec<u8>) {
    out.reserve(len);
    for offset in 0..len {
        // SAFETY: offset < len, so the byte is inside the range the caller vouches for.
        let byte = unsafe { load(block.wrapping_add(offset)) };
        out.push(byte);
    }
}

/// The byte at `at`.
///
/// # Safety
/// `at` must point to allocated, readable memory.
#[cfg(target_arch = "x86_64")]
#[inline]
unsafe fn load(at: *const u8) -> u8 {
    let byte: u8;
    // SAFETY: the caller vouches that `at` is readable; the instruction reads that one byte
    // and writes only the output register (no stack, no flags, no memory written).
    unsafe {
        core::arch::asm!(
            "mov {byte}, byte ptr [{at}]",
            at = in(reg) at,
            byte = out(reg_byte) byte,
            options(nostack, preserves_flags, readonly),
        );
    }
    byte
}

/// The byte at `at`.
///
/// # Safety
/// `at` must point to allocated, readable memory.
#[cfg(target_arch = "aarch64")]
#[inline]
unsafe fn load(at: *const u8) -> u8 {
    let word: u32;
    // SAFETY: the caller vouches that `at` is readable; the instruction reads that one byte,
    // zero-extended, and writes only the output register (no stack, no flags, no memory).
    unsafe {
        core::arch::asm!(
            "ldrb {word:w}, [{at}]",
            at = in(reg) at,
            word = out(reg) word,
            options(nostack, preserves_flags, readonly),
        );
    }
    let [byte, ..] = word.to_le_bytes();
    byte
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("kms-test-alloc reads freed memory with x86_64 or aarch64 assembly only");
