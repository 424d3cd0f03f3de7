//! The bodies of the tag operations, and the rules of tag keys and values. The key a tag
//! route names in its path (`{key_id}`, and `{key}` of a tag) arrives as a field of the
//! body, as the command line sends it.

use serde::{Deserialize, Serialize};

use super::fields::{key_id, required, sequence};
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::store::{Tag, TagChange};

/// The most tags a key holds (the cloud's rule).
pub const MAX_TAGS_PER_KEY: usize = 10;
/// The longest tag key, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 36;
/// The longest tag value, in characters.
pub const MAX_TAG_VALUE_CHARS: usize = 43;

/// Whether `c` may not appear in a tag key or value: ASCII 0-31, `* < > \ =`.
fn forbidden(c: char) -> bool {
    ('\0'..='\u{1f}').contains(&c) || matches!(c, '*' | '<' | '>' | '\\' | '=')
}

/// A tag key, checked: 1 to 36 characters (KMS.0411), none forbidden (KMS.0406).
fn tag_key(key: Option<&str>) -> Result<&str> {
    let key = required(key, "key")?;
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_TAG_KEY_CHARS {
        return Err(KmsError::InvalidTagKeyLength);
    }
    if key.chars().any(forbidden) {
        return Err(KmsError::InvalidTagKey);
    }
    Ok(key)
}

/// A tag value, checked: at most 43 characters (KMS.0410), none forbidden (KMS.0405);
/// absent is empty.
fn tag_value(value: Option<&str>) -> Result<&str> {
    let value = value.unwrap_or_default();
    if value.chars().count() > MAX_TAG_VALUE_CHARS {
        return Err(KmsError::InvalidTagValueLength);
    }
    if value.chars().any(forbidden) {
        return Err(KmsError::InvalidTagValue);
    }
    Ok(value)
}

/// A tag as a request sends it and a response shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagItem {
    /// The tag key.
    pub key: Option<String>,
    /// The tag value.
    pub value: Option<String>,
}

impl TagItem {
    fn validate(&self) -> Result<Tag> {
        Ok(Tag {
            key: tag_key(self.key.as_deref())?.to_owned(),
            value: tag_value(self.value.as_deref())?.to_owned(),
        })
    }
}

/// Body of `POST {key_id}/tags`: one tag to add (or whose value to replace).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyTagRequest {
    /// The key (the path's `{key_id}`).
    pub key_id: Option<String>,
    /// The tag.
    pub tag: Option<TagItem>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

impl CreateKeyTagRequest {
    /// Validates the key ID, the tag and the sequence.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206, and the tag rules' codes (KMS.0405, KMS.0406,
    /// KMS.0410, KMS.0411).
    pub fn validate(&self) -> Result<(KeyId, TagChange)> {
        sequence(self.sequence.as_deref())?;
        let id = key_id(self.key_id.as_deref())?;
        let tag = self.tag.as_ref().ok_or(KmsError::MissingParameter("tag"))?;
        Ok((id, TagChange::Set(vec![tag.validate()?])))
    }
}

/// Body of `POST {key_id}/tags/action`: several tags added or removed at once.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchKeyTagsRequest {
    /// The key (the path's `{key_id}`).
    pub key_id: Option<String>,
    /// The tags; for `delete`, their values are not compared.
    pub tags: Option<Vec<TagItem>>,
    /// `create` or `delete`.
    pub action: Option<String>,
    /// Request serial number, 1 to 36 bytes.
    pub sequence: Option<String>,
}

impl BatchKeyTagsRequest {
    /// Validates the key ID, the action, every tag and the sequence.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205, KMS.0206; KMS.0404 for another action; KMS.0401 for no tags,
    /// KMS.0407 for more than a key holds, KMS.0412 for a tag key twice; the tag rules'
    /// codes.
    pub fn validate(&self) -> Result<(KeyId, TagChange)> {
        sequence(self.sequence.as_deref())?;
        let id = key_id(self.key_id.as_deref())?;
        let action = required(self.action.as_deref(), "action")?;
        let items = self
            .tags
            .as_ref()
            .ok_or(KmsError::MissingParameter("tags"))?;
        if items.is_empty() {
            return Err(KmsError::EmptyTagList);
        }
        if items.len() > MAX_TAGS_PER_KEY {
            return Err(KmsError::InvalidTagListSize(MAX_TAGS_PER_KEY));
        }
        let tags = items
            .iter()
            .map(TagItem::validate)
            .collect::<Result<Vec<Tag>>>()?;
        let mut keys: Vec<&str> = tags.iter().map(|tag| tag.key.as_str()).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|pair| pair.first() == pair.last()) {
            return Err(KmsError::DuplicateTagKey);
        }
        let change = match action {
            "create" => TagChange::Set(tags),
            "delete" => TagChange::Remove(tags.into_iter().map(|tag| tag.key).collect()),
            _ => return Err(KmsError::InvalidTagAction),
        };
        Ok((id, change))
    }
}

/// Body of `DELETE {key_id}/tags/{key}`: the path's key ID and tag key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteKeyTagRequest {
    /// The key (the path's `{key_id}`).
    pub key_id: Option<String>,
    /// The tag key (the path's `{key}`).
    pub key: Option<String>,
}

