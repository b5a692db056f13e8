//! One failing row per validation rule, and the file-level behaviour: columns in any order,
//! missing columns, ignored columns, all errors collected, line numbers, password redaction.

use ironbell_inventory::{Column, CsvError, CsvErrors, Problem, REDACTED, parse, parse_inventory};

const HEADER: &str = "hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels,\
                      bmc_ip,bmc_username,bmc_password,vlan_id";

/// The password used in every BMC row; must never appear in error text.
const PASSWORD: &str = "S3cr3t-pa55word";

/// A valid row, distinct for each `n`, in `HEADER` order.
fn good(n: u8) -> Vec<String> {
    vec![
        format!("node{n}"),
        format!("10.0.0.{n}"),
        "255.255.255.0".into(),
        "10.0.0.254".into(),
        "10.0.0.253|10.0.0.252".into(),
        format!("00:50:56:00:00:{n:02x}"),
        "/dev/sda".into(),
        "type=worker".into(),
        format!("192.0.2.{n}"),
        "admin".into(),
        PASSWORD.into(),
        String::new(),
    ]
}

fn with(mut row: Vec<String>, column: Column, value: &str) -> Vec<String> {
    let at = HEADER
        .split(',')
        .position(|h| h == column.name())
        .expect("column in header");
    row[at] = value.to_string();
    row
}

fn file(rows: &[Vec<String>]) -> String {
    let mut text = String::from(HEADER);
    for row in rows {
        text.push('\n');
        let cells: Vec<String> = row
            .iter()
            .map(|c| {
                if c.contains([',', '"', '\n']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.clone()
                }
            })
            .collect();
        text.push_str(&cells.join(","));
    }
    text.push('\n');
    text
}

fn errors(text: &str) -> CsvErrors {
    match parse(text) {
        Ok(rows) => panic!("expected errors, parsed {} rows", rows.len()),
        Err(e) => e,
    }
}

/// Parses a file of a good row (line 2) and `bad` (line 3); expects exactly one error.
fn single_error(bad: Vec<String>) -> CsvError {
    let errs = errors(&file(&[good(1), bad]));
    assert_eq!(errs.len(), 1, "{errs}");
    errs.errors()[0].clone()
}

#[track_caller]
fn assert_invalid(e: &CsvError, line: u64, column: Column, value: &str, problem: &Problem) {
    assert_eq!(e.line(), line, "{e}");
    assert_eq!(e.column(), Some(column), "{e}");
    assert_eq!(e.value(), Some(value), "{e}");
    assert_eq!(e.problem(), Some(problem), "{e}");
    let text = e.to_string();
    assert!(text.contains(&format!("line {line}")), "{text}");
    assert!(text.contains(column.name()), "{text}");
    assert!(text.contains(&format!("{value:?}")), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
}

#[track_caller]
fn rule(column: Column, value: &str, problem: Problem) {
    let e = single_error(with(good(2), column, value));
    assert_invalid(&e, 3, column, value, &problem);
}

#[test]
fn valid_file_parses() {
    let rows = parse(&file(&[good(1), good(2)])).expect("valid");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].line, 3);
    assert_eq!(rows[1].hostname, "node2");
    assert_eq!(
        rows[1]
            .nameservers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["10.0.0.253", "10.0.0.252"]
    );
    let bmc = rows[1].bmc.as_ref().expect("bmc");
    assert_eq!(bmc.ip.to_string(), "192.0.2.2");
    assert_eq!(bmc.password, PASSWORD);
    assert_eq!(rows[1].vlan_id, None);
}

#[test]
fn bad_ip() {
    rule(Column::IpAddress, "10.0.0.300", Problem::NotIpv4);
    rule(Column::IpAddress, "2001:db8::1", Problem::NotIpv4);
    rule(Column::IpAddress, "", Problem::Required);
}

#[test]
fn bad_gateway() {
    rule(Column::Gateway, "gateway.local", Problem::NotIpv4);
    rule(Column::Gateway, "", Problem::Required);
}

#[test]
fn empty_nameserver() {
    rule(
        Column::Nameservers,
        "1.1.1.1||8.8.8.8",
        Problem::EmptyNameserver { index: 2 },
    );
}

#[test]
fn no_nameserver() {
    rule(Column::Nameservers, "", Problem::NoNameserver);
}

