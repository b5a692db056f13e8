//! One description of a plane's network, from which every service's configuration is
//! derived.
//!
//! Machines learn where the services are from one another: DHCP names the HTTP boot
//! service (the iPXE script URL) and the syslog server, the iPXE script names the HookOS
//! artifacts, and the kernel command line names the workflow service
//! (`grpc_authority=IP:PORT`) and the syslog receiver (`syslog_host=IP[:PORT]`). If each
//! service were configured on its own, a port changed in one place would be announced
//! wrongly by another (as `--grpc-addr 0.0.0.0:50051` once still sent agents to 42113).
//! So a [`PlaneNetwork`] holds every listen address once, and the configurations of boot,
//! DHCP, metadata and workflow are computed from it.
//!
//! The advertised port of a service is the port it listens on; the advertised address is
//! [`PlaneNetwork::public_ip`]. DHCP's syslog option (7) carries addresses only, so it is
//! sent only when syslog listens on 514 (a client would send elsewhere otherwise); the
//! kernel line carries the port either way. TLS: the workflow service does not serve TLS
//! yet, so [`PlaneNetwork::tinkerbell_tls`] is false unless a TLS-terminating proxy on the
//! same port is in front of it.

use std::net::{Ipv4Addr, SocketAddr};

use ironbell_boot::http::DEFAULT_SYSLOG_PORT;

/// The HTTP boot service's default port (EKS Anywhere's).
pub const DEFAULT_HTTP_PORT: u16 = ironbell_boot::http::DEFAULT_PORT;
/// The metadata service's default port (EKS Anywhere's).
pub const DEFAULT_METADATA_PORT: u16 = ironbell_metadata::DEFAULT_PORT;
/// The agent API's default port (defined once, in the agent API crate).
pub const DEFAULT_GRPC_PORT: u16 = ironbell_workflow::DEFAULT_GRPC_PORT;

/// Where each service of a plane listens, and the address machines reach them at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaneNetwork {
    /// The address machines reach this host at (DHCP server id, every URL and address
    /// handed to machines).
    pub public_ip: Ipv4Addr,
    /// DHCP (UDP).
    pub dhcp: SocketAddr,
    /// TFTP (UDP); `None` means `public_ip:69`, so that replies leave from the address the
    /// firmware talked to.
    pub tftp: Option<SocketAddr>,
    /// HTTP boot: iPXE scripts and binaries, HookOS artifacts.
    pub http: SocketAddr,
    /// Syslog receiver (UDP).
    pub syslog: SocketAddr,
    /// Metadata (EC2-style, Hegel).
    pub metadata: SocketAddr,
    /// Agent gRPC API.
    pub grpc: SocketAddr,
    /// Every replica's agent API as machines reach it (`host:port`), named to HookOS in
    /// `grpc_authority=A,B` so that the agent finds whichever replica leads. Empty: this
    /// replica's alone ([`PlaneNetwork::grpc_authority`]).
    pub grpc_authorities: Vec<String>,
    /// Whether agents talk TLS to the gRPC API (`tinkerbell_tls=`).
    pub tinkerbell_tls: bool,
    /// The controllers' own `/metrics` and `/healthz` (HTTP; `None`: none. With the boot
    /// service, its `/metrics` has them too; see [`crate::metrics`]).
    pub metrics: Option<SocketAddr>,
}

impl PlaneNetwork {
    /// The default ports, every service listening on all addresses.
    pub fn new(public_ip: Ipv4Addr) -> Self {
        let any = |port| SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
        Self {
            public_ip,
            dhcp: any(67),
            tftp: None,
            http: any(DEFAULT_HTTP_PORT),
            syslog: any(DEFAULT_SYSLOG_PORT),
            metadata: any(DEFAULT_METADATA_PORT),
            grpc: any(DEFAULT_GRPC_PORT),
            grpc_authorities: Vec::new(),
            tinkerbell_tls: false,
            metrics: None,
        }
    }

    /// The TFTP listen address, default filled in.
    pub fn tftp_addr(&self) -> SocketAddr {
        self.tftp.unwrap_or(SocketAddr::from((self.public_ip, 69)))
    }

    /// The HTTP boot service's base URL as machines see it.
    pub fn http_base(&self) -> String {
        format!("http://{}:{}", self.public_ip, self.http.port())
    }

