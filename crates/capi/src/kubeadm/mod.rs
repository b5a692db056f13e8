//! Provider-neutral pieces of a kubeadm-based node configuration, as EKS Anywhere renders
//! them for every provider: the audit policy, registry mirror files for containerd, proxy
//! drop-ins, API server arguments (OIDC, AWS IAM authenticator, pod IAM), kubelet flags and
//! `KubeletConfiguration` patches, taints and labels, users, NTP, Bottlerocket settings, the
//! kube-vip static pod and the admission exclusion policy.
//!
//! Each function takes the spec fields it needs and returns typed values from
//! [`crate::api::kubeadm`]; the providers assemble them.

mod admission;
mod audit;
mod encryption;
mod mirror;
mod rollout;

use std::collections::BTreeMap;

use base64::Engine as _;
use ironbell_model::anywhere::{
    AWSIamConfig, ControlPlaneConfiguration, HostOsConfiguration, OIDCConfig, PodIamConfig,
    ResolvConf, Taint as SpecTaint, TaintEffect, UserConfiguration,
};
use serde_json::{Value, json};

use crate::api::kubeadm::{
    BottlerocketBoot, BottlerocketKernel, BottlerocketSettings, CertBundle, File, HostPathMount,
    Ntp, User,
};
use crate::api::{StringMap, Taint};

pub use admission::{
    EXCLUSION_RULES_PATH, exclusion_env, exclusion_file, exclusion_policy, exclusion_volume,
};
pub use audit::default_audit_policy;
pub use encryption::{
    ENCRYPTION_CONFIG_HOST_PATH, ENCRYPTION_CONFIG_PATH, encryption_args, encryption_configuration,
    encryption_file, encryption_volumes,
};
pub use mirror::{RegistryCredentials, RegistryMirror, block_text, registry_credentials_secret};
pub use rollout::{autoscaler_annotations, control_plane_rollout, machine_deployment_strategy};

/// The TLS cipher suite the kubelet and etcd are restricted to.
pub const SECURE_CIPHER_SUITES: &str = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";

/// Where the audit policy is written on a control-plane machine.
pub const AUDIT_POLICY_PATH: &str = "/etc/kubernetes/audit-policy.yaml";

/// Hosts every proxy configuration leaves out.
pub const NO_PROXY_DEFAULTS: [&str; 3] = ["localhost", "127.0.0.1", ".svc"];

/// A value as YAML text (block style, ending in a newline).
pub fn to_yaml_text<T: serde::Serialize>(value: &T) -> String {
    // Serializing plain data (maps, strings, numbers) to YAML cannot fail.
    serde_yaml_ng::to_string(value).unwrap_or_default()
}

/// The audit policy to install: the user's `auditPolicyContent` (trimmed) or the default.
pub fn audit_policy(cp: &ControlPlaneConfiguration, kubernetes_version: &str) -> String {
    match cp.audit_policy_content.as_deref().map(str::trim) {
        Some(content) if !content.is_empty() => content.to_string(),
        _ => default_audit_policy(kubernetes_version),
    }
}

/// The kube-vip static pod file of a control-plane machine ([`kube_vip_manifest`]); it
/// reads the admin kubeconfig from `/var/lib/kubeadm` on Bottlerocket.
pub fn kube_vip_file(
    address: &str,
    image: &str,
    serve_load_balancers: bool,
    bottlerocket: bool,
) -> File {
    let admin_conf = if bottlerocket {
        "/var/lib/kubeadm/admin.conf"
    } else {
        "/etc/kubernetes/admin.conf"
    };
    File::root(
        "/etc/kubernetes/manifests/kube-vip.yaml",
        kube_vip_manifest(address, image, serve_load_balancers, admin_conf),
    )
}

/// The audit policy file of a control-plane machine ([`audit_policy`] for the cluster's
/// Kubernetes version).
pub fn audit_policy_file(cp: &ControlPlaneConfiguration, kubernetes_version: Option<&str>) -> File {
    File::root(
        AUDIT_POLICY_PATH,
        block_text(&audit_policy(cp, kubernetes_version.unwrap_or_default())),
    )
}

