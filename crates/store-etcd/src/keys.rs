//! Where objects live in etcd's flat key space (see the crate docs for the layout).

use ironbell_model::TypeKey;
use ironbell_store::{Result, StoreError};

/// The segment under a plane's prefix that holds objects; other segments (leader leases,
/// DHCP shares) can sit beside it later without a migration.
const OBJECTS: &str = "objects";

/// A normalised key prefix: starts with `/`, never ends with one (`/ironbell`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Prefix(String);

impl Prefix {
    /// Normalises `prefix`: adds a leading `/`, drops trailing ones. Refuses an empty
    /// prefix (the plane would own the whole key space), segments that are empty, `.` or
    /// `..`, and control characters.
    pub(crate) fn new(prefix: &str) -> Result<Self, String> {
        let trimmed = prefix.trim_matches('/');
        if trimmed.is_empty() {
            return Err("the key prefix is empty: give one such as /ironbell".into());
        }
        if let Some(c) = trimmed.chars().find(|c| c.is_control()) {
            return Err(format!(
                "the key prefix contains the control character {c:?}"
            ));
        }
        if let Some(seg) = trimmed
            .split('/')
            .find(|s| s.is_empty() || *s == "." || *s == "..")
        {
            return Err(format!(
                "the key prefix {prefix:?} has an empty or relative segment {seg:?}"
            ));
        }
        Ok(Self(format!("/{trimmed}")))
    }

    /// The prefix as given to etcd.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The key prefix of every object of one kind, ending with `/`.
    pub(crate) fn kind(&self, types: &TypeKey) -> Result<String> {
        check_type(types)?;
        Ok(format!(
            "{}/{OBJECTS}/{}/{}/",
            self.0, types.api_version, types.kind
        ))
    }

    /// The key prefix of one kind in one namespace, ending with `/`.
    pub(crate) fn namespace(&self, types: &TypeKey, namespace: &str) -> Result<String> {
        Ok(format!("{}{namespace}/", self.kind(types)?))
    }

    /// The key of one object.
    pub(crate) fn object(&self, types: &TypeKey, namespace: &str, name: &str) -> Result<String> {
        Ok(format!("{}{namespace}/{name}", self.kind(types)?))
    }
}

/// The end of the range of keys starting with `prefix` (which ends with `/`): the same
/// bytes with the last one incremented.
pub(crate) fn range_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

/// `(namespace, name)` of an object key under `kind_prefix`.
pub(crate) fn split_key<'a>(kind_prefix: &str, key: &'a [u8]) -> Option<(&'a str, &'a str)> {
    let rest = key.strip_prefix(kind_prefix.as_bytes())?;
    std::str::from_utf8(rest).ok()?.split_once('/')
}

/// Refuses a kind whose key could be confused with another's: the layout relies on
/// `apiVersion` being `version` or `group/version` with a lowercase version, and the kind
/// starting with an uppercase letter, neither containing `/` beyond that.
fn check_type(types: &TypeKey) -> Result<()> {
    let (group, version) = match types.api_version.split_once('/') {
        Some((g, v)) => (Some(g), v),
        None => (None, types.api_version.as_str()),
    };
    let segment_ok = |s: &str| {
        !s.is_empty()
            && !s.contains('/')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
    };
    let ok = group.is_none_or(segment_ok)
        && segment_ok(version)
        && !version.chars().any(|c| c.is_ascii_uppercase())
        && segment_ok(&types.kind)
        && types.kind.starts_with(|c: char| c.is_ascii_uppercase());
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            kind: types.kind.clone(),
            namespace: String::new(),
            name: String::new(),
            message: format!(
                "apiVersion {:?} and kind {:?} cannot be stored in etcd: an apiVersion is \
                 `version` or `group/version` (lowercase version) and a kind starts with an \
                 uppercase letter",
                types.api_version, types.kind
            ),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let p = Prefix::new("ironbell/").unwrap();
        let hw = TypeKey::new("tinkerbell.org/v1alpha1", "Hardware");
        assert_eq!(
            p.object(&hw, "default", "wk01").unwrap(),
            "/ironbell/objects/tinkerbell.org/v1alpha1/Hardware/default/wk01"
        );
        let secret = TypeKey::new("v1", "Secret");
        assert_eq!(
            p.namespace(&secret, "eksa-system").unwrap(),
            "/ironbell/objects/v1/Secret/eksa-system/"
        );
        let kind = p.kind(&secret).unwrap();
        assert_eq!(range_end(&kind), b"/ironbell/objects/v1/Secret0".to_vec());
        assert_eq!(
            split_key(&kind, b"/ironbell/objects/v1/Secret/ns/a.b"),
            Some(("ns", "a.b"))
        );
    }

    #[test]
    fn prefixes() {
        assert_eq!(Prefix::new("/a/b//").unwrap().as_str(), "/a/b");
        for bad in ["", "/", "a//b", "a/../b", "a\nb"] {
            assert!(Prefix::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ambiguous_kinds_are_refused() {
        let p = Prefix::new("/x").unwrap();
        for (api, kind) in [
            ("v1/Secret", "X"),
            ("a/b/c", "X"),
            ("v1", "secret"),
            ("v1", "A/B"),
            ("", "X"),
        ] {
            assert!(p.kind(&TypeKey::new(api, kind)).is_err(), "{api} {kind}");
        }
    }
}
