//! The data a template sees: [`Value`], Go's truth rules, and Go's default (`%v`) printing.

use std::collections::BTreeMap;
use std::sync::Arc;

/// A value in a template's data or produced while it runs.
///
/// It stands for Go's `interface{}` holding one of JSON's kinds: `nil`, `bool`, `int`,
/// `float64`, `string`, `[]interface{}` and `map[string]interface{}`. Lists and maps are
/// shared (`Arc`) so that passing them around is cheap; they are never mutated in place.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    /// Go's untyped `nil` (a missing value).
    #[default]
    Nil,
    /// A boolean.
    Bool(bool),
    /// A signed integer (Go's `int`).
    Int(i64),
    /// A floating-point number (Go's `float64`).
    Float(f64),
    /// A UTF-8 string.
    String(String),
    /// A list (Go's `[]interface{}`).
    List(Arc<Vec<Value>>),
    /// A map with string keys, iterated in sorted order as Go's templates do.
    Map(Arc<BTreeMap<String, Value>>),
}

impl Value {
    /// A list value.
    pub fn list(items: Vec<Value>) -> Self {
        Self::List(Arc::new(items))
    }

    /// A map value.
    pub fn map(entries: BTreeMap<String, Value>) -> Self {
        Self::Map(Arc::new(entries))
    }

    /// A string value.
    pub fn string(s: impl Into<String>) -> Self {
        Self::String(s.into())
    }

    /// Go's truth: false for nil, `false`, zero numbers and empty strings, lists and maps.
    pub fn truth(&self) -> bool {
        match self {
            Self::Nil => false,
            Self::Bool(b) => *b,
            Self::Int(i) => *i != 0,
            Self::Float(f) => *f != 0.0,
            Self::String(s) => !s.is_empty(),
            Self::List(l) => !l.is_empty(),
            Self::Map(m) => !m.is_empty(),
        }
    }

    /// The Go type name of the value, as Go's error messages and `%T` print it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Nil => "<nil>",
            Self::Bool(_) => "bool",
            Self::Int(_) => "int",
            Self::Float(_) => "float64",
            Self::String(_) => "string",
            Self::List(_) => "[]interface {}",
            Self::Map(_) => "map[string]interface {}",
        }
    }

    /// The string, when the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// Converts JSON into a value; JSON numbers that are integers become [`Value::Int`].
    pub fn from_json(json: &serde_json::Value) -> Self {
        Self::from_json_with(json, false)
    }

    /// Converts JSON into a value the way Go's `encoding/json` decodes into `interface{}`:
    /// every number becomes a `float64` ([`Value::Float`]).
    pub fn from_json_go(json: &serde_json::Value) -> Self {
        Self::from_json_with(json, true)
    }

    fn from_json_with(json: &serde_json::Value, floats: bool) -> Self {
        match json {
            serde_json::Value::Null => Self::Nil,
            serde_json::Value::Bool(b) => Self::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) if !floats => Self::Int(i),
                _ => Self::Float(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => Self::String(s.clone()),
            serde_json::Value::Array(items) => Self::list(
                items
                    .iter()
                    .map(|v| Self::from_json_with(v, floats))
                    .collect(),
            ),
            serde_json::Value::Object(map) => Self::map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Self::from_json_with(v, floats)))
                    .collect(),
            ),
        }
    }

    /// Converts the value to JSON. Non-finite floats become `null`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Nil => serde_json::Value::Null,
            Self::Bool(b) => serde_json::Value::Bool(*b),
            Self::Int(i) => serde_json::Value::from(*i),
            Self::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Self::String(s) => serde_json::Value::String(s.clone()),
            Self::List(l) => serde_json::Value::Array(l.iter().map(Self::to_json).collect()),
            Self::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// Counts the nodes of the value, stopping (and returning `None`) past `limit`.
    ///
    /// Shared lists and maps can describe a value far larger than the memory it occupies
    /// (`list $x $x` doubles); anything that walks a value whole checks this first.
    pub fn bounded_size(&self, limit: usize) -> Option<usize> {
        fn walk(v: &Value, count: &mut usize, limit: usize) -> bool {
            *count += 1;
            if *count > limit {
                return false;
            }
            match v {
                Value::List(l) => l.iter().all(|x| walk(x, count, limit)),
                Value::Map(m) => m.values().all(|x| walk(x, count, limit)),
                Value::String(s) => {
                    *count += s.len() / 16;
                    *count <= limit
                }
                _ => true,
            }
        }
        let mut count = 0;
        walk(self, &mut count, limit).then_some(count)
    }
}

/// The nesting depth of `v` (1 for a scalar), or `None` when it is deeper than `max_depth`
/// or has more than `*budget` nodes (counting shared parts each time they appear).
pub(crate) fn depth_within(v: &Value, max_depth: usize, budget: &mut usize) -> Option<usize> {
    if max_depth == 0 || *budget == 0 {
        return None;
    }
    *budget -= 1;
    let children: Box<dyn Iterator<Item = &Value>> = match v {
        Value::List(l) => Box::new(l.iter()),
        Value::Map(m) => Box::new(m.values()),
        _ => return Some(1),
    };
    let mut deepest = 0;
    for c in children {
        deepest = deepest.max(depth_within(c, max_depth - 1, budget)?);
    }
    Some(deepest + 1)
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Self::Float(f)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Self::list(items)
    }
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(entries: BTreeMap<String, Value>) -> Self {
        Self::map(entries)
    }
}

impl From<&serde_json::Value> for Value {
    fn from(json: &serde_json::Value) -> Self {
        Self::from_json(json)
    }
}

impl From<serde_json::Value> for Value {
    fn from(json: serde_json::Value) -> Self {
        Self::from_json(&json)
    }
}

