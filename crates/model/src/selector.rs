//! Kubernetes label selectors: parsing, validation, matching and printing.
//!
//! The grammar is the one `kubectl get -l` and the API server accept (equality- and
//! set-based requirements, comma-separated, whitespace tolerated):
//!
//! ```text
//! selector    = [ requirement { "," requirement } ]
//! requirement = "!" key | key | key ("=" | "==" | "!=") [ value ]
//!             | key ("in" | "notin") "(" [ value { "," [ value ] } ] ")"
//! ```
//!
//! Keys are qualified names (an optional DNS-1123 subdomain prefix and `/`, then a name of at
//! most 63 characters); values are empty or at most 63 characters of the same alphabet. The
//! numeric `gt`/`lt` operators of Kubernetes are not supported. Matching follows Kubernetes:
//! `!=` and `notin` hold when the key is absent.
//!
//! This module is not a field selector. Start reading at [`Selector::parse`] and
//! [`Selector::matches`]; [`validate_label_key`] and [`validate_label_value`] check single
//! labels (the CSV importer uses them).

use std::fmt;
use std::str::FromStr;

use crate::Labels;

/// A parsed label selector: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// The requirements, all of which must match.
    pub requirements: Vec<Requirement>,
}

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `key` (the label exists).
    Exists(String),
    /// `!key` (the label does not exist).
    NotExists(String),
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value` (also true when the label is absent).
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)` (also true when the label is absent).
    NotIn(String, Vec<String>),
}

/// A selector string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector {input:?} at offset {offset}: {message}")]
pub struct SelectorError {
    /// The selector as given.
    pub input: String,
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was expected.
    pub message: String,
}

