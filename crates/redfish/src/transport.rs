//! HTTP plumbing: the reqwest client with its rustls configuration (system roots plus an
//! optional CA, or accept-anything), authentication state (basic or session token),
//! bounded bodies, and the mapping of every failure to an [`Error`] naming host and path.
//!
//! Nothing here logs a header or a request body; the password and the session token only
//! ever go on the wire.

use std::sync::{Arc, Mutex};

use ironbell_tls::AcceptAnyServerCert;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::{Config, Secret};
use crate::error::{Error, Result};

/// How requests are authenticated right now.
#[derive(Clone, Debug)]
pub(crate) enum AuthState {
    /// No credentials (only for the service root).
    Anonymous,
    /// HTTP basic on every request.
    Basic,
    /// `X-Auth-Token`, and the session's URI to DELETE on close.
    Session {
        token: Secret,
        location: Option<String>,
    },
}

/// A successful response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// One BMC's HTTP side.
pub(crate) struct Transport {
    http: reqwest::Client,
    base: Url,
    pub host: String,
    pub username: String,
    password: Secret,
    /// Finds the password in text from the BMC; built on first use (errors are rare and
    /// the pattern costs a regex compilation).
    redactor: std::sync::OnceLock<crate::redact::Redactor>,
    auth: Mutex<AuthState>,
    /// Where to log in again when a session expires (set once a session was created).
    sessions_path: Mutex<Option<String>>,
    config: Config,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.base.as_str())
            .field("username", &self.username)
            .field("auth", &self.auth_kind())
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_config(config: &Config) -> Result<rustls::ClientConfig> {
    let bad = |reason: String| Error::Config {
        endpoint: config.endpoint.to_string(),
        reason,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS setup: {e}")))?;
    let mut tls = if config.insecure_tls {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(provider())))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(added, "system trust roots loaded");
        if let Some(pem) = &config.ca_pem {
            let mut count = 0;
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| bad(format!("ca_pem: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("ca_pem certificate: {e}")))?;
                count += 1;
            }
            if count == 0 {
                return Err(bad("ca_pem holds no CERTIFICATE block".into()));
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// Follows at most 5 redirects, and only to the same scheme, host and port: the session
/// token travels in `X-Auth-Token`, which reqwest does not strip on a cross-origin redirect.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt.previous().first().is_some_and(|first| {
            let next = attempt.url();
            first.scheme() == next.scheme()
                && first.host_str() == next.host_str()
                && first.port_or_known_default() == next.port_or_known_default()
        });
        if !same {
            attempt.stop()
        } else if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// The TLS error somewhere in `e`'s chain (rustls errors travel inside `io::Error`, whose
/// `source()` skips the wrapped error, so those are opened by hand).
fn find_tls(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = find_tls(inner)
        {
            return Some(found);
        }
        cur = err.source();
    }
    None
}

/// The innermost message of `e`'s chain (the top one, reqwest's, would repeat the URL).
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        last = err.to_string();
        cur = err.source();
    }
    last
}

