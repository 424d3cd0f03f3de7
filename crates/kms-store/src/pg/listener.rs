//! Waiting for PostgreSQL's notification that the change feed moved: one connection of its
//! own (a pooled one would be handed to other calls between waits and miss notifications),
//! opened at the first wait and opened again after it breaks.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls};

/// The channel every transaction that enters the change feed notifies.
pub(crate) const CHANNEL: &str = "kms_key_changes";

/// The longest a single wait waits, whatever it is asked: an `Instant` cannot hold any
/// deadline.
const LONGEST_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// The listening connection, shared by every thread that waits: one of them waits on the
/// connection, the others on the one that does.
pub(crate) struct Listener {
    config: Config,
    state: Mutex<State>,
    /// Signalled when the thread waiting on the connection is done.
    done: Condvar,
}

#[derive(Default)]
struct State {
    /// The connection, when open and no thread is waiting on it.
    client: Option<Client>,
    /// Whether a thread is waiting on the connection.
    listening: bool,
    /// How many waits on the connection ended with a notification.
    notified: u64,
}

/// How one wait on the connection ended.
enum Heard {
    Change,
    Nothing,
    Failure,
}

impl Listener {
    /// A listener that connects with `config` when first asked to wait.
    pub(crate) fn new(config: Config) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
            done: Condvar::new(),
        }
    }

    /// Waits up to `timeout` for a notification. When there is no connection to wait on
    /// (the database is unreachable), sleeps out the timeout, so callers keep polling at
    /// their pace.
    pub(crate) fn wait(&self, timeout: Duration) {
        let timeout = timeout.min(LONGEST_WAIT);
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        let seen = state.notified;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if state.notified != seen || left.is_zero() {
                return;
            }
            if !state.listening {
                state.listening = true;
                let client = state.client.take();
                drop(state);
                let (client, heard) = self.listen(client, left);
                let mut state = self.lock();
                state.listening = false;
                state.client = client;
                if matches!(heard, Heard::Change) {
                    state.notified += 1;
                }
                drop(state);
                self.done.notify_all();
                if matches!(heard, Heard::Failure) {
                    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                }
                return;
            }
            state = self
                .done
                .wait_timeout(state, left)
                .map_or_else(|poisoned| poisoned.into_inner().0, |(state, _)| state);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements: a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits on the connection (opening it first if needed) up to `timeout`; gives back the
    /// connection unless it broke.
    fn listen(&self, client: Option<Client>, timeout: Duration) -> (Option<Client>, Heard) {
        let open = client.filter(|client| !client.is_closed());
        let Some(mut client) = open.or_else(|| self.connect().ok()) else {
            return (None, Heard::Failure);
        };
        let first = client.notifications().timeout_iter(timeout).next();
        let heard = match first {
            // Several changes may have notified: one wake-up covers them all.
            Ok(Some(_)) => match client.notifications().iter().count() {
                Ok(_) => Heard::Change,
                Err(_) => return (None, Heard::Change),
            },
            Ok(None) => Heard::Nothing,
            Err(_) => return (None, Heard::Failure),
        };
        (Some(client), heard)
    }

    fn connect(&self) -> Result<Client, postgres::Error> {
        let mut client = self.config.connect(NoTls)?;
        client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
        Ok(client)
    }
}
