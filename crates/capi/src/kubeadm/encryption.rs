//! etcd encryption through KMS plugins: the API server's `EncryptionConfiguration`, its
//! arguments and the host paths it needs.

use ironbell_model::anywhere::EtcdEncryption;
use serde_json::{Value, json};

use crate::api::StringMap;
use crate::api::kubeadm::{File, HostPathMount};

/// Where the encryption configuration is written on the host (and mounted from).
pub const ENCRYPTION_CONFIG_HOST_PATH: &str = "/var/lib/kubeadm/encryption-config.yaml";

/// Where the API server reads the encryption configuration.
pub const ENCRYPTION_CONFIG_PATH: &str = "/etc/kubernetes/enc/encryption-config.yaml";

/// Where KMS plugins put their sockets.
const KMS_PLUGIN_DIR: &str = "/var/run/kmsplugin/";

/// The `EncryptionConfiguration` of a cluster's `etcdEncryption`: per entry its resources,
/// encrypted by the KMS providers in order, then readable unencrypted (`identity`, reads of
/// data written before encryption). Timeouts are printed as Go prints a `time.Duration`.
pub fn encryption_configuration(encryption: &[EtcdEncryption]) -> String {
    let resources: Vec<Value> = encryption
        .iter()
        .map(|e| {
            let mut providers: Vec<Value> = e
                .providers
                .iter()
                .map(|p| {
                    let mut kms = json!({
                        "apiVersion": "v1",
                        "name": p.kms.name,
                        "endpoint": p.kms.socket_listen_address,
                    });
                    if let Some(size) = p.kms.cache_size {
                        kms["cachesize"] = size.into();
                    }
                    kms["timeout"] = go_duration(p.kms.timeout.as_deref().unwrap_or("0s")).into();
                    json!({ "kms": kms })
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

/// Go's `time.Duration` text of a duration written as `<n>s`, `<n>m` or `<n>h` (`90s` →
/// `1m30s`); anything else is kept as written.
fn go_duration(text: &str) -> String {
    let seconds = text
        .strip_suffix('s')
        .and_then(|n| n.parse::<u64>().ok())
        .or_else(|| {
            text.strip_suffix('m')
                .and_then(|n| n.parse::<u64>().ok())
                .map(|m| m * 60)
        })
        .or_else(|| {
            text.strip_suffix('h')
                .and_then(|n| n.parse::<u64>().ok())
                .map(|h| h * 3600)
        });
    match seconds {
        Some(0) => "0s".into(),
        Some(t) => {
            let (h, m, s) = (t / 3600, t % 3600 / 60, t % 60);
            match (h, m) {
                (0, 0) => format!("{s}s"),
                (0, _) => format!("{m}m{s}s"),
                _ => format!("{h}h{m}m{s}s"),
            }
        }
        None => text.to_string(),
    }
}

/// The file holding [`encryption_configuration`] at `path` on the host.
pub fn encryption_file(path: &str, encryption: &[EtcdEncryption]) -> File {
    File::root(path, encryption_configuration(encryption))
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

/// The API server volumes for the configuration (at `host_path` on the host) and the
/// plugins' sockets.
pub fn encryption_volumes(host_path: &str, read_only: bool) -> Vec<HostPathMount> {
    vec![
        HostPathMount {
            host_path: host_path.into(),
            mount_path: ENCRYPTION_CONFIG_PATH.into(),
            name: "encryption-config".into(),
            path_type: Some("File".into()),
            read_only,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("3s"), "3s");
        assert_eq!(go_duration("90s"), "1m30s");
        assert_eq!(go_duration("2m"), "2m0s");
        assert_eq!(go_duration("1h"), "1h0m0s");
        assert_eq!(go_duration("1.5s"), "1.5s");
    }
}
