//! Errors of a `hardware.csv`: one [`CsvError`] per problem, collected into [`CsvErrors`].
//!
//! Every error carries the 1-based line of the file where the offending record starts (the
//! header is line 1 when the file starts with it), as a text editor numbers lines. Row errors
//! also carry the column and the offending cell value; a `bmc_password` value is never kept
//! or printed (see [`REDACTED`]).

use std::fmt;

use crate::Column;

/// What is shown instead of a `bmc_password` value in every error.
pub const REDACTED: &str = "<redacted>";

/// One problem found in a `hardware.csv`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// The file has no header line (it is empty or holds only blank lines).
    #[error("line {line}: the file has no header line")]
    NoHeader {
        /// Line where the header was expected.
        line: u64,
    },
    /// The text is not well-formed CSV: a quote where Go's `encoding/csv` (which EKS
    /// Anywhere reads the file with) refuses one, or an unterminated quoted cell. Reading
    /// stops there.
    #[error("line {line}, column {column}: malformed CSV: {message}")]
    Syntax {
        /// Line of the offending character.
        line: u64,
        /// Its 1-based character column.
        column: u64,
        /// Go's message: `bare " in non-quoted-field` or `extraneous or missing " in
        /// quoted-field`.
        message: String,
    },
    /// The file is larger than [`MAX_FILE_BYTES`](crate::MAX_FILE_BYTES); nothing of it
    /// was read.
    #[error("line 1: the file is {bytes} bytes, over the limit of {max}")]
    FileTooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A record is longer than [`MAX_RECORD_BYTES`](crate::MAX_RECORD_BYTES).
    #[error("line {line}: the record is {bytes} bytes, over the limit of {max}")]
    RecordTooLong {
        /// Line where the record starts.
        line: u64,
        /// Its length.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A cell is longer than [`MAX_CELL_BYTES`](crate::MAX_CELL_BYTES) (its value is not
    /// shown).
    #[error(
        "line {line}, column {column} ({name}): the cell is {bytes} bytes, over the limit of {max}"
    )]
    CellTooLong {
        /// Line where the record starts.
        line: u64,
        /// 1-based character column where the cell starts.
        column: u64,
        /// The header name of its column.
        name: String,
        /// Its length.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A header name that is no column of `hardware.csv` (a typo such as `bmc_pasword`
    /// would otherwise drop the value silently).
    #[error(
        "line {line}: unknown column {name:?} (header position {position}); known columns: hostname, ip_address, netmask, gateway, nameservers, mac, disk, labels, bmc_ip, bmc_username, bmc_password, vlan_id"
    )]
    UnknownColumn {
        /// Line of the header.
        line: u64,
        /// The name as written (trimmed).
        name: String,
        /// Its 1-based position in the header.
        position: usize,
    },
    /// The header lacks required columns; all of them are named in one error.
    #[error("line {line}: missing required columns: {}", join(.columns))]
    MissingColumns {
        /// Line of the header.
        line: u64,
        /// The required columns not found, in the canonical column order.
        columns: Vec<Column>,
    },
    /// A known column appears twice in the header.
    #[error("line {line}: column {column} appears more than once in the header")]
    DuplicateColumn {
        /// Line of the header.
        line: u64,
        /// The repeated column.
        column: Column,
    },
    /// A record has a different number of cells than the header.
    #[error("line {line}: the record has {found} cells but the header has {expected}")]
    FieldCount {
        /// Line where the record starts.
        line: u64,
        /// Number of header columns.
        expected: usize,
        /// Number of cells in this record.
        found: usize,
    },
    /// A cell's value breaks a rule.
    #[error("line {line}: column {column}: value {value:?}: {problem}")]
    Invalid {
        /// Line where the record starts.
        line: u64,
        /// The column of the offending cell.
        column: Column,
        /// The cell value as read (trimmed), or [`REDACTED`] for a non-empty `bmc_password`.
        value: String,
        /// What is wrong with it.
        problem: Problem,
    },
}

