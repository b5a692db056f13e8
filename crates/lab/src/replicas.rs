//! A lab served by several ironbell replicas on a three-member etcd (`lab up --replicas N`),
//! as a data center runs ironbell without a single point of failure.
//!
//! - **etcd**: three members (Debian's `etcd-server`), processes `etcd-0`..`etcd-2` in the
//!   lab's namespace on [`SERVER_IP`] (client ports 2379, 2389, 2399), data under
//!   `etcd/` in the lab directory. The plane's objects are under the key prefix
//!   `/ironbell-lab` ([`store_spec`]).
//! - **Replicas**: replica 0 runs in the lab's namespace at [`SERVER_IP`], as the single
//!   service does; replica k ≥ 1 runs in a namespace of its own (`<lab netns>-rK`) joined to
//!   the lab's bridge by a veth pair, at [`replica_ip`]`(k)`, so that every replica listens
//!   on the default ports as it would on a server of its own. Each has its own
//!   `--replica-id` (`replica-K`), answers its share of the DHCP clients, and runs the
//!   controllers when it leads the election.
//! - The Workflows' URLs (OS image, metadata) name replica 0: the last replica started is
//!   made to lead first (`lab up` waits until it says so), so that killing the leader —
//!   what the failover test does — leaves the URLs working.
//! - The lab's own reads and writes (import, apply, following the Workflows) reach etcd
//!   inside the lab's namespace: [`NsRuntime`] is a Tokio runtime on a thread that joined
//!   it, and the store is opened and used there (sockets belong to the namespace of the
//!   thread that creates them). Nothing of it reaches the host's namespace.

use std::net::Ipv4Addr;
use std::path::Path;

use ironbell_netns::Netns;

use crate::LabError;
use crate::plan::{BRIDGE, PREFIX_LEN, SERVER_IP};

/// The most replicas a lab runs (addresses 10.42.0.1 to .8; machines start at .10).
pub const MAX_REPLICAS: usize = 8;
/// etcd members of a replicated lab.
pub const ETCD_MEMBERS: usize = 3;
/// The key prefix of the lab's plane in etcd.
pub const ETCD_PREFIX: &str = "/ironbell-lab";

/// Replica `k`'s address on the lab network.
pub fn replica_ip(k: usize) -> Ipv4Addr {
    if k == 0 {
        SERVER_IP
    } else {
        let o = SERVER_IP.octets();
        Ipv4Addr::new(o[0], o[1], o[2], o[3] + k as u8)
    }
}

/// The network namespace replica `k` runs in.
pub fn replica_netns(lab_netns: &str, k: usize) -> String {
    if k == 0 {
        lab_netns.to_string()
    } else {
        format!("{lab_netns}-r{k}")
    }
}

/// The interface replica `k` serves DHCP on.
pub fn replica_interface(k: usize) -> &'static str {
    if k == 0 { BRIDGE } else { "eth0" }
}

/// The process role of replica `k` (replica 0 is "ironbell", as a single service is).
pub fn replica_role(k: usize) -> String {
    if k == 0 {
        "ironbell".to_string()
    } else {
        format!("ironbell-{k}")
    }
}

/// Member `i`'s client and peer ports.
fn etcd_ports(i: usize) -> (u16, u16) {
    let base = 2379 + 10 * i as u16;
    (base, base + 1)
}

/// The store spec every replica and the lab use.
pub fn store_spec() -> String {
    let endpoints: Vec<String> = (0..ETCD_MEMBERS)
        .map(|i| format!("{SERVER_IP}:{}", etcd_ports(i).0))
        .collect();
    format!("etcd://{}{ETCD_PREFIX}", endpoints.join(","))
}