impl Selector {
    /// Parses `a=b,c!=d,!e,f in (x,y),g notin (z),h`. The empty string selects everything.
    ///
    /// Requirements are kept sorted by key (stable), as Kubernetes does, so equal selectors
    /// print the same; the values of `in`/`notin` are sorted and deduplicated.
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        let tokens = lex(input)?;
        let mut parser = Parser {
            input,
            tokens,
            pos: 0,
        };
        let mut requirements = parser.parse_all()?;
        requirements.sort_by(|a, b| a.key().cmp(b.key()));
        Ok(Self { requirements })
    }

    /// Whether the labels satisfy every requirement.
    pub fn matches(&self, labels: Option<&Labels>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether the selector has no requirement (it selects everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

impl Requirement {
    /// The label key the requirement is about.
    pub fn key(&self) -> &str {
        match self {
            Self::Exists(k)
            | Self::NotExists(k)
            | Self::Equals(k, _)
            | Self::NotEquals(k, _)
            | Self::In(k, _)
            | Self::NotIn(k, _) => k,
        }
    }

    /// Whether the labels satisfy this requirement.
    pub fn matches(&self, labels: Option<&Labels>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
        match self {
            Self::Exists(k) => get(k).is_some(),
            Self::NotExists(k) => get(k).is_none(),
            Self::Equals(k, v) => get(k) == Some(v.as_str()),
            Self::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Self::In(k, vs) => get(k).is_some_and(|got| vs.iter().any(|v| v == got)),
            Self::NotIn(k, vs) => get(k).is_none_or(|got| !vs.iter().any(|v| v == got)),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exists(k) => write!(f, "{k}"),
            Self::NotExists(k) => write!(f, "!{k}"),
            Self::Equals(k, v) => write!(f, "{k}={v}"),
            Self::NotEquals(k, v) => write!(f, "{k}!={v}"),
            Self::In(k, vs) => write!(f, "{k} in ({})", vs.join(",")),
            Self::NotIn(k, vs) => write!(f, "{k} notin ({})", vs.join(",")),
        }
    }
}

/// Prints the canonical form: requirements joined by `,`, `=` for equality, set values
/// joined by `,` without spaces. Parsing the output gives an equal selector.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Longest label name or value.
const MAX_NAME: usize = 63;
/// Longest DNS-1123 subdomain (the key prefix).
const MAX_PREFIX: usize = 253;

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// Checks the name part of a key, or a non-empty value:
/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, at most 63 characters.
fn check_name(s: &str, what: &str) -> Result<(), String> {
    if s.len() > MAX_NAME {
        return Err(format!(
            "{what} {s:?} is {} characters long, at most {MAX_NAME} are allowed",
            s.len()
        ));
    }
    let ok_inner = s
        .chars()
        .all(|c| is_alnum(c) || c == '-' || c == '_' || c == '.');
    let ok_ends = s.starts_with(is_alnum) && s.ends_with(is_alnum);
    if !ok_inner || !ok_ends {
        return Err(format!(
            "{what} {s:?} must consist of alphanumeric characters, '-', '_' or '.', \
             and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

/// Checks a DNS-1123 subdomain: lower-case alphanumeric labels with inner `-`, joined by
/// `.`, at most 253 characters.
fn check_subdomain(s: &str) -> Result<(), String> {
    if s.len() > MAX_PREFIX {
        return Err(format!(
            "prefix {s:?} is {} characters long, at most {MAX_PREFIX} are allowed",
            s.len()
        ));
    }
    let ok = crate::names::is_subdomain(s);
    if !ok {
        return Err(format!(
            "prefix {s:?} must be a DNS subdomain: lower-case alphanumeric characters, '-' \
             or '.', starting and ending with an alphanumeric character"
        ));
    }
    Ok(())
}

/// Validates a label key as Kubernetes does: an optional DNS-1123 subdomain prefix (at most
/// 253 characters) and `/`, then a name of at most 63 characters matching
/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`. The error says what is wrong.
pub fn validate_label_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("label key must not be empty".into());
    }
    let name = match key.split_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() {
                return Err(format!("label key {key:?} has an empty prefix before '/'"));
            }
            check_subdomain(prefix).map_err(|e| format!("label key {key:?}: {e}"))?;
            if name.contains('/') {
                return Err(format!(
                    "label key {key:?} may contain at most one '/' (prefix/name)"
                ));
            }
            if name.is_empty() {
                return Err(format!("label key {key:?} has an empty name after '/'"));
            }
            name
        }
        None => key,
    };
    check_name(name, "label key name").map_err(|e| {
        if name == key {
            e
        } else {
            format!("label key {key:?}: {e}")
        }
    })
}

/// Validates a label value as Kubernetes does: empty, or at most 63 characters matching
/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`. The error says what is wrong.
pub fn validate_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    check_name(value, "label value")
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Not,
    Eq,
    DoubleEq,
    NotEq,
    In,
    NotIn,
    Open,
    Close,
    Comma,
    /// `>` or `<`: recognised only to report them as unsupported.
    Unsupported(char),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Self::Ident(s) => format!("{s:?}"),
            Self::Not => "'!'".into(),
            Self::Eq => "'='".into(),
            Self::DoubleEq => "'=='".into(),
            Self::NotEq => "'!='".into(),
            Self::In => "'in'".into(),
            Self::NotIn => "'notin'".into(),
            Self::Open => "'('".into(),
            Self::Close => "')'".into(),
            Self::Comma => "','".into(),
            Self::Unsupported(c) => format!("'{c}'"),
            Self::End => "end of input".into(),
        }
    }

    /// The token as text, for value positions where keywords are plain identifiers.
    fn as_value(&self) -> Option<String> {
        match self {
            Self::Ident(s) => Some(s.clone()),
            Self::In => Some("in".into()),
            Self::NotIn => Some("notin".into()),
            _ => None,
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '!' | '=' | '(' | ')' | ',' | '>' | '<')
}

/// Splits the input into tokens with their byte offsets; the last is `End`.
fn lex(input: &str) -> Result<Vec<(usize, Tok)>, SelectorError> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let tok = match c {
            '!' | '=' => {
                chars.next();
                if chars.peek().map(|&(_, n)| n) == Some('=') {
                    chars.next();
                    if c == '!' { Tok::NotEq } else { Tok::DoubleEq }
                } else if c == '!' {
                    Tok::Not
                } else {
                    Tok::Eq
                }
            }
            '(' | ')' | ',' | '>' | '<' => {
                chars.next();
                match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    ',' => Tok::Comma,
                    _ => Tok::Unsupported(c),
                }
            }
            _ => {
                let mut end = i;
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_whitespace() || is_special(d) {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                match &input[i..end] {
                    "in" => Tok::In,
                    "notin" => Tok::NotIn,
                    s => Tok::Ident(s.to_string()),
                }
            }
        };
        out.push((i, tok));
    }
    out.push((input.len(), Tok::End));
    Ok(out)
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<(usize, Tok)>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &(usize, Tok) {
        // `lex` always ends the list with `End`, and `next` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> (usize, Tok) {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn err(&self, offset: usize, message: impl Into<String>) -> SelectorError {
        SelectorError {
            input: self.input.to_string(),
            offset,
            message: message.into(),
        }
    }

    fn parse_all(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut reqs = Vec::new();
        if self.peek().1 == Tok::End {
            return Ok(reqs);
        }
        loop {
            reqs.push(self.parse_requirement()?);
            let (off, tok) = self.next();
            match tok {
                Tok::End => return Ok(reqs),
                Tok::Comma => {
                    let (off, tok) = self.peek().clone();
                    if tok == Tok::End {
                        return Err(self.err(off, "expected a requirement after ','"));
                    }
                }
                other => {
                    return Err(self.err(
                        off,
                        format!("found {}, expected ',' or end of input", other.describe()),
                    ));
                }
            }
        }
    }

    fn parse_key(&mut self) -> Result<(usize, String), SelectorError> {
        let (off, tok) = self.next();
        match tok {
            Tok::Ident(k) => {
                validate_label_key(&k).map_err(|e| self.err(off, e))?;
                Ok((off, k))
            }
            other => Err(self.err(
                off,
                format!("found {}, expected a label key", other.describe()),
            )),
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, SelectorError> {
        if self.peek().1 == Tok::Not {
            self.next();
            let (_, key) = self.parse_key()?;
            return Ok(Requirement::NotExists(key));
        }
        let (_, key) = self.parse_key()?;
        if matches!(self.peek().1, Tok::End | Tok::Comma) {
            // The separator is left for `parse_all`.
            return Ok(Requirement::Exists(key));
        }
        let (off, op) = self.next();
        match op {
            Tok::Eq | Tok::DoubleEq => Ok(Requirement::Equals(key, self.parse_exact_value()?)),
            Tok::NotEq => Ok(Requirement::NotEquals(key, self.parse_exact_value()?)),
            Tok::In => Ok(Requirement::In(key, self.parse_set()?)),
            Tok::NotIn => Ok(Requirement::NotIn(key, self.parse_set()?)),
            Tok::Unsupported(c) => Err(self.err(
                off,
                format!(
                    "operator '{c}' is not supported, expected '=', '==', '!=', 'in' or 'notin'"
                ),
            )),
            other => Err(self.err(
                off,
                format!(
                    "found {}, expected '=', '==', '!=', 'in', 'notin', ',' or end of input",
                    other.describe()
                ),
            )),
        }
    }

    /// The value after `=`, `==` or `!=`; empty when a separator follows directly.
    fn parse_exact_value(&mut self) -> Result<String, SelectorError> {
        let (off, tok) = self.peek().clone();
        if matches!(tok, Tok::End | Tok::Comma) {
            return Ok(String::new());
        }
        self.next();
        match tok.as_value() {
            Some(v) => {
                validate_label_value(&v).map_err(|e| self.err(off, e))?;
                Ok(v)
            }
            None => Err(self.err(
                off,
                format!("found {}, expected a label value", tok.describe()),
            )),
        }
    }

    /// `( v1, v2, ... )`: empty items are empty values, as in Kubernetes; `()` is `("")`.
    fn parse_set(&mut self) -> Result<Vec<String>, SelectorError> {
        let (off, tok) = self.next();
        if tok != Tok::Open {
            return Err(self.err(off, format!("found {}, expected '('", tok.describe())));
        }
        let mut values = Vec::new();
        let mut current: Option<String> = None;
        loop {
            let (off, tok) = self.next();
            match tok {
                Tok::Close => {
                    values.push(current.take().unwrap_or_default());
                    break;
                }
                Tok::Comma => values.push(current.take().unwrap_or_default()),
                _ => match tok.as_value() {
                    Some(v) if current.is_none() => {
                        validate_label_value(&v).map_err(|e| self.err(off, e))?;
                        current = Some(v);
                    }
                    _ => {
                        let expected = if current.is_some() {
                            "',' or ')'"
                        } else {
                            "a label value, ',' or ')'"
                        };
                        return Err(self.err(
                            off,
                            format!("found {}, expected {expected}", tok.describe()),
                        ));
                    }
                },
            }
        }
        values.sort();
        values.dedup();
        Ok(values)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sel(s: &str) -> Selector {
        Selector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_every_form() {
        let s = sel("a=b,c!=d,!e,f in (x,y),g notin (z),h,i==j");
        use Requirement::*;
        assert_eq!(
            s.requirements,
            vec![
                Equals("a".into(), "b".into()),
                NotEquals("c".into(), "d".into()),
                NotExists("e".into()),
                In("f".into(), vec!["x".into(), "y".into()]),
                NotIn("g".into(), vec!["z".into()]),
                Exists("h".into()),
                Equals("i".into(), "j".into()),
            ]
        );
    }

    #[test]
    fn whitespace_is_tolerated() {
        assert_eq!(
            sel("  a = b ,  c  in ( x , y ) , ! d , e "),
            sel("a=b,c in (x,y),!d,e")
        );
        assert_eq!(sel("a  notin(x)"), sel("a notin (x)"));
    }

    #[test]
    fn empty_selects_everything() {
        assert!(sel("").is_empty());
        assert!(sel("   ").is_empty());
        assert!(sel("").matches(None));
        assert!(sel("").matches(Some(&labels(&[("a", "b")]))));
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        let s = sel("z==1, a in (y, x, x), !m, k, q notin (b,a), p!=v");
        let text = s.to_string();
        assert_eq!(text, "a in (x,y),k,!m,p!=v,q notin (a,b),z=1");
        assert_eq!(sel(&text), s);
        assert_eq!(text.parse::<Selector>().unwrap(), s);
    }

    #[test]
    fn qualified_keys_and_empty_values() {
        let s = sel("example.com/role=,app.kubernetes.io/name in (),x=");
        use Requirement::*;
        assert_eq!(
            s.requirements,
            vec![
                In("app.kubernetes.io/name".into(), vec![String::new()]),
                Equals("example.com/role".into(), String::new()),
                Equals("x".into(), String::new()),
            ]
        );
        assert!(s.matches(Some(&labels(&[
            ("example.com/role", ""),
            ("app.kubernetes.io/name", ""),
            ("x", ""),
        ]))));
        assert!(!s.matches(None));
    }

    #[test]
    fn keywords_are_values_in_value_position() {
        assert_eq!(
            sel("a=in,b in (notin,in)").requirements,
            vec![
                Requirement::Equals("a".into(), "in".into()),
                Requirement::In("b".into(), vec!["in".into(), "notin".into()]),
            ]
        );
    }

    #[test]
    fn matching_follows_kubernetes() {
        let l = labels(&[("env", "prod"), ("tier", "web"), ("empty", "")]);
        let yes = |s: &str| assert!(sel(s).matches(Some(&l)), "{s} should match");
        let no = |s: &str| assert!(!sel(s).matches(Some(&l)), "{s} should not match");
        yes("env");
        yes("empty");
        no("missing");
        yes("!missing");
        no("!env");
        yes("env=prod");
        yes("env==prod");
        no("env=dev");
        no("missing=x");
        yes("env!=dev");
        no("env!=prod");
        yes("missing!=x");
        yes("env in (dev,prod)");
        no("env in (dev,qa)");
        no("missing in (a)");
        yes("env notin (dev,qa)");
        no("env notin (prod)");
        yes("missing notin (a)");
        yes("empty=");
        yes("env=prod,tier=web,!missing");
        no("env=prod,tier=db");
        // No labels at all.
        assert!(sel("!a,a!=b,a notin (c)").matches(None));
        assert!(!sel("a").matches(None));
        assert!(!sel("a in (b)").matches(None));
    }

    #[test]
    fn errors_name_offset_and_expectation() {
        let err = |s: &str| Selector::parse(s).unwrap_err();
        let e = err("a=b,");
        assert_eq!(e.offset, 4);
        assert!(e.message.contains("expected a requirement"), "{e}");
        let e = err("a in x");
        assert_eq!(e.offset, 5);
        assert!(e.message.contains("expected '('"), "{e}");
        let e = err("a in (x");
        assert_eq!(e.offset, 7);
        assert!(e.message.contains("')'"), "{e}");
        let e = err("a b");
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("expected '='"), "{e}");
        let e = err("=b");
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("expected a label key"), "{e}");
        let e = err("a=(b)");
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("expected a label value"), "{e}");
        let e = err("a>1");
        assert_eq!(e.offset, 1);
        assert!(e.message.contains("not supported"), "{e}");
        let e = err("a=b c");
        assert_eq!(e.offset, 4);
        let e = err("in");
        assert_eq!(e.offset, 0);
        let e = err("a=-b");
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("alphanumeric"), "{e}");
        let e = err(",a");
        assert_eq!(e.offset, 0);
        let e = err("a in (x y)");
        assert_eq!(e.offset, 8);
        assert!(e.to_string().contains("offset 8"));
    }

    #[test]
    fn key_validation() {
        assert!(validate_label_key("a").is_ok());
        assert!(validate_label_key("A.b-c_d9").is_ok());
        assert!(validate_label_key("example.com/x").is_ok());
        assert!(validate_label_key("a-b.c/x_Y").is_ok());
        assert!(validate_label_key(&"a".repeat(63)).is_ok());
        assert!(validate_label_key(&"a".repeat(64)).is_err());
        assert!(validate_label_key(&format!("{}/x", "a".repeat(253))).is_ok());
        assert!(validate_label_key(&format!("{}/x", "a".repeat(254))).is_err());
        for bad in [
            "",
            "-a",
            "a-",
            "_a",
            "a b",
            "/a",
            "a/",
            "a/b/c",
            "Example.com/x",
            "ex_ample/x",
            "a..b/x",
            ".a/x",
            "a/-x",
            "ä",
        ] {
            assert!(
                validate_label_key(bad).is_err(),
                "{bad:?} should be invalid"
            );
        }
    }

    #[test]
    fn value_validation() {
        assert!(validate_label_value("").is_ok());
        assert!(validate_label_value("a").is_ok());
        assert!(validate_label_value("1.2_3-x").is_ok());
        assert!(validate_label_value(&"v".repeat(63)).is_ok());
        let e = validate_label_value(&"v".repeat(64)).unwrap_err();
        assert!(e.contains("63"), "{e}");
        for bad in ["-a", "a.", "a/b", "a b", "a:b"] {
            assert!(
                validate_label_value(bad).is_err(),
                "{bad:?} should be invalid"
            );
        }
    }
}
