//! Reading a `hardware.csv` into validated [`Row`]s.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};

use ironbell_model::Labels;

use crate::check;
use crate::{CsvError, CsvErrors, Problem};

/// A column of `hardware.csv`, known by its header name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    /// `hostname` (required): the Hardware name and the DHCP hostname.
    Hostname,
    /// `ip_address` (required): the machine's IPv4 address.
    IpAddress,
    /// `netmask` (required): its IPv4 netmask.
    Netmask,
    /// `gateway` (required): its IPv4 gateway.
    Gateway,
    /// `nameservers` (required): `|`-separated DNS servers.
    Nameservers,
    /// `mac` (required): the MAC address of the interface that network-boots.
    Mac,
    /// `disk` (required): the device the operating system is written to.
    Disk,
    /// `labels` (required column, the cell may be empty): `k=v|k2=v2`.
    Labels,
    /// `bmc_ip` (optional): address of the baseboard management controller.
    BmcIp,
    /// `bmc_username` (optional).
    BmcUsername,
    /// `bmc_password` (optional; never shown in errors).
    BmcPassword,
    /// `vlan_id` (optional): VLAN of the boot interface, 1 to 4094.
    VlanId,
}

impl Column {
    /// How many columns there are.
    pub const COUNT: usize = 12;

    /// Every column, in canonical order (required ones first).
    pub const ALL: [Column; Column::COUNT] = [
        Column::Hostname,
        Column::IpAddress,
        Column::Netmask,
        Column::Gateway,
        Column::Nameservers,
        Column::Mac,
        Column::Disk,
        Column::Labels,
        Column::BmcIp,
        Column::BmcUsername,
        Column::BmcPassword,
        Column::VlanId,
    ];

    /// The header name.
    pub const fn name(self) -> &'static str {
        match self {
            Column::Hostname => "hostname",
            Column::IpAddress => "ip_address",
            Column::Netmask => "netmask",
            Column::Gateway => "gateway",
            Column::Nameservers => "nameservers",
            Column::Mac => "mac",
            Column::Disk => "disk",
            Column::Labels => "labels",
            Column::BmcIp => "bmc_ip",
            Column::BmcUsername => "bmc_username",
            Column::BmcPassword => "bmc_password",
            Column::VlanId => "vlan_id",
        }
    }

    /// Whether the header must have this column.
    pub const fn required(self) -> bool {
        !matches!(
            self,
            Column::BmcIp | Column::BmcUsername | Column::BmcPassword | Column::VlanId
        )
    }

    /// The column with this exact header name (case-sensitive, as in EKS Anywhere).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One validated machine of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// 1-based file line where the record starts.
    pub line: u64,
    /// DNS-1123 subdomain; names the Hardware.
    pub hostname: String,
    /// IPv4 address of the machine.
    pub ip: Ipv4Addr,
    /// Its netmask.
    pub netmask: Ipv4Addr,
    /// Its gateway.
    pub gateway: Ipv4Addr,
    /// DNS servers, at least one, as written (trimmed).
    pub nameservers: Vec<String>,
    /// MAC address in lower-case colon form (`aa:bb:cc:dd:ee:ff`).
    pub mac: String,
    /// Disk device path, e.g. `/dev/sda`.
    pub disk: String,
    /// Labels for the Hardware.
    pub labels: Labels,
    /// The BMC, when any BMC column of the row is set.
    pub bmc: Option<Bmc>,
    /// VLAN id of the boot interface.
    pub vlan_id: Option<u16>,
}

/// The baseboard management controller of a row. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Bmc {
    /// Address of the BMC (IPv4 or IPv6).
    pub ip: IpAddr,
    /// User name.
    pub username: String,
    /// Password. Never logged: `Debug` prints `<redacted>`.
    pub password: String,
}

impl fmt::Debug for Bmc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bmc")
            .field("ip", &self.ip)
            .field("username", &self.username)
            .field("password", &format_args!("{}", crate::REDACTED))
            .finish()
    }
}

/// A parsed file: its rows and the header names that were not recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inventory {
    /// The rows, in file order.
    pub rows: Vec<Row>,
    /// Header names that are not columns of `hardware.csv`, in header order. They are
    /// ignored, as EKS Anywhere ignores them; a caller may warn about them.
    pub unknown_columns: Vec<String>,
}

/// Parses and validates a `hardware.csv`. Returns every row, or every error of the file.
pub fn parse(text: &str) -> Result<Vec<Row>, CsvErrors> {
    parse_inventory(text).map(|inv| inv.rows)
}

