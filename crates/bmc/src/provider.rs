//! The provider layer: one [`Bmc`] trait over the two protocols ironbell speaks, and
//! [`connect`], which tries the providers a [`Connection`] allows in Rufio's order.
//!
//! Provider names are Rufio's (bmclib's): `ipmitool` is IPMI 2.0 RMCP+ through
//! `ironbell-ipmi` (no ipmitool binary is involved), `gofish` is Redfish through
//! `ironbell-redfish`. Other bmclib providers (`asrockrack`, `intelamt`, `dell`,
//! `supermicro`, `openbmc`, `rpc`, ...) do not exist here: naming them in
//! `providerOptions.preferredOrder` is logged and otherwise ignored.
//!
//! What this is not: the controllers (see [`crate::controllers`]) or the store. Start at
//! [`connect`], then [`Bmc`].
//!
//! Secrets: the password only lives in [`Credentials`] (redacted in `Debug`) and in the
//! protocol crates' configurations, which redact it too. Neither protocol crate puts it in
//! an error; [`ConnectError`] and [`BmcError`] messages are additionally scrubbed of it by
//! the controllers before they reach a status, a log line or a CLI error, in every
//! encoding a BMC may echo it in (see [`Credentials::scrub`]).

use std::fmt;
use std::net::Ipv6Addr;
use std::time::Duration;

use ironbell_ipmi as ipmi;
use ironbell_model::bmc::{Connection, PowerAction, PowerState};
use ironbell_redfish as redfish;
use tokio::time::Instant;
use tracing::{debug, info};

/// A BMC provider, named as in Rufio's `providerOptions.preferredOrder`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    /// IPMI 2.0 over RMCP+ (bmclib's `ipmitool`).
    Ipmitool,
    /// Redfish (bmclib's `gofish`).
    Gofish,
}

impl Provider {
    /// Rufio's default order, restricted to the providers ironbell has: ipmitool, then
    /// gofish (the CRD documents `ipmitool, asrockrack, gofish, intelamt, dell, supermicro,
    /// openbmc`).
    pub const DEFAULT_ORDER: [Provider; 2] = [Provider::Ipmitool, Provider::Gofish];

    /// The name Rufio uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ipmitool => "ipmitool",
            Self::Gofish => "gofish",
        }
    }

    /// The provider with this (case-insensitive) name, if ironbell has it.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "ipmitool" => Some(Self::Ipmitool),
            "gofish" => Some(Self::Gofish),
            _ => None,
        }
    }

    /// Whether this provider can do `feature`.
    pub fn supports(self, feature: Feature) -> bool {
        !matches!((self, feature), (Self::Ipmitool, Feature::VirtualMedia))
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a connection will be used for: [`connect_for`] skips providers that cannot do it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Feature {
    /// Power and boot device (every provider).
    #[default]
    Power,
    /// Virtual media (Redfish only).
    VirtualMedia,
}

/// The order in which providers are tried for `connection`: the known names of
/// `providerOptions.preferredOrder` first (case-insensitive, duplicates dropped), then the
/// rest of [`Provider::DEFAULT_ORDER`], as bmclib's `PreferDriver` does. Unknown names
/// are returned separately so the caller can log them.
pub fn provider_order(connection: &Connection) -> (Vec<Provider>, Vec<String>) {
    let mut order = Vec::new();
    let mut unknown = Vec::new();
    let preferred = connection
        .provider_options
        .as_ref()
        .and_then(|o| o.preferred_order.as_deref())
        .unwrap_or_default();
    for name in preferred {
        match Provider::parse(name) {
            Some(p) if !order.contains(&p) => order.push(p),
            Some(_) => {}
            None => unknown.push(name.clone()),
        }
    }
    for p in Provider::DEFAULT_ORDER {
        if !order.contains(&p) {
            order.push(p);
        }
    }
    (order, unknown)
}

/// A BMC user name and password. `Debug` never shows the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    password: String,
}