#[test]
fn missing_or_bad_netmask() {
    rule(Column::Netmask, "", Problem::Required);
    rule(Column::Netmask, "255.0.255.0", Problem::NotNetmask);
    rule(Column::Netmask, "/24", Problem::NotNetmask);
}

#[test]
fn bad_mac() {
    rule(Column::Mac, "00:50:56:00:00", Problem::NotMac);
    rule(Column::Mac, "00:50:56:00:00:zz", Problem::NotMac);
    rule(Column::Mac, "", Problem::Required);
}

#[test]
fn mac_forms_are_normalised() {
    let rows = parse(&file(&[with(good(1), Column::Mac, "00-50-56-AB-CD-EF")])).expect("valid");
    assert_eq!(rows[0].mac.to_string(), "00:50:56:ab:cd:ef");
}

#[test]
fn bad_hostname() {
    let e = single_error(with(good(2), Column::Hostname, "Node_2"));
    assert_eq!(e.line(), 3);
    assert_eq!(e.column(), Some(Column::Hostname));
    assert_eq!(e.value(), Some("Node_2"));
    assert!(
        matches!(e.problem(), Some(Problem::NotHostname { .. })),
        "{e}"
    );
    rule(Column::Hostname, "", Problem::Required);
}

#[test]
fn hostname_with_a_newline_or_escape_is_refused_at_its_line_and_column() {
    for bad in [
        "wk01\nchain http://192.0.2.1/evil.ipxe",
        "red\u{1b}[31m",
        "WK01",
    ] {
        let e = single_error(with(good(2), Column::Hostname, bad));
        assert_eq!(e.line(), 3, "{bad:?}");
        assert_eq!(e.column(), Some(Column::Hostname), "{bad:?}");
        assert!(
            matches!(e.problem(), Some(Problem::NotHostname { .. })),
            "{bad:?}: {e}"
        );
        let text = e.to_string();
        assert!(
            !text.contains('\n') && !text.contains('\u{1b}'),
            "the error prints the value escaped: {text}"
        );
    }
}

#[test]
fn hostname_too_long_for_bmc_names() {
    let long = "a".repeat(245);
    rule(
        Column::Hostname,
        &long,
        Problem::HostnameTooLongForBmc { len: 245, max: 244 },
    );
    // Without a BMC, the DNS-1123 limit of 253 applies.
    let mut no_bmc = with(good(2), Column::Hostname, &"a".repeat(253));
    for c in [Column::BmcIp, Column::BmcUsername, Column::BmcPassword] {
        no_bmc = with(no_bmc, c, "");
    }
    parse(&file(&[good(1), no_bmc])).expect("253 characters without a BMC");
}

#[test]
fn bad_disk() {
    rule(Column::Disk, "sda", Problem::NotDisk);
    rule(Column::Disk, "/dev/disk/by-id/wwn-0x5000", Problem::NotDisk);
    rule(Column::Disk, "", Problem::Required);
}

#[test]
fn bad_label_key() {
    let e = single_error(with(good(2), Column::Labels, "type=cp|-bad=x"));
    assert_eq!(e.line(), 3);
    assert_eq!(e.column(), Some(Column::Labels));
    assert_eq!(e.value(), Some("type=cp|-bad=x"));
    assert!(
        matches!(e.problem(), Some(Problem::LabelKey { key, .. }) if key == "-bad"),
        "{e}"
    );
}

#[test]
fn bad_label_value() {
    let e = single_error(with(good(2), Column::Labels, "type=not valid"));
    assert_eq!(e.line(), 3);
    assert_eq!(e.column(), Some(Column::Labels));
    assert_eq!(e.value(), Some("type=not valid"));
    assert!(
        matches!(e.problem(), Some(Problem::LabelValue { key, value, .. }) if key == "type" && value == "not valid"),
        "{e}"
    );
}

#[test]
fn label_not_a_pair_and_duplicate_key() {
    rule(
        Column::Labels,
        "type",
        Problem::LabelNotPair {
            entry: "type".into(),
        },
    );
    rule(
        Column::Labels,
        "a=b=c",
        Problem::LabelNotPair {
            entry: "a=b=c".into(),
        },
    );
    rule(
        Column::Labels,
        "a=1|a=2",
        Problem::LabelDuplicate { key: "a".into() },
    );
}

