//! What the boot service records about each machine, and what it says at the default log
//! level when a machine does not boot.
//!
//! **Events** (on the machine's `Hardware`, through [`ironbell_store::events::Recorder`],
//! which never blocks): `DHCPOffer` / `DHCPAck` (the address and boot file; firmware and
//! iPXE apart), `DHCPIgnored` and why, `NetbootNotAllowed`, `IPXEScriptServed`,
//! `ArtifactFetched` (the HookOS kernel and initramfs), `BootArtifactNotFound`,
//! `AgentNotConnected`. A request from a MAC no Hardware has gets a `Warning` Event
//! `UnknownMAC` whose involved object is a Hardware named after the MAC
//! (`3c-ec-ef-10-00-11`) in [`BootEvents::namespace`], the one it would be if it were
//! imported, so `ironbell get events --for hardware/3c-ec-ef-10-00-11` finds it.
//!
//! **The DHCP hot path stays cheap**: [`BootEvents`] is the DHCP server's
//! [`ironbell_dhcp::Observer`]; for each decision it first asks a token bucket per MAC and
//! kind of event ([`EVENT_INTERVAL`]), and only when that allows it looks the MAC up and
//! puts a record on the recorder's bounded queue. An Event's `count` is therefore the
//! number of times it was recorded (at most once per MAC and kind per interval), not the
//! number of packets. Events for MACs no Hardware has also share one global bucket and go
//! to the first [`MAX_UNKNOWN_MACS`] such MACs only, so spoofed MACs cannot fill the store
//! (the warning line still names each).
//!
//! **Diagnostics** (`warn`, at most once per MAC per [`WARN_INTERVAL`], and a few lines per
//! second in all): a DHCP request from a MAC no Hardware has, a known machine that may not
//! network-boot (`allowPXE` false), a boot artifact that is not there (404), and a machine
//! that fetched the HookOS kernel but whose agent has not connected within
//! [`BootEvents::with_agent_timeout`] (10 minutes by default). A missing artifacts or iPXE
//! directory is said at start-up ([`crate::http::HttpState::new`]).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ironbell_dhcp::dhcproto::v4::MessageType;
use ironbell_dhcp::{IgnoreReason, NETBOOT_NOT_ALLOWED, Packet, format_mac};
use ironbell_limits::{LogLimiter, RateLimiter};
use ironbell_model::corev1::ObjectReference;
use ironbell_model::tinkerbell::Hardware;
use ironbell_store::SharedStore;
use ironbell_store::events::{Recorder, events_of};
use tracing::warn;

use crate::{Index, MacLookup, Machine};

/// At most one Event per MAC and kind in this interval.
pub const EVENT_INTERVAL: Duration = Duration::from_secs(5);
/// At most one warning line per MAC (or client address) in this interval.
pub const WARN_INTERVAL: Duration = Duration::from_secs(300);
/// How long a machine's agent has to connect after its kernel was fetched, by default.
pub const AGENT_TIMEOUT: Duration = Duration::from_secs(600);
/// Where Events about MACs no Hardware has go, unless [`BootEvents::with_namespace`] says
/// otherwise: the namespace `hardware import` uses by default (`ironbell-inventory`'s
/// `DEFAULT_NAMESPACE`, EKS Anywhere's `eksa-system`), where the machine's Hardware would be.
pub const DEFAULT_NAMESPACE: &str = "eksa-system";
/// MACs (and MAC and kind pairs) tracked by the rate limits.
const MAX_TRACKED: usize = 100_000;
/// MACs no Hardware has that get an `UnknownMAC` Event, at most, per process.
pub const MAX_UNKNOWN_MACS: usize = 1000;
/// Machines waiting for their agent, at most (more are not watched).
const MAX_WAITING: usize = 100_000;

/// Warning lines per second in all, whatever the number of MACs.
static WARNINGS: LogLimiter = LogLimiter::per_second(5);

/// The kinds of DHCP Event, for the per-MAC bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Reply(u8, bool),
    Ignored(usize),
    Http(u8),
}

/// The boot service's Events and diagnostics (see the module docs).
pub struct BootEvents {
    recorder: Recorder,
    index: Arc<Index>,
    namespace: String,
    per_kind: RateLimiter<([u8; 6], Kind)>,
    per_mac_warning: RateLimiter<[u8; 6]>,
    per_ip_warning: RateLimiter<IpAddr>,
    unknown: RateLimiter<()>,
    agent_timeout: Duration,
    /// Hardware `(namespace, name)` whose kernel was fetched → when, waiting for the agent.
    waiting: Mutex<HashMap<(String, String), (Instant, ironbell_model::Timestamp)>>,
    /// MACs no Hardware has that got an `UnknownMAC` Event (at most [`MAX_UNKNOWN_MACS`]).
    unknown_macs: Mutex<HashSet<[u8; 6]>>,
}

