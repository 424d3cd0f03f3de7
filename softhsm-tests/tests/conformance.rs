//! The backend conformance suite on the PKCS#11 backend and the SoftHSM2 test token.

kms_core::conformance_tests!(softhsm_tests::engine());
