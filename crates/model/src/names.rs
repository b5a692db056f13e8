//! Object names as Kubernetes checks them, so that no name can carry a newline into an iPXE
//! script, an escape sequence into a terminal, or a `/` into a path.
//!
//! - [`validate_name`]: `metadata.name` is a DNS-1123 *subdomain* (`IsDNS1123Subdomain`):
//!   at most 253 characters, lower-case letters, digits, `-` and `.`, each dot-separated
//!   part starting and ending with a letter or digit.
//! - [`validate_namespace`]: `metadata.namespace` is a DNS-1123 *label*
//!   (`IsDNS1123Label`): at most 63 characters, lower-case letters, digits and `-`,
//!   starting and ending with a letter or digit; no dots.
//! - [`validate_metadata`]: both, and every label key and value
//!   ([`crate::selector::validate_label_key`], [`crate::selector::validate_label_value`]).
//!
//! Names enter through document parsing ([`crate::document`]), `hardware.csv` import
//! (`ironbell-inventory`, whose `hostname` becomes the Hardware name) and every store
//! backend's create; each calls these functions. Errors quote the bad value with Rust's
//! debug escaping (`"a\nb"`, `"\u{1b}[31m"`), so the error itself prints safely.
//!
//! Hand-written rather than a regex: two loops over bytes, no extra dependency, and the
//! error can say which rule failed.

/// Longest DNS-1123 subdomain (object names).
pub const MAX_NAME: usize = 253;
/// Longest DNS-1123 label (namespaces).
pub const MAX_NAMESPACE: usize = 63;

/// A name or namespace that is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("{what} must not be empty")]
    Empty {
        /// `name` or `namespace`.
        what: &'static str,
    },
    /// The name is too long.
    #[error("{what} {value:?} is {len} characters long, at most {max} are allowed")]
    TooLong {
        /// `name` or `namespace`.
        what: &'static str,
        /// The value, quoted with escapes when printed.
        value: String,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The name has a character or shape that is not allowed.
    #[error("{what} {value:?} is not valid: {rule}")]
    Invalid {
        /// `name` or `namespace`.
        what: &'static str,
        /// The value, quoted with escapes when printed.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
}

const SUBDOMAIN_RULE: &str = "a name must consist of lower-case letters, digits, '-' or '.', \
     and each dot-separated part must start and end with a letter or digit (DNS-1123 subdomain)";
const LABEL_RULE: &str = "a namespace must consist of lower-case letters, digits or '-', \
     and start and end with a letter or digit (DNS-1123 label)";

fn is_label(part: &[u8]) -> bool {
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (part.first(), part.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && part.iter().all(|c| alnum(c) || *c == b'-')
        }
        _ => false,
    }
}

/// Whether `s` is a DNS-1123 subdomain (see the module docs), at most 253 characters.
pub fn is_subdomain(s: &str) -> bool {
    s.len() <= MAX_NAME && s.split('.').all(|part| is_label(part.as_bytes()))
}

fn check(
    what: &'static str,
    value: &str,
    max: usize,
    rule: &'static str,
    ok: fn(&str) -> bool,
) -> Result<(), NameError> {
    if value.is_empty() {
        return Err(NameError::Empty { what });
    }
    if value.len() > max {
        return Err(NameError::TooLong {
            what,
            value: value.to_string(),
            len: value.len(),
            max,
        });
    }
    if ok(value) {
        Ok(())
    } else {
        Err(NameError::Invalid {
            what,
            value: value.to_string(),
            rule,
        })
    }
}

/// Checks an object name: a DNS-1123 subdomain of at most [`MAX_NAME`] characters.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    check("name", name, MAX_NAME, SUBDOMAIN_RULE, is_subdomain)
}

/// Checks a namespace: a DNS-1123 label of at most [`MAX_NAMESPACE`] characters.
pub fn validate_namespace(namespace: &str) -> Result<(), NameError> {
    check("namespace", namespace, MAX_NAMESPACE, LABEL_RULE, |s| {
        is_label(s.as_bytes())
    })
}

