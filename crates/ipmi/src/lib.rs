//! # ironbell-ipmi
//!
//! IPMI 2.0 RMCP+ ("lanplus"): the client the BMC service uses to open an authenticated,
//! encrypted session with a BMC over UDP and read or change chassis power and the boot
//! device, as `ipmitool -I lanplus` does; and, in [`server`], the BMC side of the same
//! protocol, which ironbell's virtual BMC (`ironbell-vbmc`) answers with.
//!
//! What it is: the wire protocol (RMCP, IPMI v1.5/v2.0 session headers, RAKP handshake,
//! cipher suites 3 and 17), retransmission, and the chassis and device-ID commands. What
//! it is not: it knows nothing of `Machine`/`Job`/`Task` objects or the store, does no
//! IPMI v1.5 sessions (MD5/straight password), no Serial-over-LAN, no Kg (BMC key), and no
//! sensor, SEL or FRU commands.
//!
//! Start reading at [`Session::connect`] and [`Config`]:
//!
//! ```no_run
//! # async fn demo() -> Result<(), ironbell_ipmi::Error> {
//! use ironbell_ipmi::{BootDevice, BootOptions, ChassisControl, Config, Session};
//! let mut s = Session::connect(Config::new("10.0.0.5", "admin", "secret")).await?;
//! if !s.chassis_status().await?.power_on {
//!     s.set_boot_device(BootDevice::Pxe, BootOptions { persistent: false, efi: true }).await?;
//!     s.chassis_control(ChassisControl::PowerUp).await?;
//! }
//! s.close().await
//! # }
//! ```
//!
//! The modules, bottom up, each documenting its packet layouts with the IPMI 2.0 spec
//! (v2.0 rev. 1.1) section numbers: `wire` (RMCP and session headers, integrity trailer,
//! IPMI message and checksums), `crypto` (HMAC, key derivation, AES-CBC-128), `rakp` (Open
//! Session and RAKP 1-4), `commands` (request bytes and parsed answers), `session` (the UDP
//! exchange and the session state machine).
//!
//! Secrets: the password is only held by [`Config`] (whose `Debug`/`Display` redact it)
//! and, during the handshake, as the HMAC key; no [`Error`], `Debug` output or log line
//! carries it or the derived keys.

mod commands;
mod config;
mod crypto;
mod error;
mod rakp;
pub mod server;
mod session;
mod wire;

pub use commands::{
    BootDevice, BootFlags, BootOptions, ChassisControl, ChassisStatus, DeviceId, IdentifyState,
    PowerRestorePolicy,
};
pub use config::{CipherSuite, CipherSuiteChoice, Config, DEFAULT_PORT};
pub use error::{AuthFailure, CompletionCode, Error, RakpStatus};
pub use session::{Session, Stats};

/// The fuzz target `ipmi_wire` (feature `fuzzing`; not an API): every decoder the client
/// runs on what a BMC sends, on `d` as a whole datagram (IPMI v1.5 and v2.0, with and
/// without session keys) and as a payload (Open Session response, RAKP 2 and 4 at both
/// suites' lengths, an IPMI response and the command answers in it). None may panic.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub fn fuzz(d: &[u8]) {
    use crypto::{Hash, SessionKeys};
    fn payload(p: &[u8]) {
        let _ = rakp::parse_open_session_response(p);
        let _ = (rakp::parse_rakp2(p, 20), rakp::parse_rakp2(p, 32));
        let _ = (rakp::parse_rakp4(p, 12), rakp::parse_rakp4(p, 16));
        if let Some(r) = wire::ipmi_response(p) {
            let _ = commands::parse_channel_auth_caps(&r.data);
            let _ = commands::parse_chassis_status(&r.data);
            let _ = commands::parse_boot_flags(&r.data);
            let _ = commands::parse_device_id(&r.data).map(|id| id.firmware());
        }
    }
    if let Some(m) = wire::decode_v15(d) {
        payload(m);
    }
    let keys = [
        SessionKeys::derive(Hash::Sha1, b"ironbell-fuzz-sik", 12),
        SessionKeys::derive(Hash::Sha256, b"ironbell-fuzz-sik", 16),
    ];
    for k in [None, Some(&keys[0]), Some(&keys[1])] {
        if let Some(p) = wire::decode_v2(d, k) {
            payload(&p.payload);
        }
    }
    payload(d);
}
