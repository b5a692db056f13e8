//! Splitting `hardware.csv` text into records with the rules of Go's `encoding/csv`, which
//! EKS Anywhere reads the file with (`csv.NewReader` defaults: `LazyQuotes` and
//! `TrimLeadingSpace` false, `FieldsPerRecord` 0).
//!
//! - Records end at `\n`; `\r\n` counts as `\n` (inside quoted cells too), a final `\r`
//!   before the end of the text is dropped, any other `\r` is data. Empty lines are skipped.
//! - A cell that starts with `"` is quoted: it ends at a `"` followed by `,` or the end of
//!   the line; `""` inside stands for one `"`; it may span lines. Any other `"` after the
//!   opening one, and a missing closing one, is Go's `extraneous or missing " in
//!   quoted-field`.
//! - In a cell that does not start with `"`, a `"` anywhere is Go's `bare " in
//!   non-quoted-field`. A space before the opening quote makes the cell unquoted, so
//!   ` "x"` is that error too, as in Go.
//!
//! ironbell then trims whitespace around unquoted cells (see the crate documentation);
//! quoted cells are kept exactly.
//!
//! Hand-written because the `csv` crate (used before) has no strict mode: it reads `a"b`
//! and `"a"b"` as cells where Go refuses the file, so a quoted password could be altered
//! silently. Errors carry the line and the 1-based character column, as an editor shows
//! them (Go counts the same column from 0, and puts a missing closing quote on the line
//! after the last; here it is the position after the last character).

use std::fmt;

/// A quoting error, with Go's message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuoteError {
    /// `"` inside a cell that does not start with one.
    Bare,
    /// A `"` inside a quoted cell not doubled nor followed by `,` or the end of the line,
    /// or no closing `"` before the end of the text.
    Extraneous,
}

impl fmt::Display for QuoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Bare => "bare \" in non-quoted-field",
            Self::Extraneous => "extraneous or missing \" in quoted-field",
        })
    }
}

/// Where reading stopped, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Line of the offending character.
    pub line: u64,
    /// Its 1-based character column.
    pub column: u64,
    /// Line where the record started (differs after quoted cells spanning lines).
    pub record_line: u64,
    /// What is wrong.
    pub error: QuoteError,
}

/// One cell as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// The text: unquoted and trimmed, or the exact content of a quoted cell.
    pub text: String,
    /// Whether it was quoted.
    pub quoted: bool,
    /// 1-based character column where the cell starts, on the record's first line.
    pub column: u64,
}

/// One record: its first line and its cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Line where the record starts.
    pub line: u64,
    /// The cells, in order.
    pub cells: Vec<Cell>,
    /// Bytes of text the record spans, its line terminators included.
    pub bytes: usize,
}

impl Record {
    /// A line holding nothing but whitespace.
    pub fn is_blank(&self) -> bool {
        matches!(self.cells.as_slice(), [c] if !c.quoted && c.text.is_empty())
    }
}

/// Reads records from text.
pub struct Reader<'a> {
    /// Remaining text.
    rest: &'a str,
    /// Line number of the start of `rest`.
    line: u64,
    failed: bool,
}

/// Characters in `s` (the 1-based column of the character after it, minus one).
fn chars(s: &str) -> u64 {
    u64::try_from(s.chars().count()).unwrap_or(u64::MAX)
}

impl<'a> Reader<'a> {
    /// A reader over `text`.
    pub fn new(text: &'a str) -> Self {
        Self {
            rest: text,
            line: 1,
            failed: false,
        }
    }

