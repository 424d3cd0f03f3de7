//! A key object of a loaded CMK, found by class and CKA_ID: its handle is kept, and looked
//! up again when the token says it is no longer valid (the object was re-created, the
//! token restarted).

use std::sync::RwLock;

use cryptoki::error::{Error, RvError};
use cryptoki::object::{ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use crate::cmk::find_key;

/// One key object of a loaded CMK.
#[derive(Debug)]
pub(crate) struct TokenObject {
    class: ObjectClass,
    id: Vec<u8>,
    handle: RwLock<ObjectHandle>,
}

impl TokenObject {
    /// The object of `class` with CKA_ID `id`, whose handle is `handle` now.
    pub(crate) fn new(class: ObjectClass, id: &[u8], handle: ObjectHandle) -> Self {
        Self {
            class,
            id: id.to_vec(),
            handle: RwLock::new(handle),
        }
    }

    /// The handle in use, for messages and `Debug`.
    pub(crate) fn handle(&self) -> ObjectHandle {
        *self
            .handle
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `call` on `session` with the object's handle, once more with a fresh handle if
    /// that one was stale.
    pub(crate) fn with<T>(
        &self,
        session: &Session,
        mut call: impl FnMut(ObjectHandle) -> core::result::Result<T, Error>,
    ) -> core::result::Result<T, Error> {
        let handle = self.handle();
        match call(handle) {
            Err(Error::Pkcs11(RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid, _)) => {
                let Some(fresh) = find_key(session, self.class, &self.id)? else {
                    return call(handle);
                };
                *self
                    .handle
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
                call(fresh)
            }
            other => other,
        }
    }
}
