//! Request and response bodies with the API's exact field names (the seeds and the public
//! SDK models), and their validation.
//!
//! Every request field is optional at the serde level so that a missing mandatory field is
//! reported as KMS.0204 naming it, and every request rejects unknown fields, so a typo such
//! as `with_plaintext` is an error naming the field instead of a silent default.

mod data;
mod datakey;
mod datakey_pair;
mod fields;
mod import;
mod keys;
mod rotation;
mod signing;
mod tags;

pub use data::{
    BlobKind, DataToDecrypt, DataToEncrypt, DecryptDataRequest, DecryptDataResponse,
    EncryptDataRequest, EncryptDataResponse, GenRandomRequest, GenRandomResponse,
    MAX_DATA_CIPHER_TEXT_LEN, MAX_DATA_LEN, RANDOM_BITS, ReEncryptRequest, ReEncryptResponse,
    ReEncryption, SYMMETRIC_DEFAULT,
};
pub use datakey::{
    BlobToDecrypt, CreateDatakeyRequest, CreateDatakeyResponse,
    CreateDatakeyWithoutPlaintextResponse, DATAKEY_BITS, DecryptDatakeyRequest,
    DecryptDatakeyResponse, DekToEncrypt, EncryptDatakeyRequest, EncryptDatakeyResponse,
    MAX_CIPHER_DEK_LEN, MAX_PLAIN_DEK_LEN, NewDatakey,
};
pub use datakey_pair::{
    CreateEcDatakeyPairRequest, CreateRsaDatakeyPairRequest, DatakeyPairResponse, NewKeyPair,
    Recipient,
};
pub use fields::MAX_SEQUENCE_LEN;
pub use import::{
    DecodedMaterial, EmptyResponse, GetParametersForImportRequest, GetParametersForImportResponse,
    ImportKeyMaterialRequest, ImportParameters, MaterialToImport, NumberOrString,
};
pub use keys::{
    CreateKeyRequest, CreateKeyResponse, DescribeKeyResponse, KeyAliasInfo, KeyDescriptionInfo,
    KeyDetails, KeyIdRequest, KeyInfo, KeyListing, KeyStateResponse, KeyStatusInfo,
    KeyStatusResponse, ListKeysRequest, ListKeysResponse, MAX_ALIAS_LEN, MAX_DESCRIPTION_LEN,
    MAX_LIST_LIMIT, NewKey, PENDING_DAYS, ScheduleKeyDeletionRequest, UpdateKeyAliasRequest,
    UpdateKeyAliasResponse, UpdateKeyDescriptionRequest, UpdateKeyDescriptionResponse,
};
pub use rotation::{
    KeyMaterial, KeyRotationStatusResponse, MATERIAL_CURRENT, MATERIAL_RETIRED,
    RotateOnDemandResponse, UpdateKeyRotationIntervalRequest,
};
pub use signing::{
    GenerateMacRequest, GenerateMacResponse, GetPublicKeyResponse, MAX_MESSAGE_LEN,
    MAX_SIGNATURE_LEN, SignRequest, SignResponse, ToMac, ToSign, VerifyMacRequest,
    VerifyMacResponse, VerifyRequest, VerifyResponse,
};
pub use tags::{
    BatchKeyTagsRequest, CreateKeyTagRequest, DeleteKeyTagRequest, KeyTagsResponse,
    MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, MAX_TAGS_PER_KEY, ProjectTag, ProjectTagsRequest,
    ProjectTagsResponse, TagItem,
};
