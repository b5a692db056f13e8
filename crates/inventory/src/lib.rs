//! # ironbell-inventory
//!
//! `hardware.csv`, the machine inventory EKS Anywhere users already keep: parsing, validation,
//! and translation of each row into the objects that describe the machine — a Tinkerbell
//! `Hardware`, and, when the row names a BMC, a Rufio `Machine` and a `v1` `Secret` holding
//! the BMC credentials.
//!
//! This crate does no I/O and touches no store: it turns text into validated [`Row`]s
//! ([`parse`]) and rows into typed objects ([`translate`], [`to_objects`]). The command line
//! reads the file and stores the objects, all or nothing.
//!
//! Start reading at [`parse`], then [`Row`], then [`translate`]. Errors are in [`CsvErrors`].
//!
//! ## The file
//!
//! The first non-blank record is the header. Columns are found by header name, in any order;
//! whitespace around header names and unquoted cells is trimmed, and a UTF-8 byte-order mark
//! at the start is ignored. Cells may be quoted as in RFC 4180 (a quoted cell may span lines
//! and is kept exactly). Quotes follow Go's `encoding/csv`, which EKS Anywhere reads the
//! file with: a `"` inside an unquoted cell (`bare " in non-quoted-field`) and a `"` inside
//! a quoted cell that is neither doubled nor closing it (`extraneous or missing " in
//! quoted-field`) are errors naming the line and column, so a password is never altered
//! silently (see `reader`).
//!
//! Limits: the file at most [`MAX_FILE_BYTES`] (64 MiB, checked first), a record at most
//! [`MAX_RECORD_BYTES`], a cell at most [`MAX_CELL_BYTES`]; so every object a row makes
//! stays far below [`ironbell_model::MAX_OBJECT_BYTES`].
//!
//! | column | required | rule |
//! |---|---|---|
//! | `hostname` | yes | DNS-1123 subdomain: at most 253 characters, lower-case letters, digits, `-` and `.`; each dot-separated part starts and ends with a letter or digit |
//! | `ip_address` | yes | IPv4 address a machine can have: not 0.0.0.0/8, 127.0.0.0/8, 255.255.255.255, multicast, link-local (169.254.0.0/16) or 240.0.0.0/4, nor the network or broadcast address of its own subnet (`ip_address` and `netmask`; /31 and /32 have none) |
//! | `netmask` | yes | IPv4 netmask (contiguous one bits, e.g. `255.255.255.0`) |
//! | `gateway` | yes | IPv4 address, usable as `ip_address` is, inside the row's subnet |
//! | `nameservers` | yes | `\|`-separated, at least one, no empty entry |
//! | `mac` | yes | six two-digit hex pairs separated by `:` or `-`, not all-zero, broadcast or multicast (group bit); stored lower-case with `:` |
//! | `disk` | yes | `/dev/<name>`, name of ASCII letters, digits, `_`, `-` (EKS Anywhere's `^(/dev/[\w-]+)+$`) |
//! | `labels` | yes (cell may be empty) | `key=value\|key2=value2`, Kubernetes label keys and values |
//! | `bmc_ip` | no | IPv4 or IPv6 address, not unspecified, loopback, broadcast or multicast (link-local is allowed); required when any BMC cell of the row is set |
//! | `bmc_username` | no | required when any BMC cell of the row is set |
//! | `bmc_password` | no | required when any BMC cell of the row is set; never printed |
//! | `vlan_id` | no | empty, or an integer 1 to 4094 |
//!
//! Across rows, `ip_address`, `mac`, `hostname` and `bmc_ip` are each unique; the error on a
//! repeat names the line of the first use.
//!
//! Every error names its 1-based file line (the line where the record starts, as an editor
//! shows it, even after quoted cells spanning lines), the column and the value; a
//! `bmc_password` value is always shown as `<redacted>`. All errors of a file are collected
//! and returned together, and nothing of a file with any error is returned.
//!
//! ## Choices, compared with EKS Anywhere v0.24.6
//!
//! - **An unknown column is an error** naming it and its header position (EKS Anywhere's
//!   gocsv ignores it, so a typo such as `bmc_pasword` loses the value silently), except
//!   the columns older EKS Anywhere releases read and ironbell does not use
//!   ([`IGNORED_COLUMNS`]: `id`, `guid`, `vendor`), which [`parse_inventory`] returns so
//!   the caller can warn about them.
//! - Unquoted cells are trimmed (Go keeps their spaces, and EKS Anywhere then fails on
//!   ` 10.0.0.1`); quoted cells are not.
//! - Header names match exactly (case-sensitive), as in EKS Anywhere; unlike it, surrounding
//!   whitespace is trimmed, and a **known column given twice is an error** (EKS Anywhere
//!   silently keeps the last one).
//! - Missing required columns are all named in one error, as EKS Anywhere does. When the
//!   header has errors, only they are reported: rows are not checked against a broken header.
//! - Nameservers are trimmed but not required to be IP addresses, as in EKS Anywhere.
//! - A record whose cell count differs from the header's is an error of that line (EKS
//!   Anywhere's Go CSV reader rejects the whole file at that point).
//! - EKS Anywhere accepts any IP for `ip_address` and `gateway`, any non-empty `netmask`, and
//!   EUI-64 or InfiniBand MACs; ironbell requires IPv4 addresses a machine can use, a
//!   gateway in its subnet, a real netmask and a unicast 48-bit MAC, since the Hardware
//!   declares `family: 4`, DHCP serves Ethernet, and such a row could never boot.
//! - A label key given twice in one cell is an error (EKS Anywhere keeps the last).
//! - With a BMC, the hostname may have at most 244 characters so that the Secret name
//!   `bmc-<hostname>-auth` stays a valid object name (EKS Anywhere does not check).
//! - `vlan_id` is written to the Hardware in canonical decimal form (`+010` becomes `10`).
//!
//! ## The objects
//!
//! For each row, in the namespace given to [`translate`] (EKS Anywhere uses
//! [`DEFAULT_NAMESPACE`], `eksa-system`), the same objects EKS Anywhere's
//! `hardware.BuildHardwareYAML` writes:
//!
//! - **Hardware** `<hostname>` (`tinkerbell.org/v1alpha1`): the CSV labels as metadata labels
//!   (EKS Anywhere adds none to the Hardware); one interface whose `dhcp` has the MAC, the IP
//!   (`family: 4`), name servers, hostname, `arch: x86_64`, `uefi: true`,
//!   `lease_time: 4294967294` (2^32 - 2, EKS Anywhere's "effectively infinite" lease) and the
//!   VLAN id when given, and whose `netboot` allows PXE and workflows;
//!   `spec.metadata.instance` with `id` = the MAC, the hostname, one `ips` entry (`public:
//!   true`), `allow_pxe` and `always_pxe` true, and an empty `operating_system: {}` (EKS
//!   Anywhere sets it so that older Boots releases do not dereference a missing OS);
//!   `spec.metadata.facility` `onprem` / `c2.medium.x86`; `spec.disks` with the disk; and,
//!   with a BMC, `spec.bmcRef` {`apiGroup: bmc.tinkerbell.org`, `kind: Machine`, `name:
//!   bmc-<hostname>`}. EKS Anywhere leaves `apiGroup` out; ironbell sets it, because a
//!   `TypedLocalObjectReference` without a group means the core group, and consumers that
//!   look only at `kind` and `name` are unaffected.
//! - **Machine** `bmc-<hostname>` (`bmc.tinkerbell.org/v1alpha1`), with a BMC: `connection`
//!   {`host`: bmc_ip, `port: 0` (the provider's default port), `authSecretRef`
//!   {`bmc-<hostname>-auth`, namespace}, `insecureTLS: true`, `providerOptions.preferredOrder:
//!   [gofish]`} (EKS Anywhere prefers the Redfish provider). No labels, as in EKS Anywhere.
//! - **Secret** `bmc-<hostname>-auth` (`v1`), with a BMC: type `kubernetes.io/basic-auth`,
//!   `data` `username` and `password`, and the label `clusterctl.cluster.x-k8s.io/move: "true"`
//!   that EKS Anywhere sets so that `clusterctl move` carries the Secret along.

mod check;
mod error;
mod parse;
mod reader;
mod translate;

pub use error::{CsvError, CsvErrors, Problem, REDACTED};
pub use parse::{
    Bmc, Column, IGNORED_COLUMNS, Inventory, MAX_CELL_BYTES, MAX_FILE_BYTES, MAX_RECORD_BYTES, Row,
    parse, parse_inventory,
};
pub use translate::{DEFAULT_NAMESPACE, Objects, to_objects, translate};