#[test]
fn labels_parse_and_may_be_empty() {
    let rows = parse(&file(&[
        with(good(1), Column::Labels, ""),
        with(
            good(2),
            Column::Labels,
            " type = cp | example.com/rack=r1|empty= ",
        ),
    ]))
    .expect("valid");
    assert!(rows[0].labels.is_empty());
    let labels: Vec<(&str, &str)> = rows[1]
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        labels,
        [("empty", ""), ("example.com/rack", "r1"), ("type", "cp")]
    );
}

#[test]
fn bmc_field_without_bmc_ip() {
    rule(Column::BmcIp, "", Problem::RequiredWithBmc);
    // Only a username: bmc_ip and bmc_password are both reported.
    let row = with(with(good(2), Column::BmcIp, ""), Column::BmcPassword, "");
    let errs = errors(&file(&[good(1), row]));
    assert_eq!(errs.len(), 2, "{errs}");
    assert_invalid(
        &errs.errors()[0],
        3,
        Column::BmcIp,
        "",
        &Problem::RequiredWithBmc,
    );
    assert_invalid(
        &errs.errors()[1],
        3,
        Column::BmcPassword,
        "",
        &Problem::RequiredWithBmc,
    );
}

#[test]
fn bmc_ip_without_password() {
    rule(Column::BmcPassword, "", Problem::RequiredWithBmc);
}

#[test]
fn bmc_ip_without_username() {
    rule(Column::BmcUsername, "", Problem::RequiredWithBmc);
}

#[test]
fn bad_bmc_ip() {
    rule(Column::BmcIp, "bmc-node2", Problem::NotIp);
}

#[test]
fn bmc_ip_may_be_ipv6() {
    let rows = parse(&file(&[with(good(1), Column::BmcIp, "2001:db8::11")])).expect("valid");
    assert_eq!(
        rows[0].bmc.as_ref().map(|b| b.ip.to_string()).as_deref(),
        Some("2001:db8::11")
    );
}

#[test]
fn no_bmc_columns_no_bmc() {
    let text = "hostname,mac,ip_address,netmask,gateway,nameservers,labels,disk\n\
                w1,00:00:00:00:00:01,10.10.10.10,255.255.255.0,10.10.10.1,1.1.1.1,type=cp,/dev/sda\n";
    let rows = parse(text).expect("valid");
    assert_eq!(rows[0].bmc, None);
}

#[test]
fn vlan_id_rules() {
    rule(Column::VlanId, "0", Problem::VlanOutOfRange);
    rule(Column::VlanId, "4095", Problem::VlanOutOfRange);
    rule(Column::VlanId, "abc", Problem::VlanNotInteger);
    let rows = parse(&file(&[
        with(good(1), Column::VlanId, "1"),
        with(good(2), Column::VlanId, "4094"),
        good(3),
    ]))
    .expect("valid");
    assert_eq!(
        rows.iter().map(|r| r.vlan_id).collect::<Vec<_>>(),
        [Some(1), Some(4094), None]
    );
}

#[test]
fn duplicate_ip() {
    rule(
        Column::IpAddress,
        "10.0.0.1",
        Problem::Duplicate { first_line: 2 },
    );
}

#[test]
fn duplicate_mac() {
    // Same address in another spelling is still a duplicate.
    rule(
        Column::Mac,
        "00-50-56-00-00-01",
        Problem::Duplicate { first_line: 2 },
    );
}

#[test]
fn duplicate_hostname() {
    rule(
        Column::Hostname,
        "node1",
        Problem::Duplicate { first_line: 2 },
    );
}

#[test]
fn duplicate_bmc_ip() {
    rule(
        Column::BmcIp,
        "192.0.2.1",
        Problem::Duplicate { first_line: 2 },
    );
}

#[test]
fn duplicate_names_the_first_line_even_later() {
    let errs = errors(&file(&[
        good(1),
        good(2),
        good(3),
        with(good(4), Column::IpAddress, "10.0.0.2"),
    ]));
    assert_eq!(errs.len(), 1, "{errs}");
    assert_invalid(
        &errs.errors()[0],
        5,
        Column::IpAddress,
        "10.0.0.2",
        &Problem::Duplicate { first_line: 3 },
    );
    assert!(
        errs.to_string().contains("already used on line 3"),
        "{errs}"
    );
}

