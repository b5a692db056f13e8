//! Server-wide settings: the answering mode, the addresses the server announces and the
//! names of the iPXE binaries it hands out.

use std::net::Ipv4Addr;
use std::time::Duration;

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Full DHCP from reservations: addresses and boot information, only for known MACs.
    #[default]
    Reservation,
    /// proxyDHCP: only boot information (no address), only for known MACs that netboot.
    /// Another DHCP server on the segment hands out the addresses.
    Proxy,
    /// proxyDHCP for any PXE client, known or not; known MACs still honour
    /// `dhcp_disabled` and `allow_netboot`.
    AutoProxy,
    /// Answer nothing.
    Off,
}

/// The iPXE binaries handed to firmware PXE clients, by client architecture (option 93).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// Legacy BIOS (architecture 0) and the other pre-EFI types (1–5).
    pub bios: String,
    /// EFI IA32, x86-64, Xscale and EFI BC (6, 7, 8, 9) and their HTTP variants (15, 16).
    pub efi_x86: String,
    /// EFI ARM 32 and 64 bit (10, 11) and their HTTP variants (18, 19).
    pub efi_arm: String,
}

impl Default for Binaries {
    fn default() -> Self {
        Self {
            bios: "undionly.kpxe".into(),
            efi_x86: "ipxe.efi".into(),
            efi_arm: "snp.efi".into(),
        }
    }
}

impl Binaries {
    /// The binary for an architecture number of option 93, `None` for one that has no
    /// iPXE build here (such a client gets no boot file).
    pub fn for_arch(&self, arch: u16) -> Option<&str> {
        match arch {
            0..=5 => Some(&self.bios),
            6..=9 | 15 | 16 => Some(&self.efi_x86),
            10 | 11 | 18 | 19 => Some(&self.efi_arm),
            _ => None,
        }
    }
}

/// Everything the DHCP server needs to know besides the reservations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How to answer.
    pub mode: Mode,
    /// This server's address: server identifier (option 54) and, unless `tftp_server` says
    /// otherwise, `siaddr`/next-server.
    pub server_ip: Ipv4Addr,
    /// Base URL of the HTTP boot service, without a trailing slash; `None` means
    /// `http://<server_ip>:7171`. iPXE scripts are at `<base>/ipxe/script/<mac>/auto.ipxe`
    /// and binaries for UEFI HTTP boot at `<base>/ipxe/binary/<mac>/<binary>` (MAC as
    /// lower-case colon-separated hex); ironbell's HTTP boot service serves both.
    pub http_base: Option<String>,
    /// TFTP server for the iPXE binaries; `None` means `server_ip`.
    pub tftp_server: Option<Ipv4Addr>,
    /// Syslog server announced in option 7, if any.
    pub syslog_server: Option<Ipv4Addr>,
    /// The user class (option 77) that means "I am already iPXE, give me the script".
    pub ipxe_user_class: String,
    /// The iPXE binaries by architecture.
    pub binaries: Binaries,
    /// Requests per second accepted from one client MAC (`chaddr`) on average; more are
    /// dropped unanswered and counted in [`crate::Stats::rate_limited`]. Default 5: a
    /// client sends two or four messages per boot, and retries once a second at most.
    pub requests_per_mac: u32,
    /// Requests one client MAC may send at once. Default 10.
    pub request_burst_per_mac: u32,
    /// How long [`crate::Server::serve_blocking`] lets requests gather after a batch while
    /// they keep coming, so that one wake-up and one pair of system calls serve several of
    /// them (a PXE storm) instead of one each. It delays a reply by at most this much, and
    /// only while requests arrive faster than one per window; a lone request is answered at
    /// once. Default [`DEFAULT_BATCH_WINDOW`]; zero turns the gathering off.
    pub batch_window: Duration,
}

/// The default [`Config::batch_window`]: 2 ms, a two-thousandth of the shortest DHCP client
/// retransmission timeout (RFC 2131 4.1: about 4 s, then doubling).
pub const DEFAULT_BATCH_WINDOW: Duration = Duration::from_millis(2);

impl Config {
    /// A configuration for a server at `server_ip` with every other setting at its default.
    pub fn new(server_ip: Ipv4Addr) -> Self {
        Self {
            mode: Mode::default(),
            server_ip,
            http_base: None,
            tftp_server: None,
            syslog_server: None,
            ipxe_user_class: "iPXE".into(),
            binaries: Binaries::default(),
            requests_per_mac: 5,
            request_burst_per_mac: 10,
            batch_window: DEFAULT_BATCH_WINDOW,
        }
    }

    /// The HTTP base URL, with the default filled in and no trailing slash.
    pub fn http_base(&self) -> String {
        let mut out = Vec::new();
        self.write_http_base(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Appends [`Config::http_base`] to `out` (the reply writer's way, with no `String`).
    pub(crate) fn write_http_base(&self, out: &mut Vec<u8>) {
        match &self.http_base {
            Some(base) => out.extend_from_slice(base.trim_end_matches('/').as_bytes()),
            None => {
                out.extend_from_slice(b"http://");
                crate::respond::write_dotted_quad(out, self.server_ip);
                out.extend_from_slice(b":7171");
            }
        }
    }

    /// The TFTP server, with the default filled in.
    pub fn tftp_server(&self) -> Ipv4Addr {
        self.tftp_server.unwrap_or(self.server_ip)
    }
}
