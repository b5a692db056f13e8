//! The native bootstrapper's user-data passes `cloud-init schema`, and the node reads its
//! configuration back from it.

mod common;

use common::{certs, cloud_init_schema};
use ironbell_bootstrap::native::{self, NativeUserData, NodeConfig};
use ironbell_bootstrap::plain;

#[test]
fn native_user_data_passes_cloud_init_schema() {
    let mut config = NodeConfig::new(
        "mgmt",
        &certs().etcd_ca,
        vec!["https://10.0.0.11:2379".into()],
    );
    config.interface = Some("eth0".into());
    config.serve_args = vec!["--node-bootstrapper".into(), "native".into()];
    let mut u = NativeUserData::new(config, plain::phone_home_url("http://10.0.0.1:50061"));
    u.hostname = Some("mgmt-cp-2".into());
    let doc = native::user_data(&u).expect("user-data");
    if let Err(out) = cloud_init_schema("native.yaml", &doc) {
        panic!("native user-data is not valid cloud-config:\n{out}");
    }
    assert_eq!(NodeConfig::parse(&doc).expect("parse"), u.config);
}
