//! The plain bootstrapper's user-data: a golden file and `cloud-init schema`.

mod common;

use common::{assert_golden, cloud_init_schema};
use ironbell_bootstrap::plain::{self, PlainConfig};
use ironbell_capi::api::kubeadm::{Ntp, User};

fn config() -> PlainConfig {
    PlainConfig {
        hostname: Some("worker-1".into()),
        users: vec![User {
            name: "ops".into(),
            lock_password: None,
            ssh_authorized_keys: vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0 ops@admin".into()],
            sudo: Some("ALL=(ALL) NOPASSWD:ALL".into()),
        }],
        ntp: Some(Ntp {
            enabled: true,
            servers: vec!["10.0.0.1".into()],
        }),
        phone_home_url: plain::phone_home_url("http://10.0.0.1:50061/"),
    }
}

#[test]
fn plain_user_data_matches_its_golden_and_passes_cloud_init_schema() {
    let doc = plain::user_data(&config()).expect("user-data");
    assert_golden("plain.yaml", &doc);
    if let Err(out) = cloud_init_schema("plain.yaml", &doc) {
        panic!("plain user-data is not valid cloud-config:\n{out}\n{doc}");
    }
    let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&doc).expect("yaml");
    assert_eq!(
        parsed["phone_home"]["url"].as_str(),
        Some("http://10.0.0.1:50061/phone-home")
    );
    assert_eq!(parsed["users"][0]["name"].as_str(), Some("ops"));
    assert_eq!(parsed["hostname"].as_str(), Some("worker-1"));
}

#[test]
fn users_and_ntp_come_from_a_kubeadm_spec() {
    let spec = ironbell_capi::api::kubeadm::KubeadmConfigSpec {
        users: config().users.into(),
        ntp: config().ntp,
        pre_kubeadm_commands: Some(vec!["never run on a plain node".into()]),
        ..Default::default()
    };
    let from_spec = PlainConfig::from_spec(
        &spec,
        Some("worker-1".into()),
        plain::phone_home_url("http://10.0.0.1:50061"),
    );
    assert_eq!(from_spec, config());
}

#[test]
fn a_plain_node_without_a_phone_home_url_is_refused() {
    let mut c = config();
    c.phone_home_url.clear();
    let err = plain::user_data(&c).expect_err("no url");
    assert!(err.to_string().contains("phone-home URL"), "{err}");
}
