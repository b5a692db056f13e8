//! Lists in pages: `limit` and `continue`, as kubectl's `--chunk-size` (500 by default)
//! and kube-rs's paged lists ask for them.
//!
//! A continue token says where the next page starts (the namespace and name of the last
//! object sent: the store lists in that order), which collection it belongs to, and the
//! `resourceVersion` of the first page, which every page of the list reports. A page
//! that is not cut from a kept rest (below) reads the store as it is when asked, not as it
//! was at the first page (the stores keep no old states to read, only the change history):
//! an object changed while paging shows its new state on a later page, and a watch from the
//! list's version replays every such change, so a reflector (list, then watch from the
//! list's version) ends up right.
//!
//! A token whose first version has been compacted away is expired, as in Kubernetes: 410
//! `Expired`, list again from the start. A token that does not read, or belongs to another
//! collection, gets the same answer: the client's remedy is the same.
//!
//! **The rest of a list is kept** ([`PageCache`]): the first page reads the store once and
//! keeps the objects after it, so that the next pages are cut from them (as they were at the
//! first page, as Kubernetes' pages are) instead of each reading the whole collection
//! again (20 reads of 10,000 objects for kubectl's pages of 500). At most
//! [`CACHED_LISTS`] lists and [`CACHED_OBJECTS`] objects are kept, each for [`CACHE_TTL`];
//! a list larger than that, or a token whose rest has gone, reads the store as above.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// The kept rest of the list in this server's [`PageCache`], if any.
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<u64>,
}

/// Most lists whose rest is kept at once.
pub const CACHED_LISTS: usize = 8;
/// Most objects kept over all of them.
pub const CACHED_OBJECTS: usize = 50_000;
/// How long a list's rest is kept after its last page was read.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// The rests of lists being read in pages (see the module docs).
#[derive(Debug, Default)]
pub struct PageCache {
    lists: Mutex<VecDeque<Kept>>,
}

#[derive(Debug)]
struct Kept {
    id: u64,
    /// The collection and the request's selectors: a continuing request must ask the same.
    key: String,
    at: Instant,
    rest: Vec<DynamicObject>,
}

impl PageCache {
    /// The kept rest `id` of the list `key`, taken out.
    pub fn take(&self, id: u64, key: &str) -> Option<Vec<DynamicObject>> {
        let mut lists = self
            .lists
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let i = lists.iter().position(|k| k.id == id && k.key == key)?;
        lists
            .remove(i)
            .filter(|k| k.at.elapsed() < CACHE_TTL)
            .map(|k| k.rest)
    }

    /// Keeps `rest` of the list `key`; its id, or `None` when it does not fit.
    pub fn keep(&self, key: &str, rest: Vec<DynamicObject>) -> Option<u64> {
        if rest.is_empty() || rest.len() > CACHED_OBJECTS {
            return None;
        }
        let mut lists = self
            .lists
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lists.retain(|k| k.at.elapsed() < CACHE_TTL);
        let mut total: usize = lists.iter().map(|k| k.rest.len()).sum::<usize>() + rest.len();
        while lists.len() >= CACHED_LISTS || total > CACHED_OBJECTS {
            let Some(oldest) = lists.pop_front() else {
                break;
            };
            total -= oldest.rest.len();
        }
        let id = rand::random::<u64>();
        lists.push_back(Kept {
            id,
            key: key.to_string(),
            at: Instant::now(),
            rest,
        });
        Some(id)
    }
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
    /// Those objects, while there are at most [`CACHED_OBJECTS`].
    rest: Vec<DynamicObject>,
}

impl Page {
    /// A page of at most `limit` objects (all with `None`) after `token`'s position.
    pub fn new(limit: Option<usize>, token: Option<&Continue>) -> Self {
        Self {
            after: token.map(|t| t.after.clone()),
            limit: limit.filter(|&l| l > 0),
            items: Vec::new(),
            remaining: 0,
            rest: Vec::new(),
        }
    }

    /// The next page of a kept rest (already past the previous page).
    pub fn of_rest(limit: Option<usize>, mut rest: Vec<DynamicObject>) -> Self {
        let limit = limit.filter(|&l| l > 0);
        let cut = limit.unwrap_or(rest.len()).min(rest.len());
        let later = rest.split_off(cut);
        Self {
            after: None,
            limit,
            items: rest,
            remaining: later.len(),
            rest: later,
        }
    }

    /// The objects after this page, when all of them were kept.
    pub fn take_rest(&mut self) -> Option<Vec<DynamicObject>> {
        (self.remaining > 0 && self.rest.len() == self.remaining)
            .then(|| std::mem::take(&mut self.rest))
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
            if self.remaining <= CACHED_OBJECTS {
                self.rest.push(obj);
            } else if !self.rest.is_empty() {
                self.rest = Vec::new();
            }
        } else {
            self.items.push(obj);
        }
    }

    /// The list's metadata: the version (`token`'s when continuing) and the next token
    /// (naming the kept rest `kept`).
    pub fn meta(
        &self,
        version: u64,
        token: Option<&Continue>,
        collection: &str,
        kept: Option<u64>,
    ) -> ListMeta {
        let version = token.map_or(version, |t| t.version);
        let next = self
            .items
            .last()
            .filter(|_| self.remaining > 0)
            .map(|last| Continue {
                version,
                collection: collection.to_string(),
                after: (last.namespace().to_string(), last.name().to_string()),
                kept,
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
            let meta = page.meta(40 + page_no, token.as_ref(), coll, None);
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
    fn kept_rests_give_the_same_pages() {
        let cache = PageCache::default();
        let all: Vec<String> = (0..20).map(|i| format!("hw{i:02}")).collect();
        let mut page = Page::new(Some(7), None);
        all.iter().for_each(|n| page.offer(obj(n)));
        let mut seen: Vec<String> = page.items.iter().map(|o| o.name().to_string()).collect();
        let mut id = cache.keep("k", page.take_rest().expect("all kept"));
        while let Some(kept) = id {
            assert!(cache.take(kept, "other").is_none(), "another list's");
            let rest = cache.take(kept, "k").expect("kept");
            let mut page = Page::of_rest(Some(7), rest);
            seen.extend(page.items.iter().map(|o| o.name().to_string()));
            id = page.take_rest().and_then(|r| cache.keep("k", r));
        }
        assert_eq!(seen, all);
        assert!(cache.take(0, "k").is_none());
        for i in 0..CACHED_LISTS + 2 {
            cache.keep(&format!("l{i}"), vec![obj("x")]);
        }
        let kept = cache.lists.lock().map(|l| l.len()).unwrap_or_default();
        assert_eq!(kept, CACHED_LISTS);
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
            kept: None,
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