    /// The `serve all` flags that give another replica (a native control-plane machine's)
    /// this plane's ports, listening on all of its addresses.
    pub fn serve_args(&self) -> Vec<String> {
        let any = |port: u16| SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port)).to_string();
        vec![
            "--http-addr".into(),
            any(self.http.port()),
            "--listen".into(),
            any(self.metadata.port()),
            "--grpc-addr".into(),
            any(self.grpc.port()),
        ]
    }

    /// Where an installed OS posts its phone-home (the `plain` node bootstrapper's
    /// cloud-init `phone_home`): the metadata service as machines see it.
    pub fn phone_home_url(&self) -> String {
        format!(
            "http://{}:{}/phone-home",
            self.public_ip,
            self.metadata.port()
        )
    }

    /// The workflow service's address as agents see it.
    pub fn grpc_authority(&self) -> String {
        format!("{}:{}", self.public_ip, self.grpc.port())
    }

    /// The HTTP boot service's configuration: listen address, and the ports it names in
    /// scripts and kernel command lines. Paths and kernel arguments are the caller's.
    pub fn boot_http(&self) -> ironbell_boot::http::Config {
        let mut http = ironbell_boot::http::Config::new(self.public_ip);
        http.bind = self.http;
        http.http_port = self.http.port();
        http.grpc_port = self.grpc.port();
        http.grpc_authorities = self.grpc_authorities.clone();
        http.syslog_port = self.syslog.port();
        http.tinkerbell_tls = self.tinkerbell_tls;
        http
    }

    /// The DHCP server's configuration in `mode`; it announces the syslog receiver when
    /// `syslog` is on and listens on 514 (option 7 has no port).
    pub fn dhcp(&self, mode: ironbell_dhcp::Mode, syslog: bool) -> ironbell_dhcp::Config {
        let mut dhcp = ironbell_dhcp::Config::new(self.public_ip);
        dhcp.mode = mode;
        dhcp.http_base = Some(self.http_base());
        if syslog && self.syslog.port() == DEFAULT_SYSLOG_PORT {
            dhcp.syslog_server = Some(self.public_ip);
        }
        dhcp
    }

    /// The workflow service's configuration.
    pub fn workflow(&self, options: &crate::plane::WorkflowOptions) -> ironbell_workflow::Config {
        let mut config = ironbell_workflow::Config::new(self.grpc);
        config.concurrency = options.concurrency;
        config.auth = options.auth.clone();
        config
    }

    /// Every TCP listen address, named (to wait for a plane to be up).
    pub fn tcp_listeners(&self) -> [(&'static str, SocketAddr); 3] {
        [
            ("HTTP boot", self.http),
            ("metadata", self.metadata),
            ("gRPC", self.grpc),
        ]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip() -> Ipv4Addr {
        Ipv4Addr::new(10, 20, 0, 1)
    }

    #[test]
    fn every_service_names_the_same_ports() {
        let mut net = PlaneNetwork::new(ip());
        net.grpc = "0.0.0.0:50051".parse().unwrap();
        net.syslog = "0.0.0.0:5514".parse().unwrap();
        net.http = "0.0.0.0:8080".parse().unwrap();
        let http = net.boot_http();
        assert_eq!(http.grpc_port, 50051);
        assert_eq!(http.syslog_port, 5514);
        assert_eq!(http.http_port, 8080);
        assert_eq!(
            net.workflow(&crate::plane::WorkflowOptions::default())
                .grpc_addr
                .port(),
            50051
        );
        let dhcp = net.dhcp(ironbell_dhcp::Mode::Reservation, true);
        assert_eq!(dhcp.http_base(), "http://10.20.0.1:8080");
        assert_eq!(dhcp.syslog_server, None, "option 7 cannot carry port 5514");
        assert_eq!(net.grpc_authority(), "10.20.0.1:50051");
        assert_eq!(http.grpc_authority(), "10.20.0.1:50051");
        // Replicas: every one is named to HookOS.
        net.grpc_authorities = vec!["10.20.0.1:50051".into(), "10.20.0.2:50051".into()];
        assert_eq!(
            net.boot_http().grpc_authority(),
            "10.20.0.1:50051,10.20.0.2:50051"
        );
    }

    #[test]
    fn defaults_are_eks_anywhere_ports() {
        let net = PlaneNetwork::new(ip());
        let http = net.boot_http();
        assert_eq!(
            (http.http_port, http.grpc_port, http.syslog_port),
            (7171, 42113, 514)
        );
        assert_eq!(net.tftp_addr(), "10.20.0.1:69".parse().unwrap());
        let dhcp = net.dhcp(ironbell_dhcp::Mode::Reservation, true);
        assert_eq!(dhcp.syslog_server, Some(ip()));
        assert_eq!(net.metadata.port(), 7172);
    }
}
