//! The CloudStack credentials: the cloud-config INI file (given base64-encoded in
//! `EKSA_CLOUDSTACK_B64ENCODED_SECRET`) with one section per management endpoint, and the
//! `Secret` per section that each availability zone's `credentialsRef` names.
//!
//! Each section holds `api-key`, `secret-key`, `api-url` and an optional `verify-ssl`
//! (default `true`). Section names are lower-cased, as EKS Anywhere does.
//!
//! The INI reader is written here rather than taken from a crate: it must read exactly what
//! EKS Anywhere's reader (go-ini) reads for this file (`=` or `:` separators, `;` and `#`
//! comments, an inline comment cut at the first `#` or `;` of an unquoted value, quoted values
//! kept whole, keys before any section ignored), and it is about sixty lines. Credentials are
//! never printed: [`Profile`]'s `Debug` hides them and errors name only sections and keys.

use std::collections::BTreeSet;

use base64::Engine as _;

use crate::Object;
use crate::api::cloudstack::{CredentialsSecret, GoObjectMeta};
use crate::api::{EKSA_SYSTEM_NAMESPACE, StringMap};

/// The environment variable that carries the base64-encoded cloud-config.
pub const CLOUD_CONFIG_ENV: &str = "EKSA_CLOUDSTACK_B64ENCODED_SECRET";

/// Largest cloud-config accepted (it holds a few keys per endpoint).
pub const MAX_CLOUD_CONFIG_BYTES: usize = 1 << 20;

/// One management endpoint's credentials (a section of the cloud-config).
#[derive(Clone, PartialEq, Eq)]
pub struct Profile {
    /// Section name, lower-cased: the secret's name and the zones' `credentialsRef`.
    pub name: String,
    /// `api-key`.
    pub api_key: String,
    /// `secret-key`.
    pub secret_key: String,
    /// `api-url`, the management API endpoint.
    pub api_url: String,
    /// `verify-ssl` as written (a Go boolean), `true` when absent.
    pub verify_ssl: String,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// Why a cloud-config could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    /// The value is not base64.
    #[error("{CLOUD_CONFIG_ENV}: the value is not base64: {0}")]
    Base64(String),
    /// The decoded value is not text.
    #[error("{CLOUD_CONFIG_ENV}: the decoded cloud-config is not UTF-8 text")]
    NotText,
    /// The file is too large.
    #[error("cloud-config: {0} bytes, more than the {MAX_CLOUD_CONFIG_BYTES} accepted")]
    TooLarge(usize),
    /// A line is neither a section, a key, a comment nor blank.
    #[error("cloud-config line {line}: expected [section], key = value or a comment")]
    Syntax {
        /// 1-based line number.
        line: usize,
    },
    /// A section lacks a required key.
    #[error("cloud-config section [{section}]: missing {key}")]
    MissingKey {
        /// Section name.
        section: String,
        /// The key.
        key: &'static str,
    },
    /// `verify-ssl` is not a boolean.
    #[error("cloud-config section [{section}]: verify-ssl {value:?} is not a boolean")]
    VerifySsl {
        /// Section name.
        section: String,
        /// The value.
        value: String,
    },
    /// No section at all.
    #[error("cloud-config: no instance section found")]
    NoProfile,
}

/// A value without its inline comment and quotes.
fn value(raw: &str) -> String {
    let raw = raw.trim();
    for quote in ["\"\"\"", "`", "\""] {
        if let Some(end) = raw.strip_prefix(quote).and_then(|rest| rest.find(quote)) {
            return raw[quote.len()..quote.len() + end].to_string();
        }
    }
    let cut = raw.find(['#', ';']).unwrap_or(raw.len());
    raw[..cut].trim().to_string()
}

/// Whether Go's `strconv.ParseBool` accepts a value.
fn go_bool(v: &str) -> bool {
    matches!(
        v,
        "1" | "t" | "T" | "TRUE" | "true" | "True" | "0" | "f" | "F" | "FALSE" | "false" | "False"
    )
}