impl DeleteKeyTagRequest {
    /// Validates the key ID and the tag key.
    ///
    /// # Errors
    /// KMS.0204, KMS.0205; KMS.0406 and KMS.0411 for a tag key tags cannot have.
    pub fn validate(&self) -> Result<(KeyId, TagChange)> {
        let id = key_id(self.key_id.as_deref())?;
        let key = tag_key(self.key.as_deref())?;
        Ok((id, TagChange::Remove(vec![key.to_owned()])))
    }
}

/// Response of `GET {key_id}/tags`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyTagsResponse {
    /// The key's tags, ordered by key.
    pub tags: Vec<TagItem>,
    /// How many tags the key holds.
    #[serde(rename = "existTagsNum")]
    pub exist_tags_num: usize,
}

/// A tag key of the project and every value its keys give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectTag {
    /// The tag key.
    pub key: String,
    /// Its values, each once, ordered.
    pub values: Vec<String>,
}

/// Body of `GET tags` (the project's tags): nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectTagsRequest {}

/// Response of `GET tags`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectTagsResponse {
    /// The project's tag keys, ordered.
    pub tags: Vec<ProjectTag>,
}

impl ProjectTagsResponse {
    /// The response for `tags`, ordered by key, then value.
    #[must_use]
    pub fn from_tags(tags: &[Tag]) -> Self {
        let mut grouped: Vec<ProjectTag> = Vec::new();
        for tag in tags {
            match grouped.last_mut() {
                Some(last) if last.key == tag.key => {
                    if last.values.last() != Some(&tag.value) {
                        last.values.push(tag.value.clone());
                    }
                }
                _ => grouped.push(ProjectTag {
                    key: tag.key.clone(),
                    values: vec![tag.value.clone()],
                }),
            }
        }
        Self { tags: grouped }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";

    fn create(tag: &str) -> Result<(KeyId, TagChange)> {
        serde_json::from_str::<CreateKeyTagRequest>(&format!(r#"{{"key_id":"{KEY}","tag":{tag}}}"#))
            .unwrap()
            .validate()
    }

    fn code(result: Result<(KeyId, TagChange)>) -> &'static str {
        result.unwrap_err().code()
    }

    #[test]
    fn tag_keys_and_values_keep_the_length_and_character_rules() {
        let k36 = "k".repeat(36);
        let v43 = "é".repeat(43);
        assert!(create(&format!(r#"{{"key":"{k36}","value":"{v43}"}}"#)).is_ok());
        assert!(create(r#"{"key":"环境","value":""}"#).is_ok());
        assert!(create(r#"{"key":"env"}"#).is_ok());
        let k37 = "k".repeat(37);
        let v44 = "v".repeat(44);
        assert_eq!(code(create(&format!(r#"{{"key":"{k37}"}}"#))), "KMS.0411");
        assert_eq!(code(create(r#"{"key":""}"#)), "KMS.0411");
        assert_eq!(
            code(create(&format!(r#"{{"key":"k","value":"{v44}"}}"#))),
            "KMS.0410"
        );
        for bad in ["*", "<", ">", "\\\\", "=", "\\u0000", "\\t", "\\u001f"] {
            let key = format!(r#"{{"key":"a{bad}b"}}"#);
            assert_eq!(code(create(&key)), "KMS.0406", "{bad}");
            let value = format!(r#"{{"key":"k","value":"a{bad}b"}}"#);
            assert_eq!(code(create(&value)), "KMS.0405", "{bad}");
        }
        assert_eq!(code(create(r#"{"value":"v"}"#)), "KMS.0204");
    }

    fn batch(tags: &str, action: &str) -> Result<(KeyId, TagChange)> {
        serde_json::from_str::<BatchKeyTagsRequest>(&format!(
            r#"{{"key_id":"{KEY}","tags":{tags},"action":"{action}"}}"#
        ))
        .unwrap()
        .validate()
    }

    #[test]
    fn a_batch_names_1_to_10_distinct_tags_and_create_or_delete() {
        let eleven: Vec<String> = (0..11).map(|i| format!(r#"{{"key":"k{i}"}}"#)).collect();
        let ten = eleven.get(..10).unwrap().join(",");
        assert!(batch(&format!("[{ten}]"), "create").is_ok());
        assert_eq!(
            code(batch(&format!("[{}]", eleven.join(",")), "create")),
            "KMS.0407"
        );
        assert_eq!(code(batch("[]", "create")), "KMS.0401");
        assert_eq!(
            code(batch(r#"[{"key":"a"},{"key":"a","value":"x"}]"#, "create")),
            "KMS.0412"
        );
        assert_eq!(code(batch(r#"[{"key":"a"}]"#, "update")), "KMS.0404");
        let (_, change) = batch(r#"[{"key":"a","value":"x"}]"#, "delete").unwrap();
        assert_eq!(change, TagChange::Remove(vec!["a".into()]));
    }

    #[test]
    fn project_tags_group_values_under_their_key() {
        let tag = |key: &str, value: &str| Tag {
            key: key.into(),
            value: value.into(),
        };
        let grouped = ProjectTagsResponse::from_tags(&[
            tag("a", "1"),
            tag("a", "1"),
            tag("a", "2"),
            tag("b", ""),
        ]);
        let json = serde_json::to_string(&grouped).unwrap();
        assert_eq!(
            json,
            r#"{"tags":[{"key":"a","values":["1","2"]},{"key":"b","values":[""]}]}"#
        );
    }
}
