//! Tags on keys: the per-key tag routes and the project's tag list.

use super::Kms;
use crate::error::Result;
use crate::key_id::KeyId;
use crate::models::{
    BatchKeyTagsRequest, CreateKeyTagRequest, DeleteKeyTagRequest, EmptyResponse, KeyIdRequest,
    KeyTagsResponse, MAX_TAGS_PER_KEY, ProjectTagsRequest, ProjectTagsResponse, TagItem,
};
use crate::store::TagChange;
use crate::tenant::Tenant;

impl Kms {
    /// `POST {key_id}/tags`: adds a tag to a key of the caller's project, or replaces the
    /// value of its tag with that key.
    ///
    /// # Errors
    /// The validation errors of [`CreateKeyTagRequest::validate`]; KMS.0207 unknown key;
    /// KMS.0210 for a key pending deletion; KMS.0409 when the key would hold more than 10
    /// tags; store failures.
    pub fn create_key_tag(
        &self,
        tenant: &Tenant,
        request: &CreateKeyTagRequest,
    ) -> Result<EmptyResponse> {
        let (key_id, change) = request.validate()?;
        self.change_tags(tenant, &key_id, &change)
    }

    /// `POST {key_id}/tags/action`: adds (`create`) or removes (`delete`) several tags at
    /// once; all or none. Removing a tag the key does not have is no error.
    ///
    /// # Errors
    /// As [`create_key_tag`](Self::create_key_tag), and those of
    /// [`BatchKeyTagsRequest::validate`].
    pub fn batch_key_tags(
        &self,
        tenant: &Tenant,
        request: &BatchKeyTagsRequest,
    ) -> Result<EmptyResponse> {
        let (key_id, change) = request.validate()?;
        self.change_tags(tenant, &key_id, &change)
    }

    /// `DELETE {key_id}/tags/{key}`: removes one tag; removing one the key does not have is
    /// no error.
    ///
    /// # Errors
    /// The validation errors of [`DeleteKeyTagRequest::validate`]; KMS.0207 unknown key;
    /// KMS.0210 for a key pending deletion; store failures.
    pub fn delete_key_tag(
        &self,
        tenant: &Tenant,
        request: &DeleteKeyTagRequest,
    ) -> Result<EmptyResponse> {
        let (key_id, change) = request.validate()?;
        self.change_tags(tenant, &key_id, &change)
    }

    /// `GET {key_id}/tags`: a key's tags, ordered by key, in any state.
    ///
    /// # Errors
    /// KMS.0205 malformed key ID; KMS.0207 unknown key; store failures.
    pub fn key_tags(&self, tenant: &Tenant, request: &KeyIdRequest) -> Result<KeyTagsResponse> {
        let key_id = request.validate()?;
        self.current_key(tenant, &key_id)?;
        let mut tags = self.store.key_tags(&key_id)?;
        tags.sort();
        let tags: Vec<TagItem> = tags
            .into_iter()
            .map(|tag| TagItem {
                key: Some(tag.key),
                value: Some(tag.value),
            })
            .collect();
        Ok(KeyTagsResponse {
            exist_tags_num: tags.len(),
            tags,
        })
    }

    /// `GET tags`: every tag key of the caller's project's keys, with their values.
    ///
    /// # Errors
    /// Store failures.
    pub fn project_tags(
        &self,
        tenant: &Tenant,
        request: &ProjectTagsRequest,
    ) -> Result<ProjectTagsResponse> {
        let ProjectTagsRequest {} = request;
        // Ordered here, by code point: a database orders text by its collation.
        let mut tags = self.store.project_tags(&tenant.project_id)?;
        tags.sort();
        Ok(ProjectTagsResponse::from_tags(&tags))
    }

    fn change_tags(
        &self,
        tenant: &Tenant,
        key_id: &KeyId,
        change: &TagChange,
    ) -> Result<EmptyResponse> {
        self.change_key_metadata(tenant, key_id, || {
            self.store.change_tags(key_id, change, MAX_TAGS_PER_KEY)
        })?;
        Ok(EmptyResponse {})
    }
}
