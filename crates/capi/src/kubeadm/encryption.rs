//! etcd encryption through KMS plugins: the API server's `EncryptionConfiguration`, its
//! arguments and the host paths it needs.

use ironbell_model::anywhere::EtcdEncryption;
use serde_json::json;

use crate::api::StringMap;
use crate::api::kubeadm::{File, HostPathMount};

/// Where the encryption configuration is written on a control-plane machine.
pub const ENCRYPTION_CONFIG_PATH: &str = "/etc/kubernetes/enc/encryption-config.yaml";

/// Where KMS plugins put their sockets.
const KMS_PLUGIN_DIR: &str = "/var/run/kmsplugin/";

/// The `EncryptionConfiguration` of a cluster's `etcdEncryption`: per entry its resources,
/// encrypted by the KMS providers in order, then readable unencrypted (`identity`).
pub fn encryption_configuration(encryption: &[EtcdEncryption]) -> String {
    let resources: Vec<_> = encryption
        .iter()
        .map(|e| {
            let mut providers: Vec<_> = e
                .providers
                .iter()
                .map(|p| {
                    json!({"kms": {
                        "apiVersion": "v1",
                        "cachesize": p.kms.cache_size,
                        "endpoint": p.kms.socket_listen_address,
                        "name": p.kms.name,
                        "timeout": p.kms.timeout,
                    }})
                })
                .collect();
            providers.push(json!({"identity": {}}));
            json!({"providers": providers, "resources": e.resources})
        })
        .collect();
    super::to_yaml_text(&json!({
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": resources,
    }))
}

/// The file holding [`encryption_configuration`].
pub fn encryption_file(encryption: &[EtcdEncryption]) -> File {
    File::root(ENCRYPTION_CONFIG_PATH, encryption_configuration(encryption))
}

/// The API server argument that turns encryption on.
pub fn encryption_args() -> StringMap {
    [(
        "encryption-provider-config".to_string(),
        ENCRYPTION_CONFIG_PATH.to_string(),
    )]
    .into_iter()
    .collect()
}

/// The API server volumes for the configuration and the plugins' sockets.
pub fn encryption_volumes() -> Vec<HostPathMount> {
    vec![
        HostPathMount {
            host_path: ENCRYPTION_CONFIG_PATH.into(),
            mount_path: ENCRYPTION_CONFIG_PATH.into(),
            name: "encryption-config".into(),
            path_type: Some("File".into()),
            read_only: false,
        },
        HostPathMount {
            host_path: KMS_PLUGIN_DIR.into(),
            mount_path: KMS_PLUGIN_DIR.into(),
            name: "kms-plugin".into(),
            path_type: None,
            read_only: false,
        },
    ]
}
