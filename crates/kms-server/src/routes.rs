//! The server's routes: the API at `POST /v1.0/{project_id}/kms/<operation>`, and the
//! service routes outside `/v1.0`. Anything else is KMS.0201 naming what was asked for.

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
    let (Some("v1.0"), Some(project), Some("kms"), Some(name), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(KmsError::InvalidUrl(format!(
            "no route for {method} {}; operations are POST /v1.0/{{project_id}}/kms/<operation>",
            shown(path)
        )));
    };
    if project.eq_ignore_ascii_case(PROJECT_PLACEHOLDER) || project == "{project_id}" {
        return Err(KmsError::InvalidUrl(
            "the path holds the literal {project_id}: give the SDK your project ID \
             (BasicCredentials(ak, sk, project_id))"
                .into(),
        ));
    }
    let operation = Operation::from_wire(name)
        .ok_or_else(|| KmsError::InvalidUrl(format!("no operation named {}", shown(name))))?;
    if method != "POST" {
        return Err(wrong_method(method, path, "POST"));
    }
    Ok(Route::Api {
        project_id: ProjectId::parse(project)?,
        operation,
    })
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
                operation: Operation::EncryptDatakey
            }
        );
        assert_eq!(route("GET", "/").unwrap(), Route::Versions);
        assert_eq!(route("GET", "/metrics").unwrap(), Route::Metrics);
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
