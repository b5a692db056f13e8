//! [`Redactor`]: removes a password from text in every encoding a BMC (or a layer of
//! ironbell) may have put it in, before that text becomes an error, a log line or a status.
//!
//! A BMC that echoes a request quotes the password as it was sent or re-encoded: a JSON
//! login body comes back JSON-escaped (`"` as `\"`, `\` as `\\`, control characters and,
//! from encoders with ASCII-only output, every non-ASCII character as `\uXXXX`), a form
//! or URL as percent-encoding (`%22`, `%2b`, `+` for a space), an HTML error page with
//! character references (`&quot;`, `&#34;`), an `Authorization` header as the base64 of
//! `user:password`. Rust's `Debug` (a `?field` in a log line) escapes again, so a JSON
//! escape may arrive with its backslash doubled.
//!
//! So the password is not searched as one string but as a pattern: each of its characters
//! may appear raw or in any of those escapes, independently (an encoder that escapes only
//! some characters is caught too), and any backslash of an escape may be repeated. The
//! base64 forms (standard and URL-safe alphabets, padded or not, of the password and of
//! `user:password`) are searched the same way, so a JSON-escaped `\/` inside base64 is
//! caught. The result may over-redact a neighbouring backslash; it never leaves a form
//! listed above. Base64 of the password in the middle of a longer base64 text (at another
//! alignment) is not recognised. A password over [`MAX_PATTERN_LEN`] bytes is searched
//! only in its plain, `serde_json` and base64 forms.
//!
//! Hand-written because no crate does this: secret-scrubbing crates (`secrecy`,
//! `redact`) keep secrets out of `Debug`, which [`crate::Secret`] already does; none
//! finds a known secret in text re-encoded by someone else. The pattern is compiled with
//! `regex` once per [`Redactor`].

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use regex::Regex;

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Passwords shorter than this are not searched in plain form: replacing one or two
/// characters everywhere would mangle any text (the base64 of `user:password` still is).
pub const MIN_SCRUBBED_LEN: usize = 3;

/// Passwords longer than this (bytes) are searched only in their plain, `serde_json` and
/// base64 forms: the per-character pattern would be too costly to build.
pub const MAX_PATTERN_LEN: usize = 1024;

/// Finds one password, in all its encodings, in text; see the module documentation.
#[derive(Clone, Debug)]
pub struct Redactor {
    pattern: Option<Regex>,
    /// The literal forms, used if the pattern could not be compiled (a huge password).
    literals: Vec<String>,
}

impl Redactor {
    /// A redactor for `password`, used by `username` (for the HTTP basic auth form).
    pub fn new(username: &str, password: &str) -> Self {
        let mut forms = Vec::new();
        if !password.is_empty() {
            let basic = format!("{username}:{password}");
            for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
                forms.push(engine.encode(basic.as_bytes()));
            }
            if password.chars().count() >= MIN_SCRUBBED_LEN {
                for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
                    forms.push(engine.encode(password.as_bytes()));
                }
                forms.push(password.to_string());
            }
        }
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        let pattern = if forms.is_empty() || password.len() > MAX_PATTERN_LEN {
            None
        } else {
            let alternatives: Vec<String> = forms
                .iter()
                .map(|f| {
                    let pattern = pattern_of(f);
                    if f == password {
                        pattern
                    } else {
                        // Base64 padding, raw or escaped.
                        format!("{pattern}(?:=|%3[dD]|&#0*61;|\\\\+u0*3[dD])*")
                    }
                })
                .collect();
            Regex::new(&alternatives.join("|")).ok()
        };
        let forms = if pattern.is_none() && !password.is_empty() {
            let json = serde_json::to_string(password).unwrap_or_default();
            let json = json.trim_matches('"').to_string();
            forms.into_iter().chain([json]).collect()
        } else {
            forms
        };
        Self {
            pattern,
            literals: forms,
        }
    }

    /// `text` with every encoding of the password replaced by [`REDACTED`].
    pub fn scrub(&self, text: &str) -> String {
        match &self.pattern {
            Some(re) => re.replace_all(text, REDACTED).into_owned(),
            None => self
                .literals
                .iter()
                .fold(text.to_string(), |t, l| t.replace(l.as_str(), REDACTED)),
        }
    }
}

/// `text` with every encoding of `password` replaced by [`REDACTED`]: the one function
/// ironbell uses wherever text from or about a BMC may carry its password.
pub fn scrub(text: &str, username: &str, password: &str) -> String {
    Redactor::new(username, password).scrub(text)
}