/// The API server's audit arguments (always set).
pub fn audit_args() -> StringMap {
    [
        ("audit-policy-file", AUDIT_POLICY_PATH),
        ("audit-log-path", "/var/log/kubernetes/api-audit.log"),
        ("audit-log-maxage", "30"),
        ("audit-log-maxbackup", "10"),
        ("audit-log-maxsize", "512"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The audit volumes of the API server; Bottlerocket keeps the policy under `/var/lib/kubeadm`.
pub fn audit_volumes(bottlerocket: bool) -> Vec<HostPathMount> {
    let host = if bottlerocket {
        "/var/lib/kubeadm/audit-policy.yaml"
    } else {
        AUDIT_POLICY_PATH
    };
    vec![
        HostPathMount {
            host_path: host.to_string(),
            mount_path: AUDIT_POLICY_PATH.to_string(),
            name: "audit-policy".to_string(),
            path_type: Some("File".to_string()),
            read_only: true,
        },
        HostPathMount {
            host_path: "/var/log/kubernetes".to_string(),
            mount_path: "/var/log/kubernetes".to_string(),
            name: "audit-log-dir".to_string(),
            path_type: Some("DirectoryOrCreate".to_string()),
            read_only: false,
        },
    ]
}

fn insert_if_set(args: &mut StringMap, key: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        args.insert(key.to_string(), v.to_string());
    }
}

/// API server arguments from the OIDC provider, the AWS IAM authenticator, the user's
/// `apiServerExtraArgs` and pod IAM, merged in that order (later ones win; a pod IAM issuer
/// is appended to a user-given `service-account-issuer`).
pub fn api_server_extra_args(
    oidc: Option<&OIDCConfig>,
    aws_iam: Option<&AWSIamConfig>,
    user_args: Option<&BTreeMap<String, String>>,
    pod_iam: Option<&PodIamConfig>,
) -> StringMap {
    let mut args = StringMap::new();
    if let Some(o) = oidc {
        let s = &o.spec;
        insert_if_set(&mut args, "oidc-client-id", s.client_id.as_deref());
        insert_if_set(&mut args, "oidc-groups-claim", s.groups_claim.as_deref());
        insert_if_set(&mut args, "oidc-groups-prefix", s.groups_prefix.as_deref());
        insert_if_set(&mut args, "oidc-issuer-url", s.issuer_url.as_deref());
        let first_claim = s.required_claims.as_ref().and_then(|c| c.first());
        if let Some((claim, c)) =
            first_claim.and_then(|c| c.claim.as_deref().filter(|n| !n.is_empty()).map(|n| (n, c)))
        {
            let value = c.value.as_deref().unwrap_or_default();
            args.insert("oidc-required-claim".into(), format!("{claim}={value}"));
        }
        insert_if_set(
            &mut args,
            "oidc-username-claim",
            s.username_claim.as_deref(),
        );
        insert_if_set(
            &mut args,
            "oidc-username-prefix",
            s.username_prefix.as_deref(),
        );
    }
    if aws_iam.is_some() {
        args.insert(
            "authentication-token-webhook-config-file".into(),
            "/etc/kubernetes/aws-iam-authenticator/kubeconfig.yaml".into(),
        );
    }
    for (k, v) in user_args.into_iter().flatten() {
        insert_if_set(&mut args, k, Some(v));
    }
    if let Some(issuer) = pod_iam.map(|p| p.service_account_issuer.as_str()) {
        let joined = match args.get("service-account-issuer") {
            Some(existing) => format!("{existing},{issuer}"),
            None => issuer.to_string(),
        };
        args.insert("service-account-issuer".into(), joined);
    }
    args
}

/// The kubelet flags every node gets when no `KubeletConfiguration` is given: the provider
/// id placeholder, no read-only port, no anonymous auth, the secure cipher suites and the
/// cluster's `resolv.conf`.
pub fn kubelet_flags(resolv_conf: Option<&ResolvConf>) -> StringMap {
    let mut args = StringMap::new();
    args.insert("read-only-port".into(), "0".into());
    args.insert("anonymous-auth".into(), "false".into());
    args.insert("tls-cipher-suites".into(), SECURE_CIPHER_SUITES.into());
    insert_if_set(
        &mut args,
        "resolv-conf",
        resolv_conf.and_then(|r| r.path.as_deref()),
    );
    args
}

/// The `node-labels` flag for a node group's labels (sorted `key=value`, comma separated),
/// or nothing when there are none.
pub fn node_label_args(labels: Option<&BTreeMap<String, String>>) -> StringMap {
    let mut args = StringMap::new();
    let list: Vec<String> = labels
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !list.is_empty() {
        args.insert("node-labels".into(), list.join(","));
    }
    args
}

/// The kubelet's `KubeletConfiguration` patch from a node group's free-form configuration,
/// with the secure cipher suites and the cluster's `resolv.conf` unless it sets them.
pub fn kubelet_configuration(config: &Value, resolv_conf: Option<&ResolvConf>) -> String {
    let mut config = config.clone();
    if let Some(map) = config.as_object_mut() {
        map.entry("tlsCipherSuites")
            .or_insert_with(|| json!([SECURE_CIPHER_SUITES]));
        if let Some(path) = resolv_conf.and_then(|r| r.path.as_deref()) {
            map.entry("resolvConf").or_insert_with(|| json!(path));
        }
    }
    to_yaml_text(&config)
}

/// The file that carries a [`kubelet_configuration`] patch.
pub fn kubelet_configuration_file(content: String) -> File {
    File::root(
        "/etc/kubernetes/patches/kubeletconfiguration0+strategic.yaml",
        content,
    )
    .with_permissions("0644")
}

/// A spec's taints as Kubernetes taints.
pub fn taints(taints: &[SpecTaint]) -> Vec<Taint> {
    taints
        .iter()
        .map(|t| Taint {
            key: t.key.clone(),
            value: t.value.clone().filter(|v| !v.is_empty()),
            effect: match t.effect {
                TaintEffect::NoSchedule => "NoSchedule",
                TaintEffect::PreferNoSchedule => "PreferNoSchedule",
                TaintEffect::NoExecute => "NoExecute",
            }
            .to_string(),
            time_added: t.time_added.map(|t| t.to_string()),
        })
        .collect()
}

/// The login user of a machine config: its first user with its first key and passwordless
/// sudo, as EKS Anywhere renders it.
pub fn login_user(users: &[UserConfiguration]) -> Option<User> {
    let user = users.first()?;
    Some(User {
        name: user.name.clone(),
        lock_password: None,
        ssh_authorized_keys: user
            .ssh_authorized_keys
            .first()
            .cloned()
            .into_iter()
            .collect(),
        sudo: Some("ALL=(ALL) NOPASSWD:ALL".to_string()),
    })
}

/// NTP settings from a machine config's host OS configuration.
pub fn ntp(host: Option<&HostOsConfiguration>) -> Option<Ntp> {
    let servers = host?.ntp_configuration.as_ref()?.servers.clone();
    Some(Ntp {
        enabled: true,
        servers,
    })
}

/// The CA bundles of a machine config's host OS configuration.
pub fn cert_bundles(host: Option<&HostOsConfiguration>) -> Option<Vec<CertBundle>> {
    let bundles = host?.cert_bundles.as_ref()?;
    Some(
        bundles
            .iter()
            .map(|b| CertBundle {
                name: b.name.clone(),
                data: b.data.clone(),
            })
            .collect(),
    )
}

/// Bottlerocket host settings from a machine config's host OS configuration.
pub fn bottlerocket_settings(host: Option<&HostOsConfiguration>) -> Option<BottlerocketSettings> {
    let br = host?.bottlerocket_configuration.as_ref()?;
    let kubernetes = br.kubernetes.clone();
    let kernel = br
        .kernel
        .as_ref()
        .and_then(|k| k.sysctl_settings.clone())
        .map(|s| BottlerocketKernel {
            sysctl_settings: Some(s),
        });
    let boot = br
        .boot
        .as_ref()
        .and_then(|b| b.boot_kernel_parameters.clone())
        .map(|p| BottlerocketBoot {
            boot_kernel_parameters: Some(p),
        });
    Some(BottlerocketSettings {
        kubernetes,
        kernel,
        boot,
    })
}

/// The commands that make containerd read a registry mirror's configuration and a proxy
/// drop-in (cloud-config machines): nothing when there is neither.
pub fn containerd_restart_commands(mirror: bool, proxy: bool) -> Vec<String> {
    let mut cmds = Vec::new();
    if mirror {
        cmds.push("cat /etc/containerd/config_append.toml >> /etc/containerd/config.toml".into());
    }
    if mirror || proxy {
        cmds.push("sudo systemctl daemon-reload".into());
        cmds.push("sudo systemctl restart containerd".into());
    }
    cmds
}

/// The containerd proxy drop-in (cloud-config machines).
pub fn proxy_drop_in(http_proxy: &str, https_proxy: &str, no_proxy: &[String]) -> File {
    File::root(
        "/etc/systemd/system/containerd.service.d/http-proxy.conf",
        format!(
            "[Service]\nEnvironment=\"HTTP_PROXY={http_proxy}\"\nEnvironment=\"HTTPS_PROXY={https_proxy}\"\nEnvironment=\"NO_PROXY={}\"\n",
            no_proxy.join(",")
        ),
    )
}

/// The kube-vip environment of a control-plane endpoint every provider writes: a /32 address
/// held by leader election in `kube-system`.
pub const KUBE_VIP_CONTROL_PLANE_ENV: [(&str, &str); 8] = [
    ("vip_cidr", "32"),
    ("cp_enable", "true"),
    ("cp_namespace", "kube-system"),
    ("vip_ddns", "false"),
    ("vip_leaderelection", "true"),
    ("vip_leaseduration", "15"),
    ("vip_renewdeadline", "10"),
    ("vip_retryperiod", "2"),
];

/// The kube-vip static pod that holds the control-plane endpoint address. With
/// `serve_load_balancers` (a cluster without workers), it also answers for `LoadBalancer`
/// services.
pub fn kube_vip_manifest(
    address: &str,
    image: &str,
    serve_load_balancers: bool,
    admin_conf: &str,
) -> String {
    let mut env = vec![("vip_arp", "true"), ("port", "6443")];
    env.extend(KUBE_VIP_CONTROL_PLANE_ENV);
    env.push(("address", address));
    if serve_load_balancers {
        env.extend([("svc_enable", "true"), ("svc_election", "true")]);
    }
    let env: Vec<Value> = env
        .into_iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"creationTimestamp": null, "name": "kube-vip", "namespace": "kube-system"},
        "spec": {
            "containers": [{
                "args": ["manager"],
                "env": env,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "name": "kube-vip",
                "resources": {},
                "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
                "volumeMounts": [{"mountPath": "/etc/kubernetes/admin.conf", "name": "kubeconfig"}],
            }],
            "hostNetwork": true,
            "volumes": [{"hostPath": {"path": admin_conf}, "name": "kubeconfig"}],
        },
        "status": {},
    });
    to_yaml_text(&pod)
}