/// Read a cloud-config: one [`Profile`] per section, in file order.
pub fn parse(text: &str) -> Result<Vec<Profile>, CredentialsError> {
    if text.len() > MAX_CLOUD_CONFIG_BYTES {
        return Err(CredentialsError::TooLarge(text.len()));
    }
    let mut sections: Vec<(String, StringMap)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name
                .split_once(']')
                .map(|(n, _)| n.trim())
                .filter(|n| !n.is_empty())
                .ok_or(CredentialsError::Syntax { line: i + 1 })?;
            sections.push((name.to_lowercase(), StringMap::new()));
            continue;
        }
        let (key, raw) = line
            .split_once(['=', ':'])
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or(CredentialsError::Syntax { line: i + 1 })?;
        // Keys before the first section belong to the DEFAULT section, which is not a profile.
        if let Some((_, keys)) = sections.last_mut() {
            keys.insert(key.trim().to_string(), value(raw));
        }
    }
    let profiles = sections
        .into_iter()
        .filter(|(name, _)| name != "default")
        .map(|(name, mut keys)| {
            let mut take = |key: &'static str| {
                keys.remove(key)
                    .ok_or_else(|| CredentialsError::MissingKey {
                        section: name.clone(),
                        key,
                    })
            };
            let api_key = take("api-key")?;
            let secret_key = take("secret-key")?;
            let api_url = take("api-url")?;
            let verify_ssl = keys.remove("verify-ssl").unwrap_or_else(|| "true".into());
            if !go_bool(&verify_ssl) {
                return Err(CredentialsError::VerifySsl {
                    section: name,
                    value: verify_ssl,
                });
            }
            Ok(Profile {
                name,
                api_key,
                secret_key,
                api_url,
                verify_ssl,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if profiles.is_empty() {
        return Err(CredentialsError::NoProfile);
    }
    Ok(profiles)
}

/// Read a base64-encoded cloud-config (the value of [`CLOUD_CONFIG_ENV`]).
pub fn parse_base64(encoded: &str) -> Result<Vec<Profile>, CredentialsError> {
    let compact: String = encoded.split_whitespace().collect();
    if compact.len() > MAX_CLOUD_CONFIG_BYTES * 4 / 3 + 4 {
        return Err(CredentialsError::TooLarge(compact.len() * 3 / 4));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| CredentialsError::Base64(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| CredentialsError::NotText)?;
    parse(&text)
}

/// The credentials `Secret` of a profile (in `eksa-system`, named after the profile).
pub fn secret(profile: &Profile) -> CredentialsSecret {
    CredentialsSecret {
        api_version: "v1".into(),
        kind: "Secret".into(),
        metadata: GoObjectMeta {
            annotations: None,
            creation_timestamp: None,
            name: profile.name.clone(),
            namespace: EKSA_SYSTEM_NAMESPACE.into(),
        },
        string_data: [
            ("api-url", &profile.api_url),
            ("api-key", &profile.api_key),
            ("secret-key", &profile.secret_key),
            ("verify-ssl", &profile.verify_ssl),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect(),
    }
}

/// The secrets to apply: one per profile, except the profiles whose secret already exists
/// (`existing` names them), which EKS Anywhere leaves as they are.
pub fn secrets(profiles: &[Profile], existing: &BTreeSet<String>) -> Vec<Object> {
    profiles
        .iter()
        .filter(|p| !existing.contains(&p.name))
        .map(|p| Object::CloudStackCredentials(Box::new(secret(p))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "[Global]\nverify-ssl = false\napi-key = k1 ; comment\nsecret-key = \"s;1\"\napi-url = http://10.0.0.1:8080/client/api\n\n# second\n[instance2]\napi-key: k2\nsecret-key = s2\napi-url = http://10.0.0.2/client/api\n";

    #[test]
    fn reads_sections_in_order_with_comments_and_quotes() {
        let p = parse(TWO).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "global");
        assert_eq!(p[0].api_key, "k1");
        assert_eq!(p[0].secret_key, "s;1");
        assert_eq!(p[0].verify_ssl, "false");
        assert_eq!(p[1].name, "instance2");
        assert_eq!(p[1].api_key, "k2");
        assert_eq!(p[1].verify_ssl, "true");
    }

    #[test]
    fn bad_input_is_a_clear_error_that_hides_values() {
        assert_eq!(parse(""), Err(CredentialsError::NoProfile));
        assert_eq!(
            parse("[a]\napi-key = x\nsecret-key = y\n"),
            Err(CredentialsError::MissingKey {
                section: "a".into(),
                key: "api-url"
            })
        );
        assert_eq!(
            parse("[a]\nnot a key line\n"),
            Err(CredentialsError::Syntax { line: 2 })
        );
        let bad = parse("[a]\napi-key=x\nsecret-key=hunter2\napi-url=u\nverify-ssl=maybe\n");
        assert!(matches!(bad, Err(CredentialsError::VerifySsl { .. })));
        assert!(matches!(
            parse_base64("!!not base64"),
            Err(CredentialsError::Base64(_))
        ));
        let p = parse("[a]\napi-key=x\nsecret-key=hunter2\napi-url=u\n").unwrap_or_default();
        assert!(!format!("{p:?}").contains("hunter2"));
        assert!(!format!("{:?}", secret(&p[0])).contains("hunter2"));
    }

    #[test]
    fn existing_secrets_are_not_rendered_again() {
        let p = parse(TWO).unwrap_or_default();
        let existing: BTreeSet<String> = ["global".to_string()].into_iter().collect();
        let out = secrets(&p, &existing);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind(), "Secret");
    }
}
