//! The parsed form of one syslog datagram: [`Message`], its [`Facility`], [`Severity`],
//! [`Format`] and [`SdElement`]s, and the one-line `Display` that `ironbell logs` prints.

use std::fmt;
use std::time::SystemTime;

use crate::time::format_rfc3339;

/// Where a message came from inside the sending machine (RFC 5424 section 6.2.1, the
/// facility half of `PRI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)] // The variants are the standard facility keywords.
pub enum Facility {
    Kern = 0,
    User = 1,
    Mail = 2,
    Daemon = 3,
    Auth = 4,
    Syslog = 5,
    Lpr = 6,
    News = 7,
    Uucp = 8,
    Cron = 9,
    Authpriv = 10,
    Ftp = 11,
    Ntp = 12,
    Audit = 13,
    Alert = 14,
    Clock = 15,
    Local0 = 16,
    Local1 = 17,
    Local2 = 18,
    Local3 = 19,
    Local4 = 20,
    Local5 = 21,
    Local6 = 22,
    Local7 = 23,
}

const FACILITIES: [Facility; 24] = [
    Facility::Kern,
    Facility::User,
    Facility::Mail,
    Facility::Daemon,
    Facility::Auth,
    Facility::Syslog,
    Facility::Lpr,
    Facility::News,
    Facility::Uucp,
    Facility::Cron,
    Facility::Authpriv,
    Facility::Ftp,
    Facility::Ntp,
    Facility::Audit,
    Facility::Alert,
    Facility::Clock,
    Facility::Local0,
    Facility::Local1,
    Facility::Local2,
    Facility::Local3,
    Facility::Local4,
    Facility::Local5,
    Facility::Local6,
    Facility::Local7,
];

impl Facility {
    /// The facility with numeric code `code` (0..=23).
    pub fn from_code(code: u8) -> Option<Self> {
        FACILITIES.get(usize::from(code)).copied()
    }

    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The keyword syslog configurations use (`kern`, `user`, ..., `local7`).
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 24] = [
            "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
            "authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2",
            "local3", "local4", "local5", "local6", "local7",
        ];
        NAMES[usize::from(self.code())]
    }
}

impl fmt::Display for Facility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How urgent a message is (RFC 5424 section 6.2.1, the severity half of `PRI`); lower is
/// more urgent, so `Severity::Err < Severity::Info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)] // The variants are the standard severity keywords.
pub enum Severity {
    Emerg = 0,
    Alert = 1,
    Crit = 2,
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

impl Severity {
    /// The severity with numeric code `code` (0..=7).
    pub fn from_code(code: u8) -> Option<Self> {
        const ALL: [Severity; 8] = [
            Severity::Emerg,
            Severity::Alert,
            Severity::Crit,
            Severity::Err,
            Severity::Warning,
            Severity::Notice,
            Severity::Info,
            Severity::Debug,
        ];
        ALL.get(usize::from(code)).copied()
    }

    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The keyword (`emerg`, ..., `debug`).
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 8] = [
            "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
        ];
        NAMES[usize::from(self.code())]
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which grammar a datagram was read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`).
    Rfc5424,
    /// RFC 3164 / BSD and its variants (`<PRI>Mmm dd hh:mm:ss [HOST] TAG[PID]: MSG`), which
    /// is what glibc's and busybox's `syslog(3)`, busybox `syslogd -R` and util-linux
    /// `logger --rfc3164` send; also any `<PRI>` datagram that is not valid RFC 5424.
    Rfc3164,
    /// Not syslog at all (no valid `<PRI>`): kept whole as `user.notice`, as rsyslog does.
    Raw,
}

/// One RFC 5424 structured-data element: `[id name="value" ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdElement {
    /// The SD-ID, e.g. `timeQuality` or `exampleSDID@32473`.
    pub id: String,
    /// The parameters in the order they were sent, values unescaped.
    pub params: Vec<(String, String)>,
}

/// One received syslog message. Header fields that the sender left out (or sent as the
/// RFC 5424 NILVALUE `-`) are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The grammar it was read with.
    pub format: Format,
    /// Facility from `PRI` (`User` for [`Format::Raw`]).
    pub facility: Facility,
    /// Severity from `PRI` (`Notice` for [`Format::Raw`]).
    pub severity: Severity,
    /// When the sender says it logged the message, in UTC. RFC 3164 timestamps carry no
    /// year and no zone: the year closest to `received_at` is taken, and UTC assumed.
    pub timestamp: Option<SystemTime>,
    /// When the receiver got the datagram.
    pub received_at: SystemTime,
    /// The sender's host name as it wrote it.
    pub hostname: Option<String>,
    /// RFC 5424 APP-NAME, or the RFC 3164 TAG.
    pub app_name: Option<String>,
    /// RFC 5424 PROCID, or the `[PID]` after an RFC 3164 TAG.
    pub proc_id: Option<String>,
    /// RFC 5424 MSGID.
    pub msg_id: Option<String>,
    /// RFC 5424 structured data (empty for other formats).
    pub structured_data: Vec<SdElement>,
    /// The free-form text, decoded lossily from UTF-8, without a leading BOM and without
    /// trailing newlines or NULs.
    pub text: String,
}

impl Message {
    /// The time to show: the sender's timestamp, else the time of receipt.
    pub fn time(&self) -> SystemTime {
        self.timestamp.unwrap_or(self.received_at)
    }

