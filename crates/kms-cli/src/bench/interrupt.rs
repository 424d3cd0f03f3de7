//! Ctrl-C (SIGINT) or SIGTERM during a bench: the first stops the timed calls at once, and
//! the bench cleans up what it made (the endpoint's CMKs scheduled for deletion, the token's
//! keys destroyed), reports the runs it did and exits 130. A second signal exits at once.

use std::sync::atomic::{AtomicBool, Ordering};

use kms_core::{KmsError, Result};

/// Set by the first signal.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The exit status of a bench that was interrupted (128 + SIGINT, as shells report it).
pub(crate) const EXIT_STATUS: i32 = 130;

/// Whether a stop signal has arrived.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Handles SIGINT and SIGTERM from now on, on a thread of its own.
///
/// # Errors
/// [`KmsError::Backend`] when the handlers or their thread cannot be set up.
pub(crate) fn watch() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};

    let failed = |error: std::io::Error| {
        KmsError::Backend(format!("handling the bench's stop signals: {error}"))
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(failed)?;
    // Registered here, before the bench starts, so no signal is missed.
    let (mut interrupt, mut terminate) = runtime
        .block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })
        .map_err(failed)?;
    std::thread::Builder::new()
        .name("kms-bench-signals".into())
        .spawn(move || {
            runtime.block_on(async {
                for _ in 0..2 {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                    if INTERRUPTED.swap(true, Ordering::Relaxed) {
                        std::process::exit(EXIT_STATUS);
                    }
                    eprintln!(
                        "interrupted: stopping and cleaning up (a second signal exits at once)"
                    );
                }
            });
        })
        .map_err(failed)?;
    Ok(())
}
