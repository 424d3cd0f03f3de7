//! update-key-alias and update-key-description.

use super::Kms;
use crate::error::Result;
use crate::models::{
    KeyAliasInfo, KeyDescriptionInfo, UpdateKeyAliasRequest, UpdateKeyAliasResponse,
    UpdateKeyDescriptionRequest, UpdateKeyDescriptionResponse,
};
use crate::store::KeyText;
use crate::tenant::Tenant;

impl Kms {
    /// `update-key-alias`: gives a key of the caller's project a new alias, unique in the
    /// project.
    ///
    /// # Errors
    /// The validation errors of [`UpdateKeyAliasRequest::validate`]; KMS.0207 unknown key;
    /// KMS.0210 for a key pending deletion; KMS.1104 when another key of the project has the
    /// alias; store failures.
    pub fn update_key_alias(
        &self,
        tenant: &Tenant,
        request: &UpdateKeyAliasRequest,
    ) -> Result<UpdateKeyAliasResponse> {
        let (key_id, alias) = request.validate()?;
        let text = KeyText::Alias(alias.to_owned());
        self.change_key_metadata(tenant, &key_id, || {
            self.store.update_key_text(&key_id, &text)
        })?;
        Ok(UpdateKeyAliasResponse {
            key_info: KeyAliasInfo {
                key_id: key_id.to_string(),
                key_alias: alias.to_owned(),
            },
        })
    }

    /// `update-key-description`: gives a key of the caller's project a new description.
    ///
    /// # Errors
    /// The validation errors of [`UpdateKeyDescriptionRequest::validate`]; KMS.0207 unknown
    /// key; KMS.0210 for a key pending deletion; store failures.
    pub fn update_key_description(
        &self,
        tenant: &Tenant,
        request: &UpdateKeyDescriptionRequest,
    ) -> Result<UpdateKeyDescriptionResponse> {
        let (key_id, description) = request.validate()?;
        let text = KeyText::Description(description.to_owned());
        self.change_key_metadata(tenant, &key_id, || {
            self.store.update_key_text(&key_id, &text)
        })?;
        Ok(UpdateKeyDescriptionResponse {
            key_info: KeyDescriptionInfo {
                key_id: key_id.to_string(),
                key_description: description.to_owned(),
            },
        })
    }
}