impl std::fmt::Debug for BootEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootEvents")
            .field("recorder", &self.recorder)
            .field("namespace", &self.namespace)
            .field("agent_timeout", &self.agent_timeout)
            .finish_non_exhaustive()
    }
}

impl BootEvents {
    /// Events recorded with `recorder`, machines looked up in `index`; Events about MACs
    /// no Hardware has go to [`DEFAULT_NAMESPACE`].
    pub fn new(recorder: Recorder, index: Arc<Index>) -> Self {
        let per_interval = |d: Duration| 1.0 / d.as_secs_f64();
        Self {
            recorder,
            index,
            namespace: DEFAULT_NAMESPACE.to_string(),
            per_kind: RateLimiter::new(per_interval(EVENT_INTERVAL), 1, MAX_TRACKED),
            per_mac_warning: RateLimiter::new(per_interval(WARN_INTERVAL), 1, MAX_TRACKED),
            per_ip_warning: RateLimiter::new(per_interval(WARN_INTERVAL), 1, MAX_TRACKED),
            unknown: RateLimiter::new(2.0, 20, 1),
            agent_timeout: AGENT_TIMEOUT,
            waiting: Mutex::new(HashMap::new()),
            unknown_macs: Mutex::new(HashSet::new()),
        }
    }

    /// Events about MACs no Hardware has go to `namespace`.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// A machine's agent has `timeout` to connect after its kernel was fetched.
    pub fn with_agent_timeout(mut self, timeout: Duration) -> Self {
        self.agent_timeout = timeout;
        self
    }

    /// The namespace of Events about MACs no Hardware has.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The recorder (its counters).
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Whether an Event of `kind` about `mac` is to be recorded now: the recorder's queue
    /// has room (else nothing is spent on it) and the per-MAC bucket allows it.
    fn allow(&self, mac: [u8; 6], kind: Kind) -> bool {
        self.recorder.has_room() && self.per_kind.check(&(mac, kind))
    }

    fn hardware(machine: &Machine) -> ObjectReference {
        ObjectReference::to::<Hardware>(&*machine.hardware.namespace, &*machine.hardware.name)
    }

    /// A request from `mac`, which no Hardware has (or several have).
    fn unknown_mac(&self, mac: [u8; 6], request: &Packet<'_>) {
        // One bucket check per request; the rest only when it lets this one through.
        if !self
            .per_kind
            .check(&(mac, Kind::Ignored(IgnoreReason::UnknownMac.index())))
        {
            return;
        }
        let text = format_mac(mac);
        let what = kind_of(request);
        let (why, hint) = match self.index.by_mac(mac) {
            MacLookup::Conflict(names) => (
                format!("several Hardware declare it ({})", names.join(", ")),
                "keep the MAC on one Hardware only",
            ),
            _ => (
                "no Hardware has it".to_string(),
                "import it (ironbell hardware import) if this machine is to be provisioned",
            ),
        };
        if self.per_mac_warning.check(&mac)
            && let Some(suppressed) = WARNINGS.allow()
        {
            warn!(mac = %text, suppressed, "{what} from {text} ignored: {why}; {hint}");
        }
        if self.recorder.has_room() && self.unknown.check(&()) && self.first_unknowns(mac) {
            let involved =
                ObjectReference::to::<Hardware>(&*self.namespace, text.replace(':', "-"));
            self.recorder.warning(
                involved,
                "UnknownMAC",
                format!("{what} from {text} ignored: {why}"),
            );
        }
    }

    /// Whether `mac` is one of the first [`MAX_UNKNOWN_MACS`] MACs no Hardware has that
    /// this process has recorded Events for (each keeps counting on its Event; later ones
    /// get the warning line only), so that spoofed MACs cannot grow the store without bound.
    fn first_unknowns(&self, mac: [u8; 6]) -> bool {
        let mut seen = self
            .unknown_macs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if seen.len() < MAX_UNKNOWN_MACS {
            seen.insert(mac);
            true
        } else {
            seen.contains(&mac)
        }
    }

    /// A known machine asked to network-boot and may not.
    fn netboot_refused(&self, machine: &Machine, how: &str) {
        let name = machine.name();
        let mac = machine.mac_string();
        if self.per_mac_warning.check(&machine.mac)
            && let Some(suppressed) = WARNINGS.allow()
        {
            warn!(
                hardware = %name,
                %mac,
                suppressed,
                "Hardware {name} ({mac}) tried to network-boot but netboot.allowPXE is false: \
                 {how}; a Workflow with bootOptions.toggleAllowNetboot sets it"
            );
        }
        self.recorder.warning(
            Self::hardware(machine),
            "NetbootNotAllowed",
            format!("{mac} tried to network-boot; allowPXE is false: {how}"),
        );
    }

