//! Token-neutral: the backend conformance suite on the PKCS#11 backend, on each test token
//! (SoftHSM2 and Kryoptic), as the soft backend runs it.

mod softhsm2 {
    kms_core::conformance_tests!(softhsm_tests::Token::SoftHsm2.engine());
}

mod kryoptic {
    kms_core::conformance_tests!(softhsm_tests::Token::Kryoptic.engine());
}