impl Credentials {
    /// Credentials from a user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The password, to hand to a protocol client.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// `text` with the password replaced by `<redacted>` in every encoding a BMC may
    /// echo it in (plain, JSON-escaped, percent-encoded, HTML, base64, and the base64 of
    /// `user:password`), by [`ironbell_redfish::scrub`]. Passwords shorter than 3
    /// characters are left alone except in that last form: replacing them would mangle
    /// any text.
    pub fn scrub(&self, text: &str) -> String {
        redfish::scrub(text, &self.username, &self.password)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How patient a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// One budget for opening the connection, shared by every provider attempt.
    pub connect: Duration,
    /// Limit of each Redfish request once connected.
    pub request: Duration,
    /// How long a Redfish reset fallback (e.g. PowerCycle done as ForceOff, wait, On)
    /// waits for the power to go off.
    pub power_wait: Duration,
}

impl Default for Timeouts {
    /// Rufio's `--bmc-connect-timeout` default (60 s), 30 s per Redfish request, 120 s
    /// power wait.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(60),
            request: Duration::from_secs(30),
            power_wait: Duration::from_secs(120),
        }
    }
}

/// What a BMC operation failed with, naming the provider.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BmcError {
    /// An IPMI error.
    #[error("ipmitool: {0}")]
    Ipmi(#[from] ipmi::Error),
    /// A Redfish error.
    #[error("gofish: {0}")]
    Redfish(#[from] redfish::Error),
    /// The provider cannot do this at all.
    #[error("{what} is not supported by the {provider} provider")]
    Unsupported {
        /// The provider.
        provider: Provider,
        /// What was asked.
        what: String,
    },
    /// A boot device name the provider does not know.
    #[error("{provider}: unknown boot device {device:?} (known: {known})")]
    BootDevice {
        /// The provider.
        provider: Provider,
        /// The device asked for.
        device: String,
        /// The names it knows, comma-separated.
        known: &'static str,
    },
    /// A provider option cannot be used.
    #[error("{provider}: invalid option {option}: {reason}")]
    Option {
        /// The provider.
        provider: Provider,
        /// The option, e.g. `providerOptions.ipmitool.cipherSuite`.
        option: &'static str,
        /// Why.
        reason: String,
    },
    /// The connection was not opened within its share of the connect timeout.
    #[error("{provider}: connect timed out: no connection to {host} within {after:?}")]
    ConnectTimeout {
        /// The provider.
        provider: Provider,
        /// The BMC.
        host: String,
        /// The time it had.
        after: Duration,
    },
    /// The provider was not tried: it cannot do what the connection is for.
    #[error("{provider}: skipped, {what} is not supported by the {provider} provider")]
    Skipped {
        /// The provider.
        provider: Provider,
        /// What the connection is for.
        what: &'static str,
    },
}

/// Every provider failed to open a connection.
#[derive(Debug, thiserror::Error)]
#[error("failed to open connection to BMC {host}: {}", join(.attempts))]
pub struct ConnectError {
    /// The BMC.
    pub host: String,
    /// Each provider's failure, in the order tried.
    pub attempts: Vec<BmcError>,
}

fn join(errors: &[BmcError]) -> String {
    if errors.is_empty() {
        return "no provider to try".to_string();
    }
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One open connection to a BMC, through one provider.
#[async_trait::async_trait]
pub trait Bmc: Send {
    /// The provider in use.
    fn provider(&self) -> Provider;

    /// The chassis power state (`PoweringOn` counts as on and `PoweringOff` as off, as
    /// Rufio's `toPowerState` reads bmclib's strings).
    async fn power_state(&mut self) -> Result<PowerState, BmcError>;

    /// Performs a power action: `on`, `off` (hard), `soft` (ACPI shutdown), `cycle`,
    /// `reset`; `status` only reads the state. `on`, `off` and `soft` send nothing when
    /// the machine already is in that state (as bmclib does), and `cycle`/`reset` of a
    /// machine that is off power it on.
    async fn power(&mut self, action: PowerAction) -> Result<(), BmcError>;

    /// Sets the boot device (Rufio's names: `pxe`, `disk`, `bios`, `cdrom`, `safe`, ...),
    /// for the next boot only or for every boot, in EFI or legacy mode.
    async fn set_boot_device(
        &mut self,
        device: &str,
        persistent: bool,
        efi: bool,
    ) -> Result<(), BmcError>;

    /// Inserts the image at `url` as virtual media of `kind` (`CD`, `DVD`), or ejects it
    /// when `url` is `None`.
    async fn virtual_media(&mut self, kind: &str, url: Option<&str>) -> Result<(), BmcError>;

    /// Ends the session.
    async fn close(self: Box<Self>) -> Result<(), BmcError>;
}

/// Opens a connection for power and boot-device work; see [`connect_for`].
pub async fn connect(
    connection: &Connection,
    credentials: &Credentials,
    timeouts: Timeouts,
) -> Result<Box<dyn Bmc>, ConnectError> {
    connect_for(connection, credentials, timeouts, Feature::Power).await
}

/// Tries each provider in [`provider_order`] until one opens a connection, within ONE
/// budget (`timeouts.connect`) for all attempts: each provider gets what remains of it,
/// except that a provider followed by another gets at most half of what remains, so that
/// a BMC that silently drops one protocol still leaves the next one time. Providers that
/// cannot do `feature` are skipped. The error lists every provider's failure.
///
/// Ports: `providerOptions.ipmitool.port` (default 623) and
/// `providerOptions.redfish.port` (default 443, HTTPS); `connection.port` is not used, as
/// in Rufio (EKS Anywhere writes 0 there).
pub async fn connect_for(
    connection: &Connection,
    credentials: &Credentials,
    timeouts: Timeouts,
    feature: Feature,
) -> Result<Box<dyn Bmc>, ConnectError> {
    let host = connection.host.clone();
    let (order, unknown) = provider_order(connection);
    if !unknown.is_empty() {
        info!(%host, ?unknown, "preferredOrder names providers ironbell does not have; ignored");
    }
    let deadline = Instant::now() + timeouts.connect;
    let mut attempts = Vec::new();
    let candidates: Vec<Provider> = order
        .iter()
        .copied()
        .filter(|p| {
            if p.supports(feature) {
                true
            } else {
                attempts.push(BmcError::Skipped {
                    provider: *p,
                    what: "virtual media",
                });
                false
            }
        })
        .collect();
    for (i, provider) in candidates.iter().copied().enumerate() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let budget = if i + 1 < candidates.len() {
            remaining / 2
        } else {
            remaining
        };
        // Whole milliseconds: these durations end up in messages.
        let budget = Duration::from_millis(u64::try_from(budget.as_millis()).unwrap_or(u64::MAX));
        if budget.is_zero() {
            attempts.push(BmcError::ConnectTimeout {
                provider,
                host: host.clone(),
                after: Duration::ZERO,
            });
            continue;
        }
        debug!(%host, %provider, ?budget, "opening BMC connection");
        let opened = match provider {
            Provider::Ipmitool => open_ipmi(connection, credentials, budget).await,
            Provider::Gofish => open_redfish(connection, credentials, timeouts, budget).await,
        };
        match opened {
            Ok(bmc) => {
                debug!(%host, %provider, "BMC connection open");
                return Ok(bmc);
            }
            Err(e) => {
                // Only a debug line: the next provider may answer (an IPMI-only BMC refuses
                // Redfish every time), and when none does the error names every attempt.
                debug!(%host, %provider, error = %credentials.scrub(&e.to_string()), "BMC provider failed to connect");
                attempts.push(e);
            }
        }
    }
    Err(ConnectError { host, attempts })
}

fn port_option(
    provider: Provider,
    option: &'static str,
    port: Option<i64>,
    default: u16,
) -> Result<u16, BmcError> {
    match port {
        None | Some(0) => Ok(default),
        Some(p) => u16::try_from(p).map_err(|_| BmcError::Option {
            provider,
            option,
            reason: format!("{p} is not a port number"),
        }),
    }
}

async fn open_ipmi(
    connection: &Connection,
    credentials: &Credentials,
    budget: Duration,
) -> Result<Box<dyn Bmc>, BmcError> {
    let opts = connection
        .provider_options
        .as_ref()
        .and_then(|o| o.ipmitool.clone())
        .unwrap_or_default();
    let port = port_option(
        Provider::Ipmitool,
        "providerOptions.ipmitool.port",
        opts.port,
        ipmi::DEFAULT_PORT,
    )?;
    let cipher_suite = match opts.cipher_suite.as_deref().map(str::trim) {
        None | Some("") => ipmi::CipherSuiteChoice::Auto,
        Some(s) => {
            let suite = s
                .parse::<u8>()
                .ok()
                .and_then(ipmi::CipherSuite::from_id)
                .ok_or_else(|| BmcError::Option {
                    provider: Provider::Ipmitool,
                    option: "providerOptions.ipmitool.cipherSuite",
                    reason: format!("cipher suite {s:?} is not supported (3 and 17 are)"),
                })?;
            ipmi::CipherSuiteChoice::Only(suite)
        }
    };
    let mut config = ipmi::Config::new(
        connection.host.clone(),
        credentials.username.clone(),
        credentials.password().to_string(),
    );
    config.port = port;
    config.cipher_suite = cipher_suite;
    config.retries = 3;
    // The session keeps this per-request timeout; make the handshake's attempts fit the
    // budget so that the IPMI client's own (more precise) timeout error comes first.
    let per_try = Duration::from_millis(u64::try_from((budget / 5).as_millis()).unwrap_or(2000));
    config.timeout = per_try.clamp(Duration::from_millis(100), Duration::from_secs(2));
    match tokio::time::timeout(budget, ipmi::Session::connect(config)).await {
        Ok(Ok(session)) => Ok(Box::new(IpmiBmc { session })),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(BmcError::ConnectTimeout {
            provider: Provider::Ipmitool,
            host: connection.host.clone(),
            after: budget,
        }),
    }
}

/// `https://host:port` for the Redfish endpoint (IPv6 literals bracketed).
fn redfish_endpoint(host: &str, port: u16) -> String {
    if host.parse::<Ipv6Addr>().is_ok() {
        format!("https://[{host}]:{port}")
    } else {
        format!("https://{host}:{port}")
    }
}

async fn open_redfish(
    connection: &Connection,
    credentials: &Credentials,
    timeouts: Timeouts,
    budget: Duration,
) -> Result<Box<dyn Bmc>, BmcError> {
    let opts = connection
        .provider_options
        .as_ref()
        .and_then(|o| o.redfish.clone())
        .unwrap_or_default();
    let port = port_option(
        Provider::Gofish,
        "providerOptions.redfish.port",
        opts.port,
        443,
    )?;
    let mut config = redfish::Config::new(
        &redfish_endpoint(&connection.host, port),
        &credentials.username,
        credentials.password(),
    )?;
    config.insecure_tls = connection.insecure_tls;
    config.system_name = opts.system_name.filter(|s| !s.is_empty());
    config.auth = if opts.use_basic_auth == Some(true) {
        redfish::Auth::Basic
    } else {
        redfish::Auth::Session
    };
    config.timeout = timeouts.request.max(Duration::from_millis(100));
    config.connect_timeout = budget
        .min(Duration::from_secs(10))
        .max(Duration::from_millis(100));
    config.power_wait = timeouts.power_wait;
    match tokio::time::timeout(budget, redfish::Client::connect(config)).await {
        Ok(Ok(client)) => Ok(Box::new(RedfishBmc { client })),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(BmcError::ConnectTimeout {
            provider: Provider::Gofish,
            host: connection.host.clone(),
            after: budget,
        }),
    }
}

/// The `ipmitool` provider: an IPMI 2.0 session.
struct IpmiBmc {
    session: ipmi::Session,
}

/// Rufio/ipmitool boot device names and their IPMI selectors.
const IPMI_DEVICES: &str = "none, pxe, disk, safe, diag, cdrom, bios, floppy";

fn ipmi_device(device: &str) -> Option<ipmi::BootDevice> {
    use ipmi::BootDevice as D;
    Some(match device.to_ascii_lowercase().as_str() {
        "none" => D::NoOverride,
        "pxe" => D::Pxe,
        "disk" => D::Disk,
        "safe" => D::DiskSafeMode,
        "diag" => D::Diagnostic,
        "cdrom" => D::Cdrom,
        "bios" => D::BiosSetup,
        "floppy" => D::Floppy,
        _ => return None,
    })
}

#[async_trait::async_trait]
impl Bmc for IpmiBmc {
    fn provider(&self) -> Provider {
        Provider::Ipmitool
    }

    async fn power_state(&mut self) -> Result<PowerState, BmcError> {
        let status = self.session.chassis_status().await?;
        Ok(if status.power_on {
            PowerState::On
        } else {
            PowerState::Off
        })
    }

    async fn power(&mut self, action: PowerAction) -> Result<(), BmcError> {
        use ipmi::ChassisControl as C;
        let on = self.session.chassis_status().await?.power_on;
        let control = match (action, on) {
            (PowerAction::Status, _) => None,
            (PowerAction::On, true) | (PowerAction::Off | PowerAction::Soft, false) => None,
            (PowerAction::On | PowerAction::Cycle | PowerAction::Reset, false) => Some(C::PowerUp),
            (PowerAction::Off, true) => Some(C::PowerDown),
            (PowerAction::Soft, true) => Some(C::SoftShutdown),
            (PowerAction::Cycle, true) => Some(C::PowerCycle),
            (PowerAction::Reset, true) => Some(C::HardReset),
        };
        match control {
            Some(c) => {
                info!(host = self.session.host(), action = %c, "IPMI chassis control");
                self.session.chassis_control(c).await?;
            }
            None => debug!(host = self.session.host(), ?action, on, "nothing to send"),
        }
        Ok(())
    }

    async fn set_boot_device(
        &mut self,
        device: &str,
        persistent: bool,
        efi: bool,
    ) -> Result<(), BmcError> {
        let dev = ipmi_device(device).ok_or_else(|| BmcError::BootDevice {
            provider: Provider::Ipmitool,
            device: device.to_string(),
            known: IPMI_DEVICES,
        })?;
        self.session
            .set_boot_device(dev, ipmi::BootOptions { persistent, efi })
            .await?;
        Ok(())
    }

    async fn virtual_media(&mut self, _kind: &str, _url: Option<&str>) -> Result<(), BmcError> {
        Err(BmcError::Unsupported {
            provider: Provider::Ipmitool,
            what: "virtual media".to_string(),
        })
    }

    async fn close(self: Box<Self>) -> Result<(), BmcError> {
        Ok(self.session.close().await?)
    }
}

/// The `gofish` provider: a Redfish client.
struct RedfishBmc {
    client: redfish::Client,
}

/// bmclib's boot device names and their Redfish `BootSourceOverrideTarget`.
const REDFISH_DEVICES: &str =
    "bios, cdrom, diag, floppy, disk, none, pxe, remote_drive, sd_card, usb, utilities, uefi_http";

fn redfish_device(device: &str) -> Option<redfish::BootSource> {
    use redfish::BootSource as S;
    Some(match device.to_ascii_lowercase().as_str() {
        "bios" => S::BiosSetup,
        "cdrom" => S::Cd,
        "disk" => S::Hdd,
        "none" => S::None,
        "pxe" => S::Pxe,
        "diag" => S::Other("Diags".into()),
        "floppy" => S::Other("Floppy".into()),
        "remote_drive" => S::Other("RemoteDrive".into()),
        "sd_card" => S::Other("SDCard".into()),
        "usb" => S::Other("Usb".into()),
        "utilities" => S::Other("Utilities".into()),
        "uefi_http" => S::Other("UefiHttp".into()),
        _ => return None,
    })
}

#[async_trait::async_trait]
impl Bmc for RedfishBmc {
    fn provider(&self) -> Provider {
        Provider::Gofish
    }

    async fn power_state(&mut self) -> Result<PowerState, BmcError> {
        use redfish::PowerState as P;
        Ok(match self.client.power_state().await? {
            P::On | P::PoweringOn => PowerState::On,
            P::Off | P::PoweringOff => PowerState::Off,
            P::Paused => PowerState::Unknown,
        })
    }

    async fn power(&mut self, action: PowerAction) -> Result<(), BmcError> {
        use redfish::ResetType as R;
        let kind = match action {
            PowerAction::Status => {
                self.client.power_state().await?;
                return Ok(());
            }
            PowerAction::On => R::On,
            PowerAction::Off => R::ForceOff,
            PowerAction::Soft => R::GracefulShutdown,
            PowerAction::Cycle => R::PowerCycle,
            PowerAction::Reset => R::ForceRestart,
        };
        let sent = self.client.reset(kind).await?;
        debug!(
            system = self.client.system_id(),
            ?action,
            ?sent,
            "redfish reset done"
        );
        Ok(())
    }

    async fn set_boot_device(
        &mut self,
        device: &str,
        persistent: bool,
        efi: bool,
    ) -> Result<(), BmcError> {
        let source = redfish_device(device).ok_or_else(|| BmcError::BootDevice {
            provider: Provider::Gofish,
            device: device.to_string(),
            known: REDFISH_DEVICES,
        })?;
        // bmclib always sends the mode: UEFI when efiBoot, else Legacy.
        let how = redfish::BootOverride {
            persistent,
            uefi: Some(efi),
        };
        self.client.set_boot_override(source, how).await?;
        Ok(())
    }

    async fn virtual_media(&mut self, kind: &str, url: Option<&str>) -> Result<(), BmcError> {
        if !matches!(kind, "CD" | "DVD") {
            return Err(BmcError::Unsupported {
                provider: Provider::Gofish,
                what: format!("virtual media kind {kind:?} (CD and DVD are supported)"),
            });
        }
        match url.filter(|u| !u.is_empty()) {
            Some(u) => {
                self.client.insert_media(u).await?;
            }
            None => self.client.eject_media().await?,
        }
        Ok(())
    }

    async fn close(self: Box<Self>) -> Result<(), BmcError> {
        Ok(self.client.close().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbell_model::bmc::ProviderOptions;

    fn conn(order: Option<&[&str]>) -> Connection {
        Connection {
            host: "10.0.0.5".into(),
            provider_options: order.map(|o| ProviderOptions {
                preferred_order: Some(o.iter().map(ToString::to_string).collect()),
                ..ProviderOptions::default()
            }),
            ..Connection::default()
        }
    }

    #[test]
    fn default_order_is_ipmitool_then_gofish() {
        assert_eq!(
            provider_order(&conn(None)).0,
            [Provider::Ipmitool, Provider::Gofish]
        );
    }

    #[test]
    fn preferred_providers_move_to_the_front_and_unknown_ones_are_reported() {
        let (order, unknown) = provider_order(&conn(Some(&["GoFish", "redfish", "gofish"])));
        assert_eq!(order, [Provider::Gofish, Provider::Ipmitool]);
        assert_eq!(unknown, ["redfish"]);
        let (order, _) = provider_order(&conn(Some(&["ipmitool", "gofish"])));
        assert_eq!(order, [Provider::Ipmitool, Provider::Gofish]);
    }

    #[test]
    fn credentials_debug_and_scrub_hide_the_password() {
        let c = Credentials::new("root", "s3cr3t-pw");
        assert!(!format!("{c:?}").contains("s3cr3t-pw"));
        assert_eq!(c.scrub("x s3cr3t-pw y"), "x <redacted> y");
        assert_eq!(Credentials::new("a", "p").scrub("p q"), "p q");
    }

    #[test]
    fn boot_device_names_map_to_both_protocols() {
        assert_eq!(ipmi_device("PXE"), Some(ipmi::BootDevice::Pxe));
        assert_eq!(ipmi_device("safe"), Some(ipmi::BootDevice::DiskSafeMode));
        assert_eq!(ipmi_device("usb"), None);
        assert_eq!(redfish_device("pxe"), Some(redfish::BootSource::Pxe));
        assert_eq!(redfish_device("cdrom"), Some(redfish::BootSource::Cd));
        assert_eq!(redfish_device("safe"), None);
        assert_eq!(redfish_endpoint("fd00::5", 443), "https://[fd00::5]:443");
    }

    #[tokio::test]
    async fn an_invalid_cipher_suite_and_no_provider_for_virtual_media_are_listed() {
        let mut c = conn(Some(&["ipmitool"]));
        c.host = "127.0.0.1".into();
        if let Some(o) = c.provider_options.as_mut() {
            o.ipmitool = Some(ironbell_model::bmc::IpmitoolOptions {
                port: None,
                cipher_suite: Some("99".into()),
            });
            o.redfish = Some(ironbell_model::bmc::RedfishOptions {
                port: Some(70000),
                ..Default::default()
            });
        }
        let creds = Credentials::new("admin", "pw-123456");
        let t = Timeouts {
            connect: Duration::from_secs(2),
            ..Timeouts::default()
        };
        let err = connect(&c, &creds, t).await.err().map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(
            err.contains("ipmitool: invalid option providerOptions.ipmitool.cipherSuite"),
            "{err}"
        );
        assert!(
            err.contains("gofish: invalid option providerOptions.redfish.port"),
            "{err}"
        );
        let err = connect_for(&c, &creds, t, Feature::VirtualMedia)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains(
                "ipmitool: skipped, virtual media is not supported by the ipmitool provider"
            ),
            "{err}"
        );
    }
}
