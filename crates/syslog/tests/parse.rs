//! Parser tests: the formats real senders use, malformed input, and a deterministic
//! mutation test that no input panics.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ironbell_syslog::{Facility, Format, ParseError, SdElement, Severity, parse, parse_rfc5424};
use ironbell_testbed::Rng;

/// 2026-11-22T06:40:00Z
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_329_600)
}

fn at(secs: u64) -> Option<SystemTime> {
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

#[test]
fn rfc5424_full() {
    let m = parse(
        b"<165>1 2026-11-22T06:39:58.5+01:00 node1 hook-agent 812 ID47 \
          [exampleSDID@32473 iut=\"3\" eventSource=\"App\\\"lication\\]\\x\"][x@1] \xEF\xBB\xBFhello \xFF\n\0",
        now(),
    )
    .expect("parse");
    assert_eq!(m.format, Format::Rfc5424);
    assert_eq!(
        (m.facility, m.severity),
        (Facility::Local4, Severity::Notice)
    );
    assert_eq!(
        m.timestamp,
        Some(UNIX_EPOCH + Duration::from_millis(1_795_329_598_500 - 3_600_000))
    );
    assert_eq!(m.hostname.as_deref(), Some("node1"));
    assert_eq!(m.app_name.as_deref(), Some("hook-agent"));
    assert_eq!(m.proc_id.as_deref(), Some("812"));
    assert_eq!(m.msg_id.as_deref(), Some("ID47"));
    assert_eq!(
        m.structured_data,
        vec![
            SdElement {
                id: "exampleSDID@32473".into(),
                params: vec![
                    ("iut".into(), "3".into()),
                    ("eventSource".into(), "App\"lication]\\x".into())
                ],
            },
            SdElement {
                id: "x@1".into(),
                params: vec![]
            },
        ]
    );
    assert_eq!(m.text, "hello \u{FFFD}");
    assert_eq!(
        m.to_string(),
        "2026-11-22T05:39:58Z node1 hook-agent[812]: \
         [exampleSDID@32473 iut=\"3\" eventSource=\"App\"lication]\\x\"] [x@1] hello \u{FFFD}"
    );
}

#[test]
fn rfc5424_nil_values() {
    let m = parse(b"<0>1 - - - - - -", now()).expect("parse");
    assert_eq!(m.format, Format::Rfc5424);
    assert_eq!((m.facility, m.severity), (Facility::Kern, Severity::Emerg));
    assert_eq!(
        (m.timestamp, &m.hostname, &m.app_name, &m.proc_id, &m.msg_id),
        (None, &None, &None, &None, &None)
    );
    assert!(m.structured_data.is_empty() && m.text.is_empty());
    // Display falls back to the time of receipt and `-` for the host.
    assert_eq!(m.to_string(), "2026-11-22T06:40:00Z -");
}

#[test]
fn rfc5424_errors_say_what_and_where() {
    let cases: &[(&[u8], ParseError)] = &[
        (b"", ParseError::Empty),
        (b"\n\r\0", ParseError::Empty),
        (b"hello", ParseError::NoPri),
        (b"<192>1 - - - - - -", ParseError::NoPri),
        (
            b"<13>2 - - - - - -",
            ParseError::Rfc5424 {
                what: "VERSION is not 1",
                offset: 5,
            },
        ),
        (
            b"<13>1 2026-13-01T00:00:00Z h a p m -",
            ParseError::Rfc5424 {
                what: "bad TIMESTAMP",
                offset: 6,
            },
        ),
        (
            b"<13>1 - h a p m",
            ParseError::Rfc5424 {
                what: "missing STRUCTURED-DATA",
                offset: 15,
            },
        ),
        (
            b"<13>1 - h a p m [id k=v]",
            ParseError::Rfc5424 {
                what: "missing '\"' before PARAM-VALUE",
                offset: 22,
            },
        ),
        (
            b"<13>1 - h a p m [id k=\"v]",
            ParseError::Rfc5424 {
                what: "unterminated PARAM-VALUE",
                offset: 25,
            },
        ),
        (
            b"<13>1 - h a p m -x",
            ParseError::Rfc5424 {
                what: "no space after STRUCTURED-DATA",
                offset: 17,
            },
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            parse_rfc5424(input, now()).as_ref().err(),
            Some(want),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn invalid_rfc5424_falls_back_to_bsd_keeping_all_text() {
    let m = parse(b"<13>1 - h a p m [broken", now()).expect("parse");
    assert_eq!(m.format, Format::Rfc3164);
    assert_eq!((m.facility, m.severity), (Facility::User, Severity::Notice));
    assert_eq!(m.text, "1 - h a p m [broken");
}

#[test]
fn bsd_busybox_forwarded() {
    // What busybox `syslogd -R` sends for `busybox logger -t hook -p daemon.warn ...`.
    let m = parse(b"<28>Nov 22 06:33:47 hook: hello world\n", now()).expect("parse");
    assert_eq!(m.format, Format::Rfc3164);
    assert_eq!(
        (m.facility, m.severity),
        (Facility::Daemon, Severity::Warning)
    );
    assert_eq!(m.timestamp, at(1_795_329_600 - 373));
    assert_eq!(m.hostname, None);
    assert_eq!(m.app_name.as_deref(), Some("hook"));
    assert_eq!(m.proc_id, None);
    assert_eq!(m.text, "hello world");
    assert_eq!(m.to_string(), "2026-11-22T06:33:47Z - hook: hello world");
}

#[test]
fn bsd_with_host_and_pid() {
    let m = parse(b"<155>Nov  2 06:33:47 vm app[10215]: hi 3164", now()).expect("parse");
    assert_eq!((m.facility, m.severity), (Facility::Local3, Severity::Err));
    assert_eq!(m.hostname.as_deref(), Some("vm"));
    assert_eq!(m.app_name.as_deref(), Some("app"));
    assert_eq!(m.proc_id.as_deref(), Some("10215"));
    assert_eq!(m.text, "hi 3164");
    assert_eq!(m.to_string(), "2026-11-02T06:33:47Z vm app[10215]: hi 3164");
}

#[test]
fn bsd_year_is_the_closest_to_receipt() {
    // A December message received on 1 January belongs to the previous year.
    let jan1 = UNIX_EPOCH + Duration::from_secs(1_798_761_600); // 2027-01-01T00:00:00Z
    let m = parse(b"<13>Dec 31 23:59:50 h t: x", jan1).expect("parse");
    assert_eq!(m.timestamp, Some(jan1 - Duration::from_secs(10)));
    // 29 February exists only in some years: none near 2026.
    let m = parse(b"<13>Feb 29 00:00:00 h t: x", now()).expect("parse");
    assert_eq!((m.timestamp, m.hostname.as_deref()), (None, Some("h")));
}

#[test]
fn bsd_variants() {
    /// (input, hostname, app, pid, text)
    type Case = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        &'static str,
    );
    let cases: &[Case] = &[
        (
            "<13>Nov 22 06:40:00 host message without tag",
            Some("host"),
            None,
            None,
            "message without tag",
        ),
        (
            "<13>Nov 22 06:40:00 host kernel[0] no colon",
            Some("host"),
            Some("kernel"),
            Some("0"),
            "no colon",
        ),
        (
            "<13>Nov 22 06:40:00 sshd[1]: x",
            None,
            Some("sshd"),
            Some("1"),
            "x",
        ),
        (
            "<13>tag: no timestamp",
            None,
            Some("tag"),
            None,
            "no timestamp",
        ),
        ("<13>just text", None, None, None, "just text"),
        ("<13>", None, None, None, ""),
        (
            "<13>2026-11-22T06:40:00Z host app: rsyslog",
            Some("host"),
            Some("app"),
            None,
            "rsyslog",
        ),
        (
            "<13>Nov 22 06:40:00 host http://x: y",
            Some("host"),
            None,
            None,
            "http://x: y",
        ),
    ];
    for (input, host, app, pid, text) in cases {
        let m = parse(input.as_bytes(), now()).expect("parse");
        assert_eq!(m.format, Format::Rfc3164, "{input}");
        assert_eq!(
            (
                m.hostname.as_deref(),
                m.app_name.as_deref(),
                m.proc_id.as_deref(),
                m.text.as_str()
            ),
            (*host, *app, *pid, *text),
            "{input}"
        );
    }
}

#[test]
fn not_syslog_is_kept_raw() {
    for input in ["hello there", "<abc>x", "<1000>x", "<13 x", "<>x", "<192>x"] {
        let m = parse(input.as_bytes(), now()).expect("parse");
        assert_eq!(m.format, Format::Raw, "{input}");
        assert_eq!((m.facility, m.severity), (Facility::User, Severity::Notice));
        assert_eq!(m.text, input);
    }
    let m = parse(b"bad \xC3\x28 utf8\r\n\0\0", now()).expect("parse");
    assert_eq!(m.text, "bad \u{FFFD}( utf8");
}

#[test]
fn display_escapes_control_characters() {
    let m = parse(b"<13>Nov 22 06:40:00 h t: a\nb\x1b[31mc", now()).expect("parse");
    assert_eq!(m.to_string(), "2026-11-22T06:40:00Z h t: a\\nb\\x1b[31mc");
}

#[test]
fn no_input_panics() {
    let samples: &[&[u8]] = &[
        b"<165>1 2026-11-22T06:39:58.123456+01:00 node1 app 812 ID47 [a@1 k=\"v\\\"\" j=\"\"][b@2] \xEF\xBB\xBFmsg",
        b"<13>1 - - - - - -",
        b"<28>Nov 22 06:33:47 hook: hello world\n",
        b"<155>Nov  2 06:33:47 vm app[10215]: hi",
        b"<13>2026-11-22T06:40:00Z host app: rsyslog",
        b"plain text \xFF\xFE",
        b"<191>",
    ];
    let interesting = b"<>[]\"\\=: -0129TZ+.\n\0\xEF\xBB\xBF\xFFa";
    let received = [
        now(),
        UNIX_EPOCH,
        UNIX_EPOCH + Duration::from_secs(253_402_300_799),
    ];
    let mut checked = 0usize;
    let mut check = |input: &[u8], r: SystemTime| {
        if let Ok(m) = parse(input, r) {
            let _ = m.to_string();
        }
        let _ = parse_rfc5424(input, r);
        checked += 1;
    };
    // Every prefix, and every single-byte substitution with an interesting byte.
    for sample in samples {
        for len in 0..=sample.len() {
            check(&sample[..len], now());
        }
        for i in 0..sample.len() {
            for &b in interesting {
                let mut m = sample.to_vec();
                m[i] = b;
                check(&m, now());
            }
        }
    }
    // Random stacked mutations: replace, insert, delete, duplicate a range.
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    for round in 0..30_000 {
        let mut m = samples[rng.below(samples.len())].to_vec();
        for _ in 0..1 + rng.below(6) {
            let i = rng.below(m.len() + 1);
            match rng.below(5) {
                0 if i < m.len() => m[i] = rng.next() as u8,
                1 => m.insert(i, interesting[rng.below(interesting.len())]),
                2 if i < m.len() => {
                    m.remove(i);
                }
                3 => {
                    let j = i + rng.below(m.len() - i + 1);
                    let copy = m[i..j].to_vec();
                    m.splice(i..i, copy);
                }
                _ => m.truncate(i),
            }
        }
        check(&m, received[round % received.len()]);
    }
    assert!(checked > 30_000);
}
