//! Reading a `hardware.csv` into validated [`Row`]s.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};

use ironbell_model::{Labels, MacAddr};

use crate::check;
use crate::reader::{Reader, Record, SyntaxError};
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
    /// DNS servers, at least one.
    pub nameservers: Vec<IpAddr>,
    /// MAC address in lower-case colon form (`aa:bb:cc:dd:ee:ff`).
    pub mac: MacAddr,
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
    /// Header names of [`IGNORED_COLUMNS`] found in the file, in header order; a caller
    /// may warn about them. Any other unknown header name is an error.
    pub unknown_columns: Vec<String>,
}

/// Parses and validates a `hardware.csv`. Returns every row, or every error of the file.
pub fn parse(text: &str) -> Result<Vec<Row>, CsvErrors> {
    parse_inventory(text).map(|inv| inv.rows)
}

/// The largest `hardware.csv` accepted, checked before anything is read: the largest
/// input of any ironbell command, [`ironbell_model::MAX_INPUT_BYTES`] (64 MiB).
pub const MAX_FILE_BYTES: usize = ironbell_model::MAX_INPUT_BYTES;

/// The longest record (one machine, its line terminators included): 16 KiB.
pub const MAX_RECORD_BYTES: usize = 16 * 1024;

/// The longest cell: 4 KiB (a hostname has at most 253 bytes, a label 316).
pub const MAX_CELL_BYTES: usize = 4 * 1024;

/// Header names of columns some EKS Anywhere releases read and ironbell does not use:
/// ignored (returned in [`Inventory::unknown_columns`]) rather than refused, so that
/// their files import unchanged.
pub const IGNORED_COLUMNS: &[&str] = &["id", "guid", "vendor"];

/// Like [`parse`], and also returns the header names that were ignored.
pub fn parse_inventory(text: &str) -> Result<Inventory, CsvErrors> {
    let fail = |e: CsvError| CsvErrors::new(vec![e]);
    if text.len() > MAX_FILE_BYTES {
        return Err(fail(CsvError::FileTooLarge {
            bytes: text.len(),
            max: MAX_FILE_BYTES,
        }));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Reader::new(text);

    let header = loop {
        match records.next() {
            None => return Err(fail(CsvError::NoHeader { line: 1 })),
            Some(Err(e)) => return Err(fail(syntax(e))),
            Some(Ok(r)) if r.is_blank() => continue,
            Some(Ok(r)) => break r,
        }
    };
    let (columns, unknown_columns) = read_header(&header)?;
    let names: Vec<&str> = header.cells.iter().map(|c| c.text.as_str()).collect();

    let mut state = State::default();
    let mut rows = Vec::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                state.errors.push(syntax(e));
                break;
            }
        };
        if record.is_blank() {
            continue;
        }
        let line = record.line;
        if record.bytes > MAX_RECORD_BYTES {
            state.errors.push(CsvError::RecordTooLong {
                line,
                bytes: record.bytes,
                max: MAX_RECORD_BYTES,
            });
            continue;
        }
        if record.cells.len() != names.len() {
            state.errors.push(CsvError::FieldCount {
                line,
                expected: names.len(),
                found: record.cells.len(),
            });
            continue;
        }
        let long: Vec<CsvError> = record
            .cells
            .iter()
            .zip(&names)
            .filter(|(c, _)| c.text.len() > MAX_CELL_BYTES)
            .map(|(c, name)| CsvError::CellTooLong {
                line,
                column: c.column,
                name: name.to_string(),
                bytes: c.text.len(),
                max: MAX_CELL_BYTES,
            })
            .collect();
        if !long.is_empty() {
            state.errors.extend(long);
            continue;
        }
        let cells: [&str; Column::COUNT] = std::array::from_fn(|i| {
            columns[i]
                .and_then(|at| record.cells.get(at))
                .map_or("", |c| c.text.as_str())
        });
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

fn read_header(header: &Record) -> Result<(ColumnIndex, Vec<String>), CsvErrors> {
    let line = header.line;
    let mut columns: ColumnIndex = [None; Column::COUNT];
    let mut ignored = Vec::new();
    let mut errors = Vec::new();
    for (at, cell) in header.cells.iter().enumerate() {
        let name = cell.text.as_str();
        match Column::from_name(name) {
            Some(c) if columns[c.index()].is_some() => {
                errors.push(CsvError::DuplicateColumn { line, column: c });
            }
            Some(c) => columns[c.index()] = Some(at),
            None if IGNORED_COLUMNS.contains(&name) => ignored.push(name.to_string()),
            None => errors.push(CsvError::UnknownColumn {
                line,
                name: name.to_string(),
                position: at + 1,
            }),
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
        Ok((columns, ignored))
    } else {
        Err(CsvErrors::new(errors))
    }
}

fn syntax(e: SyntaxError) -> CsvError {
    let mut message = e.error.to_string();
    if e.record_line != e.line {
        message.push_str(&format!(
            " (in the record starting on line {})",
            e.record_line
        ));
    }
    CsvError::Syntax {
        line: e.line,
        column: e.column,
        message,
    }
}

/// Errors so far and the values already used, for the uniqueness checks across rows.
#[derive(Default)]
struct State {
    errors: Vec<CsvError>,
    ips: HashMap<Ipv4Addr, u64>,
    macs: HashMap<MacAddr, u64>,
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
        let host = |s: &str| check::ipv4(s).and_then(check::host_ipv4);
        check(
            Column::IpAddress,
            keep(&mut ip, required(cell(Column::IpAddress), host)),
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
            keep(&mut gateway, required(cell(Column::Gateway), host)),
        );
        if let (Some(a), Some(m)) = (ip, netmask)
            && !check(Column::IpAddress, check::in_own_subnet(a, m))
        {
            ip = None;
        }
        if let (Some(a), Some(m), Some(g)) = (ip, netmask, gateway) {
            check(Column::Gateway, check::gateway(g, a, m));
        }
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
                keep(
                    &mut bmc_ip,
                    bmc_required(cell(Column::BmcIp), check::bmc_ip),
                ),
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
                *v,
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
