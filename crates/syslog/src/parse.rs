//! Parsing one datagram into a [`Message`]: [`parse`] (lenient, what the receiver uses) and
//! [`parse_rfc5424`] (strict, says why a datagram is not RFC 5424).
//!
//! Everything works on bytes, so no input can split a UTF-8 character or index out of
//! range; text is decoded lossily only at the end.

use std::time::SystemTime;

use crate::message::{Facility, Format, Message, SdElement, Severity};
use crate::time::{civil_from_days, days_from_civil, from_unix, unix_seconds, valid_date};

/// Why a datagram could not be read as a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but newlines and NULs (or nothing at all).
    #[error("empty datagram")]
    Empty,
    /// No `<PRI>` (1 to 3 digits, at most 191) at the start.
    #[error("datagram does not start with <PRI>")]
    NoPri,
    /// A `<PRI>` datagram that breaks the RFC 5424 grammar.
    #[error("not RFC 5424: {what} at byte {offset}")]
    Rfc5424 {
        /// What was wrong, e.g. "bad TIMESTAMP".
        what: &'static str,
        /// Byte offset into the datagram where it went wrong.
        offset: usize,
    },
}

/// The UTF-8 byte order mark RFC 5424 allows at the start of MSG.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads one datagram leniently, the way rsyslog does: RFC 5424 if it is valid RFC 5424,
/// else RFC 3164 / BSD (with or without timestamp, host name and tag) if it starts with a
/// valid `<PRI>`, else the whole datagram as text with facility `user` and severity
/// `notice` ([`Format::Raw`]). Trailing newlines, carriage returns and NULs are stripped.
///
/// The only error is [`ParseError::Empty`]. Never panics, whatever the input.
pub fn parse(datagram: &[u8], received_at: SystemTime) -> Result<Message, ParseError> {
    let data = trim_end(datagram);
    if data.is_empty() {
        return Err(ParseError::Empty);
    }
    let Some((facility, severity, rest)) = parse_pri(data) else {
        return Ok(Message {
            format: Format::Raw,
            facility: Facility::User,
            severity: Severity::Notice,
            timestamp: None,
            received_at,
            hostname: None,
            app_name: None,
            proc_id: None,
            msg_id: None,
            structured_data: Vec::new(),
            text: lossy(data),
        });
    };
    let pri_len = data.len() - rest.len();
    if rest.starts_with(b"1 ")
        && let Ok(message) = parse_5424_body(facility, severity, rest, pri_len, received_at)
    {
        return Ok(message);
    }
    Ok(parse_3164_body(facility, severity, rest, received_at))
}

/// Reads one datagram as RFC 5424 only, and says what is wrong if it is not.
pub fn parse_rfc5424(datagram: &[u8], received_at: SystemTime) -> Result<Message, ParseError> {
    let data = trim_end(datagram);
    if data.is_empty() {
        return Err(ParseError::Empty);
    }
    let (facility, severity, rest) = parse_pri(data).ok_or(ParseError::NoPri)?;
    parse_5424_body(
        facility,
        severity,
        rest,
        data.len() - rest.len(),
        received_at,
    )
}

