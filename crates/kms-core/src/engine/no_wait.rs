//! Calls that must not wait: an engine call made on a thread that serves many requests (an
//! async reactor) runs in a mode where anything that could wait (a store read or write, a
//! lock that another thread may hold across one) is refused before it starts, and the call
//! is reported as wanting to wait instead of its outcome. The caller then runs it again
//! where waiting is allowed. Every such point calls [`admit_wait`] first; the store the
//! engine uses checks it on every method ([`super::wait_checked_store`]).
//!
//! The mode is per thread, so the engine's own background threads (the key feed reader,
//! the wrapping key pool) are never affected.

use core::cell::Cell;

use crate::error::{KmsError, Result};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Waiting is allowed (every thread, unless inside [`without_waiting`]).
    Allowed,
    /// Waiting is refused and nothing has asked to wait yet.
    Refused,
    /// Waiting is refused and something asked to: the call's outcome is void.
    Wanted,
}

thread_local! {
    static MODE: Cell<Mode> = const { Cell::new(Mode::Allowed) };
}

/// Whether this thread may wait now: `Ok` outside [`without_waiting`]; inside it, an error
/// (never shown to a client: the call's outcome is dropped) and the call marked as wanting
/// to wait.
pub(crate) fn admit_wait() -> Result<()> {
    MODE.with(|mode| match mode.get() {
        Mode::Allowed => Ok(()),
        Mode::Refused | Mode::Wanted => {
            mode.set(Mode::Wanted);
            Err(KmsError::Store(
                "this call would wait, and runs again where it may".into(),
            ))
        }
    })
}

/// Runs `call` with waiting refused: its outcome, or `None` when it asked to wait (then
/// nothing it did outlives it but its effects before the refusal, which the engine keeps
/// to memory).
pub(crate) fn without_waiting<T>(call: impl FnOnce() -> T) -> Option<T> {
    /// Puts the thread's mode back, also when `call` unwinds.
    struct Restore(Mode);
    impl Drop for Restore {
        fn drop(&mut self) {
            MODE.with(|mode| mode.set(self.0));
        }
    }
    let restore = Restore(MODE.with(|mode| mode.replace(Mode::Refused)));
    let outcome = call();
    let wanted = MODE.with(Cell::get) == Mode::Wanted;
    drop(restore);
    (!wanted).then_some(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_never_asked_to_wait_keeps_its_outcome() {
        assert!(admit_wait().is_ok());
        assert_eq!(without_waiting(|| 7), Some(7));
        assert!(admit_wait().is_ok());
    }

    #[test]
    fn a_call_that_asked_to_wait_has_no_outcome_even_if_it_went_on() {
        // The error is swallowed: the outcome is still void.
        assert_eq!(without_waiting(|| admit_wait().is_err()), None);
        assert!(without_waiting(|| admit_wait().map(|()| 1)).is_none());
        // And the thread is back to normal after.
        assert!(admit_wait().is_ok());
    }

    #[test]
    fn the_mode_is_restored_when_the_call_unwinds() {
        let unwound = std::panic::catch_unwind(|| {
            without_waiting(|| {
                let _ = admit_wait();
                panic!("unwinds");
            })
        });
        assert!(unwound.is_err());
        assert!(admit_wait().is_ok());
    }

    #[test]
    fn other_threads_are_not_affected() {
        let other = without_waiting(|| std::thread::spawn(admit_wait).join().unwrap().is_ok());
        assert_eq!(other, Some(true));
    }
}