/// Like [`parse`], and also returns the header names that were ignored.
pub fn parse_inventory(text: &str) -> Result<Inventory, CsvErrors> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let mut lines = LineCounter::new(text);
    let fail = |e: CsvError| CsvErrors::new(vec![e]);

    let header = loop {
        match records.next() {
            None => return Err(fail(CsvError::NoHeader { line: 1 })),
            Some(Err(e)) => return Err(fail(syntax(&e, &mut lines))),
            Some(Ok(r)) if is_blank(&r) => continue,
            Some(Ok(r)) => break r,
        }
    };
    let (columns, unknown_columns) = read_header(&header, lines.line_of(&header))?;

    let mut state = State::default();
    let mut rows = Vec::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                state.errors.push(syntax(&e, &mut lines));
                break;
            }
        };
        if is_blank(&record) {
            continue;
        }
        let line = lines.line_of(&record);
        if record.len() != header.len() {
            state.errors.push(CsvError::FieldCount {
                line,
                expected: header.len(),
                found: record.len(),
            });
            continue;
        }
        let cells: [&str; Column::COUNT] =
            std::array::from_fn(|i| columns[i].and_then(|at| record.get(at)).unwrap_or(""));
        if let Some(row) = state.row(line, &cells) {
            rows.push(row);
        }
    }

    if state.errors.is_empty() {
        Ok(Inventory {
            rows,
            unknown_columns,
        })
    } else {
        Err(CsvErrors::new(state.errors))
    }
}

/// Maps each known column to its position in the header.
type ColumnIndex = [Option<usize>; Column::COUNT];

fn read_header(
    header: &csv::StringRecord,
    line: u64,
) -> Result<(ColumnIndex, Vec<String>), CsvErrors> {
    let mut columns: ColumnIndex = [None; Column::COUNT];
    let mut unknown = Vec::new();
    let mut errors = Vec::new();
    for (at, name) in header.iter().enumerate() {
        match Column::from_name(name) {
            Some(c) if columns[c.index()].is_some() => {
                errors.push(CsvError::DuplicateColumn { line, column: c });
            }
            Some(c) => columns[c.index()] = Some(at),
            None => unknown.push(name.to_string()),
        }
    }
    let missing: Vec<Column> = Column::ALL
        .into_iter()
        .filter(|c| c.required() && columns[c.index()].is_none())
        .collect();
    if !missing.is_empty() {
        errors.push(CsvError::MissingColumns {
            line,
            columns: missing,
        });
    }
    if errors.is_empty() {
        Ok((columns, unknown))
    } else {
        Err(CsvErrors::new(errors))
    }
}

fn is_blank(record: &csv::StringRecord) -> bool {
    record.len() == 1 && record.get(0).is_some_and(str::is_empty)
}

fn syntax(e: &csv::Error, lines: &mut LineCounter<'_>) -> CsvError {
    CsvError::Syntax {
        line: e.position().map_or(lines.line, |p| lines.line_at(p.byte())),
        message: e.to_string(),
    }
}

/// Turns the byte offsets the CSV reader reports into 1-based line numbers as an editor
/// shows them. (The reader's own line count is off after blank lines and with CRLF endings,
/// and its offset of a record points at any blank lines skipped before it.) Offsets must be
/// asked for in increasing order; each byte is scanned once.
struct LineCounter<'a> {
    text: &'a [u8],
    /// Bytes before `pos` have been counted.
    pos: usize,
    /// Line of the byte at `pos`.
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            pos: 0,
            line: 1,
        }
    }

    /// Line of the record: where its first character is, after skipped line terminators.
    fn line_of(&mut self, record: &csv::StringRecord) -> u64 {
        record
            .position()
            .map_or(self.line, |p| self.line_at(p.byte()))
    }

    fn line_at(&mut self, byte: u64) -> u64 {
        let mut at = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while at < self.text.len() && matches!(self.text[at], b'\r' | b'\n') {
            at += 1;
        }
        if at <= self.pos {
            return self.line;
        }
        for i in self.pos..at {
            // A line break is `\n`, `\r\n` (counted at its `\n`) or a lone `\r`.
            let c = self.text[i];
            if c == b'\n' || (c == b'\r' && self.text.get(i + 1) != Some(&b'\n')) {
                self.line += 1;
            }
        }
        self.pos = at;
        self.line
    }
}

/// Errors so far and the values already used, for the uniqueness checks across rows.
#[derive(Default)]
struct State {
    errors: Vec<CsvError>,
    ips: HashMap<Ipv4Addr, u64>,
    macs: HashMap<String, u64>,
    hostnames: HashMap<String, u64>,
    bmc_ips: HashMap<IpAddr, u64>,
}

/// Records `key` as used on `line`; on a repeat returns the error naming the first line.
fn unique<K: Hash + Eq>(
    seen: &mut HashMap<K, u64>,
    key: K,
    line: u64,
    column: Column,
    value: &str,
) -> Result<(), CsvError> {
    match seen.entry(key) {
        Entry::Occupied(first) => Err(CsvError::invalid(
            line,
            column,
            value,
            Problem::Duplicate {
                first_line: *first.get(),
            },
        )),
        Entry::Vacant(slot) => {
            slot.insert(line);
            Ok(())
        }
    }
}

/// Longest hostname whose `bmc-<hostname>-auth` Secret name fits a DNS-1123 subdomain.
const MAX_HOSTNAME_WITH_BMC: usize = check::MAX_SUBDOMAIN - "bmc-".len() - "-auth".len();

