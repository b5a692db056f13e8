//! The agent tokens the iPXE script hands to HookOS (`ironbell_token=`), by agent id, kept
//! current from the store's token Secrets ([`ironbell_model::agent_token`]; the workflow
//! controller creates one per running Workflow in `--agent-auth token` mode and deletes it
//! when the Workflow finishes).
//!
//! When an agent has several running Workflows, the oldest token is handed out: the
//! workflow service works through an agent's Workflows oldest first too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use ironbell_model::agent_token::AgentToken;
use ironbell_model::corev1::Secret;
use ironbell_store::SharedStore;
use ironbell_store::reflector::Reflector;

/// Whether a stored Secret is an agent-token Secret (its `type`), read without converting it.
fn is_token(obj: &ironbell_model::DynamicObject) -> bool {
    obj.field_value("type")
        .is_some_and(|t| t.as_str() == Some(ironbell_model::agent_token::SECRET_TYPE))
}

/// Agent id (lower case) → the token to hand out.
#[derive(Debug, Default)]
pub struct AgentTokens {
    tokens: RwLock<Arc<HashMap<String, String>>>,
    reflector: Mutex<Option<Reflector<Secret>>>,
}

impl AgentTokens {
    /// A fixed set of tokens (for tests and tools).
    pub fn fixed(tokens: impl IntoIterator<Item = AgentToken>) -> Arc<Self> {
        let this = Arc::new(Self::default());
        this.publish(tokens);
        this
    }

    /// Starts following the token Secrets of `store`; returns at once. Must be called
    /// inside a Tokio runtime; the watch stops when the last `Arc` drops.
    pub fn start(store: SharedStore) -> Arc<Self> {
        let this = Arc::new(Self::default());
        let weak = Arc::downgrade(&this);
        // Only token Secrets are held: the store also holds a credentials Secret per BMC,
        // which this service must neither keep in memory nor pay for (100,000 of them).
        let reflector = Reflector::<Secret>::start_filtered(store, is_token, move |objects, _| {
            if let Some(this) = weak.upgrade() {
                this.publish(objects.values().filter_map(|s| AgentToken::from_secret(s)));
            }
        });
        *this
            .reflector
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(reflector);
        this
    }

    fn publish(&self, tokens: impl IntoIterator<Item = AgentToken>) {
        let mut oldest: HashMap<String, AgentToken> = HashMap::new();
        for t in tokens {
            let key = t.agent.to_ascii_lowercase();
            match oldest.get(&key) {
                Some(o) if (&o.created, &o.workflow) <= (&t.created, &t.workflow) => {}
                _ => {
                    oldest.insert(key, t);
                }
            }
        }
        let map = oldest.into_iter().map(|(k, t)| (k, t.token)).collect();
        *self.tokens.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(map);
    }

    /// The token for agent `agent` (compared case-insensitively), if it has one.
    pub fn token_for(&self, agent: &str) -> Option<String> {
        let map = self
            .tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        map.get(&agent.to_ascii_lowercase()).cloned()
    }
}
