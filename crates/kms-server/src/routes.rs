//! The server's routes: the API at `POST /v1.0/{project_id}/kms/<operation>`, the tag routes
//! (`{key_id}/tags`, `{key_id}/tags/action`, `{key_id}/tags/{key}`, `tags`), and the service
//! routes outside `/v1.0`. Anything else is KMS.0201 naming what was asked for.

use std::borrow::Cow;

use kms_core::{KmsError, Operation, ProjectId, Result};

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// An engine operation in a project.
    Api {
        /// The path's project.
        project_id: ProjectId,
        /// The operation.
        operation: Operation,
        /// What the path names besides (a tag route's `key_id` and tag `key`, decoded),
        /// as request fields; for the routes that take no body (GET, DELETE) an empty body
        /// is an empty object.
        path_fields: Vec<(&'static str, String)>,
        /// Whether the route takes no body (GET, DELETE).
        bodiless: bool,
    },
    /// `GET /`: the API versions.
    Versions,
    /// `GET /healthz`: the process is alive.
    Health,
    /// `GET /readyz`: the store and backend answer.
    Ready,
    /// `GET /metrics`: Prometheus text.
    Metrics,
}

/// The literal the SDKs send when they were given no project ID.
const PROJECT_PLACEHOLDER: &str = "%7Bproject_id%7D";

/// The route of `method` on the raw (still percent-encoded) `path`.
///
/// # Errors
/// KMS.0201 for a path or method this API does not have, and for the SDKs' literal
/// `{project_id}`, with a message saying to pass a project ID; KMS.0308 for a project ID
/// that is not one.
pub(crate) fn route(method: &str, path: &str) -> Result<Route> {
    let service = match path {
        "/" => Some(Route::Versions),
        "/healthz" => Some(Route::Health),
        "/readyz" => Some(Route::Ready),
        "/metrics" => Some(Route::Metrics),
        _ => None,
    };
    if let Some(service) = service {
        return if method == "GET" {
            Ok(service)
        } else {
            Err(wrong_method(method, path, "GET"))
        };
    }
    let mut segments = path.strip_prefix('/').unwrap_or(path).split('/');
    let (Some("v1.0"), Some(project), Some("kms"), Some(name)) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(no_route(method, path));
    };
    if project.eq_ignore_ascii_case(PROJECT_PLACEHOLDER) || project == "{project_id}" {
        return Err(KmsError::InvalidUrl(
            "the path holds the literal {project_id}: give the SDK your project ID \
             (BasicCredentials(ak, sk, project_id))"
                .into(),
        ));
    }
    let rest: Vec<&str> = segments.collect();
    let (operation, expected, path_fields) = match (name, rest.as_slice()) {
        ("tags", []) => (Operation::ListKmsTags, "GET", Vec::new()),
        (key_id, ["tags"]) => {
            let fields = vec![("key_id", decoded(key_id)?)];
            if method == "GET" {
                (Operation::ShowKmsTags, "GET", fields)
            } else {
                (Operation::CreateKmsTag, "POST", fields)
            }
        }
        // A tag may be named `action`: DELETE of a tag is told by its method.
        (key_id, ["tags", tag_key]) if method == "DELETE" => (
            Operation::DeleteTag,
            "DELETE",
            vec![("key_id", decoded(key_id)?), ("key", decoded(tag_key)?)],
        ),
        (key_id, ["tags", "action"]) => (
            Operation::BatchCreateKmsTags,
            "POST",
            vec![("key_id", decoded(key_id)?)],
        ),
        (name, []) => {
            let operation = Operation::from_wire(name)
                .filter(|operation| operation.routed_by_name())
                .ok_or_else(|| {
                    KmsError::InvalidUrl(format!("no operation named {}", shown(name)))
                })?;
            (operation, "POST", Vec::new())
        }
        _ => return Err(no_route(method, path)),
    };
    if method != expected {
        return Err(wrong_method(method, path, expected));
    }
    Ok(Route::Api {
        project_id: ProjectId::parse(project)?,
        operation,
        path_fields,
        bodiless: expected != "POST",
    })
}

fn no_route(method: &str, path: &str) -> KmsError {
    KmsError::InvalidUrl(format!(
        "no route for {method} {}; operations are POST /v1.0/{{project_id}}/kms/<operation>",
        shown(path)
    ))
}

/// A path segment percent-decoded, as UTF-8.
fn decoded(segment: &str) -> Result<String> {
    crate::signing::percent_decode(segment)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            KmsError::InvalidUrl(format!(
                "the path segment {} is not percent-encoded UTF-8",
                shown(segment)
            ))
        })
}

