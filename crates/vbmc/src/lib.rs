//! # ironbell-vbmc
//!
//! A virtual BMC for QEMU machines: each machine gets a BMC that speaks **Redfish**
//! (HTTPS) and/or **IPMI** (RMCP+ "lanplus", through [`ironbell_ipmi::server`]) and carries
//! out power and boot-device requests over the machine's QMP socket. ironbell's BMC service
//! drives these BMCs exactly as it drives real servers; `ironbell lab` uses them, so that
//! ironbell can be tried — and is tested end to end — without hardware.
//!
//! What it is not: no serial-over-LAN, no virtual media, no sensors, SEL or FRU, one user
//! per BMC. The QEMU machine must run with `-S -no-shutdown -qmp unix:...` and carry device
//! ids on its NIC and disk (see [`machine`]).
//!
//! Start reading at [`run`] and [`BmcConfig`]; the power and boot semantics are in
//! [`machine::Machine`], the protocol front ends in [`redfish`] and [`ipmi`].

pub mod ipmi;
pub mod machine;
pub mod qmp;
pub mod redfish;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// One BMC (serialisable: `ironbell lab` keeps the list in a file, mode 0600).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct BmcConfig {
    /// The machine's name (the Redfish system id, and in every log line).
    pub name: String,
    /// The machine's QMP socket.
    pub qmp: PathBuf,
    /// QEMU device id of the boot NIC.
    pub nic_device: String,
    /// QEMU device id of the disk.
    pub disk_device: String,
    /// Serve Redfish (HTTPS) here.
    pub redfish: Option<SocketAddr>,
    /// Serve IPMI (RMCP+, UDP) here.
    pub ipmi: Option<SocketAddr>,
    /// The user.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for BmcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BmcConfig")
            .field("name", &self.name)
            .field("qmp", &self.qmp)
            .field("redfish", &self.redfish)
            .field("ipmi", &self.ipmi)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The one user a BMC accepts (shared with the IPMI server).
pub use ironbell_ipmi::server::Credentials;

/// What stopped the BMCs from starting.
#[derive(Debug, thiserror::Error)]
pub enum VbmcError {
    /// A listen address could not be bound.
    #[error("BMC {bmc}: cannot listen on {addr} ({protocol}): {source}")]
    Bind {
        /// The BMC.
        bmc: String,
        /// The address.
        addr: SocketAddr,
        /// Redfish or IPMI.
        protocol: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The TLS certificate could not be made.
    #[error("TLS certificate: {0}")]
    Tls(String),
}

/// Binds every BMC's sockets, then serves them all until `shutdown` completes. Binding
/// errors are returned before anything is served.
pub async fn run(
    configs: Vec<BmcConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), VbmcError> {
    let mut tasks = tokio::task::JoinSet::new();
    for c in configs {
        let machine = Arc::new(machine::Machine::new(
            &c.name,
            c.qmp.clone(),
            &c.nic_device,
            &c.disk_device,
        ));
        let credentials = Arc::new(Credentials {
            username: c.username.clone(),
            password: c.password.clone(),
        });
        if let Some(addr) = c.redfish {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| VbmcError::Bind {
                    bmc: c.name.clone(),
                    addr,
                    protocol: "Redfish",
                    source,
                })?;
            let tls = redfish::self_signed_tls(addr)?;
            tracing::info!(bmc = %c.name, %addr, "redfish: listening (HTTPS)");
            tasks.spawn(redfish::serve(
                listener,
                tls,
                machine.clone(),
                credentials.clone(),
            ));
        }
        if let Some(addr) = c.ipmi {
            let socket =
                tokio::net::UdpSocket::bind(addr)
                    .await
                    .map_err(|source| VbmcError::Bind {
                        bmc: c.name.clone(),
                        addr,
                        protocol: "IPMI",
                        source,
                    })?;
            tracing::info!(bmc = %c.name, %addr, "ipmi: listening (RMCP+)");
            tasks.spawn(ipmi::serve(socket, machine.clone(), credentials.clone()));
        }
    }
    shutdown.await;
    tasks.shutdown().await;
    Ok(())
}
