//! etcd serving TLS and requiring client certificates (`--client-cert-auth`), as a
//! production etcd does: the store connects with `cacert`, `cert` and `key`; without a
//! client certificate it gets a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::time::Duration;

use ironbell_model::{DynamicObject, ObjectMeta, TypeKey};
use ironbell_store::Store;
use ironbell_store_etcd::{Config, EtcdStore, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use support::{Cluster, ServerTls};

fn write(dir: &Path, name: &str, pem: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it.
fn certificates(dir: &Path) -> ServerTls {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "ironbell etcd test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(vec!["127.0.0.1".into(), "localhost".into()]);
    let (client_cert, client_key) = leaf(vec!["ironbell".into()]);
    let ca = write(dir, "ca.pem", &ca_cert.pem());
    ServerTls {
        cert: write(dir, "server.pem", &server_cert),
        key: write(dir, "server-key.pem", &server_key),
        client_ca: ca.clone(),
        client: TlsConfig {
            ca_cert: Some(ca),
            cert: Some(write(dir, "client.pem", &client_cert)),
            key: Some(write(dir, "client-key.pem", &client_key)),
            server_name: None,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let tls = certificates(dir.path());
    let Some(cluster) = Cluster::start_with(1, Some(&tls)).await else {
        return;
    };
    let store = cluster.store("/tls");
    let obj = DynamicObject::new(
        TypeKey::new("conformance.ironbell.dev/v1", "Widget"),
        ObjectMeta::named("default", "over-tls"),
    );
    let created = store.create(obj).await.expect("create over TLS");
    let got = store
        .get(&created.types, "default", "over-tls")
        .await
        .expect("get over TLS");
    assert_eq!(got, created);

    // Without a client certificate the member refuses: a clear error, in time.
    let mut config = Config::new(cluster.endpoints(), "/tls");
    config.request_timeout = Duration::from_secs(2);
    config.tls = Some(TlsConfig {
        cert: None,
        key: None,
        ..tls.client.clone()
    });
    let anonymous = EtcdStore::new(config).unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(15),
        anonymous.get(&created.types, "default", "over-tls"),
    )
    .await
    .expect("an answer")
    .unwrap_err();
    assert!(err.to_string().contains("etcd"), "{err}");
}
