//! Lists in pages: `limit` and `continue`, as kubectl's `--chunk-size` (500 by default)
//! and kube-rs's paged lists ask for them.
//!
//! A continue token says where the next page starts (the namespace and name of the last
//! object sent: the store lists in that order), which collection it belongs to, and the
//! `resourceVersion` of the first page, which every page of the list reports. Each page
//! reads the store as it is when asked, not as it was at the first page (the stores keep
//! no old states to read, only the change history): an object changed while paging shows
//! its new state on a later page, and a watch from the list's version replays every such
//! change, so a reflector (list, then watch from the list's version) ends up right.
//!
//! A token whose first version has been compacted away is expired, as in Kubernetes: 410
//! `Expired`, list again from the start. A token that does not read, or belongs to another
//! collection, gets the same answer: the client's remedy is the same.

use base64::Engine as _;
use ironbell_model::DynamicObject;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::status::ApiError;

/// The `metadata` of a list or of a `Table` of a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListMeta {
    /// The version the list reflects (the first page's).
    pub resource_version: Option<u64>,
    /// The token of the next page, when there is one.
    pub continue_token: Option<String>,
    /// How many objects the later pages hold, when there are some.
    pub remaining: Option<usize>,
}

impl ListMeta {
    /// As JSON.
    pub fn to_json(&self) -> Value {
        let mut meta = json!({});
        if let Some(rv) = self.resource_version {
            meta["resourceVersion"] = json!(rv.to_string());
        }
        if let Some(token) = &self.continue_token {
            meta["continue"] = json!(token);
        }
        if let Some(n) = self.remaining {
            meta["remainingItemCount"] = json!(n);
        }
        meta
    }
}

/// What a continue token holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continue {
    /// The first page's `resourceVersion`.
    #[serde(rename = "v")]
    pub version: u64,
    /// The collection: `apiVersion/plural/namespace`.
    #[serde(rename = "c")]
    pub collection: String,
    /// Namespace and name of the last object sent.
    #[serde(rename = "a")]
    pub after: (String, String),
}

/// The 410 of an expired or unreadable continue token (Kubernetes' reason and advice).
pub fn expired(why: &str) -> ApiError {
    ApiError::new(
        410,
        "Expired",
        format!(
            "the provided continue parameter is too old to display a consistent list result ({why}); start a new list without the continue parameter"
        ),
    )
}

impl Continue {
    /// The token's text (base64url of compact JSON).
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads `text` as a token of `collection`; 410 `Expired` when it does not.
    pub fn decode(text: &str, collection: &str) -> Result<Self, ApiError> {
        let token: Self = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| expired("it is not a continue token this server issued"))?;
        if token.collection != collection {
            return Err(expired("it belongs to another list"));
        }
        Ok(token)
    }
}

/// Collects one page from a list handed over object by object, in the store's order.
#[derive(Debug)]
pub struct Page {
    after: Option<(String, String)>,
    limit: Option<usize>,
    /// The objects of this page.
    pub items: Vec<DynamicObject>,
    /// Objects that match but come after this page.
    pub remaining: usize,
}

impl Page {
    /// A page of at most `limit` objects (all with `None`) after `token`'s position.
    pub fn new(limit: Option<usize>, token: Option<&Continue>) -> Self {
        Self {
            after: token.map(|t| t.after.clone()),
            limit: limit.filter(|&l| l > 0),
            items: Vec::new(),
            remaining: 0,
        }
    }

    /// Takes `obj` (that passed the list's filters) if it belongs to this page.
    pub fn offer(&mut self, obj: DynamicObject) {
        if let Some((ns, name)) = &self.after
            && (obj.namespace(), obj.name()) <= (ns.as_str(), name.as_str())
        {
            return;
        }
        if self.limit.is_some_and(|l| self.items.len() >= l) {
            self.remaining += 1;
        } else {
            self.items.push(obj);
        }
    }

    /// The list's metadata: the version (`token`'s when continuing) and the next token.
    pub fn meta(&self, version: u64, token: Option<&Continue>, collection: &str) -> ListMeta {
        let version = token.map_or(version, |t| t.version);
        let next = self
            .items
            .last()
            .filter(|_| self.remaining > 0)
            .map(|last| Continue {
                version,
                collection: collection.to_string(),
                after: (last.namespace().to_string(), last.name().to_string()),
            });
        ListMeta {
            resource_version: Some(version),
            continue_token: next.map(|t| t.encode()),
            remaining: (self.remaining > 0).then_some(self.remaining),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbell_model::{ObjectMeta, TypeKey};

    fn obj(name: &str) -> DynamicObject {
        DynamicObject::new(
            TypeKey::new("tinkerbell.org/v1alpha1", "Hardware"),
            ObjectMeta::named("default", name),
        )
    }

    #[test]
    fn pages_follow_each_other_without_gaps_or_repeats() {
        let all: Vec<String> = (0..20).map(|i| format!("hw{i:02}")).collect();
        let coll = "tinkerbell.org/v1alpha1/hardware/default";
        let mut token: Option<Continue> = None;
        let mut seen = Vec::new();
        for page_no in 0.. {
            assert!(page_no < 10, "too many pages");
            let mut page = Page::new(Some(7), token.as_ref());
            all.iter().for_each(|n| page.offer(obj(n)));
            let meta = page.meta(40 + page_no, token.as_ref(), coll);
            assert_eq!(meta.resource_version, Some(40), "the first page's version");
            seen.extend(page.items.iter().map(|o| o.name().to_string()));
            match meta.continue_token {
                Some(t) => token = Some(Continue::decode(&t, coll).expect("token")),
                None => break,
            }
        }
        assert_eq!(seen, all);
    }

    #[test]
    fn bad_tokens_are_expired() {
        let coll = "v1/secrets/default";
        for bad in ["", "garbage!", "eyJ4IjoxfQ"] {
            let e = Continue::decode(bad, coll).expect_err(bad);
            assert_eq!((e.code, e.reason), (410, "Expired"));
        }
        let other = Continue {
            version: 1,
            collection: "v1/secrets/kube-system".into(),
            after: ("kube-system".into(), "a".into()),
        };
        assert_eq!(
            Continue::decode(&other.encode(), coll)
                .err()
                .map(|e| e.code),
            Some(410)
        );
        assert!(Continue::decode(&other.encode(), "v1/secrets/kube-system").is_ok());
    }
}
