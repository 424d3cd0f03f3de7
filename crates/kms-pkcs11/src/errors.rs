//! The one place that turns a PKCS#11 failure into an engine error, keeping the name of the
//! C_ function that failed and the token it failed on.

use cryptoki::context::Function;
use cryptoki::error::{Error, RvError};
use kms_core::KmsError;

/// The C name of a PKCS#11 function, such as `C_Decrypt`.
fn c_name(function: &Function) -> String {
    format!("C_{function:?}")
}

/// The engine error for `error`, raised by a call on `token`.
pub(crate) fn pkcs11_error(token: &str, error: &Error) -> KmsError {
    let error = match error {
        Error::Pkcs11(rv, function) => return rv_error(token, *rv, &c_name(function)),
        other => other,
    };
    match error {
        Error::LibraryLoading(cause) => {
            KmsError::Backend(format!("loading the PKCS#11 module for {token}: {cause}"))
        }
        other => KmsError::Backend(format!("PKCS#11 call on {token}: {other}")),
    }
}

fn rv_error(token: &str, rv: RvError, function: &str) -> KmsError {
    match rv {
        RvError::PinIncorrect | RvError::PinLenRange => {
            KmsError::Backend(format!("{function}: the PIN is wrong for {token}"))
        }
        RvError::PinLocked => {
            KmsError::Backend(format!("{function}: the PIN of {token} is locked"))
        }
        RvError::MechanismInvalid | RvError::MechanismParamInvalid => {
            KmsError::BackendUnsupported(format!("{function}: mechanism refused by {token}"))
        }
        other => KmsError::Backend(format!("{function} on {token}: {other:?}")),
    }
}

/// Whether `error` means the session is gone and a new one should be opened.
pub(crate) fn session_lost(error: &Error) -> bool {
    matches!(
        error,
        Error::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::UserNotLoggedIn,
            _
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_names_the_function_and_the_token() {
        let err = pkcs11_error(
            "token 'a'",
            &Error::Pkcs11(RvError::PinIncorrect, Function::Login),
        );
        assert_eq!(err.code(), "KMS.0103");
        assert!(
            err.to_string()
                .contains("C_Login: the PIN is wrong for token 'a'"),
            "{err}"
        );
        let err = pkcs11_error(
            "token 'a'",
            &Error::Pkcs11(RvError::MechanismInvalid, Function::EncryptInit),
        );
        assert_eq!(err.code(), "KMS.9002");
        let err = pkcs11_error(
            "token 'a'",
            &Error::Pkcs11(RvError::DeviceError, Function::Encrypt),
        );
        assert!(
            err.to_string()
                .contains("C_Encrypt on token 'a': DeviceError"),
            "{err}"
        );
    }

    #[test]
    fn lost_sessions_are_recognised() {
        assert!(session_lost(&Error::Pkcs11(
            RvError::SessionHandleInvalid,
            Function::Encrypt
        )));
        assert!(session_lost(&Error::Pkcs11(
            RvError::DeviceRemoved,
            Function::Decrypt
        )));
        assert!(!session_lost(&Error::Pkcs11(
            RvError::EncryptedDataInvalid,
            Function::Decrypt
        )));
    }
}
