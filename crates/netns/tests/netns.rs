//! Namespaces against the real iproute2: deleted on drop unless persisted, joined by name
//! from elsewhere, links built inside, and failures that name the command. Needs root.

use ironbell_netns::{Netns, veth};
use ironbell_testbed::{Tier, require_tier};

fn unique(tag: &str) -> String {
    format!("ibn{tag}{}", std::process::id())
}

#[test]
fn an_owned_namespace_goes_with_its_value_a_persisted_one_stays() {
    require_tier!(Tier::Root);
    let owned = unique("o");
    drop(Netns::create(&owned).expect("create"));
    assert!(!Netns::exists(&owned));

    let kept = unique("k");
    let name = Netns::create(&kept).expect("create").persist();
    assert_eq!(name, kept);
    assert!(Netns::exists(&kept));
    // Another handle by name can work inside it, and dropping that handle deletes nothing.
    let again = Netns::existing(&kept);
    again.add_bridge("br0").expect("bridge");
    again.add_address("br0", "10.77.0.1/24").expect("address");
    let bound = again
        .enter(|| std::net::UdpSocket::bind(("10.77.0.1", 0)).is_ok())
        .expect("enter");
    assert!(bound, "the address is inside the namespace");
    drop(again);
    assert!(Netns::exists(&kept));
    Netns::delete(&kept).expect("delete");
    assert!(!Netns::exists(&kept));
    Netns::delete(&kept).expect("deleting what is gone is no error");
}

#[test]
fn veth_links_two_namespaces_and_errors_name_the_command() {
    require_tier!(Tier::Root);
    let a = Netns::create(unique("a")).expect("a");
    let b = Netns::create(unique("b")).expect("b");
    veth(&a, "v0", &b, "v1").expect("veth");
    a.add_address("v0", "10.78.0.1/24").expect("a address");
    b.add_address("v1", "10.78.0.2/24").expect("b address");
    // A datagram from `b` reaches a socket bound inside `a`, over the veth.
    let rx = a
        .enter(|| std::net::UdpSocket::bind(("10.78.0.1", 0)))
        .expect("enter a")
        .expect("bind in a");
    rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let to = rx.local_addr().expect("addr");
    let tx = b
        .enter(|| std::net::UdpSocket::bind(("10.78.0.2", 0)))
        .expect("enter b")
        .expect("bind in b");
    tx.send_to(b"over the veth", to).expect("send");
    let mut buf = [0u8; 32];
    let (n, from) = rx.recv_from(&mut buf).expect("received");
    assert_eq!(&buf[..n], b"over the veth");
    assert_eq!(from.ip().to_string(), "10.78.0.2");

    let err = a
        .add_tap("x", "no-such-bridge")
        .expect_err("no bridge")
        .to_string();
    assert!(
        err.contains("ip -n") && err.contains("no-such-bridge"),
        "{err}"
    );
    let err = Netns::existing(unique("missing"))
        .enter(|| ())
        .expect_err("no such namespace")
        .to_string();
    assert!(err.contains("joining network namespace"), "{err}");
}
