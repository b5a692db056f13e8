//! Container image references (`[registry[:port]/]path[:tag][@digest]`), parsed as Docker's
//! `distribution/reference.ParseNormalizedNamed` does, which is what Tinkerbell uses to
//! accept an action's `image`.
//!
//! The grammar is Docker's: a registry is a host name (components of letters, digits and
//! inner dashes, joined by dots), an IPv4 address or a bracketed IPv6 address, with an
//! optional port; it is recognised only when the first path element contains a `.` or a
//! `:`, is `localhost`, or has upper-case letters. The path is lower-case components
//! (`[a-z0-9]+` joined by `.`, `_`, `__` or dashes) separated by `/`. The tag is
//! `[\w][\w.-]{0,127}`; the digest is `algorithm:hex` with a supported algorithm (sha256,
//! sha384, sha512) and the exact hex length. Without a registry, `docker.io` is implied, and
//! a single-element path gets `library/`. Start at [`parse_normalized`].

use std::sync::LazyLock;

use regex::Regex;

/// A parsed, normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The registry, e.g. `docker.io` or `localhost:5000`.
    pub domain: String,
    /// The repository path, e.g. `library/ubuntu` or `tinkerbell/actions/image2disk`.
    pub path: String,
    /// The tag, when given.
    pub tag: Option<String>,
    /// The digest (`sha256:...`), when given.
    pub digest: Option<String>,
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Why a string is not an image reference (Docker's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    /// Empty reference or no path.
    #[error("repository name must have at least one component")]
    NameEmpty,
    /// Does not match the grammar.
    #[error("invalid reference format")]
    InvalidFormat,
    /// The repository has upper-case letters.
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    /// Would match the grammar if it were lower-case.
    #[error("repository name must be lowercase")]
    NameContainsUppercase,
    /// Registry and path longer than 255 characters.
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    /// A bare 64-character hexadecimal string (an image ID, not a name).
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    Identifier(String),
    /// Malformed digest.
    #[error("invalid checksum digest format")]
    DigestFormat,
    /// Digest of an unknown algorithm.
    #[error("unsupported digest algorithm")]
    DigestUnsupported,
    /// Digest of the wrong length for its algorithm.
    #[error("invalid checksum digest length")]
    DigestLength,
}

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

const ALPHANUMERIC: &str = "[a-z0-9]+";
const SEPARATOR: &str = "(?:[._]|__|[-]+)";
const DOMAIN_COMPONENT: &str = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const TAG: &str = "[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
const DIGEST: &str = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}";

fn domain_and_port() -> String {
    let domain_name = format!("{DOMAIN_COMPONENT}(?:\\.{DOMAIN_COMPONENT})*");
    let host = format!("(?:{domain_name}|\\[(?:[a-fA-F0-9:]+)\\])");
    format!("{host}(?::[0-9]+)?")
}

fn remote_name() -> String {
    let path_component = format!("{ALPHANUMERIC}(?:{SEPARATOR}{ALPHANUMERIC})*");
    format!("{path_component}(?:/{path_component})*")
}

#[allow(clippy::expect_used)] // constant patterns, checked by the tests
fn compile(p: &str) -> Regex {
    Regex::new(p).expect("constant regular expression")
}

static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    let name = format!("(?:{}/)?{}", domain_and_port(), remote_name());
    compile(&format!("^({name})(?::({TAG}))?(?:@({DIGEST}))?$"))
});
static ANCHORED_NAME: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        "^(?:({})/)?({})$",
        domain_and_port(),
        remote_name()
    ))
});
static IDENTIFIER: LazyLock<Regex> = LazyLock::new(|| compile("^[a-f0-9]{64}$"));
static DIGEST_ANCHORED: LazyLock<Regex> = LazyLock::new(|| compile(&format!("^{DIGEST}$")));

/// Splits off the registry the way Docker does and fills in the defaults.
fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.find('/') {
        Some(i)
            if name[..i].contains(['.', ':'])
                || &name[..i] == "localhost"
                || name[..i].to_lowercase() != name[..i] =>
        {
            (name[..i].to_string(), name[i + 1..].to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

fn parse_digest(s: &str) -> Result<(), ImageRefError> {
    let Some(i) = s.find(':').filter(|i| *i > 0 && i + 1 < s.len()) else {
        return Err(ImageRefError::DigestFormat);
    };
    let (alg, enc) = (&s[..i], &s[i + 1..]);
    let size = match alg {
        "sha256" => 32,
        "sha384" => 48,
        "sha512" => 64,
        _ if !DIGEST_ANCHORED.is_match(s) => return Err(ImageRefError::DigestFormat),
        _ => return Err(ImageRefError::DigestUnsupported),
    };
    if enc.len() != size * 2 {
        return Err(ImageRefError::DigestLength);
    }
    if !enc.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ImageRefError::DigestFormat);
    }
    Ok(())
}

/// Parses a reference as Docker's `ParseNormalizedNamed` does.
pub fn parse_normalized(s: &str) -> Result<ImageRef, ImageRefError> {
    if IDENTIFIER.is_match(s) {
        return Err(ImageRefError::Identifier(s.to_string()));
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote = match remainder.find(':') {
        Some(i) => &remainder[..i],
        None => &remainder[..],
    };
    if remote.to_lowercase() != remote {
        return Err(ImageRefError::Uppercase(remote.to_string()));
    }
    let full = format!("{domain}/{remainder}");
    let Some(caps) = REFERENCE.captures(&full) else {
        if full.is_empty() {
            return Err(ImageRefError::NameEmpty);
        }
        if REFERENCE.is_match(&full.to_lowercase()) {
            return Err(ImageRefError::NameContainsUppercase);
        }
        return Err(ImageRefError::InvalidFormat);
    };
    let name = caps.get(1).map_or("", |m| m.as_str());
    if name.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ImageRefError::NameTooLong);
    }
    let (domain, path) = match ANCHORED_NAME.captures(name) {
        Some(n) => (
            n.get(1).map_or("", |m| m.as_str()).to_string(),
            n.get(2).map_or("", |m| m.as_str()).to_string(),
        ),
        None => (String::new(), name.to_string()),
    };
    let tag = caps.get(2).map(|m| m.as_str().to_string());
    let digest = caps.get(3).map(|m| m.as_str().to_string());
    if let Some(d) = &digest {
        parse_digest(d)?;
    }
    if path.is_empty() {
        return Err(ImageRefError::NameEmpty);
    }
    Ok(ImageRef {
        domain,
        path,
        tag,
        digest,
    })
}