impl State {
    /// Validates one record; pushes its errors, or returns the row when it has none.
    fn row(&mut self, line: u64, cells: &[&str; Column::COUNT]) -> Option<Row> {
        let before = self.errors.len();
        let cell = |c: Column| cells[c.index()];
        let mut check = |c: Column, r: Result<(), Problem>| -> bool {
            match r {
                Ok(()) => true,
                Err(p) => {
                    self.errors.push(CsvError::invalid(line, c, cell(c), p));
                    false
                }
            }
        };
        fn required<T>(s: &str, f: impl FnOnce(&str) -> Result<T, Problem>) -> Result<T, Problem> {
            if s.is_empty() {
                Err(Problem::Required)
            } else {
                f(s)
            }
        }
        fn keep<T>(slot: &mut Option<T>, r: Result<T, Problem>) -> Result<(), Problem> {
            r.map(|v| *slot = Some(v))
        }

        let (mut hostname_ok, mut ip, mut netmask, mut gateway) = (false, None, None, None);
        let (mut nameservers, mut mac, mut labels, mut vlan_id) = (None, None, None, None);
        let mut bmc_ip = None;

        hostname_ok |= check(
            Column::Hostname,
            required(cell(Column::Hostname), check::hostname),
        );
        check(
            Column::IpAddress,
            keep(&mut ip, required(cell(Column::IpAddress), check::ipv4)),
        );
        check(
            Column::Netmask,
            keep(
                &mut netmask,
                required(cell(Column::Netmask), check::netmask),
            ),
        );
        check(
            Column::Gateway,
            keep(&mut gateway, required(cell(Column::Gateway), check::ipv4)),
        );
        check(
            Column::Nameservers,
            keep(
                &mut nameservers,
                check::nameservers(cell(Column::Nameservers)),
            ),
        );
        check(
            Column::Mac,
            keep(&mut mac, required(cell(Column::Mac), check::mac)),
        );
        check(Column::Disk, required(cell(Column::Disk), check::disk));
        check(
            Column::Labels,
            keep(&mut labels, check::labels(cell(Column::Labels))),
        );

        let bmc_cells = [Column::BmcIp, Column::BmcUsername, Column::BmcPassword];
        let has_bmc = bmc_cells.iter().any(|&c| !cell(c).is_empty());
        if has_bmc {
            check(
                Column::BmcIp,
                keep(&mut bmc_ip, bmc_required(cell(Column::BmcIp), check::ip)),
            );
            check(
                Column::BmcUsername,
                bmc_required(cell(Column::BmcUsername), |_| Ok(())),
            );
            check(
                Column::BmcPassword,
                bmc_required(cell(Column::BmcPassword), |_| Ok(())),
            );
            let len = cell(Column::Hostname).len();
            if hostname_ok && len > MAX_HOSTNAME_WITH_BMC {
                check(
                    Column::Hostname,
                    Err(Problem::HostnameTooLongForBmc {
                        len,
                        max: MAX_HOSTNAME_WITH_BMC,
                    }),
                );
            }
        }
        if !cell(Column::VlanId).is_empty() {
            check(
                Column::VlanId,
                keep(&mut vlan_id, check::vlan_id(cell(Column::VlanId))),
            );
        }

        // Uniqueness across rows, for the values that are themselves valid.
        let mut dup = Vec::new();
        if let Some(v) = ip {
            dup.push(unique(
                &mut self.ips,
                v,
                line,
                Column::IpAddress,
                cell(Column::IpAddress),
            ));
        }
        if let Some(v) = &mac {
            dup.push(unique(
                &mut self.macs,
                v.clone(),
                line,
                Column::Mac,
                cell(Column::Mac),
            ));
        }
        if hostname_ok {
            let h = cell(Column::Hostname);
            dup.push(unique(
                &mut self.hostnames,
                h.to_string(),
                line,
                Column::Hostname,
                h,
            ));
        }
        if let Some(v) = bmc_ip {
            dup.push(unique(
                &mut self.bmc_ips,
                v,
                line,
                Column::BmcIp,
                cell(Column::BmcIp),
            ));
        }
        self.errors.extend(dup.into_iter().filter_map(Result::err));

        if self.errors.len() != before {
            return None;
        }
        let (Some(ip), Some(netmask), Some(gateway), Some(nameservers), Some(mac), Some(labels)) =
            (ip, netmask, gateway, nameservers, mac, labels)
        else {
            return None;
        };
        let bmc = match bmc_ip {
            Some(ip) if has_bmc => Some(Bmc {
                ip,
                username: cell(Column::BmcUsername).to_string(),
                password: cell(Column::BmcPassword).to_string(),
            }),
            _ => None,
        };
        Some(Row {
            line,
            hostname: cell(Column::Hostname).to_string(),
            ip,
            netmask,
            gateway,
            nameservers,
            mac,
            disk: cell(Column::Disk).to_string(),
            labels,
            bmc,
            vlan_id,
        })
    }
}

fn bmc_required<T>(s: &str, f: impl FnOnce(&str) -> Result<T, Problem>) -> Result<T, Problem> {
    if s.is_empty() {
        Err(Problem::RequiredWithBmc)
    } else {
        f(s)
    }
}