    /// The iPXE script was served to `machine`.
    pub fn script_served(&self, machine: &Machine) {
        if self.allow(machine.mac, Kind::Http(0)) {
            self.recorder.normal(
                Self::hardware(machine),
                "IPXEScriptServed",
                format!("iPXE script served to {}", machine.mac_string()),
            );
        }
    }

    /// The iPXE script was refused to `machine` (allowPXE false).
    pub fn script_refused(&self, machine: &Machine) {
        if self.allow(machine.mac, Kind::Http(1)) {
            self.netboot_refused(machine, "its iPXE script was refused (403)");
        }
    }

    /// `file` of the artifacts directory was answered with `status` for `client`.
    pub fn artifact(&self, client: IpAddr, file: &str, status: u16, dir: &std::path::Path) {
        let machine = as_v4(client).and_then(|ip| self.index.by_ip(ip));
        let file = file.trim_start_matches('/');
        match status {
            200 | 206 => {
                let Some(machine) = machine else { return };
                if !self.allow(machine.mac, Kind::Http(2 + kernel_or_initramfs(file))) {
                    return;
                }
                if kernel_or_initramfs(file) == 1 {
                    self.kernel_fetched(&machine);
                }
                self.recorder.normal(
                    Self::hardware(&machine),
                    "ArtifactFetched",
                    format!("{file} fetched from {client}"),
                );
            }
            404 => {
                let who = machine
                    .as_ref()
                    .map_or_else(|| client.to_string(), |m| format!("Hardware {}", m.name()));
                if self.per_ip_warning.check(&client)
                    && let Some(suppressed) = WARNINGS.allow()
                {
                    warn!(
                        %client,
                        file,
                        suppressed,
                        "boot artifact {file:?} asked for by {who} is not in {} (404); \
                         check --artifacts-dir",
                        dir.display()
                    );
                }
                if let Some(machine) = machine
                    && self.allow(machine.mac, Kind::Http(5))
                {
                    self.recorder.warning(
                        Self::hardware(&machine),
                        "BootArtifactNotFound",
                        format!("{file} asked for by {client} is not in the artifacts directory"),
                    );
                }
            }
            _ => {}
        }
    }

    fn kernel_fetched(&self, machine: &Machine) {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (
            machine.hardware.namespace.to_string(),
            machine.hardware.name.to_string(),
        );
        if waiting.len() < MAX_WAITING || waiting.contains_key(&key) {
            waiting.insert(key, (Instant::now(), ironbell_model::values::now()));
        }
    }

    /// Checks, every `period`, the machines whose kernel was fetched more than the agent
    /// timeout ago: one whose agent has not connected since (no `AgentConnected` Event on
    /// its Hardware) gets a warning line and an `AgentNotConnected` Event. Runs until
    /// dropped.
    pub async fn watch_agents(self: Arc<Self>, store: SharedStore, period: Duration) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let due: Vec<((String, String), ironbell_model::Timestamp)> = {
                let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
                let timeout = self.agent_timeout;
                let due: Vec<_> = waiting
                    .iter()
                    .filter(|(_, (at, _))| at.elapsed() >= timeout)
                    .map(|(k, (_, ts))| (k.clone(), *ts))
                    .collect();
                for (k, _) in &due {
                    waiting.remove(k);
                }
                due
            };
            for ((ns, name), fetched) in due {
                let connected = match events_of::<Hardware>(&store, &ns, &name).await {
                    Ok(events) => events.iter().any(|e| {
                        e.reason.as_deref() == Some("AgentConnected")
                            && e.last_timestamp.is_some_and(|t| t >= fetched)
                    }),
                    // Cannot tell: say nothing rather than something wrong.
                    Err(_) => true,
                };
                if connected {
                    continue;
                }
                let minutes = self.agent_timeout.as_secs() / 60;
                if let Some(suppressed) = WARNINGS.allow() {
                    warn!(
                        hardware = %format!("{ns}/{name}"),
                        suppressed,
                        "Hardware {ns}/{name} fetched the HookOS kernel at {fetched} but its \
                         agent has not connected in {minutes} min: check the machine's \
                         console and `ironbell logs {name}` (the agent's gRPC address is \
                         grpc_authority= on its kernel line)"
                    );
                }
                self.recorder.warning(
                    ObjectReference::to::<Hardware>(&ns, &name),
                    "AgentNotConnected",
                    format!(
                        "the HookOS kernel was fetched at {fetched}; no agent connected \
                         within {minutes} min"
                    ),
                );
            }
        }
    }
}