#[test]
fn missing_required_columns_named_together() {
    let text =
        "hostname,ip_address,gateway,mac,labels\nn1,10.0.0.1,10.0.0.254,00:00:00:00:00:01,\n";
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs}");
    match &errs.errors()[0] {
        CsvError::MissingColumns { line, columns } => {
            assert_eq!(*line, 1);
            assert_eq!(
                columns,
                &[Column::Netmask, Column::Nameservers, Column::Disk]
            );
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(
        errs.to_string(),
        "line 1: missing required columns: netmask, nameservers, disk"
    );
}

#[test]
fn every_required_column_is_required() {
    for missing in Column::ALL.into_iter().filter(|c| c.required()) {
        let header: Vec<&str> = HEADER.split(',').filter(|h| *h != missing.name()).collect();
        let errs = errors(&header.join(","));
        assert_eq!(
            errs.errors(),
            [CsvError::MissingColumns {
                line: 1,
                columns: vec![missing]
            }]
        );
    }
}

#[test]
fn columns_in_any_order_with_whitespace_and_ignored_columns() {
    let text = " disk , labels,vendor , mac,nameservers,gateway,netmask,ip_address,hostname ,bmc_password,bmc_username,bmc_ip\n\
                /dev/sdb , rack=r1 , spare ,AA:BB:CC:DD:EE:01,8.8.8.8,10.1.0.1,255.255.0.0, 10.1.2.3 ,m1,pw,root,192.0.2.50\n";
    let inv = parse_inventory(text).expect("valid");
    assert_eq!(inv.unknown_columns, ["vendor"]);
    let row = &inv.rows[0];
    assert_eq!(row.hostname, "m1");
    assert_eq!(row.disk, "/dev/sdb");
    assert_eq!(row.ip.to_string(), "10.1.2.3");
    assert_eq!(row.netmask.to_string(), "255.255.0.0");
    assert_eq!(row.gateway.to_string(), "10.1.0.1");
    assert_eq!(row.mac.to_string(), "aa:bb:cc:dd:ee:01");
    assert_eq!(row.labels.get("rack").map(String::as_str), Some("r1"));
    let bmc = row.bmc.as_ref().expect("bmc");
    assert_eq!(
        (bmc.username.as_str(), bmc.password.as_str()),
        ("root", "pw")
    );
}

#[test]
fn duplicate_known_column_is_an_error() {
    let errs = errors("hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels,mac\n");
    assert_eq!(
        errs.errors(),
        [CsvError::DuplicateColumn {
            line: 1,
            column: Column::Mac
        }]
    );
}

#[test]
fn empty_file_has_no_header() {
    assert_eq!(errors("").errors(), [CsvError::NoHeader { line: 1 }]);
    assert_eq!(errors("\n  \n").errors(), [CsvError::NoHeader { line: 1 }]);
}

#[test]
fn header_only_is_an_empty_inventory() {
    assert_eq!(parse(HEADER).expect("valid"), []);
}

#[test]
fn wrong_cell_count() {
    let text = format!("{}\nn1,10.0.0.1\n", HEADER);
    assert_eq!(
        errors(&text).errors(),
        [CsvError::FieldCount {
            line: 2,
            expected: 12,
            found: 2
        }]
    );
}

#[test]
fn several_bad_rows_are_all_reported_sorted_by_line() {
    let text = file(&[
        with(good(1), Column::Gateway, "nope"),
        good(2),
        with(with(good(3), Column::Mac, "xx"), Column::VlanId, "5000"),
        with(good(4), Column::Hostname, "node2"),
    ]);
    let errs = errors(&text);
    let summary: Vec<(u64, Option<Column>)> = errs
        .errors()
        .iter()
        .map(|e| (e.line(), e.column()))
        .collect();
    assert_eq!(
        summary,
        [
            (2, Some(Column::Gateway)),
            (4, Some(Column::Mac)),
            (4, Some(Column::VlanId)),
            (5, Some(Column::Hostname)),
        ]
    );
    let display = errs.to_string();
    let lines: Vec<&str> = display.lines().collect();
    assert_eq!(lines.len(), 4, "{display}");
    assert!(
        lines[0].starts_with("line 2: column gateway: value \"nope\""),
        "{display}"
    );
    assert!(
        lines[3].starts_with("line 5: column hostname: value \"node2\""),
        "{display}"
    );
    assert!(lines[3].ends_with("already used on line 3"), "{display}");
}

#[test]
fn line_numbers_follow_the_file_across_multiline_cells_and_blank_lines() {
    // Row 1 has a quoted label cell that spans three lines; a blank line follows.
    let mut text = String::from(HEADER);
    text.push_str("\nnode1,10.0.0.1,255.255.255.0,10.0.0.254,1.1.1.1,00:00:00:00:00:01,/dev/sda,\"a=b|\nc=d|\ne=f\",,,,\n");
    text.push('\n');
    text.push_str(
        "node2,10.0.0.2,255.255.255.0,10.0.0.254,1.1.1.1,00:00:00:00:00:02,/dev/sda,,,,,0\n",
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs}");
    // Lines: 1 header, 2-4 node1, 5 blank, 6 node2.
    assert_invalid(
        &errs.errors()[0],
        6,
        Column::VlanId,
        "0",
        &Problem::VlanOutOfRange,
    );
}

#[test]
fn line_numbers_with_crlf_and_several_blank_lines() {
    let bad = with(good(2), Column::Disk, "sda").join(",");
    let text = format!(
        "\r\n{HEADER}\r\n\r\n{}\r\n  \r\n\r\n{bad}\r\n",
        good(1).join(",")
    );
    // Lines: 1 blank, 2 header, 3 blank, 4 node1, 5 spaces, 6 blank, 7 node2.
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs}");
    assert_invalid(&errs.errors()[0], 7, Column::Disk, "sda", &Problem::NotDisk);

    let missing = errors("\n\nhostname,mac\n");
    assert!(
        matches!(
            missing.errors()[0],
            CsvError::MissingColumns { line: 3, .. }
        ),
        "{missing}"
    );
}

