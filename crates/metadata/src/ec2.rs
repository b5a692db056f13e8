//! The EC2 instance metadata tree served under `/2009-04-04/` and `/latest/`.
//!
//! ```text
//! meta-data/
//!     facility  hostname  instance-id  iqn  local-hostname  local-ipv4  plan
//!     public-ipv4  public-ipv6  tags
//!     operating-system/
//!         distro  image_tag  slug  version
//!         license_activation/
//!             state
//!     public-keys/
//!         0/
//!             openssh-key
//! user-data
//! ```
//!
//! A directory answers its children, one per line, sorted, sub-directories with a trailing
//! `/` and no final newline, as Hegel and EC2 do; `public-keys/` answers `0=<name>` lines,
//! the form cloud-init's crawler turns into `public-keys/0/openssh-key` requests. Every
//! path answers the same with or without a trailing slash. Listings are per machine: a
//! child that is missing for this machine is not listed (a crawler fetches every listed
//! child and gives up on the whole tree at the first error), and a directory with no
//! children left answers 404, except `meta-data/` itself.
//!
//! Start at [`resolve`], then [`render`].

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::machine::{Field, Machine};

/// A path of the tree, independent of any machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    /// The version's root (`/2009-04-04`).
    Root,
    /// `meta-data/`.
    MetaData,
    /// `meta-data/operating-system/`.
    OperatingSystem,
    /// `meta-data/operating-system/license_activation/`.
    LicenseActivation,
    /// A leaf of `meta-data/`.
    Leaf(Field),
    /// `user-data`.
    UserData,
    /// `meta-data/public-keys/`.
    PublicKeys,
    /// `meta-data/public-keys/N/`.
    PublicKey(usize),
    /// `meta-data/public-keys/N/openssh-key`.
    OpensshKey(usize),
}

impl Node {
    /// The endpoint label of the node in metrics: a fixed set, whatever the path.
    pub fn endpoint(self) -> &'static str {
        match self {
            Node::Root => "root",
            Node::MetaData => "meta-data",
            Node::OperatingSystem => "meta-data/operating-system",
            Node::LicenseActivation => "meta-data/operating-system/license_activation",
            Node::Leaf(f) => f.path(),
            Node::UserData => "user-data",
            Node::PublicKeys | Node::PublicKey(_) | Node::OpensshKey(_) => "meta-data/public-keys",
        }
    }
}

/// The node of `rest`, the part of the request path after the version (`""`, `"/"`,
/// `"/meta-data/hostname"`, `"/meta-data/"`...). `None` for a path that is not in the
/// tree.
pub fn resolve(rest: &str) -> Option<Node> {
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    if rest == "/" {
        return None;
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Some(Node::Root);
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let node = match segments.as_slice() {
        ["user-data"] => Node::UserData,
        ["meta-data"] => Node::MetaData,
        ["meta-data", "operating-system"] => Node::OperatingSystem,
        ["meta-data", "operating-system", "license_activation"] => Node::LicenseActivation,
        [
            "meta-data",
            "operating-system",
            "license_activation",
            "state",
        ] => Node::Leaf(Field::LicenseActivationState),
        ["meta-data", "operating-system", leaf] => Node::Leaf(
            Field::OPERATING_SYSTEM
                .into_iter()
                .find(|f| f.name() == *leaf)?,
        ),
        ["meta-data", "public-keys"] => Node::PublicKeys,
        ["meta-data", "public-keys", index] => Node::PublicKey(parse_index(index)?),
        ["meta-data", "public-keys", index, "openssh-key"] => Node::OpensshKey(parse_index(index)?),
        ["meta-data", leaf] => {
            Node::Leaf(Field::META_DATA.into_iter().find(|f| f.name() == *leaf)?)
        }
        _ => return None,
    };
    Some(node)
}

/// A key index: decimal digits only, as EC2 writes them.
fn parse_index(text: &str) -> Option<usize> {
    if text.is_empty() || text.len() > 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The body of `node` for `machine`, `None` when the machine has nothing there (404).
pub fn render<'m>(node: Node, machine: &'m Machine) -> Option<Cow<'m, str>> {
    match node {
        Node::Root => {
            let mut children = vec!["meta-data/"];
            if machine.user_data().is_some() {
                children.push("user-data");
            }
            Some(Cow::Owned(children.join("\n")))
        }
        Node::MetaData => {
            let mut children: BTreeSet<&str> = Field::META_DATA
                .into_iter()
                .filter(|f| machine.field(*f).is_some())
                .map(Field::name)
                .collect();
            if render(Node::OperatingSystem, machine).is_some() {
                children.insert("operating-system/");
            }
            if !machine.public_keys().is_empty() {
                children.insert("public-keys/");
            }
            Some(Cow::Owned(join(children)))
        }
        Node::OperatingSystem => {
            let mut children: BTreeSet<&str> = Field::OPERATING_SYSTEM
                .into_iter()
                .filter(|f| machine.field(*f).is_some())
                .map(Field::name)
                .collect();
            if machine.field(Field::LicenseActivationState).is_some() {
                children.insert("license_activation/");
            }
            (!children.is_empty()).then(|| Cow::Owned(join(children)))
        }
        Node::LicenseActivation => machine
            .field(Field::LicenseActivationState)
            .map(|_| Cow::Borrowed(Field::LicenseActivationState.name())),
        Node::Leaf(field) => machine.field(field),
        Node::UserData => machine.user_data().map(Cow::Borrowed),
        Node::PublicKeys => {
            let keys = machine.public_keys();
            if keys.is_empty() {
                return None;
            }
            let lines: Vec<String> = key_names(&keys)
                .iter()
                .enumerate()
                .map(|(i, name)| format!("{i}={name}"))
                .collect();
            Some(Cow::Owned(lines.join("\n")))
        }
        Node::PublicKey(i) => {
            (i < machine.public_keys().len()).then_some(Cow::Borrowed("openssh-key"))
        }
        Node::OpensshKey(i) => machine.public_keys().get(i).map(|k| Cow::Borrowed(*k)),
    }
}

