//! The operations of HMAC CMKs (DESIGN 12): generate-mac and verify-mac. The key stays in
//! the backend; verify-mac compares in constant time.

use super::Kms;
use super::key_cache::require_enabled;
use crate::backend::MacKeyHandle;
use crate::codec::encode_base64;
use crate::error::{KmsError, Result};
use crate::key_spec::KeySpec;
use crate::models::{
    GenerateMacRequest, GenerateMacResponse, ToMac, VerifyMacRequest, VerifyMacResponse,
};
use crate::tenant::Tenant;

impl Kms {
    /// `tenant`'s enabled HMAC key of the request, loaded.
    fn mac_key(&self, tenant: &Tenant, request: &ToMac) -> Result<Box<dyn MacKeyHandle>> {
        let record = self.current_key(tenant, &request.key_id)?;
        let spec = match record.spec {
            KeySpec::Mac(spec) => spec,
            KeySpec::Symmetric(_) => return Err(KmsError::SymmetricKeyUnsupported),
            KeySpec::Asymmetric(_) => return Err(KmsError::AsymmetricKeyUnsupported),
        };
        if spec.algorithm() != request.algorithm {
            return Err(KmsError::InvalidParameter(format!(
                "mac_algorithm {} is not the algorithm of a {} key ({})",
                request.algorithm.as_str(),
                spec.as_str(),
                spec.algorithm().as_str()
            )));
        }
        require_enabled(record.state)?;
        let blob = record.key_blob.as_ref().ok_or(KmsError::KeyNotEnabled)?;
        self.backend.load_mac_key(&request.key_id, spec, blob)
    }

    /// `generate-mac`: the HMAC of the message under the key.
    ///
    /// # Errors
    /// The validation errors of [`GenerateMacRequest::validate`]; KMS.0207 unknown key;
    /// KMS.0331 for a symmetric key, KMS.0325 for an asymmetric one; KMS.0308 for an
    /// algorithm that is not the key's; the code of a state other than enabled; KMS.9002
    /// for a mechanism the backend lacks; backend failures.
    pub fn generate_mac(
        &self,
        tenant: &Tenant,
        request: &GenerateMacRequest,
    ) -> Result<GenerateMacResponse> {
        let valid = request.validate()?;
        let mac = self.mac_key(tenant, &valid)?.mac(&valid.message)?;
        Ok(GenerateMacResponse {
            key_id: valid.key_id.to_string(),
            mac_algorithm: valid.algorithm.as_str().into(),
            mac: encode_base64(&mac),
        })
    }

    /// `verify-mac`: whether the MAC is the message's under the key.
    ///
    /// # Errors
    /// As [`generate_mac`](Self::generate_mac); a wrong MAC is no error.
    pub fn verify_mac(
        &self,
        tenant: &Tenant,
        request: &VerifyMacRequest,
    ) -> Result<VerifyMacResponse> {
        let (valid, mac) = request.validate()?;
        let mac_valid = self.mac_key(tenant, &valid)?.verify(&valid.message, &mac)?;
        Ok(VerifyMacResponse {
            key_id: valid.key_id.to_string(),
            mac_algorithm: valid.algorithm.as_str().into(),
            mac_valid,
        })
    }
}
