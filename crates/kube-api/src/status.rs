//! Errors as Kubernetes `Status` objects: the HTTP code, the `reason` clients branch on
//! (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `Expired`, ...) and a message naming
//! the object.

use axum::body::Body;
use axum::http::{Response, StatusCode, header};
use ironbell_store::StoreError;
use serde_json::{Value, json};

/// A request that failed, as the `Status` it is answered with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Kubernetes' `StatusReason`.
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// `details`: the object's name, group and resource (plural), when about one (boxed:
    /// errors stay small).
    pub details: Option<Box<(String, String, String)>>,
    /// `details.causes` of field manager conflicts: the field (`.spec.x`) and who owns it.
    pub causes: Box<[(String, String)]>,
}

impl ApiError {
    /// An error with no object details.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            causes: Box::new([]),
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 404 NotFound for a path that names no resource.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// 422 Invalid.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// Adds the object the error is about.
    pub fn about(mut self, name: &str, group: &str, plural: &str) -> Self {
        self.details = Some(Box::new((
            name.to_string(),
            group.to_string(),
            plural.to_string(),
        )));
        self
    }

    /// The error of a store operation on an object of `group`/`plural`.
    pub fn from_store(e: &StoreError, group: &str, plural: &str) -> Self {
        let (code, reason) = match e {
            StoreError::NotFound { .. } => (404, "NotFound"),
            StoreError::AlreadyExists { .. } => (409, "AlreadyExists"),
            StoreError::Conflict { .. } => (409, "Conflict"),
            StoreError::Invalid { .. }
            | StoreError::InvalidName { .. }
            | StoreError::Convert(_) => (422, "Invalid"),
            StoreError::TooLarge { .. } => (413, "RequestEntityTooLarge"),
            StoreError::TooOld { .. } => (410, "Expired"),
            StoreError::Unsupported { .. } => (405, "MethodNotAllowed"),
            StoreError::Backend(_) => (500, "InternalError"),
        };
        let mut err = Self::new(code, reason, e.to_string());
        if let Some((_, _, name)) = e.object() {
            err = err.about(name, group, plural);
        }
        err
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some((name, group, kind)) = self.details.as_deref() {
            status["details"] = json!({"name": name, "group": group, "kind": kind});
        }
        if !self.causes.is_empty() {
            let causes: Vec<Value> = self
                .causes
                .iter()
                .map(|(field, message)| {
                    json!({"reason": "FieldManagerConflict", "message": message, "field": field})
                })
                .collect();
            status["details"]["causes"] = Value::from(causes);
        }
        if self.reason == "Invalid" {
            // kubectl prints an Invalid error's causes, not its message.
            status["details"]["causes"] =
                json!([{"reason": "FieldValueInvalid", "message": self.message}]);
        }
        status
    }

    /// The HTTP response.
    pub fn response(&self) -> Response<Body> {
        json_response(
            StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &self.status(),
        )
    }
}

/// A JSON response.
pub fn json_response(code: StatusCode, value: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::from(value.to_string()));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}