/// Member `i`'s command line, its data under `dir/etcd/m<i>`.
pub fn etcd_argv(i: usize, dir: &Path) -> Vec<String> {
    let (client, peer) = etcd_ports(i);
    let cluster: Vec<String> = (0..ETCD_MEMBERS)
        .map(|j| format!("m{j}=http://{SERVER_IP}:{}", etcd_ports(j).1))
        .collect();
    let client_url = format!("http://{SERVER_IP}:{client}");
    let peer_url = format!("http://{SERVER_IP}:{peer}");
    [
        "etcd",
        "--name",
        &format!("m{i}"),
        "--data-dir",
        &dir.join("etcd").join(format!("m{i}")).display().to_string(),
        "--listen-client-urls",
        &client_url,
        "--advertise-client-urls",
        &client_url,
        "--listen-peer-urls",
        &peer_url,
        "--initial-advertise-peer-urls",
        &peer_url,
        "--initial-cluster",
        &cluster.join(","),
        "--initial-cluster-token",
        "ironbell-lab",
        "--initial-cluster-state",
        "new",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Member `i`'s client address (to wait until it listens).
pub fn etcd_client(i: usize) -> (Ipv4Addr, u16) {
    (SERVER_IP, etcd_ports(i).0)
}

/// Creates replica `k`'s namespace (k ≥ 1), joined to the lab's bridge through a veth pair
/// (`rep<k>` on the bridge, `eth0` inside at [`replica_ip`]`(k)`); no route out. Returns
/// its name.
pub fn create_replica_netns(lab_netns: &str, k: usize) -> Result<String, LabError> {
    let name = replica_netns(lab_netns, k);
    let lab = Netns::existing(lab_netns);
    let ns = Netns::create(name.clone())?;
    let link = format!("rep{k}");
    ironbell_netns::veth(&lab, &link, &ns, "eth0")?;
    lab.attach(&link, BRIDGE)?;
    ns.add_address("eth0", &format!("{}/{PREFIX_LEN}", replica_ip(k)))?;
    Ok(ns.persist())
}

/// A Tokio runtime on a thread inside a network namespace: what is spawned on
/// it (through [`NsRuntime::run`]) opens its sockets there. Stopped when dropped.
#[derive(Debug)]
pub struct NsRuntime {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NsRuntime {
    /// Starts the runtime's thread inside `netns`.
    pub fn start(netns: &str) -> Result<Self, LabError> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let ns = Netns::existing(netns);
        let thread = std::thread::spawn(move || {
            let entered = ns.enter(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = handle_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = handle_tx.send(Ok(rt.handle().clone()));
                let _ = rt.block_on(stopped);
            });
            if let Err(e) = entered {
                // `handle_tx` went with the closure: the receiver sees a closed channel.
                tracing::error!("entering the lab's namespace: {e}");
            }
        });
        let handle = match handle_rx.recv() {
            Ok(Ok(handle)) => handle,
            Ok(Err(e)) => return Err(LabError::Setup(format!("a runtime in {netns}: {e}"))),
            Err(_) => {
                return Err(LabError::Setup(format!(
                    "could not run a thread inside namespace {netns}"
                )));
            }
        };
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Runs `fut` on the namespace's thread and waits for its result.
    pub async fn run<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, LabError> {
        self.handle
            .spawn(fut)
            .await
            .map_err(|e| LabError::Setup(format!("a task in the lab's namespace: {e}")))
    }
}

impl Drop for NsRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_spec() {
        assert_eq!(replica_ip(0), SERVER_IP);
        assert_eq!(replica_ip(1), Ipv4Addr::new(10, 42, 0, 2));
        assert_eq!(replica_ip(MAX_REPLICAS - 1), Ipv4Addr::new(10, 42, 0, 8));
        assert_eq!(
            store_spec(),
            "etcd://10.42.0.1:2379,10.42.0.1:2389,10.42.0.1:2399/ironbell-lab"
        );
        assert_eq!(replica_netns("ironbell-lab-x", 0), "ironbell-lab-x");
        assert_eq!(replica_netns("ironbell-lab-x", 2), "ironbell-lab-x-r2");
        let argv = etcd_argv(1, Path::new("/lab"));
        assert!(argv.contains(&"/lab/etcd/m1".to_string()), "{argv:?}");
        assert!(
            argv.contains(&"http://10.42.0.1:2389".to_string()),
            "{argv:?}"
        );
        assert!(
            argv.contains(
                &"m0=http://10.42.0.1:2380,m1=http://10.42.0.1:2390,m2=http://10.42.0.1:2400"
                    .to_string()
            ),
            "{argv:?}"
        );
    }
}
