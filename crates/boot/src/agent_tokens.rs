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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use ironbell_model::DynamicObject;
    use ironbell_model::ObjectMeta;
    use ironbell_model::corev1::Bytes;

    use super::*;

    fn credentials(name: &str) -> DynamicObject {
        let secret = Secret {
            metadata: ObjectMeta::named("default", name),
            data: Some([("password".to_string(), Bytes(b"pw".to_vec()))].into()),
            ..Secret::default()
        };
        DynamicObject::from_typed(&secret).unwrap()
    }

    fn token(workflow: &str, agent: &str) -> DynamicObject {
        let t = AgentToken {
            namespace: "default".into(),
            workflow: workflow.into(),
            agent: agent.into(),
            token: format!("token-{workflow}"),
            created: None,
        };
        DynamicObject::from_typed(&t.to_secret("uid-1")).unwrap()
    }

    /// The reflector behind [`AgentTokens::start`] holds token Secrets only, however many
    /// credentials Secrets the store has, before and after its first list.
    #[tokio::test]
    async fn only_token_secrets_are_held() {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore =
            Arc::new(ironbell_store_sqlite::SqliteStore::open(dir.path().join("db")).unwrap());
        store.create(credentials("bmc-a")).await.unwrap();
        store
            .create(token("wf1", "02:00:00:00:00:01"))
            .await
            .unwrap();
        let (tx, mut rx) = tokio::sync::watch::channel(Vec::new());
        let _reflector =
            Reflector::<Secret>::start_filtered(store.clone(), is_token, move |o, _| {
                tx.send_replace(o.keys().map(|(_, name)| name.clone()).collect());
            });
        let wait = |want: Vec<&'static str>| {
            let mut rx = rx.clone();
            async move {
                tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|n| *n == want))
                    .await
                    .map(|_| ())
            }
        };
        wait(vec!["wf1-agent-token"]).await.unwrap();
        store.create(credentials("bmc-b")).await.unwrap();
        store
            .create(token("wf2", "02:00:00:00:00:02"))
            .await
            .unwrap();
        wait(vec!["wf1-agent-token", "wf2-agent-token"])
            .await
            .unwrap();
        assert!(rx.borrow_and_update().iter().all(|n| !n.starts_with("bmc")));

        let tokens = AgentTokens::start(store);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokens.token_for("02:00:00:00:00:02").is_none() {
            assert!(tokio::time::Instant::now() < deadline, "no token");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            tokens.token_for("02:00:00:00:00:01").as_deref(),
            Some("token-wf1")
        );
    }
}