/// A string buffer that refuses to grow past a limit (the output cap).
#[derive(Debug)]
pub(crate) struct Bounded {
    pub(crate) buf: String,
    pub(crate) limit: usize,
}

/// A [`Bounded`] buffer would have grown past its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

impl Bounded {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            buf: String::new(),
            limit,
        }
    }

    pub(crate) fn push_str(&mut self, s: &str) -> Result<(), Overflow> {
        if self.buf.len() + s.len() > self.limit {
            return Err(Overflow);
        }
        self.buf.push_str(s);
        Ok(())
    }

    pub(crate) fn push(&mut self, c: char) -> Result<(), Overflow> {
        let mut tmp = [0u8; 4];
        self.push_str(c.encode_utf8(&mut tmp))
    }
}

/// Writes `v` as Go's `fmt` prints an `interface{}` with `%v`.
pub(crate) fn write_value(out: &mut Bounded, v: &Value) -> Result<(), Overflow> {
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&format_float_g(*f, None, false)),
        Value::String(s) => out.push_str(s),
        Value::List(l) => {
            out.push('[')?;
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ')?;
                }
                write_value(out, x)?;
            }
            out.push(']')
        }
        Value::Map(m) => {
            out.push_str("map[")?;
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ')?;
                }
                out.push_str(k)?;
                out.push(':')?;
                write_value(out, x)?;
            }
            out.push(']')
        }
    }
}

/// `v` printed as Go's `fmt.Sprint` prints one value, or `None` when longer than `limit`.
pub(crate) fn sprint_value(v: &Value, limit: usize) -> Option<String> {
    let mut out = Bounded::new(limit);
    write_value(&mut out, v).ok()?;
    Some(out.buf)
}

/// Decimal digits of a finite non-negative float: (digits, position of the decimal point).
/// `digits` has no leading or trailing zeros (except for zero itself: `"0"`, 1).
fn decimal_digits(f: f64, significant: Option<usize>) -> (String, i32) {
    if f == 0.0 {
        return ("0".to_string(), 1);
    }
    let s = match significant {
        None => format!("{f:e}"),
        Some(p) => format!("{:.*e}", p.saturating_sub(1), f),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    (digits, exp + 1)
}

fn exp_suffix(out: &mut String, e: char, exp: i32) {
    out.push(e);
    out.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        out.push('0');
    }
    out.push_str(&a.to_string());
}

/// Go's `%e` with `prec` digits after the point (`None`: shortest).
pub(crate) fn format_float_e(f: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = non_finite(f) {
        return s;
    }
    let neg = f.is_sign_negative();
    let a = f.abs();
    let (digits, dp, prec) = match prec {
        None => {
            let (d, dp) = decimal_digits(a, None);
            let p = d.len() - 1;
            (d, dp, p)
        }
        Some(p) => {
            let s = format!("{:.*e}", p, a);
            let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
            let d: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
            let dp = exp.parse::<i32>().unwrap_or(0) + 1;
            (d, if a == 0.0 { 1 } else { dp }, p)
        }
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let mut chars = digits.chars();
    out.push(chars.next().unwrap_or('0'));
    if prec > 0 {
        out.push('.');
        let rest: String = chars.collect();
        out.push_str(&rest);
        for _ in rest.len()..prec {
            out.push('0');
        }
    }
    exp_suffix(&mut out, if upper { 'E' } else { 'e' }, dp - 1);
    out
}

fn non_finite(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".to_string())
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf" } else { "-Inf" }.to_string())
    } else {
        None
    }
}

/// Go's `%g` (and `%v` for floats) with an optional precision (significant digits).
pub(crate) fn format_float_g(f: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = non_finite(f) {
        return s;
    }
    let neg = f.is_sign_negative() && f != 0.0 || (f == 0.0 && f.is_sign_negative());
    let a = f.abs();
    let prec = prec.map(|p| p.max(1));
    let (digits, dp) = decimal_digits(a, prec);
    let nd = digits.len() as i32;
    let eprec = match prec {
        None => 6,
        Some(p) => {
            let mut e = p as i32;
            if e > nd && nd >= dp {
                e = nd;
            }
            e
        }
    };
    let exp = dp - 1;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= eprec {
        let mut chars = digits.chars();
        out.push(chars.next().unwrap_or('0'));
        let rest: String = chars.collect();
        if !rest.is_empty() {
            out.push('.');
            out.push_str(&rest);
        }
        exp_suffix(&mut out, if upper { 'E' } else { 'e' }, exp);
        return out;
    }
    // Fixed notation with exactly the significant digits.
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..(-dp) {
            out.push('0');
        }
        out.push_str(&digits);
    } else if dp >= nd {
        out.push_str(&digits);
        for _ in nd..dp {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

/// Go's `strconv.Quote`: a double-quoted string with Go escapes.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(format_float_g(1.0, None, false), "1");
        assert_eq!(format_float_g(3.25, None, false), "3.25");
        assert_eq!(format_float_g(1e6, None, false), "1e+06");
        assert_eq!(format_float_g(123456.0, None, false), "123456");
        assert_eq!(format_float_g(4294967294.0, None, false), "4.294967294e+09");
        assert_eq!(format_float_g(0.0001, None, false), "0.0001");
        assert_eq!(format_float_g(0.00001, None, false), "1e-05");
        assert_eq!(format_float_g(-2.5, None, false), "-2.5");
        assert_eq!(format_float_g(100000.0, Some(3), false), "1e+05");
        assert_eq!(format_float_g(3.14259, Some(3), false), "3.14");
        assert_eq!(format_float_e(1234.5678, Some(2), false), "1.23e+03");
        assert_eq!(format_float_e(0.0, Some(2), false), "0.00e+00");
    }
}
