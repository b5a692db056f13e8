//! The one error type of this crate. Every variant names the BMC (`host`, as `host:port`)
//! and, where a request was made, the URL path it went to. No variant ever holds the
//! password or a session token: messages quoted from a BMC are scrubbed of the password
//! before they are stored (see `Transport::scrub`).

use std::time::Duration;

/// What failed, for which BMC and which URL path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot work (bad endpoint URL, unreadable CA PEM...).
    #[error("Redfish configuration for {endpoint}: {reason}")]
    Config {
        /// The endpoint as configured (without any user info).
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
    /// No TCP connection (refused, no route, DNS failure...).
    #[error("{host}: cannot reach the BMC ({path}): {detail}")]
    Unreachable {
        /// The BMC.
        host: String,
        /// The URL path being requested.
        path: String,
        /// The lowest-level cause.
        detail: String,
    },
    /// The TLS handshake failed, most often because the certificate did not verify.
    #[error("{host}: TLS verification failed ({path}): {detail}")]
    Tls {
        /// The BMC.
        host: String,
        /// The URL path being requested.
        path: String,
        /// The TLS library's reason.
        detail: String,
    },
    /// The connection or the whole request took longer than allowed.
    #[error("{host}: {what} timed out after {after:?} ({path})")]
    Timeout {
        /// The BMC.
        host: String,
        /// The URL path being requested.
        path: String,
        /// `connect` or `request`.
        what: &'static str,
        /// The limit that was hit.
        after: Duration,
    },
    /// Any other transport failure (connection reset, malformed HTTP...).
    #[error("{host}: transport error ({path}): {detail}")]
    Transport {
        /// The BMC.
        host: String,
        /// The URL path being requested.
        path: String,
        /// The lowest-level cause.
        detail: String,
    },
    /// The BMC refused the credentials (HTTP 401 or 403).
    #[error("{host}: authentication failed for user {username:?} (HTTP {status}, {path}){}", fmt_msg(.message))]
    Auth {
        /// The BMC.
        host: String,
        /// The URL path being requested.
        path: String,
        /// The user name (never the password).
        username: String,
        /// 401 or 403.
        status: u16,
        /// The Redfish message, if any.
        message: String,
    },
    /// HTTP 404.
    #[error("{host}: {path} not found (HTTP 404){}", fmt_msg(.message))]
    NotFound {
        /// The BMC.
        host: String,
        /// The URL path requested.
        path: String,
        /// The Redfish message, if any.
        message: String,
    },
    /// Any other non-success status.
    #[error("{host}: {method} {path} failed with HTTP {status}{}", fmt_msg(.message))]
    Http {
        /// The BMC.
        host: String,
        /// The HTTP method.
        method: String,
        /// The URL path requested.
        path: String,
        /// The status code.
        status: u16,
        /// The `@Message.ExtendedInfo` messages (or `error.message`), joined with "; ".
        message: String,
    },
    /// The body was not the JSON expected.
    #[error("{host}: bad JSON from {path} at `{field}`: {detail}")]
    Json {
        /// The BMC.
        host: String,
        /// The URL path requested.
        path: String,
        /// The path of the offending field inside the document (`.` for the root).
        field: String,
        /// What serde said.
        detail: String,
    },
    /// The body exceeded the size limit.
    #[error("{host}: response from {path} exceeds {limit} bytes")]
    TooLarge {
        /// The BMC.
        host: String,
        /// The URL path requested.
        path: String,
        /// The limit.
        limit: usize,
    },
    /// The BMC does not offer what was asked, nor any fallback.
    #[error("{host}: {what} is not supported ({path}); the BMC allows {allowed:?}")]
    Unsupported {
        /// The BMC.
        host: String,
        /// The resource or action involved.
        path: String,
        /// What was asked.
        what: String,
        /// What the BMC allows (empty when it has nothing of the kind).
        allowed: Vec<String>,
    },
    /// No system matched (or several did and none was named).
    #[error("{host}: {}; the BMC has {available:?}", match .wanted { Some(w) => format!("no system with Id or Name {w:?}"), None => "several systems and no system_name given".to_string() })]
    SystemNotFound {
        /// The BMC.
        host: String,
        /// The configured `system_name`.
        wanted: Option<String>,
        /// The systems found, as `Id (Name)`.
        available: Vec<String>,
    },
    /// The BMC accepted a change but reads back something else, or a field this client
    /// needs is missing.
    #[error("{host}: {path}: {detail}")]
    Unexpected {
        /// The BMC.
        host: String,
        /// The URL path involved.
        path: String,
        /// What was expected and what was found.
        detail: String,
    },
    /// The power did not reach the state needed by a fallback in time.
    #[error("{host}: power did not reach {wanted} within {waited:?} (last {last}) ({path})")]
    PowerWait {
        /// The BMC.
        host: String,
        /// The system's path.
        path: String,
        /// The state waited for.
        wanted: crate::PowerState,
        /// The last state read.
        last: crate::PowerState,
        /// How long it waited.
        waited: Duration,
    },
}

fn fmt_msg(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