fn join<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items.into_iter().collect::<Vec<_>>().join("\n")
}

/// The names listed in `public-keys/`: each key's comment (its third field, characters
/// other than letters, digits and `._@-` replaced by `-`), or `key-N` when it has none;
/// made unique, since a crawler files keys by name.
pub fn key_names(keys: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        let comment: String = key
            .split_whitespace()
            .nth(2)
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._@-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let mut name = if comment.is_empty() {
            format!("key-{i}")
        } else {
            comment
        };
        while names.contains(&name) {
            name = format!("{name}-{i}");
        }
        names.push(name);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(resolve(""), Some(Node::Root));
        assert_eq!(resolve("/"), Some(Node::Root));
        assert_eq!(resolve("/meta-data"), Some(Node::MetaData));
        assert_eq!(resolve("/meta-data/"), Some(Node::MetaData));
        assert_eq!(
            resolve("/meta-data/hostname/"),
            Some(Node::Leaf(Field::Hostname))
        );
        assert_eq!(
            resolve("/meta-data/operating-system/license_activation/state"),
            Some(Node::Leaf(Field::LicenseActivationState))
        );
        assert_eq!(
            resolve("/meta-data/operating-system/image_tag"),
            Some(Node::Leaf(Field::OsImageTag))
        );
        assert_eq!(
            resolve("/meta-data/public-keys/12/openssh-key"),
            Some(Node::OpensshKey(12))
        );
        assert_eq!(
            resolve("/meta-data/public-keys/0"),
            Some(Node::PublicKey(0))
        );
        for bad in [
            "/meta-data//hostname",
            "//",
            "/meta-data/hostname/x",
            "/meta-data/slug",
            "/meta-data/operating-system/hostname",
            "/meta-data/public-keys/-1",
            "/meta-data/public-keys/+1",
            "/meta-data/public-keys/9999999",
            "/meta-data/public-keys/0/other",
            "/user-data/x",
            "/api/token",
            "/dynamic",
        ] {
            assert_eq!(resolve(bad), None, "{bad}");
        }
    }

    #[test]
    fn key_naming() {
        assert_eq!(
            key_names(&[
                "ssh-ed25519 AAAA user@host",
                "ssh-rsa BBBB",
                "ssh-rsa CCCC user@host",
                "ssh-rsa DDDD a/b=c d"
            ]),
            ["user@host", "key-1", "user@host-2", "a-b-c"]
        );
    }
}
