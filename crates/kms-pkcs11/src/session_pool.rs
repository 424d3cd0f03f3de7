//! A pool of logged-in read-write sessions on one token. `Session` is `Send` but not
//! `Sync`, so each caller borrows a session of its own; the pool never opens more than its
//! size, and replaces sessions the token reports lost.

use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error, RvError};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use kms_core::{Result, SecretString};

use crate::errors::{pkcs11_error, session_lost};

/// How many times a call the token refused with CKR_DEVICE_MEMORY is made again.
const BUSY_RETRIES: u32 = 6;
/// The pause before the first repeat; each next pause doubles (10 ms to 320 ms, 630 ms in
/// all).
const BUSY_FIRST_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

#[derive(Debug, Default)]
struct Sessions {
    idle: Vec<Session>,
    open: usize,
}

/// Logged-in sessions on one token.
pub struct SessionPool {
    context: Pkcs11,
    slot: Slot,
    pin: SecretString,
    /// `token '<label>'`, for messages.
    token: String,
    size: usize,
    sessions: Mutex<Sessions>,
    returned: Condvar,
    most_open: AtomicUsize,
}

impl core::fmt::Debug for SessionPool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionPool")
            .field("token", &self.token)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl SessionPool {
    /// A pool of at most `size` sessions on `slot`, logging in with `pin`. Opens and logs
    /// in one session at once, so a wrong PIN is reported here.
    pub(crate) fn open(
        context: Pkcs11,
        slot: Slot,
        pin: SecretString,
        token: String,
        size: usize,
    ) -> Result<Self> {
        let pool = Self {
            context,
            slot,
            pin,
            token,
            size: size.max(1),
            sessions: Mutex::new(Sessions::default()),
            returned: Condvar::new(),
            most_open: AtomicUsize::new(0),
        };
        drop(pool.get()?);
        Ok(pool)
    }

    /// `token '<label>'`, for messages.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// The most sessions ever open at once.
    pub fn most_open(&self) -> usize {
        self.most_open.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Sessions> {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Borrows a session, waiting while all `size` are in use.
    pub fn get(&self) -> Result<PooledSession<'_>> {
        let mut sessions = self.lock();
        loop {
            if let Some(session) = sessions.idle.pop() {
                return Ok(PooledSession {
                    pool: self,
                    session: Some(session),
                });
            }
            if sessions.open < self.size {
                self.count_one(&mut sessions);
                drop(sessions);
                return self.open_counted();
            }
            sessions = self
                .returned
                .wait(sessions)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Opens a logged-in session of its own, outside the pool (not counted in its size),
    /// for diagnostics and tests: a second client of the token, such as the tests' stand-in
    /// for another process that holds the PIN.
    ///
    /// # Errors
    /// The PKCS#11 failure of C_OpenSession or C_Login, naming the token.
    pub fn open_unpooled(&self) -> Result<Session> {
        self.open_session()
    }

    fn open_session(&self) -> Result<Session> {
        let session = self
            .context
            .open_rw_session(self.slot)
            .map_err(|error| pkcs11_error(&self.token, &error))?;
        let pin = AuthPin::new(self.pin.expose_secret().into());
        match session.login(UserType::User, Some(&pin)) {
            // Login is per application: sessions after the first are logged in already.
            Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(error) => Err(pkcs11_error(&self.token, &error)),
        }
    }

    fn forget_one(&self) {
        self.lock().open -= 1;
        self.returned.notify_one();
    }

    /// Runs `call` on a pooled session; when it fails because the session is lost or no
    /// longer logged in (the token's login ends for every session at once), runs it once
    /// more on a newly opened one (not another idle one, which may be lost too). When the
    /// token answers CKR_DEVICE_MEMORY, runs it again after a pause, up to
    /// [`BUSY_RETRIES`] times: Kryoptic's SQLite store answers so whenever another process
    /// holds its database for a moment, and a refused call changes nothing in the token.
    pub(crate) fn with_session<T>(
        &self,
        mut call: impl FnMut(&Session) -> core::result::Result<T, Error>,
    ) -> Result<T> {
        let mut pause = BUSY_FIRST_PAUSE;
        for _ in 0..BUSY_RETRIES {
            match self.on_live_session(&mut call)? {
                Err(Error::Pkcs11(RvError::DeviceMemory, _)) => {
                    std::thread::sleep(pause);
                    pause *= 2;
                }
                done => return done.map_err(|error| pkcs11_error(&self.token, &error)),
            }
        }
        self.on_live_session(&mut call)?
            .map_err(|error| pkcs11_error(&self.token, &error))
    }

    /// `call` on a pooled session, once more on a fresh one if that session was lost: the
    /// pool's own failures outside, the call's inside.
    fn on_live_session<T>(
        &self,
        call: &mut impl FnMut(&Session) -> core::result::Result<T, Error>,
    ) -> Result<core::result::Result<T, Error>> {
        let mut session = self.get()?;
        match call(&session) {
            Err(error) if session_lost(&error) || !logged_in(&session) => {
                session.discard();
                let fresh = self.open_fresh()?;
                Ok(call(&fresh))
            }
            other => Ok(other),
        }
    }

    /// A newly opened, logged-in session, in the place of one just discarded.
    fn open_fresh(&self) -> Result<PooledSession<'_>> {
        self.count_one(&mut self.lock());
        self.open_counted()
    }

    fn count_one(&self, sessions: &mut Sessions) {
        sessions.open += 1;
        self.most_open.fetch_max(sessions.open, Ordering::Relaxed);
    }

    /// Opens a session for a place already counted in `open`, giving the place back if it
    /// fails.
    fn open_counted(&self) -> Result<PooledSession<'_>> {
        match self.open_session() {
            Ok(session) => Ok(PooledSession {
                pool: self,
                session: Some(session),
            }),
            Err(error) => {
                self.forget_one();
                Err(error)
            }
        }
    }
}

/// Whether `session` is still a logged-in read-write user session.
fn logged_in(session: &Session) -> bool {
    session
        .get_session_info()
        .is_ok_and(|info| info.session_state() == SessionState::RwUser)
}

/// A borrowed session, back in the pool when dropped.
pub struct PooledSession<'a> {
    pool: &'a SessionPool,
    session: Option<Session>,
}

impl PooledSession<'_> {
    /// Closes this session instead of returning it to the pool.
    fn discard(&mut self) {
        if self.session.take().is_some() {
            self.pool.forget_one();
        }
    }
}

impl Deref for PooledSession<'_> {
    type Target = Session;

    fn deref(&self) -> &Session {
        // Present until `discard` or drop, and neither lets it be used afterwards.
        self.session
            .as_ref()
            .unwrap_or_else(|| unreachable!("a discarded session was used"))
    }
}

impl Drop for PooledSession<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.pool.lock().idle.push(session);
            self.pool.returned.notify_one();
        }
    }
}