fn trim_end(mut data: &[u8]) -> &[u8] {
    while let [head @ .., b'\n' | b'\r' | 0] = data {
        data = head;
    }
    data
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `<PRI>` at the start: facility, severity and what follows the `>`.
fn parse_pri(data: &[u8]) -> Option<(Facility, Severity, &[u8])> {
    let rest = data.strip_prefix(b"<")?;
    let end = rest.iter().take(4).position(|&b| b == b'>')?;
    let digits = rest.get(..end)?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let pri = digits
        .iter()
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
    let pri = u8::try_from(pri).ok().filter(|&p| p <= 191)?;
    Some((
        Facility::from_code(pri / 8)?,
        Severity::from_code(pri % 8)?,
        rest.get(end + 1..)?,
    ))
}

/// A position in a byte slice, with the offset of the slice in the datagram for errors.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: &'static str) -> ParseError {
        ParseError::Rfc5424 {
            what,
            offset: self.base + self.pos,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    fn space(&mut self, what: &'static str) -> Result<(), ParseError> {
        if self.peek() == Some(b' ') {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    /// A non-empty run of bytes up to the next space or the end.
    fn token(&mut self, what: &'static str) -> Result<&'a [u8], ParseError> {
        let rest = self.rest();
        let len = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        if len == 0 {
            return Err(self.err(what));
        }
        self.pos += len;
        Ok(rest.get(..len).unwrap_or_default())
    }

    /// A header field: `-` (NILVALUE) is `None`.
    fn field(&mut self, what: &'static str) -> Result<Option<String>, ParseError> {
        let token = self.token(what)?;
        Ok((token != b"-").then(|| lossy(token)))
    }
}

fn parse_5424_body(
    facility: Facility,
    severity: Severity,
    body: &[u8],
    base: usize,
    received_at: SystemTime,
) -> Result<Message, ParseError> {
    let mut c = Cursor {
        data: body,
        pos: 0,
        base,
    };
    if c.token("missing VERSION")? != b"1" {
        return Err(c.err("VERSION is not 1"));
    }
    c.space("missing TIMESTAMP")?;
    let start = c.pos;
    let ts = c.token("missing TIMESTAMP")?;
    let timestamp = if ts == b"-" {
        None
    } else {
        Some(parse_rfc3339(ts).ok_or(ParseError::Rfc5424 {
            what: "bad TIMESTAMP",
            offset: base + start,
        })?)
    };
    c.space("missing HOSTNAME")?;
    let hostname = c.field("missing HOSTNAME")?;
    c.space("missing APP-NAME")?;
    let app_name = c.field("missing APP-NAME")?;
    c.space("missing PROCID")?;
    let proc_id = c.field("missing PROCID")?;
    c.space("missing MSGID")?;
    let msg_id = c.field("missing MSGID")?;
    c.space("missing STRUCTURED-DATA")?;
    let mut structured_data = Vec::new();
    match c.peek() {
        Some(b'-') => c.pos += 1,
        Some(b'[') => {
            while c.peek() == Some(b'[') {
                structured_data.push(parse_sd_element(&mut c)?);
            }
        }
        _ => return Err(c.err("bad STRUCTURED-DATA")),
    }
    let text = match c.peek() {
        None => String::new(),
        Some(b' ') => {
            let msg = c.rest().get(1..).unwrap_or_default();
            lossy(msg.strip_prefix(BOM).unwrap_or(msg))
        }
        Some(_) => return Err(c.err("no space after STRUCTURED-DATA")),
    };
    Ok(Message {
        format: Format::Rfc5424,
        facility,
        severity,
        timestamp,
        received_at,
        hostname,
        app_name,
        proc_id,
        msg_id,
        structured_data,
        text,
    })
}

/// `[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]`, the cursor on the `[`.
fn parse_sd_element(c: &mut Cursor<'_>) -> Result<SdElement, ParseError> {
    c.pos += 1; // '['
    let id = sd_name(c, "bad SD-ID")?;
    let mut params = Vec::new();
    loop {
        match c.peek() {
            Some(b']') => {
                c.pos += 1;
                return Ok(SdElement { id, params });
            }
            Some(b' ') => {
                c.pos += 1;
                let name = sd_name(c, "bad PARAM-NAME")?;
                if c.peek() != Some(b'=') {
                    return Err(c.err("missing '=' after PARAM-NAME"));
                }
                c.pos += 1;
                if c.peek() != Some(b'"') {
                    return Err(c.err("missing '\"' before PARAM-VALUE"));
                }
                c.pos += 1;
                let mut value = Vec::new();
                loop {
                    match c.peek() {
                        None => return Err(c.err("unterminated PARAM-VALUE")),
                        Some(b'"') => {
                            c.pos += 1;
                            break;
                        }
                        Some(b'\\') => {
                            match c.data.get(c.pos + 1).copied() {
                                Some(e @ (b'"' | b'\\' | b']')) => {
                                    value.push(e);
                                    c.pos += 2;
                                }
                                // Any other backslash is kept as it is (RFC 5424 6.3.3).
                                _ => {
                                    value.push(b'\\');
                                    c.pos += 1;
                                }
                            }
                        }
                        Some(b) => {
                            value.push(b);
                            c.pos += 1;
                        }
                    }
                }
                params.push((name, lossy(&value)));
            }
            _ => return Err(c.err("bad SD-ELEMENT")),
        }
    }
}

/// SD-NAME: 1 to 32 printable US-ASCII characters except `=`, space, `]` and `"`.
fn sd_name(c: &mut Cursor<'_>, what: &'static str) -> Result<String, ParseError> {
    let rest = c.rest();
    let len = rest
        .iter()
        .position(|&b| !(33..=126).contains(&b) || matches!(b, b'=' | b']' | b'"'))
        .unwrap_or(rest.len());
    if len == 0 || len > 32 {
        return Err(c.err(what));
    }
    c.pos += len;
    Ok(lossy(rest.get(..len).unwrap_or_default()))
}

fn digits(bytes: &[u8], at: usize, n: usize) -> Option<u32> {
    let d = bytes.get(at..at + n)?;
    d.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// RFC 3339 as RFC 5424 restricts it: `YYYY-MM-DDTHH:MM:SS[.F{1,9}](Z|±HH:MM)`.
fn parse_rfc3339(t: &[u8]) -> Option<SystemTime> {
    let year = digits(t, 0, 4)?;
    let month = digits(t, 5, 2)?;
    let day = digits(t, 8, 2)?;
    let hour = digits(t, 11, 2)?;
    let minute = digits(t, 14, 2)?;
    let second = digits(t, 17, 2)?;
    if t.get(4) != Some(&b'-')
        || t.get(7) != Some(&b'-')
        || !matches!(t.get(10), Some(b'T' | b't'))
        || t.get(13) != Some(&b':')
        || t.get(16) != Some(&b':')
    {
        return None;
    }
    let year = i64::from(year);
    if !valid_date(year, month, day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut pos = 19;
    let mut nanos = 0u32;
    if t.get(pos) == Some(&b'.') {
        pos += 1;
        let n = t
            .get(pos..)?
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n == 0 || n > 9 {
            return None;
        }
        nanos = digits(t, pos, n)? * 10u32.pow(9 - n as u32);
        pos += n;
    }
    let offset: i64 = match t.get(pos..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), ..] => {
            if t.len() != pos + 6 || t.get(pos + 3) != Some(&b':') {
                return None;
            }
            let oh = digits(t, pos + 1, 2)?;
            let om = digits(t, pos + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400
        + i64::from(hour * 3600 + minute * 60 + second)
        - offset;
    Some(from_unix(secs, nanos))
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A BSD timestamp `Mmm dd hh:mm:ss` (day space-padded, zero-padded or one digit) at the
/// start of `t`: the time (if the date exists in a year near `received_at`) and its length.
fn parse_bsd_timestamp(t: &[u8], received_at: SystemTime) -> Option<(Option<SystemTime>, usize)> {
    let name = t.get(..3)?;
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .and_then(|i| u32::try_from(i + 1).ok())?;
    let mut pos = 3;
    if t.get(pos) != Some(&b' ') {
        return None;
    }
    while t.get(pos) == Some(&b' ') {
        pos += 1;
    }
    let day_len = t
        .get(pos..)?
        .iter()
        .take(3)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if !(1..=2).contains(&day_len) {
        return None;
    }
    let day = digits(t, pos, day_len)?;
    pos += day_len;
    if t.get(pos) != Some(&b' ') || t.get(pos + 3) != Some(&b':') || t.get(pos + 6) != Some(&b':') {
        return None;
    }
    let hour = digits(t, pos + 1, 2)?;
    let minute = digits(t, pos + 4, 2)?;
    let second = digits(t, pos + 7, 2)?;
    pos += 9;
    if !matches!(t.get(pos), None | Some(b' ')) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // No year on the wire: take the one that puts the time closest to its receipt.
    let now = unix_seconds(received_at);
    let (this_year, _, _) = civil_from_days(now.div_euclid(86_400));
    let time = (this_year - 1..=this_year + 1)
        .filter(|&y| valid_date(y, month, day))
        .map(|y| {
            days_from_civil(y, month, day) * 86_400
                + i64::from(hour * 3600 + minute * 60 + second.min(59))
        })
        .min_by_key(|secs| (secs - now).unsigned_abs())
        .map(|secs| from_unix(secs, 0));
    Some((time, pos))
}

/// `TAG:`, `TAG[PID]:` or `TAG[PID]`: the tag and the PID.
fn split_tag(word: &[u8]) -> Option<(String, Option<String>)> {
    let (inner, colon) = match word.strip_suffix(b":") {
        Some(inner) => (inner, true),
        None => (word, false),
    };
    let plain = |s: &[u8]| !s.is_empty() && !s.iter().any(|b| matches!(b, b'[' | b']' | b':'));
    if let Some(open) = inner.iter().position(|&b| b == b'[') {
        let name = inner.get(..open)?;
        let pid = inner.get(open + 1..)?.strip_suffix(b"]")?;
        (plain(name) && plain(pid)).then(|| (lossy(name), Some(lossy(pid))))
    } else {
        (colon && plain(inner)).then(|| (lossy(inner), None))
    }
}

fn parse_3164_body(
    facility: Facility,
    severity: Severity,
    body: &[u8],
    received_at: SystemTime,
) -> Message {
    let mut rest = body;
    let mut timestamp = None;
    let mut has_timestamp = false;
    if let Some((ts, len)) = parse_bsd_timestamp(rest, received_at) {
        (timestamp, has_timestamp) = (ts, true);
        rest = rest.get(len..).unwrap_or_default();
    } else {
        // rsyslog's forwarding template puts an RFC 3339 time where BSD's goes.
        let len = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        if let Some(ts) = rest.get(..len).and_then(parse_rfc3339) {
            (timestamp, has_timestamp) = (Some(ts), true);
            rest = rest.get(len..).unwrap_or_default();
        }
    }
    if has_timestamp {
        while let [b' ', tail @ ..] = rest {
            rest = tail;
        }
    }
    let word = |s: &[u8]| -> usize { s.iter().position(|&b| b == b' ').unwrap_or(s.len()) };
    let mut hostname = None;
    let mut app_name = None;
    let mut proc_id = None;
    let mut take_tag = |rest: &mut &[u8]| -> bool {
        let len = word(rest);
        match rest.get(..len).and_then(split_tag) {
            Some((tag, pid)) => {
                (app_name, proc_id) = (Some(tag), pid);
                *rest = rest.get(len..).unwrap_or_default();
                if let [b' ', tail @ ..] = *rest {
                    *rest = tail;
                }
                true
            }
            None => false,
        }
    };
    if !take_tag(&mut rest) && has_timestamp {
        // After a timestamp, a word that is not a tag is the host name (RFC 3164 4.1.2).
        let len = word(rest);
        if len > 0 {
            hostname = rest.get(..len).map(lossy);
            rest = rest.get(len..).unwrap_or_default();
            if let [b' ', tail @ ..] = rest {
                rest = tail;
            }
            take_tag(&mut rest);
        }
    }
    Message {
        format: Format::Rfc3164,
        facility,
        severity,
        timestamp,
        received_at,
        hostname,
        app_name,
        proc_id,
        msg_id: None,
        structured_data: Vec::new(),
        text: lossy(rest),
    }
}