#[test]
fn windows_line_endings_and_bom() {
    let text = format!("\u{feff}{}\r\n{}\r\n", HEADER, good(1).join(","));
    let rows = parse(&text).expect("valid");
    assert_eq!(rows[0].hostname, "node1");
}

#[test]
fn nothing_is_returned_when_any_row_is_bad() {
    assert!(parse(&file(&[good(1), with(good(2), Column::Disk, "x")])).is_err());
}

#[test]
fn password_never_in_errors_or_debug() {
    // Rows whose BMC cells are set around the password, each with errors elsewhere.
    let bad_bmc_ip = with(
        with(good(2), Column::BmcIp, "not-an-ip"),
        Column::Mac,
        "bad",
    );
    let only_password = with(with(good(3), Column::BmcIp, ""), Column::BmcUsername, "");
    let wrong_count = format!(
        "{}\nnode9,{PASSWORD}\n",
        file(&[good(1), bad_bmc_ip, only_password]).trim_end()
    );
    let errs = errors(&wrong_count);
    assert_eq!(errs.len(), 5, "{errs}");
    assert!(!errs.to_string().contains(PASSWORD), "{errs}");
    assert!(!format!("{errs:?}").contains(PASSWORD), "{errs:?}");

    // Debug of parsed rows never shows the password.
    let rows = parse(&file(&[good(1)])).expect("valid");
    let debug = format!("{rows:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
    assert!(debug.contains(REDACTED), "{debug}");
}

#[test]
fn ten_thousand_rows_are_fast() {
    let mut text = String::from(HEADER);
    for i in 0..10_000u32 {
        let [a, b] = [(i >> 8) as u8, i as u8];
        text.push_str(&format!(
            "\nh{i},10.{a}.{b}.1,255.255.255.0,10.{a}.{b}.254,10.0.0.2|10.0.0.3,02:00:00:00:{a:02x}:{b:02x},/dev/sda,type=worker|rack=r{a},172.16.{a}.{b},admin,pw{i},{}",
            i % 4094 + 1
        ));
    }
    let start = std::time::Instant::now();
    let rows = parse(&text).expect("valid");
    let objects = ironbell_inventory::to_objects(&rows, "eksa-system");
    let took = start.elapsed();
    assert_eq!(rows.len(), 10_000);
    assert_eq!(objects.len(), 30_000);
    // Generous for unoptimised test builds on a shared machine; release builds take a few ms.
    assert!(took.as_secs_f64() < 5.0, "took {took:?}");
}