    /// The next line without its terminator, and whether it had one (`\n` or `\r\n`).
    fn next_line(&mut self) -> Option<(&'a str, bool)> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, has_nl) = match self.rest.find('\n') {
            Some(i) => {
                let line = &self.rest[..i];
                self.rest = &self.rest[i + 1..];
                (line, true)
            }
            None => {
                let line = self.rest;
                self.rest = "";
                (line, false)
            }
        };
        self.line += 1;
        Some((line.strip_suffix('\r').unwrap_or(line), has_nl))
    }

    fn read(&mut self) -> Option<Result<Record, SyntaxError>> {
        let (mut line, mut has_nl, start) = loop {
            let start = self.rest.len();
            let (line, has_nl) = self.next_line()?;
            if !line.is_empty() {
                break (line, has_nl, start);
            }
        };
        let mut line_no = self.line - 1;
        let record_line = line_no;
        let mut cells = Vec::new();
        let mut pos = 0;
        // 1-based character column of `pos`, kept as cells are consumed.
        let mut column: u64 = 1;
        let fail = |line: u64, column: u64, error| SyntaxError {
            line,
            column,
            record_line,
            error,
        };
        loop {
            if !line[pos..].starts_with('"') {
                let end = line[pos..].find(',').map(|i| pos + i);
                let text = &line[pos..end.unwrap_or(line.len())];
                if let Some(j) = text.find('"') {
                    let at = chars(&line[..pos + j]) + 1;
                    return Some(Err(fail(line_no, at, QuoteError::Bare)));
                }
                cells.push(Cell {
                    text: text.trim().to_string(),
                    quoted: false,
                    column,
                });
                match end {
                    Some(i) => {
                        column += chars(text) + 1;
                        pos = i + 1;
                    }
                    None => break,
                }
                continue;
            }
            // Quoted.
            let (start_line, start_pos) = (line_no, pos);
            pos += 1;
            let mut text = String::new();
            loop {
                match line[pos..].find('"') {
                    Some(i) => {
                        text.push_str(&line[pos..pos + i]);
                        let quote = pos + i;
                        pos = quote + 1;
                        match line[pos..].chars().next() {
                            Some('"') => {
                                text.push('"');
                                pos += 1;
                            }
                            Some(',') => {
                                pos += 1;
                                break;
                            }
                            None => {
                                pos = line.len() + 1;
                                break;
                            }
                            Some(_) => {
                                let at = chars(&line[..quote]) + 1;
                                return Some(Err(fail(line_no, at, QuoteError::Extraneous)));
                            }
                        }
                    }
                    None => {
                        text.push_str(&line[pos..]);
                        let next = if has_nl { self.next_line() } else { None };
                        let Some((next, nl)) = next else {
                            let at = chars(line) + 1;
                            return Some(Err(fail(line_no, at, QuoteError::Extraneous)));
                        };
                        text.push('\n');
                        (line, has_nl, pos) = (next, nl, 0);
                        line_no = self.line - 1;
                    }
                }
            }
            cells.push(Cell {
                text,
                quoted: true,
                column,
            });
            if pos > line.len() {
                break;
            }
            column = if line_no == start_line {
                column + chars(&line[start_pos..pos])
            } else {
                chars(&line[..pos]) + 1
            };
        }
        Some(Ok(Record {
            line: record_line,
            cells,
            bytes: start - self.rest.len(),
        }))
    }
}

impl Iterator for Reader<'_> {
    type Item = Result<Record, SyntaxError>;

    /// The next record; after an error, nothing more (the reader cannot resynchronise).
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let r = self.read();
        if matches!(r, Some(Err(_))) {
            self.failed = true;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Vec<String>>, (u64, u64, QuoteError)> {
        Reader::new(text)
            .map(|r| {
                r.map(|r| r.cells.into_iter().map(|c| c.text).collect())
                    .map_err(|e| (e.line, e.column, e.error))
            })
            .collect()
    }

    #[test]
    fn go_accepts() {
        let ok = |text: &str, want: &[&[&str]]| {
            let got = read(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
            assert_eq!(got, want, "{text:?}");
        };
        ok("a,b,c\n", &[&["a", "b", "c"]]);
        ok("a,b\r\nc,d", &[&["a", "b"], &["c", "d"]]);
        ok("\n\na,b\n\n", &[&["a", "b"]]);
        ok("\"a\",\"b\"\"c\",\"\"\n", &[&["a", "b\"c", ""]]);
        ok("\"multi\r\nline\",x\n", &[&["multi\nline", "x"]]);
        ok("\"a,b\",\"  c  \"\n", &[&["a,b", "  c  "]]);
        ok("a,\n", &[&["a", ""]]);
        ok(",\n", &[&["", ""]]);
        ok("a\r", &[&["a"]]);
        ok("  a  , b \n", &[&["a", "b"]]);
        ok("\"\"\"\"\n", &[&["\""]]);
        ok("é,\"ü\"\n", &[&["é", "ü"]]);
    }

    #[test]
    fn go_refuses() {
        use QuoteError::{Bare, Extraneous};
        let bad = |text: &str, want: (u64, u64, QuoteError)| {
            assert_eq!(read(text), Err(want), "{text:?}");
        };
        bad("a\"b,c\n", (1, 2, Bare));
        bad("x\nab,c\"\n", (2, 5, Bare));
        bad("a, \"b\"\n", (1, 4, Bare));
        bad("\"a\"b\",c\n", (1, 3, Extraneous));
        bad("\"a\" ,c\n", (1, 3, Extraneous));
        bad("é,\"pa\"ss\"\n", (1, 6, Extraneous));
        bad("\"unterminated\n", (1, 14, Extraneous));
        bad("ok\n\"spans\nlines\"x\n", (3, 6, Extraneous));
        bad("\"no end", (1, 8, Extraneous));
    }

    #[test]
    fn records_know_their_lines_and_columns() {
        let recs: Vec<Record> = Reader::new("h1,h2\n\n\"a\nb\",c\nd, e\n")
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(recs.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 3, 5]);
        assert_eq!(recs[2].cells[1].column, 3);
        let rec = Reader::new("é,\"q,\"\"\",  x,\"a\nbc\",d\n")
            .next()
            .expect("record")
            .expect("valid");
        let columns: Vec<u64> = rec.cells.iter().map(|c| c.column).collect();
        assert_eq!(columns, [1, 3, 10, 14, 5]);
        assert!(recs[1].cells[0].quoted);
    }
}