impl Transport {
    pub fn new(config: &Config) -> Result<Self> {
        config.validate()?;
        // The TLS configuration is always handed over, even for http:// (reqwest would
        // otherwise look for a process-wide rustls provider, which this crate leaves alone).
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .no_proxy()
            .http1_only()
            .redirect(same_origin_redirects())
            .user_agent(concat!("ironbell-redfish/", env!("CARGO_PKG_VERSION")))
            .tls_backend_preconfigured(tls_config(config)?)
            .build()
            .map_err(|e| Error::Config {
                endpoint: config.endpoint.to_string(),
                reason: format!("HTTP client: {}", innermost(&e)),
            })?;
        let mut base = config.endpoint.clone();
        base.set_path("/");
        base.set_query(None);
        base.set_fragment(None);
        Ok(Self {
            http,
            base,
            host: config.host(),
            username: config.username.clone(),
            password: config.password.clone(),
            redactor: std::sync::OnceLock::new(),
            auth: Mutex::new(AuthState::Anonymous),
            sessions_path: Mutex::new(None),
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn auth_state(&self) -> AuthState {
        self.auth
            .lock()
            .map(|a| a.clone())
            .unwrap_or(AuthState::Anonymous)
    }

    pub fn set_auth(&self, state: AuthState) {
        if let Ok(mut a) = self.auth.lock() {
            *a = state;
        }
    }

    /// `"anonymous"`, `"basic"` or `"session"`.
    pub fn auth_kind(&self) -> &'static str {
        match self.auth_state() {
            AuthState::Anonymous => "anonymous",
            AuthState::Basic => "basic",
            AuthState::Session { .. } => "session",
        }
    }

    /// Removes the password, in every encoding, from text a BMC sent back (defence in
    /// depth: some echo input); see [`crate::redact`].
    pub fn scrub(&self, text: &str) -> String {
        self.redactor
            .get_or_init(|| crate::redact::Redactor::new(&self.username, self.password.expose()))
            .scrub(text)
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.base.join(path).map_err(|e| Error::Unexpected {
            host: self.host.clone(),
            path: path.to_string(),
            detail: format!("not a usable URL path: {e}"),
        })
    }

    fn map_send_error(&self, path: &str, e: reqwest::Error) -> Error {
        let host = self.host.clone();
        let path = path.to_string();
        if let Some(detail) = find_tls(&e) {
            return Error::Tls { host, path, detail };
        }
        if e.is_timeout() {
            let (what, after) = if e.is_connect() {
                ("connect", self.config.connect_timeout)
            } else {
                ("request", self.config.timeout)
            };
            return Error::Timeout {
                host,
                path,
                what,
                after,
            };
        }
        let detail = self.scrub(&innermost(&e));
        if e.is_connect() {
            Error::Unreachable { host, path, detail }
        } else {
            Error::Transport { host, path, detail }
        }
    }

    /// Sends one request with the given authentication, reads the (bounded) body, and
    /// returns it whatever the status.
    async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        auth: &AuthState,
        if_match: Option<&str>,
    ) -> Result<Reply> {
        let url = self.url(path)?;
        let mut req = self
            .http
            .request(method.clone(), url)
            .header("Accept", "application/json");
        match auth {
            AuthState::Anonymous => {}
            AuthState::Basic => {
                req = req.basic_auth(&self.username, Some(self.password.expose()));
            }
            AuthState::Session { token, .. } => {
                let mut value =
                    HeaderValue::from_str(token.expose()).map_err(|_| Error::Unexpected {
                        host: self.host.clone(),
                        path: path.to_string(),
                        detail: "the session token is not a valid header value".into(),
                    })?;
                value.set_sensitive(true);
                req = req.header("X-Auth-Token", value);
            }
        }
        if let Some(etag) = if_match {
            req = req.header("If-Match", etag);
        }
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).map_err(|e| Error::Unexpected {
                host: self.host.clone(),
                path: path.to_string(),
                detail: format!("cannot encode the request: {e}"),
            })?;
            req = req.header("Content-Type", "application/json").body(bytes);
        }
        tracing::debug!(host = %self.host, %method, path, "redfish request");
        let mut resp = req.send().await.map_err(|e| self.map_send_error(path, e))?;
        let status = resp.status();
        let limit = self.config.max_body;
        let too_large = || Error::TooLarge {
            host: self.host.clone(),
            path: path.to_string(),
            limit,
        };
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.map_send_error(path, e))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(host = %self.host, %method, path, status = status.as_u16(), "redfish reply");
        Ok(Reply {
            status,
            headers: resp.headers().clone(),
            body,
        })
    }

    /// The Redfish message of an error body: the `@Message.ExtendedInfo` messages, else
    /// `error.message`, else the start of the body text.
    pub fn error_message(&self, body: &[u8]) -> String {
        let text = match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                let err = v.get("error").unwrap_or(&v);
                let infos: Vec<String> = err
                    .get("@Message.ExtendedInfo")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|i| {
                        i.get("Message")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .or_else(|| {
                                i.get("MessageId")
                                    .and_then(Value::as_str)
                                    .map(str::to_string)
                            })
                    })
                    .collect();
                let main = err.get("message").and_then(Value::as_str);
                match (main, infos.is_empty()) {
                    (Some(m), true) => m.to_string(),
                    (Some(m), false) => format!("{m} ({})", infos.join("; ")),
                    (None, false) => infos.join("; "),
                    (None, true) => String::new(),
                }
            }
            Err(_) => String::from_utf8_lossy(body)
                .trim()
                .chars()
                .take(200)
                .collect(),
        };
        self.scrub(&text)
    }

    /// Maps a non-success reply to its error.
    pub fn status_error(&self, method: &Method, path: &str, reply: &Reply) -> Error {
        let host = self.host.clone();
        let path = path.to_string();
        let message = self.error_message(&reply.body);
        match reply.status.as_u16() {
            status @ (401 | 403) => Error::Auth {
                host,
                path,
                username: self.username.clone(),
                status,
                message,
            },
            404 => Error::NotFound {
                host,
                path,
                message,
            },
            status => Error::Http {
                host,
                method: method.to_string(),
                path,
                status,
                message,
            },
        }
    }

    /// Sends with the current authentication; a 401 on a session logs in once more and
    /// retries (sessions expire). Returns the reply, success or not.
    pub async fn request_any(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Reply> {
        let auth = self.auth_state();
        let reply = self
            .send_raw(method.clone(), path, body, &auth, if_match)
            .await?;
        if reply.status == StatusCode::UNAUTHORIZED && matches!(auth, AuthState::Session { .. }) {
            let sessions = self.sessions_path.lock().ok().and_then(|s| s.clone());
            if let Some(sessions) = sessions {
                tracing::info!(host = %self.host, "session refused; logging in again");
                self.login(&sessions).await?;
                let auth = self.auth_state();
                return self.send_raw(method, path, body, &auth, if_match).await;
            }
        }
        Ok(reply)
    }

    /// Like [`Self::request_any`], but a non-2xx status is an error.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Reply> {
        let reply = self
            .request_any(method.clone(), path, body, if_match)
            .await?;
        if reply.status.is_success() {
            Ok(reply)
        } else {
            Err(self.status_error(&method, path, &reply))
        }
    }

    /// Parses a body into `T`, naming the offending field on failure.
    pub fn parse<T: DeserializeOwned>(&self, path: &str, body: &[u8]) -> Result<T> {
        let de = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(de).map_err(|e| Error::Json {
            host: self.host.clone(),
            path: path.to_string(),
            field: e.path().to_string(),
            detail: self.scrub(&e.inner().to_string()),
        })
    }

    /// GET and parse.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let reply = self.request(Method::GET, path, None, None).await?;
        self.parse(path, &reply.body)
    }

    /// GET the service root: anonymously first (the spec allows it), with basic auth when
    /// the BMC insists.
    pub async fn service_root<T: DeserializeOwned>(&self) -> Result<T> {
        const ROOT: &str = "/redfish/v1/";
        let reply = self
            .send_raw(Method::GET, ROOT, None, &AuthState::Anonymous, None)
            .await?;
        let reply = if reply.status == StatusCode::UNAUTHORIZED {
            self.send_raw(Method::GET, ROOT, None, &AuthState::Basic, None)
                .await?
        } else {
            reply
        };
        if !reply.status.is_success() {
            return Err(self.status_error(&Method::GET, ROOT, &reply));
        }
        self.parse(ROOT, &reply.body)
    }

    /// Creates a session at `sessions` (the `Sessions` collection). `Ok(false)` when the
    /// BMC has no usable session service (404, 405, 501, or no token in the answer).
    pub async fn login(&self, sessions: &str) -> Result<bool> {
        let body = serde_json::json!({
            "UserName": self.username,
            "Password": self.password.expose(),
        });
        let reply = self
            .send_raw(
                Method::POST,
                sessions,
                Some(&body),
                &AuthState::Anonymous,
                None,
            )
            .await?;
        match reply.status.as_u16() {
            404 | 405 | 501 => return Ok(false),
            s if !(200..300).contains(&s) => {
                return Err(self.status_error(&Method::POST, sessions, &reply));
            }
            _ => {}
        }
        let Some(token) = reply
            .headers
            .get("X-Auth-Token")
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty())
        else {
            return Ok(false);
        };
        let location = reply
            .headers
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| {
                serde_json::from_slice::<Value>(&reply.body)
                    .ok()
                    .and_then(|v| v.get("@odata.id")?.as_str().map(str::to_string))
            })
            .map(|l| match Url::parse(&l) {
                // An absolute Location: keep its path (the host is ours anyway).
                Ok(u) => u.path().to_string(),
                Err(_) => l,
            });
        self.set_auth(AuthState::Session {
            token: Secret::new(token),
            location,
        });
        if let Ok(mut s) = self.sessions_path.lock() {
            *s = Some(sessions.to_string());
        }
        tracing::debug!(host = %self.host, "redfish session created");
        Ok(true)
    }

    /// Deletes the session, if any, and forgets the credentials.
    pub async fn logout(&self) -> Result<()> {
        let auth = self.auth_state();
        self.set_auth(AuthState::Anonymous);
        if let AuthState::Session {
            location: Some(location),
            ..
        } = &auth
        {
            let reply = self
                .send_raw(Method::DELETE, location, None, &auth, None)
                .await?;
            // Already gone (expired) is fine.
            if !reply.status.is_success() && reply.status != StatusCode::NOT_FOUND {
                return Err(self.status_error(&Method::DELETE, location, &reply));
            }
            tracing::debug!(host = %self.host, "redfish session deleted");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport() -> Transport {
        let c = Config::new("http://127.0.0.1:1", "admin", "s3cret-pw").expect("config");
        Transport::new(&c).expect("transport")
    }

    #[test]
    fn extended_info_messages_are_extracted_and_scrubbed() {
        let t = transport();
        let body = br#"{"error":{"code":"Base.1.0.GeneralError","message":"A general error","@Message.ExtendedInfo":[{"MessageId":"Base.1.8.PropertyValueNotInList","Message":"The value s3cret-pw is not in the list"}]}}"#;
        let m = t.error_message(body);
        assert_eq!(
            m,
            "A general error (The value <redacted> is not in the list)"
        );
        assert_eq!(t.error_message(b"plain text"), "plain text");
    }

    #[test]
    fn bad_json_names_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Sys {
            #[serde(rename = "Boot")]
            boot: Boot,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Boot {
            #[serde(rename = "BootSourceOverrideTarget")]
            target: String,
        }
        let t = transport();
        let err = t
            .parse::<Sys>(
                "/redfish/v1/Systems/1",
                br#"{"Boot":{"BootSourceOverrideTarget":5}}"#,
            )
            .expect_err("bad");
        match err {
            Error::Json { field, path, .. } => {
                assert_eq!(field, "Boot.BootSourceOverrideTarget");
                assert_eq!(path, "/redfish/v1/Systems/1");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let t = transport();
        t.set_auth(AuthState::Session {
            token: Secret::new("tok-123456"),
            location: None,
        });
        let dbg = format!("{t:?}");
        assert!(
            !dbg.contains("s3cret-pw") && !dbg.contains("tok-123456"),
            "{dbg}"
        );
    }

    #[test]
    fn bad_ca_pem_is_a_config_error() {
        let mut c = Config::new("https://127.0.0.1:1", "admin", "pw").expect("config");
        c.ca_pem = Some("not a pem".into());
        assert!(matches!(Transport::new(&c), Err(Error::Config { .. })));
    }
}