/// One invalid field of an object's metadata: its path and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("field `{path}`: {message}")]
pub struct MetadataError {
    /// Path of the field (`metadata.name`, `metadata.labels.<key>`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Checks the name (when set), the namespace (when set and not empty) and every label of
/// `meta`. An unset name is not an error here: the store refuses it, or makes one from
/// `generateName`.
pub fn validate_metadata(meta: &crate::ObjectMeta) -> Result<(), MetadataError> {
    let err = |path: String, message: String| MetadataError { path, message };
    if let Some(name) = meta.name.as_deref() {
        validate_name(name).map_err(|e| err("metadata.name".into(), e.to_string()))?;
    }
    if let Some(ns) = meta.namespace.as_deref().filter(|n| !n.is_empty()) {
        validate_namespace(ns).map_err(|e| err("metadata.namespace".into(), e.to_string()))?;
    }
    for (key, value) in meta.labels.iter().flatten() {
        let path = || format!("metadata.labels.{key:?}");
        crate::selector::validate_label_key(key).map_err(|e| err(path(), e))?;
        crate::selector::validate_label_value(value)
            .map_err(|e| err(path(), format!("label {key:?}: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ObjectMeta;

    #[test]
    fn good_names() {
        for good in [
            "a",
            "wk01",
            "bmc-wk01-auth",
            "node.example.com",
            "0start",
            "a-b.c-d",
            &"x".repeat(253),
            &format!("{}.{}", "a".repeat(63), "b".repeat(189)),
        ] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn bad_names_say_why_and_print_escaped() {
        for (bad, needle) in [
            (
                "wk01\nchain http://evil/x",
                r#""wk01\nchain http://evil/x""#,
            ),
            ("red\u{1b}[31m", r#""red\u{1b}[31m""#),
            ("Wk01", r#""Wk01""#),
            ("-a", "start and end"),
            ("a-", "start and end"),
            ("a..b", "dot-separated"),
            (".a", "dot-separated"),
            ("a_b", "DNS-1123 subdomain"),
            ("a/b", "DNS-1123 subdomain"),
            ("a b", "DNS-1123 subdomain"),
            ("é", "DNS-1123 subdomain"),
        ] {
            let e = validate_name(bad).expect_err(bad);
            let text = e.to_string();
            assert!(text.contains(needle), "{bad:?}: {text}");
            assert!(!text.contains('\n') && !text.contains('\u{1b}'), "{text}");
        }
        let long = "a".repeat(254);
        assert!(matches!(
            validate_name(&long),
            Err(NameError::TooLong {
                len: 254,
                max: 253,
                ..
            })
        ));
        assert_eq!(validate_name(""), Err(NameError::Empty { what: "name" }));
    }

    #[test]
    fn namespaces_are_labels() {
        for good in ["default", "eksa-system", "a", &"n".repeat(63)] {
            assert_eq!(validate_namespace(good), Ok(()), "{good}");
        }
        for bad in ["a.b", "Default", "x\n", "-a", "a-", "\u{1b}"] {
            assert!(
                matches!(validate_namespace(bad), Err(NameError::Invalid { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            validate_namespace(&"n".repeat(64)),
            Err(NameError::TooLong { max: 63, .. })
        ));
    }

    #[test]
    fn metadata_names_the_field() {
        let mut meta = ObjectMeta::named("default", "ok");
        assert_eq!(validate_metadata(&meta), Ok(()));
        meta.namespace = Some(String::new());
        assert_eq!(
            validate_metadata(&meta),
            Ok(()),
            "empty namespace: the default"
        );
        meta.namespace = Some("a.b".into());
        assert_eq!(
            validate_metadata(&meta).expect_err("invalid").path,
            "metadata.namespace"
        );
        meta.namespace = None;
        meta.labels = Some([("app".to_string(), "x\ny".to_string())].into());
        let e = validate_metadata(&meta).expect_err("invalid");
        assert_eq!(e.path, r#"metadata.labels."app""#);
        assert!(!e.to_string().contains('\n'), "{e}");
        meta.labels = Some([("bad key".to_string(), "v".to_string())].into());
        assert!(validate_metadata(&meta).is_err());
        meta.labels = None;
        meta.name = Some("x\ny".into());
        assert_eq!(
            validate_metadata(&meta).expect_err("invalid").path,
            "metadata.name"
        );
    }
}