    /// The memory this message holds: its own size plus what its strings and structured
    /// data hold on the heap (capacities, so what the allocator really gave). What
    /// [`crate::RingSink`] counts against its byte budget.
    pub fn memory_size(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
        let sd: usize = self
            .structured_data
            .iter()
            .map(|e| {
                std::mem::size_of::<SdElement>()
                    + e.id.capacity()
                    + e.params
                        .iter()
                        .map(|(k, v)| {
                            std::mem::size_of::<(String, String)>() + k.capacity() + v.capacity()
                        })
                        .sum::<usize>()
            })
            .sum();
        std::mem::size_of::<Self>()
            + self.text.capacity()
            + opt(&self.hostname)
            + opt(&self.app_name)
            + opt(&self.proc_id)
            + opt(&self.msg_id)
            + sd
    }
}

/// Writes `s` with control characters escaped, so a message stays on one line and cannot
/// send terminal escape sequences to whoever reads the log.
fn write_escaped(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for c in s.chars() {
        match c {
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\t")?,
            c if c.is_control() => write!(f, "\\x{:02x}", u32::from(c))?,
            c => write!(f, "{c}")?,
        }
    }
    Ok(())
}

/// One line: `2026-11-22T06:40:00Z host app[pid]: text`, with `-` for a missing host, the
/// application part left out when unknown, structured data (if any) before the text, and
/// control characters escaped.
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_rfc3339(self.time()))?;
        f.write_str(" ")?;
        write_escaped(f, self.hostname.as_deref().unwrap_or("-"))?;
        if let Some(app) = &self.app_name {
            f.write_str(" ")?;
            write_escaped(f, app)?;
            if let Some(pid) = &self.proc_id {
                f.write_str("[")?;
                write_escaped(f, pid)?;
                f.write_str("]")?;
            }
            f.write_str(":")?;
        }
        for sd in &self.structured_data {
            f.write_str(" [")?;
            write_escaped(f, &sd.id)?;
            for (name, value) in &sd.params {
                f.write_str(" ")?;
                write_escaped(f, name)?;
                f.write_str("=\"")?;
                write_escaped(f, value)?;
                f.write_str("\"")?;
            }
            f.write_str("]")?;
        }
        if !self.text.is_empty() {
            f.write_str(" ")?;
            write_escaped(f, &self.text)?;
        }
        Ok(())
    }
}