/// The AWS IAM authenticator files of a control-plane machine: the API server's webhook
/// kubeconfig and the authenticator's CA from the `<cluster>-aws-iam-authenticator-ca` secret.
pub fn aws_iam_files(cluster_name: &str) -> Vec<File> {
    let kubeconfig = json!({
        "clusters": [{"name": "aws-iam-authenticator", "cluster": {
            "certificate-authority": "/var/aws-iam-authenticator/cert.pem",
            "server": "https://localhost:21362/authenticate"}}],
        "users": [{"name": "apiserver"}],
        "current-context": "webhook",
        "contexts": [{"name": "webhook", "context": {"cluster": "aws-iam-authenticator", "user": "apiserver"}}],
    });
    let mut files = vec![
        File::root(
            "/var/lib/kubeadm/aws-iam-authenticator/kubeconfig.yaml",
            to_yaml_text(&kubeconfig),
        )
        .with_permissions("0640"),
    ];
    for key in ["cert.pem", "key.pem"] {
        files.push(File {
            content_from: Some(crate::api::kubeadm::FileSource {
                secret: crate::api::kubeadm::SecretKey {
                    name: format!("{cluster_name}-aws-iam-authenticator-ca"),
                    key: key.to_string(),
                },
            }),
            owner: Some("root:root".to_string()),
            permissions: Some("0640".to_string()),
            path: format!("/var/lib/kubeadm/aws-iam-authenticator/pki/{key}"),
            content: None,
        });
    }
    files
}

/// The API server volumes the AWS IAM authenticator needs.
pub fn aws_iam_volumes() -> Vec<HostPathMount> {
    vec![
        HostPathMount {
            host_path: "/var/lib/kubeadm/aws-iam-authenticator/".into(),
            mount_path: "/etc/kubernetes/aws-iam-authenticator/".into(),
            name: "authconfig".into(),
            path_type: None,
            read_only: false,
        },
        HostPathMount {
            host_path: "/var/lib/kubeadm/aws-iam-authenticator/pki/".into(),
            mount_path: "/var/aws-iam-authenticator/".into(),
            name: "awsiamcert".into(),
            path_type: None,
            read_only: false,
        },
    ]
}

/// `Basic` authorization header value for registry credentials.
pub(crate) fn basic_auth(username: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
}