/// The request body with `path_fields` added as fields, for a route whose path names the
/// key; for a route that takes no body (`bodiless`) an empty body is an empty object.
/// Otherwise the body is the one given, not a copy (it may hold a plaintext DEK).
///
/// # Errors
/// KMS.0202 when the body is not a JSON object, or already holds a field the path gives.
pub(crate) fn with_path_fields<'a>(
    body: &'a str,
    path_fields: &[(&'static str, String)],
    bodiless: bool,
) -> Result<Cow<'a, str>> {
    let body = if bodiless && body.trim().is_empty() {
        "{}"
    } else {
        body
    };
    if path_fields.is_empty() {
        return Ok(Cow::Borrowed(body));
    }
    let mut fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(body)
        .map_err(|_| KmsError::InvalidJson("the request body must be a JSON object".into()))?;
    for (name, value) in path_fields {
        if fields.contains_key(*name) {
            return Err(KmsError::InvalidJson(format!(
                "{name} comes from the path, not the body"
            )));
        }
        fields.insert((*name).to_owned(), serde_json::Value::String(value.clone()));
    }
    serde_json::to_string(&fields)
        .map(Cow::Owned)
        .map_err(|_| KmsError::InvalidJson("the request body could not be read".into()))
}

fn wrong_method(method: &str, path: &str, expected: &str) -> KmsError {
    KmsError::InvalidUrl(format!(
        "{} takes {expected}, not {}",
        shown(path),
        shown(method)
    ))
}

/// At most 128 characters of what the client sent, for a message: paths are not secret,
/// but an error should not echo a megabyte.
fn shown(text: &str) -> String {
    text.chars().take(128).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_posts_under_a_project() {
        assert_eq!(
            route("POST", "/v1.0/0123456789abcdef/kms/encrypt-datakey").unwrap(),
            Route::Api {
                project_id: ProjectId::parse("0123456789abcdef").unwrap(),
                operation: Operation::EncryptDatakey,
                path_fields: Vec::new(),
                bodiless: false,
            }
        );
        assert_eq!(route("GET", "/").unwrap(), Route::Versions);
        assert_eq!(route("GET", "/metrics").unwrap(), Route::Metrics);
    }

    #[test]
    fn tag_routes_carry_the_key_and_tag_from_the_path() {
        let api = |method, path| match route(method, path).unwrap() {
            Route::Api {
                operation,
                path_fields,
                ..
            } => (operation, path_fields),
            other => panic!("{other:?}"),
        };
        let key = || ("key_id", "k1".to_owned());
        assert_eq!(
            api("GET", "/v1.0/p/kms/tags"),
            (Operation::ListKmsTags, vec![])
        );
        assert_eq!(
            api("POST", "/v1.0/p/kms/k1/tags"),
            (Operation::CreateKmsTag, vec![key()])
        );
        assert_eq!(
            api("GET", "/v1.0/p/kms/k1/tags"),
            (Operation::ShowKmsTags, vec![key()])
        );
        assert_eq!(
            api("POST", "/v1.0/p/kms/k1/tags/action"),
            (Operation::BatchCreateKmsTags, vec![key()])
        );
        assert_eq!(
            api("DELETE", "/v1.0/p/kms/k1/tags/%E7%8E%AF%20x"),
            (
                Operation::DeleteTag,
                vec![key(), ("key", "环 x".to_owned())]
            )
        );
    }

    #[test]
    fn path_fields_join_the_body_and_may_not_be_in_it() {
        let fields = [("key_id", "k1".to_owned())];
        assert_eq!(
            with_path_fields("", &fields, true).unwrap(),
            r#"{"key_id":"k1"}"#
        );
        assert_eq!(with_path_fields("", &[], true).unwrap(), "{}");
        assert_eq!(with_path_fields("", &[], false).unwrap(), "");
        assert_eq!(
            with_path_fields(r#"{"tag":{"key":"a"}}"#, &fields, false).unwrap(),
            r#"{"key_id":"k1","tag":{"key":"a"}}"#
        );
        for body in [r#"{"key_id":"k2"}"#, "[]", "not json"] {
            assert_eq!(
                with_path_fields(body, &fields, false).unwrap_err().code(),
                "KMS.0202",
                "{body}"
            );
        }
    }

    #[test]
    fn anything_else_is_kms_0201() {
        for (method, path) in [
            ("GET", "/v1.0/p/kms/encrypt-datakey"),
            ("POST", "/v1.0/p/kms/no-such-operation"),
            ("POST", "/v1.0/p/kms/encrypt-datakey/extra"),
            ("POST", "/v2/p/kms/encrypt-datakey"),
            ("POST", "/"),
            ("DELETE", "/healthz"),
            ("POST", "/v1.0/%7Bproject_id%7D/kms/create-key"),
            ("POST", "/v1.0/p/kms/create-kms-tag"),
            ("POST", "/v1.0/p/kms/tags"),
            ("GET", "/v1.0/p/kms/k/tags/action"),
            ("POST", "/v1.0/p/kms/k/tags/env"),
            ("DELETE", "/v1.0/p/kms/k/tags/a/b"),
            ("DELETE", "/v1.0/p/kms/k/tags/%ff"),
        ] {
            assert_eq!(
                route(method, path).unwrap_err().code(),
                "KMS.0201",
                "{method} {path}"
            );
        }
        let placeholder = route("POST", "/v1.0/%7Bproject_id%7D/kms/create-key").unwrap_err();
        assert!(
            placeholder.to_string().contains("project ID"),
            "{placeholder}"
        );
        assert_eq!(
            route("POST", "/v1.0/a%2Fb/kms/create-key")
                .unwrap_err()
                .code(),
            "KMS.0308"
        );
    }
}
