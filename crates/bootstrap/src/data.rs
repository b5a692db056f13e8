//! The bootstrap data Secret: where Cluster API's kubeadm bootstrap provider stores a
//! machine's user-data (`storeBootstrapData`), and where the infrastructure provider reads
//! it (`Machine.spec.bootstrap.dataSecretName`). Named after the `KubeadmConfig`, in its
//! namespace, of type `cluster.x-k8s.io/secret`, labelled with the cluster's name, owned by
//! the `KubeadmConfig` (as its controller), with the user-data in `value` and its format
//! (`cloud-config`, `bottlerocket`, or here also `plain`'s `cloud-config`) in `format`.

use ironbell_capi::api::BOOTSTRAP_API_VERSION;
use ironbell_model::OwnerReference;
use ironbell_model::corev1::Secret;

use crate::certs::{CLUSTER_NAME_LABEL, CLUSTER_SECRET_TYPE};

/// The key of the user-data in a bootstrap data Secret.
pub const VALUE_KEY: &str = "value";
/// The key of the user-data's format in a bootstrap data Secret.
pub const FORMAT_KEY: &str = "format";

/// The `KubeadmConfig` a bootstrap data Secret belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigRef<'a> {
    /// Its namespace.
    pub namespace: &'a str,
    /// Its name (the Secret's too).
    pub name: &'a str,
    /// Its `metadata.uid`.
    pub uid: &'a str,
    /// The cluster it is for.
    pub cluster: &'a str,
}

/// The Secret holding `user_data` (of `format`; empty means `cloud-config`) for `config`.
pub fn data_secret(config: ConfigRef<'_>, format: &str, user_data: &str) -> Secret {
    let format = if format.is_empty() {
        "cloud-config"
    } else {
        format
    };
    let mut s = Secret::new(config.namespace, config.name);
    s.metadata.labels = Some(
        [(CLUSTER_NAME_LABEL.to_string(), config.cluster.to_string())]
            .into_iter()
            .collect(),
    );
    s.metadata.owner_references = Some(vec![OwnerReference {
        api_version: BOOTSTRAP_API_VERSION.to_string(),
        kind: "KubeadmConfig".to_string(),
        name: config.name.to_string(),
        uid: config.uid.to_string(),
        controller: Some(true),
        block_owner_deletion: None,
    }]);
    s.type_ = Some(CLUSTER_SECRET_TYPE.to_string());
    s.insert(VALUE_KEY, user_data);
    s.insert(FORMAT_KEY, format);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_secret_has_capis_shape() {
        let config = ConfigRef {
            namespace: "eksa-system",
            name: "test-md-0-abcde",
            uid: "u-1",
            cluster: "test",
        };
        let s = data_secret(config, "", "#cloud-config\n");
        assert_eq!(s.metadata.name(), "test-md-0-abcde");
        assert_eq!(s.metadata.namespace(), "eksa-system");
        assert_eq!(s.type_.as_deref(), Some("cluster.x-k8s.io/secret"));
        assert_eq!(
            s.metadata.label("cluster.x-k8s.io/cluster-name"),
            Some("test")
        );
        assert_eq!(s.get_str("value"), Some("#cloud-config\n"));
        assert_eq!(s.get_str("format"), Some("cloud-config"));
        let owner = &s.metadata.owner_references.as_ref().expect("owner")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("KubeadmConfig", "u-1", Some(true))
        );
        let s = data_secret(config, "bottlerocket", "[settings]\n");
        assert_eq!(s.get_str("format"), Some("bottlerocket"));
    }
}
