//! The rules added for issue 13 (and 12): Go `encoding/csv` quoting as EKS Anywhere reads
//! the file, unusable addresses and MACs, unknown columns, and size limits. Each error
//! names its line and column; nothing of a file with an error is imported.

use ironbell_inventory::{
    Column, CsvError, MAX_CELL_BYTES, MAX_FILE_BYTES, MAX_RECORD_BYTES, Problem, parse,
};

const HEADER: &str = "hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels,bmc_ip,bmc_username,bmc_password";

/// A valid row `n`, with `password` as written (already quoted if wanted).
fn row(n: u8, password: &str) -> String {
    format!(
        "node{n},10.0.0.{n},255.255.255.0,10.0.0.254,10.0.0.253,00:50:56:00:00:{n:02x},/dev/sda,type=worker,192.0.2.{n},admin,{password}"
    )
}

fn file(rows: &[String]) -> String {
    format!("{HEADER}\n{}\n", rows.join("\n"))
}

fn only_error(text: &str) -> CsvError {
    let errs = parse(text).expect_err("must be refused").into_errors();
    assert_eq!(errs.len(), 1, "{errs:#?}");
    errs.into_iter().next().expect("one error")
}

#[test]
fn quotes_go_accepts_keep_the_password_exactly() {
    for (written, meant) in [
        (r#""pa""ss""#, r#"pa"ss"#),
        (r#""a,b""#, "a,b"),
        (r#"" spaced ""#, " spaced "),
        (r#""""""#, r#"""#),
        ("\"two\nlines\"", "two\nlines"),
        (r"back\slash", r"back\slash"),
        ("plain", "plain"),
    ] {
        let rows = parse(&file(&[row(1, written)])).unwrap_or_else(|e| panic!("{written}: {e}"));
        let bmc = rows[0].bmc.as_ref().expect("bmc");
        assert_eq!(bmc.password, meant, "{written}");
    }
}

#[test]
fn quotes_go_refuses_name_line_and_column() {
    // Column of the offending quote: the password cell starts after the 10th comma.
    let prefix = row(2, "");
    let at = prefix.chars().count() as u64 + 1;
    for (written, column, message) in [
        (r#"pa"ss"#, at + 2, r#"bare " in non-quoted-field"#),
        (
            r#""pa"ss""#,
            at + 3,
            r#"extraneous or missing " in quoted-field"#,
        ),
        (
            r#""pass" "#,
            at + 5,
            r#"extraneous or missing " in quoted-field"#,
        ),
        (r#" "pass""#, at + 1, r#"bare " in non-quoted-field"#),
    ] {
        let text = file(&[row(1, "ok"), row(2, written), row(3, "ok")]);
        let err = only_error(&text);
        assert_eq!(
            err,
            CsvError::Syntax {
                line: 3,
                column,
                message: message.into()
            },
            "{written}"
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("line 3, column {column}: ")),
            "{shown}"
        );
        assert!(!shown.contains("pass"), "{shown}");
    }
    let err = only_error(&file(&[row(1, "\"never closed")]));
    assert!(
        matches!(&err, CsvError::Syntax { line: 2, message, .. } if message.contains("extraneous or missing")),
        "{err:?}"
    );
}

fn cell_error(text: &str) -> (u64, Column, String, Problem) {
    match only_error(text) {
        CsvError::Invalid {
            line,
            column,
            value,
            problem,
        } => (line, column, value, problem),
        other => panic!("{other:?}"),
    }
}

/// Row 1 with `column` replaced by `value` (in HEADER order).
fn with(column: Column, value: &str) -> String {
    let at = HEADER
        .split(',')
        .position(|h| h == column.name())
        .expect("column");
    let mut cells: Vec<String> = row(1, "pw").split(',').map(str::to_string).collect();
    cells[at] = value.to_string();
    file(&[row(7, "pw"), cells.join(",")])
}

/// Each `(value, why)` in `column` is refused with an error on line 3 in that column
/// whose problem says `why`.
fn refused(column: Column, cases: &[(&str, &str)]) {
    for (value, why) in cases {
        let (line, col, shown, problem) = cell_error(&with(column, value));
        assert_eq!((line, col, shown.as_str()), (3, column, *value));
        assert!(problem.to_string().contains(why), "{value}: {problem}");
    }
}

#[test]
fn unusable_machine_addresses_are_refused() {
    refused(
        Column::IpAddress,
        &[
            ("0.0.0.0", "unspecified"),
            ("127.0.0.1", "loopback"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.251", "multicast"),
            ("169.254.1.1", "link-local"),
            ("240.0.0.1", "reserved"),
            ("10.0.0.0", "network address of 10.0.0.0/24"),
            ("10.0.0.255", "broadcast address of 10.0.0.0/24"),
        ],
    );
}

#[test]
fn unusable_gateways_are_refused() {
    refused(
        Column::Gateway,
        &[
            ("0.0.0.0", "unspecified"),
            ("127.0.0.1", "loopback"),
            ("255.255.255.255", "broadcast"),
            ("10.0.1.1", "outside the row's subnet 10.0.0.0/24"),
            ("192.168.0.1", "outside the row's subnet"),
            ("10.0.0.255", "broadcast address of 10.0.0.0/24"),
            ("10.0.0.0", "network address"),
        ],
    );
}

#[test]
fn unusable_macs_and_bmc_addresses_are_refused() {
    refused(
        Column::Mac,
        &[
            ("00:00:00:00:00:00", "all-zero"),
            ("ff:ff:ff:ff:ff:ff", "broadcast"),
            ("01:00:5E:00:00:FB", "multicast"),
        ],
    );
    for value in ["0.0.0.0", "127.0.0.1", "::1", "255.255.255.255", "ff02::1"] {
        let (line, column, _, _) = cell_error(&with(Column::BmcIp, value));
        assert_eq!((line, column), (3, Column::BmcIp), "{value}");
    }
    // A BMC on a link-local or IPv6 address is fine.
    assert!(parse(&with(Column::BmcIp, "fe80::10")).is_ok());
}

#[test]
fn an_unknown_column_is_named_with_its_position() {
    let text = format!("{HEADER},bmc_pasword\n{},x\n", row(1, "pw"));
    let err = only_error(&text);
    assert_eq!(
        err,
        CsvError::UnknownColumn {
            line: 1,
            name: "bmc_pasword".into(),
            position: 12
        }
    );
    assert!(
        err.to_string()
            .contains("unknown column \"bmc_pasword\" (header position 12)")
    );
}

#[test]
fn oversized_cells_rows_and_files_are_refused() {
    let big = "x".repeat(MAX_CELL_BYTES + 1);
    let text = file(&[row(1, "pw"), row(2, &big)]);
    let err = only_error(&text);
    let prefix = row(2, "").chars().count() as u64 + 1;
    assert_eq!(
        err,
        CsvError::CellTooLong {
            line: 3,
            column: prefix,
            name: "bmc_password".into(),
            bytes: MAX_CELL_BYTES + 1,
            max: MAX_CELL_BYTES
        }
    );
    assert!(!err.to_string().contains("xxxx"), "the value is not shown");

    // Cells each under the cell limit, together over the record limit.
    let cell = "y".repeat(MAX_CELL_BYTES - 100);
    let cells: Vec<&str> = (0..HEADER.split(',').count())
        .map(|_| cell.as_str())
        .collect();
    let long_row = cells.join(",");
    assert!(long_row.len() > MAX_RECORD_BYTES);
    let err = only_error(&file(&[row(1, "pw"), long_row]));
    assert!(
        matches!(err, CsvError::RecordTooLong { line: 3, .. }),
        "{err:?}"
    );

    let huge = " ".repeat(MAX_FILE_BYTES + 1);
    assert!(matches!(only_error(&huge), CsvError::FileTooLarge { .. }));
}

#[test]
fn nothing_is_imported_when_any_row_fails() {
    let text = file(&[
        row(1, "pw"),
        row(2, "pw").replace("10.0.0.2,", "127.0.0.2,"),
        row(3, "pw"),
    ]);
    assert!(parse(&text).is_err());
}
