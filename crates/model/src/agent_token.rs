//! The agent token of a Workflow: where it is kept and how it is read.
//!
//! The workflow controller generates one random token per Workflow (in `token` agent-auth
//! mode) and keeps it in a `v1` [`Secret`] named [`secret_name`]`(workflow)`, of type
//! [`SECRET_TYPE`], owned by the Workflow, holding the token ([`TOKEN_KEY`]) and the agent
//! (worker) id it is for ([`AGENT_KEY`]). A Secret, so that `ironbell get workflow -o yaml`
//! never shows it and `ironbell get secret` redacts it like a BMC password. The boot service
//! puts the token on the kernel command line of that machine's HookOS
//! (`ironbell_token=`), and the workflow service compares it with what the agent sends.
//!
//! This module only names and converts; it generates nothing and does no I/O.

use std::collections::BTreeMap;

use crate::corev1::{Bytes, Secret};
use crate::{ObjectMeta, OwnerReference};

/// The Secret `type` of an agent token.
pub const SECRET_TYPE: &str = "ironbell.dev/agent-token";
/// The data key holding the token.
pub const TOKEN_KEY: &str = "token";
/// The data key holding the agent (worker) id the token is for.
pub const AGENT_KEY: &str = "agent";
/// The data key holding the Workflow's name.
pub const WORKFLOW_KEY: &str = "workflow";
/// The kernel command-line parameter (and, upper-cased, the environment variable) that
/// hands the token to the agent.
pub const KERNEL_PARAM: &str = "ironbell_token";

/// The name of the token Secret of Workflow `workflow`.
pub fn secret_name(workflow: &str) -> String {
    format!("{workflow}-agent-token")
}

/// An agent token read from its Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentToken {
    /// Namespace of the Workflow (and the Secret).
    pub namespace: String,
    /// Name of the Workflow.
    pub workflow: String,
    /// The agent (worker) id the Workflow's tasks run on.
    pub agent: String,
    /// The token.
    pub token: String,
    /// The Secret's creation time (RFC 3339), to order several tokens of one agent.
    pub created: Option<crate::Timestamp>,
}

impl std::fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentToken")
            .field("namespace", &self.namespace)
            .field("workflow", &self.workflow)
            .field("agent", &self.agent)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl AgentToken {
    /// Reads an agent-token Secret; `None` for any other Secret or an incomplete one.
    pub fn from_secret(secret: &Secret) -> Option<Self> {
        if secret.type_.as_deref() != Some(SECRET_TYPE) {
            return None;
        }
        let data = secret.data.as_ref()?;
        let text = |key: &str| {
            data.get(key)
                .and_then(Bytes::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Some(Self {
            namespace: secret.metadata.namespace().to_string(),
            workflow: text(WORKFLOW_KEY)?,
            agent: text(AGENT_KEY)?,
            token: text(TOKEN_KEY)?,
            created: secret.metadata.creation_timestamp,
        })
    }

    /// The Secret holding this token, owned by the Workflow whose uid is `workflow_uid`.
    pub fn to_secret(&self, workflow_uid: &str) -> Secret {
        let mut meta = ObjectMeta::named(self.namespace.clone(), secret_name(&self.workflow));
        meta.owner_references = Some(vec![OwnerReference {
            api_version: "tinkerbell.org/v1alpha1".to_string(),
            kind: "Workflow".to_string(),
            name: self.workflow.clone(),
            uid: workflow_uid.to_string(),
            controller: Some(true),
            block_owner_deletion: None,
        }]);
        let data: BTreeMap<String, Bytes> = [
            (TOKEN_KEY, &self.token),
            (AGENT_KEY, &self.agent),
            (WORKFLOW_KEY, &self.workflow),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Bytes(v.as_bytes().to_vec())))
        .collect();
        Secret {
            metadata: meta,
            data: Some(data),
            type_: Some(SECRET_TYPE.to_string()),
            immutable: Some(true),
            ..Secret::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_hides_the_token() {
        let t = AgentToken {
            namespace: "default".into(),
            workflow: "wf1".into(),
            agent: "02:00:00:00:00:01".into(),
            token: "s3cret".into(),
            created: None,
        };
        let s = t.to_secret("uid-1");
        assert_eq!(s.metadata.name(), "wf1-agent-token");
        assert_eq!(AgentToken::from_secret(&s), Some(t.clone()));
        assert!(!format!("{t:?}").contains("s3cret"));
        let mut other = s.clone();
        other.type_ = Some("Opaque".into());
        assert_eq!(AgentToken::from_secret(&other), None);
    }
}
