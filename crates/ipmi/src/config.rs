//! What to connect to, as whom, and how patiently: [`Config`] and the cipher suites.

use std::fmt;
use std::time::Duration;

use crate::crypto::Hash;

/// The standard RMCP port (IPMI 2.0 section 13.1.2: "ASF-RMCP" port 623).
pub const DEFAULT_PORT: u16 = 623;

/// An RMCP+ cipher suite this client implements (IPMI 2.0 section 22.15.2, table 22-20).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    /// Suite 3: RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128.
    Suite3,
    /// Suite 17: RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128.
    Suite17,
}

impl CipherSuite {
    /// The suite's ID (3 or 17), as `ipmitool -C` takes it.
    pub fn id(self) -> u8 {
        match self {
            Self::Suite3 => 3,
            Self::Suite17 => 17,
        }
    }

    /// The suite with this ID, if implemented.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            3 => Some(Self::Suite3),
            17 => Some(Self::Suite17),
            _ => None,
        }
    }

    /// (authentication, integrity, confidentiality) algorithm numbers (tables 13-17,
    /// 13-18, 13-19).
    pub(crate) fn algorithms(self) -> (u8, u8, u8) {
        match self {
            Self::Suite3 => (0x01, 0x01, 0x01),
            Self::Suite17 => (0x03, 0x04, 0x01),
        }
    }

    pub(crate) fn hash(self) -> Hash {
        match self {
            Self::Suite3 => Hash::Sha1,
            Self::Suite17 => Hash::Sha256,
        }
    }

    /// The integrity authcode length: 12 for HMAC-SHA1-96, 16 for HMAC-SHA256-128.
    pub(crate) fn authcode_len(self) -> usize {
        match self {
            Self::Suite3 => 12,
            Self::Suite17 => 16,
        }
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id())
    }
}

/// Which cipher suite to negotiate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CipherSuiteChoice {
    /// Try suite 17 first and fall back to suite 3 if the BMC does not offer 17.
    #[default]
    Auto,
    /// Only this suite.
    Only(CipherSuite),
}

impl CipherSuiteChoice {
    /// The suites to try, in order.
    pub(crate) fn candidates(self) -> &'static [CipherSuite] {
        match self {
            Self::Auto => &[CipherSuite::Suite17, CipherSuite::Suite3],
            Self::Only(CipherSuite::Suite3) => &[CipherSuite::Suite3],
            Self::Only(CipherSuite::Suite17) => &[CipherSuite::Suite17],
        }
    }
}

impl fmt::Display for CipherSuiteChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto (17, then 3)"),
            Self::Only(s) => write!(f, "{s}"),
        }
    }
}

/// How to reach one BMC. `Debug` and `Display` never show the password.
#[derive(Clone)]
pub struct Config {
    /// Host name or IP address of the BMC.
    pub host: String,
    /// UDP port ([`DEFAULT_PORT`], 623, unless the BMC listens elsewhere).
    pub port: u16,
    /// IPMI user name (at most 16 bytes).
    pub username: String,
    /// IPMI password (at most 20 bytes).
    pub password: String,
    /// Which cipher suite to negotiate.
    pub cipher_suite: CipherSuiteChoice,
    /// How long to wait for each answer before sending the request again.
    pub timeout: Duration,
    /// How many times to resend an unanswered request (so `retries + 1` attempts).
    pub retries: u32,
}

impl Config {
    /// A configuration with the defaults: port 623, automatic cipher suite, 2 s timeout,
    /// 3 retries.
    pub fn new(
        host: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port: DEFAULT_PORT,
            username: username.into(),
            password: password.into(),
            cipher_suite: CipherSuiteChoice::Auto,
            timeout: Duration::from_secs(2),
            retries: 3,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("cipher_suite", &self.cipher_suite)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish()
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ipmi://{}@{}:{} (cipher suite {})",
            self.username, self.host, self.port, self.cipher_suite
        )
    }
}