/// The regular expression matching `secret` with each character in any encoding.
fn pattern_of(secret: &str) -> String {
    let mut out = String::from("(?:");
    for c in secret.chars() {
        out.push_str(&char_pattern(c));
    }
    out.push(')');
    out
}

/// A hexadecimal number matched in either case, with optional leading zeros.
fn hex_ci(n: u32, width: usize) -> String {
    format!("{n:0width$x}")
        .chars()
        .map(|d| {
            if d.is_ascii_alphabetic() {
                format!("[{}{}]", d, d.to_ascii_uppercase())
            } else {
                d.to_string()
            }
        })
        .collect()
}

/// One character of a secret: raw, or JSON, Rust `Debug`, percent or HTML escaped.
fn char_pattern(c: char) -> String {
    // Any escape's backslash may have been escaped again (a JSON text inside a JSON string,
    // or shown by `Debug`): one or more backslashes.
    const BS: &str = r"\\+";
    let code = u32::from(c);
    let mut alts: Vec<String> = Vec::new();
    match c {
        // Raw, or escaped any number of times.
        '\\' => alts.push(BS.to_string()),
        '"' => alts.push(format!(r"(?:\\*{})", regex::escape("\""))),
        _ => alts.push(regex::escape(&c.to_string())),
    }
    // JSON short escapes (and Rust's `\'` and `\0`).
    let short = match c {
        '/' => Some("/"),
        '\n' => Some("n"),
        '\r' => Some("r"),
        '\t' => Some("t"),
        '\u{8}' => Some("b"),
        '\u{c}' => Some("f"),
        '\'' => Some("'"),
        '\0' => Some("0"),
        _ => None,
    };
    if let Some(s) = short {
        alts.push(format!("{BS}{}", regex::escape(s)));
    }
    // JSON `\uXXXX`, as a surrogate pair above the BMP.
    let mut units = [0u16; 2];
    let json: String = c
        .encode_utf16(&mut units)
        .iter()
        .map(|u| format!("{BS}[uU]{}", hex_ci(u32::from(*u), 4)))
        .collect();
    alts.push(json);
    // Rust `Debug`: `\u{XX}`.
    alts.push(format!(r"{BS}u\{{0*{}\}}", hex_ci(code, 1)));
    // Percent-encoding of the UTF-8 bytes; `+` for a space in a form.
    let mut buf = [0u8; 4];
    let percent: String = c
        .encode_utf8(&mut buf)
        .bytes()
        .map(|b| format!("%{}", hex_ci(u32::from(b), 2)))
        .collect();
    alts.push(percent);
    if c == ' ' {
        alts.push(r"\+".to_string());
    }
    // HTML character references.
    alts.push(format!("&#0*{code};"));
    alts.push(format!("&#[xX]0*{};", hex_ci(code, 1)));
    let entity = match c {
        '"' => Some("quot"),
        '&' => Some("amp"),
        '<' => Some("lt"),
        '>' => Some("gt"),
        '\'' => Some("apos"),
        _ => None,
    };
    if let Some(e) = entity {
        alts.push(format!("&{e};"));
    }
    format!("(?:{})", alts.join("|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "admin";

    /// Passwords with the characters that need escaping somewhere.
    const PASSWORDS: &[&str] = &[
        "s3cr3t-pw",
        r#"pa"ss"#,
        r"back\slash",
        "per%cent",
        "plus+sign",
        "sla/sh",
        "spa ce",
        "ünïcødé-pw",
        "emoji-🔑-pw",
        "tab\there",
        "ctl\u{1}\u{1f}x",
        r#"all"\%+/ é&<'>"#,
    ];

    /// Every encoding the module promises, of `pw`.
    fn encodings(pw: &str) -> Vec<(&'static str, String)> {
        let json = serde_json::to_string(pw).expect("json");
        let json = json[1..json.len() - 1].to_string();
        let ascii_json = |upper: bool| -> String {
            pw.encode_utf16()
                .map(|u| match u {
                    0x20..=0x7e if u != 0x22 && u != 0x5c => char::from_u32(u32::from(u))
                        .map(String::from)
                        .unwrap_or_default(),
                    _ if upper => format!("\\u{u:04X}"),
                    _ => format!("\\u{u:04x}"),
                })
                .collect()
        };
        let slash_json = json.replace('/', "\\/");
        let debug = format!("{pw:?}");
        let debug = debug[1..debug.len() - 1].to_string();
        let debug_of_json = format!("{json:?}");
        let debug_of_json = debug_of_json[1..debug_of_json.len() - 1].to_string();
        let json_of_json = serde_json::to_string(&format!("\"{json}\"")).expect("json");
        let json_of_json = json_of_json[3..json_of_json.len() - 3].to_string();
        let percent: String = pw.bytes().map(|b| format!("%{b:02X}")).collect();
        let percent_lower = percent.to_lowercase();
        let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
        let uri: String = pw
            .bytes()
            .map(|b| {
                if unreserved(b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let form: String = pw
            .bytes()
            .map(|b| match b {
                b' ' => "+".to_string(),
                b if b.is_ascii_alphanumeric() || b"*-._".contains(&b) => char::from(b).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect();
        let html: String = pw
            .chars()
            .map(|c| match c {
                '"' => "&quot;".to_string(),
                '&' => "&amp;".to_string(),
                '<' => "&lt;".to_string(),
                '>' => "&gt;".to_string(),
                '\'' => "&#39;".to_string(),
                c => c.to_string(),
            })
            .collect();
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        let basic = format!("{USER}:{pw}");
        vec![
            ("plain", pw.to_string()),
            ("json (serde_json)", json.clone()),
            ("json (ASCII only)", ascii_json(false)),
            ("json (upper-case hex)", ascii_json(true)),
            ("json (escaped slash)", slash_json),
            ("rust debug", debug),
            ("debug of json", debug_of_json),
            ("json of json", json_of_json),
            ("percent", percent),
            ("percent lower", percent_lower),
            ("uri component", uri),
            ("form", form),
            ("html", html),
            ("base64", STANDARD.encode(pw)),
            ("base64 url-safe", URL_SAFE.encode(pw)),
            ("basic auth", STANDARD.encode(&basic)),
            ("basic auth url-safe", URL_SAFE.encode(&basic)),
            ("basic auth json", {
                let j = serde_json::to_string(&STANDARD.encode(&basic)).expect("json");
                j[1..j.len() - 1].replace('/', "\\/")
            }),
        ]
    }

    #[test]
    fn every_encoding_of_every_password_is_redacted() {
        for pw in PASSWORDS {
            let r = Redactor::new(USER, pw);
            for (name, enc) in encodings(pw) {
                let text = format!("before {enc} after");
                let out = r.scrub(&text);
                assert!(
                    !out.contains(&enc),
                    "{name} of {pw:?} survived: {enc:?} in {out:?}"
                );
                assert!(out.starts_with("before "), "{name} of {pw:?}: {out:?}");
                assert!(out.ends_with(" after"), "{name} of {pw:?}: {out:?}");
                assert!(out.contains(REDACTED), "{name} of {pw:?}: {out:?}");
            }
        }
    }

    #[test]
    fn an_echoed_json_login_body_is_redacted() {
        let pw = r#"we"ird\pa%ss+wörd/"#;
        let body = serde_json::json!({ "UserName": USER, "Password": pw }).to_string();
        let message = format!("Malformed JSON in request body: {body}");
        let out = scrub(&message, USER, pw);
        assert!(out.contains(r#""Password":"<redacted>""#), "{out}");
        assert!(out.contains(r#""UserName":"admin""#), "{out}");
    }

    #[test]
    fn other_text_is_left_alone() {
        let r = Redactor::new(USER, "s3cr3t");
        let text = r#"HTTP 400 "Base.1.0.GeneralError" \n 100% s3cr3 /redfish/v1/ \u0041"#;
        assert_eq!(r.scrub(text), text);
        assert_eq!(Redactor::new(USER, "").scrub(text), text);
    }

    #[test]
    fn short_passwords_are_only_redacted_as_basic_auth() {
        use base64::engine::general_purpose::STANDARD;
        let r = Redactor::new(USER, "pw");
        assert_eq!(r.scrub("pw pw"), "pw pw");
        let header = format!("Basic {}", STANDARD.encode("admin:pw"));
        assert_eq!(r.scrub(&header), "Basic <redacted>");
    }

    #[test]
    fn a_huge_password_does_not_panic() {
        let pw = "é\"".repeat(5_000);
        let r = Redactor::new(USER, &pw);
        let out = r.scrub(&format!("x{pw}y"));
        assert!(!out.contains(&pw));
    }
}
