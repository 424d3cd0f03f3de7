//! kms-engine against a real SoftHSM2 token: the tests live in `tests/`.