fn join(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl CsvError {
    /// The 1-based file line the error is about.
    pub fn line(&self) -> u64 {
        match self {
            Self::FileTooLarge { .. } => 1,
            Self::NoHeader { line }
            | Self::Syntax { line, .. }
            | Self::RecordTooLong { line, .. }
            | Self::CellTooLong { line, .. }
            | Self::UnknownColumn { line, .. }
            | Self::MissingColumns { line, .. }
            | Self::DuplicateColumn { line, .. }
            | Self::FieldCount { line, .. }
            | Self::Invalid { line, .. } => *line,
        }
    }

    /// The column the error is about, when it is about one cell.
    pub fn column(&self) -> Option<Column> {
        match self {
            Self::Invalid { column, .. } | Self::DuplicateColumn { column, .. } => Some(*column),
            _ => None,
        }
    }

    /// The offending cell value, when the error is about one cell.
    pub fn value(&self) -> Option<&str> {
        match self {
            Self::Invalid { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The rule the cell broke, when the error is about one cell.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Invalid { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// An error about one cell; a non-empty `bmc_password` value is replaced by [`REDACTED`].
    pub(crate) fn invalid(line: u64, column: Column, value: &str, problem: Problem) -> Self {
        let value = if column == Column::BmcPassword && !value.is_empty() {
            REDACTED.to_string()
        } else {
            value.to_string()
        };
        Self::Invalid {
            line,
            column,
            value,
            problem,
        }
    }
}

/// The rule a cell broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A required cell is empty.
    #[error("a value is required")]
    Required,
    /// A BMC cell is empty while another BMC cell of the row is set.
    #[error("a value is required when any of bmc_ip, bmc_username, bmc_password is set")]
    RequiredWithBmc,
    /// Not a dotted-quad IPv4 address.
    #[error("not an IPv4 address")]
    NotIpv4,
    /// Neither an IPv4 nor an IPv6 address.
    #[error("not an IP address")]
    NotIp,
    /// An IPv4 address that is not a netmask (its one bits are not contiguous from the left).
    #[error("not an IPv4 netmask such as 255.255.255.0")]
    NotNetmask,
    /// The nameservers cell is empty.
    #[error("at least one nameserver is required")]
    NoNameserver,
    /// A `|`-separated nameserver entry is not an IP address.
    #[error("nameserver entry {index} is not an IP address")]
    NotNameserverIp {
        /// 1-based index of the entry.
        index: usize,
    },
    /// A `|`-separated nameserver entry is empty.
    #[error("nameserver entry {index} is empty (entries are separated by `|`)")]
    EmptyNameserver {
        /// 1-based index of the empty entry.
        index: usize,
    },
    /// Not a MAC address.
    #[error("not a MAC address (six two-digit hex pairs separated by `:` or `-`)")]
    NotMac,
    /// A MAC address no network card has: all zero, broadcast, or multicast.
    #[error("{0}")]
    UnusableMac(&'static str),
    /// An IP address a machine cannot use as its own or its gateway's (unspecified,
    /// loopback, broadcast, multicast, link-local, reserved, or the network or broadcast
    /// address of the row's subnet).
    #[error("unusable address: {reason}")]
    UnusableIp {
        /// Why.
        reason: String,
    },
    /// The gateway is not in the subnet given by `ip_address` and `netmask`.
    #[error("the gateway is outside the row's subnet {subnet} (ip_address and netmask)")]
    GatewayOutsideSubnet {
        /// The subnet, as `network/prefix`.
        subnet: String,
    },
    /// Not a DNS-1123 subdomain.
    #[error("not a valid hostname (DNS-1123 subdomain): {reason}")]
    NotHostname {
        /// Which part of the rule failed.
        reason: String,
    },
    /// The hostname is too long for the BMC Machine and Secret names derived from it.
    #[error(
        "is {len} characters; with a BMC the hostname may have at most {max} (the Secret bmc-<hostname>-auth must fit 253)"
    )]
    HostnameTooLongForBmc {
        /// Length of the hostname.
        len: usize,
        /// Maximum allowed length.
        max: usize,
    },
    /// Not a Linux device path of the form `/dev/<name>`.
    #[error("not a device path like /dev/sda (`/dev/` then letters, digits, `_` or `-`)")]
    NotDisk,
    /// A `|`-separated label entry is not `key=value`.
    #[error("label entry {entry:?} is not key=value")]
    LabelNotPair {
        /// The entry as written.
        entry: String,
    },
    /// A label key is not a valid Kubernetes label key.
    #[error("label key {key:?} is invalid: {reason}")]
    LabelKey {
        /// The key.
        key: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A label value is not a valid Kubernetes label value.
    #[error("value {value:?} of label {key:?} is invalid: {reason}")]
    LabelValue {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A label key is given twice in one cell.
    #[error("label key {key:?} is given more than once")]
    LabelDuplicate {
        /// The key.
        key: String,
    },
    /// The VLAN id is not an integer.
    #[error("not an integer (a VLAN id is 1 to 4094)")]
    VlanNotInteger,
    /// The VLAN id is outside 1..=4094.
    #[error("VLAN id must be between 1 and 4094")]
    VlanOutOfRange,
    /// The value is already used by an earlier row (ip_address, mac, hostname, bmc_ip).
    #[error("already used on line {first_line}")]
    Duplicate {
        /// Line of the row that used it first.
        first_line: u64,
    },
}

/// Every problem found in one `hardware.csv`. `Display` prints one error per line, sorted by
/// line (errors of one line keep the order of the checks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CsvErrors {
    errors: Vec<CsvError>,
}

impl CsvErrors {
    pub(crate) fn new(mut errors: Vec<CsvError>) -> Self {
        errors.sort_by_key(CsvError::line);
        Self { errors }
    }

    /// The errors, sorted by line.
    pub fn errors(&self) -> &[CsvError] {
        &self.errors
    }

    /// The errors, sorted by line.
    pub fn into_errors(self) -> Vec<CsvError> {
        self.errors
    }

    /// How many errors there are.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether there are none (never the case for a returned error set).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors of one line.
    pub fn on_line(&self, line: u64) -> impl Iterator<Item = &CsvError> {
        self.errors.iter().filter(move |e| e.line() == line)
    }
}

impl fmt::Display for CsvErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a CsvErrors {
    type Item = &'a CsvError;
    type IntoIter = std::slice::Iter<'a, CsvError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_values_are_redacted() {
        let e = CsvError::invalid(4, Column::BmcPassword, "hunter2", Problem::Required);
        assert_eq!(e.value(), Some(REDACTED));
        assert!(!e.to_string().contains("hunter2"));
        assert!(!format!("{e:?}").contains("hunter2"));
        assert_eq!(
            e.to_string(),
            "line 4: column bmc_password: value \"<redacted>\": a value is required"
        );
        // An empty password is not a secret: it is shown as empty.
        let e = CsvError::invalid(4, Column::BmcPassword, "", Problem::RequiredWithBmc);
        assert_eq!(e.value(), Some(""));
        // Other columns keep their value.
        let e = CsvError::invalid(4, Column::BmcUsername, "root", Problem::Required);
        assert_eq!(e.value(), Some("root"));
    }

    #[test]
    fn display_sorts_by_line() {
        let errs = CsvErrors::new(vec![
            CsvError::FieldCount {
                line: 9,
                expected: 8,
                found: 2,
            },
            CsvError::invalid(3, Column::Mac, "x", Problem::NotMac),
            CsvError::invalid(3, Column::Disk, "y", Problem::NotDisk),
        ]);
        let lines: Vec<u64> = errs.errors().iter().map(CsvError::line).collect();
        assert_eq!(lines, [3, 3, 9]);
        assert_eq!(errs.to_string().lines().count(), 3);
        assert!(errs.to_string().starts_with("line 3: column mac"));
    }
}