impl ironbell_dhcp::Observer for BootEvents {
    fn replied(&self, mac: [u8; 6], request: &Packet<'_>, reply: &Packet<'_>) {
        let ipxe = reply.file().starts_with(b"http");
        let mt = reply.message_type();
        let code = mt.map_or(0, u8::from);
        if !self.allow(mac, Kind::Reply(code, ipxe)) {
            return;
        }
        let file = String::from_utf8_lossy(reply.file()).into_owned();
        let MacLookup::Found(machine) = self.index.by_mac(mac) else {
            return;
        };
        let netboot = request.is_netboot_client();
        if netboot && file == NETBOOT_NOT_ALLOWED {
            self.netboot_refused(&machine, "DHCP gave it an address but no boot file");
            return;
        }
        let (reason, verb) = match mt {
            Some(MessageType::Offer) => ("DHCPOffer", "offered"),
            Some(MessageType::Ack) => ("DHCPAck", "acknowledged"),
            Some(MessageType::Nak) => ("DHCPNak", "refused"),
            _ => ("DHCPReply", "answered"),
        };
        let client = if !netboot {
            "client"
        } else if ipxe {
            "iPXE"
        } else {
            "PXE firmware"
        };
        let mut message = format!(
            "{verb} {} to {} ({client})",
            reply.yiaddr(),
            format_mac(mac)
        );
        if netboot && !file.is_empty() {
            message.push_str(&format!(", boot file {file}"));
        }
        self.recorder
            .normal(Self::hardware(&machine), reason, message);
    }

    fn ignored(&self, mac: [u8; 6], request: &Packet<'_>, reason: IgnoreReason) {
        use IgnoreReason as R;
        match reason {
            R::UnknownMac => return self.unknown_mac(mac, request),
            R::ModeOff | R::NotARequest | R::BadHardwareAddress | R::UnsupportedMessageType => {
                return;
            }
            R::OtherServer | R::Release | R::Decline | R::DhcpDisabled => {}
            R::NotNetbootClient | R::NetbootNotAllowed | R::UnknownArchitecture => {}
        }
        if !self.allow(mac, Kind::Ignored(reason.index())) {
            return;
        }
        let MacLookup::Found(machine) = self.index.by_mac(mac) else {
            return;
        };
        let why = match reason {
            R::NetbootNotAllowed => {
                return self.netboot_refused(&machine, "the proxy DHCP answer was withheld");
            }
            R::OtherServer => "the client chose another DHCP server",
            R::Release => "the client released its address",
            R::Decline => "the client declined its address (in use by another host?)",
            R::DhcpDisabled => "DHCP is disabled on this interface",
            R::NotNetbootClient => "not a network-boot client (proxy DHCP answers only those)",
            R::UnknownArchitecture => "its firmware architecture (option 93) has no iPXE binary",
            _ => reason.as_str(),
        };
        let message = format!(
            "{} from {} ignored: {why}",
            kind_of(request),
            format_mac(mac)
        );
        if matches!(reason, R::Decline | R::UnknownArchitecture) {
            self.recorder
                .warning(Self::hardware(&machine), "DHCPIgnored", message);
        } else {
            self.recorder
                .normal(Self::hardware(&machine), "DHCPIgnored", message);
        }
    }
}

/// `DHCP Discover`, ... for messages.
fn kind_of(request: &Packet<'_>) -> String {
    match request.message_type() {
        Some(mt) => format!("DHCP {mt:?}"),
        None => "DHCP request".to_string(),
    }
}

/// 1 for a kernel (`vmlinuz...`), 2 for an initramfs, 0 for anything else.
fn kernel_or_initramfs(file: &str) -> u8 {
    if file.starts_with("vmlinuz") {
        1
    } else if file.starts_with("initramfs") || file.starts_with("initrd") {
        2
    } else {
        0
    }
}

fn as_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_about_unknown_macs_go_to_a_bounded_set_of_macs() {
        let events = BootEvents::new(Recorder::disabled(), Index::from_hardware([]));
        let mac = |i: usize| {
            let b = (i as u32).to_be_bytes();
            [2, 0, b[0], b[1], b[2], b[3]]
        };
        for i in 0..MAX_UNKNOWN_MACS {
            assert!(events.first_unknowns(mac(i)), "{i}");
        }
        assert!(!events.first_unknowns(mac(MAX_UNKNOWN_MACS)));
        // One already recorded keeps counting.
        assert!(events.first_unknowns(mac(7)));
    }

    #[test]
    fn kernels_and_initramfs_are_told_apart() {
        assert_eq!(kernel_or_initramfs("vmlinuz-x86_64"), 1);
        assert_eq!(kernel_or_initramfs("initramfs-aarch64"), 2);
        assert_eq!(kernel_or_initramfs("hook.tar.gz"), 0);
    }
}
