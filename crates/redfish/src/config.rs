//! What a [`crate::Client`] needs to reach one BMC: [`Config`], [`Auth`] and the
//! [`Secret`] wrapper that keeps the password out of every `Debug` output.

use std::fmt;
use std::time::Duration;

use reqwest::Url;

use crate::error::{Error, Result};

/// How to authenticate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// A Redfish session (POST to the `Sessions` collection, then `X-Auth-Token`; the session
    /// is deleted by [`crate::Client::close`]). Falls back to [`Auth::Basic`] when the BMC
    /// does not advertise a session service, or answers 404/405/501 or no token to the
    /// login.
    #[default]
    Session,
    /// HTTP basic authentication on every request.
    Basic,
}

/// A password (or token) that prints as `<redacted>` in `Debug` and `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, to put on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

/// Everything needed to talk to one BMC.
#[derive(Clone, Debug)]
pub struct Config {
    /// `https://host[:port]` (or `http://` for a BMC without TLS). Any path is ignored: the
    /// client starts at `/redfish/v1/`. User info in the URL is refused (credentials go in
    /// `username`/`password`).
    pub endpoint: Url,
    /// The BMC user.
    pub username: String,
    /// The BMC password.
    pub password: Secret,
    /// Accept any server certificate (self-signed BMCs). Off by default.
    pub insecure_tls: bool,
    /// Extra trusted CA certificates (PEM), added to the system roots.
    pub ca_pem: Option<String>,
    /// Which member of `/redfish/v1/Systems` to drive, matched against its `Id` or `Name`
    /// (or the last segment of its `@odata.id`). Needed only when there are several.
    pub system_name: Option<String>,
    /// Limit for each whole request (connect, send, read the body).
    pub timeout: Duration,
    /// Limit for establishing a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Authentication method.
    pub auth: Auth,
    /// Largest response body accepted.
    pub max_body: usize,
    /// How long a reset fallback waits for the power to go off (e.g. PowerCycle done as
    /// ForceOff, wait, On).
    pub power_wait: Duration,
}

impl Config {
    /// A configuration with defaults: session auth, verified TLS, 30 s per request, 10 s to
    /// connect, 4 MiB bodies, 120 s power wait. `endpoint` without a scheme gets `https://`.
    pub fn new(endpoint: &str, username: &str, password: impl Into<Secret>) -> Result<Self> {
        let with_scheme = if endpoint.contains("://") {
            endpoint.to_string()
        } else {
            format!("https://{endpoint}")
        };
        let endpoint = Url::parse(&with_scheme).map_err(|e| Error::Config {
            endpoint: redact_userinfo(endpoint),
            reason: format!("not a URL: {e}"),
        })?;
        Ok(Self {
            endpoint,
            username: username.to_string(),
            password: password.into(),
            insecure_tls: false,
            ca_pem: None,
            system_name: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            auth: Auth::Session,
            max_body: 4 << 20,
            power_wait: Duration::from_secs(120),
        })
    }

    /// `host[:port]` of the endpoint, as used in errors.
    pub fn host(&self) -> String {
        let host = self.endpoint.host_str().unwrap_or("?");
        match self.endpoint.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        }
    }

    /// Checks what can be checked without the network.
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |reason: &str| Error::Config {
            endpoint: redact_userinfo(self.endpoint.as_str()),
            reason: reason.to_string(),
        };
        if !matches!(self.endpoint.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if self.endpoint.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if !self.endpoint.username().is_empty() || self.endpoint.password().is_some() {
            return Err(bad(
                "credentials belong in username/password, not in the URL",
            ));
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(bad("timeouts must be positive"));
        }
        Ok(())
    }
}

/// `scheme://host...` with any `user:pass@` removed, for messages.
fn redact_userinfo(s: &str) -> String {
    match (s.find("://"), s.rfind('@')) {
        (Some(i), Some(at)) if at > i => format!("{}<redacted>@{}", &s[..i + 3], &s[at + 1..]),
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let c = Config::new("bmc.example:8443", "admin", "hunter2-secret").expect("config");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2-secret"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
        assert_eq!(c.endpoint.as_str(), "https://bmc.example:8443/");
        assert_eq!(c.host(), "bmc.example:8443");
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_echoing_them() {
        let c =
            Config::new("https://root:pa55word@bmc.example", "root", "pa55word").expect("parses");
        let err = c.validate().expect_err("refused").to_string();
        assert!(!err.contains("pa55word"), "{err}");
        let err = Config::new("https://root:pa55word@bad host", "root", "pa55word")
            .expect_err("bad URL")
            .to_string();
        assert!(!err.contains("pa55word"), "{err}");
    }

    #[test]
    fn other_schemes_are_refused() {
        let c = Config::new("ftp://bmc", "a", "b").expect("parses");
        assert!(matches!(c.validate(), Err(Error::Config { .. })));
    }
}
