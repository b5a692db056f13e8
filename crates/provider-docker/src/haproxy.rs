//! The load balancer's haproxy configuration: kind's (CAPD's `loadbalancer` template) in
//! TCP mode: a frontend on the API server port and one server per control-plane container,
//! each health-checked by a TCP connect. `maxconn` is 4096, not kind's 100000: haproxy
//! refuses to start when it cannot raise its file limit to match, and containers of an
//! engine without `CAP_SYS_RESOURCE` get 20000. Pure; [`crate::cluster`] writes it into the
//! load-balancer container and reloads haproxy.

use std::fmt::Write as _;

/// Where the configuration lives in the load-balancer image (kindest/haproxy's path).
pub const CONFIG_PATH: &str = "/usr/local/etc/haproxy/haproxy.cfg";

/// The API server port, on the load balancer and on each control-plane container.
pub const API_PORT: u16 = 6443;

/// One control-plane container behind the load balancer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Backend {
    /// The container's name (the server's name in haproxy).
    pub name: String,
    /// Its address on the cluster network.
    pub address: String,
}

/// The configuration for `backends` (sorted by name, so the text depends only on the set).
pub fn config(backends: &[Backend]) -> String {
    let mut sorted = backends.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut out = String::from(
        "# written by ironbell's DockerCluster controller\n\
         global\n  log stdout format raw local0\n  maxconn 4096\n\n\
         defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\n",
    );
    let _ = write!(
        out,
        "frontend control-plane\n  bind *:{API_PORT}\n  default_backend kube-apiservers\n\n\
         backend kube-apiservers\n"
    );
    for b in &sorted {
        let _ = writeln!(
            out,
            "  server {} {}:{API_PORT} check inter 1s fall 2 rise 1",
            b.name, b.address
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_listed_in_name_order_once() {
        let b = |n: &str, a: &str| Backend {
            name: n.into(),
            address: a.into(),
        };
        let text = config(&[
            b("c1-cp-b", "172.18.0.4"),
            b("c1-cp-a", "172.18.0.3"),
            b("c1-cp-b", "172.18.0.4"),
        ]);
        let servers: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  server "))
            .collect();
        assert_eq!(
            servers,
            [
                "  server c1-cp-a 172.18.0.3:6443 check inter 1s fall 2 rise 1",
                "  server c1-cp-b 172.18.0.4:6443 check inter 1s fall 2 rise 1"
            ]
        );
        assert!(config(&[]).ends_with("backend kube-apiservers\n"));
    }
}
