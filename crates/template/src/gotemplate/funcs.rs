//! The functions a template can call: Go's builtins, the hermetic Sprig functions Tinkerbell
//! templates use, and Tinkerbell's own (`formatPartition`, `netmaskToPrefixLength` and
//! `netmaskToCIDR`, `toYaml`, `fromYaml`). Semantics follow the Go sources of `text/template/funcs.go`,
//! Masterminds/sprig v3 and Tinkerbell's `template_funcs.go`, argument order included
//! (Sprig puts the subject last: `trimPrefix PREFIX STRING`, `join SEP LIST`).
//!
//! `and` and `or` are evaluated lazily by the executor and are not in this table.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine as _;

use super::printf::sprintf;
use super::value::{Value, go_quote, sprint_value};

/// What a function call failed with.
#[derive(Debug)]
pub(crate) enum FuncError {
    /// The function itself failed: printed as `error calling NAME: MESSAGE`.
    Call(String),
    /// An argument was refused before the call (wrong number or type): printed as is.
    Arg(String),
}

/// What functions may use while they run.
#[derive(Default)]
pub(crate) struct Ctx {
    /// Longest string a function may produce.
    pub(crate) max_len: usize,
    /// Compiled regular expressions, by pattern.
    pub(crate) regexes: RefCell<HashMap<String, regex::Regex>>,
    /// Work done beyond the call itself (nodes visited), charged to the step budget.
    pub(crate) work: Cell<u64>,
}

/// Deepest value a function may build by nesting lists and maps.
pub(crate) const MAX_VALUE_DEPTH: usize = 100;
/// Most nodes a function may look through to check a value it nests.
const MAX_NEST_NODES: usize = 1_000_000;

/// Checks that containers holding `items` stay within [`MAX_VALUE_DEPTH`] levels, so that
/// printing, comparing and dropping values never recurse deeply.
fn nest(ctx: &Ctx, items: &[Value]) -> Result<(), FuncError> {
    let mut budget = MAX_NEST_NODES;
    for v in items {
        if super::value::depth_within(v, MAX_VALUE_DEPTH - 1, &mut budget).is_none() {
            ctx.work
                .set(ctx.work.get() + (MAX_NEST_NODES - budget) as u64);
            return Err(FuncError::Call(format!(
                "value nested deeper than {MAX_VALUE_DEPTH} levels or larger than {MAX_NEST_NODES} nodes"
            )));
        }
    }
    ctx.work
        .set(ctx.work.get() + (MAX_NEST_NODES - budget) as u64);
    Ok(())
}

type FResult = Result<Value, FuncError>;

/// A template function.
pub(crate) type Func = fn(&Ctx, Vec<Value>) -> FResult;

/// Whether `name` can be called from a template.
pub(crate) fn is_defined(name: &str) -> bool {
    name == "and" || name == "or" || lookup(name).is_some()
}

/// The function called `name`.
pub(crate) fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        // Go builtins.
        "not" => not,
        "len" => len,
        "index" => index,
        "slice" => slice,
        "print" => print,
        "println" => println,
        "printf" => printf,
        "html" => html,
        "js" => js,
        "urlquery" => urlquery,
        "eq" => eq,
        "ne" => ne,
        "lt" => lt,
        "le" => le,
        "gt" => gt,
        "ge" => ge,
        "call" => call,
        // Sprig: defaults and conversion.
        "default" => default,
        "empty" => empty,
        "coalesce" => coalesce,
        "ternary" => ternary,
        "toString" => to_string,
        "toJson" => to_json,
        "toPrettyJson" => to_pretty_json,
        "toRawJson" => to_raw_json,
        "kindOf" => kind_of,
        "typeOf" => type_of,
        "required" => required,
        "fail" => fail,
        // Sprig: strings.
        "quote" => quote,
        "squote" => squote,
        "upper" => upper,
        "lower" => lower,
        "title" => title,
        "trim" => trim,
        "trimAll" => trim_all,
        "trimPrefix" => trim_prefix,
        "trimSuffix" => trim_suffix,
        "nospace" => nospace,
        "trunc" => trunc,
        "replace" => replace,
        "contains" => contains,
        "hasPrefix" => has_prefix,
        "hasSuffix" => has_suffix,
        "split" => split,
        "splitList" => split_list,
        "join" => join,
        "indent" => indent,
        "nindent" => nindent,
        "repeat" => repeat,
        "substr" => substr,
        "b64enc" => b64enc,
        "b64dec" => b64dec,
        "regexMatch" => regex_match,
        "regexReplaceAll" => regex_replace_all,
        // Sprig: lists and dicts.
        "list" => list,
        "append" | "push" => append,
        "prepend" => prepend,
        "first" => first,
        "last" => last,
        "rest" => rest,
        "initial" => initial,
        "has" => has,
        "uniq" => uniq,
        "compact" => compact,
        "reverse" => reverse,
        "until" => until,
        "dict" => dict,
        "get" => get,
        "set" => set,
        "unset" => unset,
        "hasKey" => has_key,
        "keys" => keys,
        // Sprig: numbers.
        "add" => add,
        "add1" => add1,
        "sub" => sub,
        "mul" => mul,
        "div" => div,
        "mod" => modulo,
        "max" => max,
        "min" => min,
        "int" => int,
        "int64" => int,
        "float64" => float64,
        "atoi" => atoi,
        // Tinkerbell.
        "formatPartition" => format_partition,
        "netmaskToPrefixLength" => netmask_to_prefix_length,
        "netmaskToCIDR" => netmask_to_cidr,
        "toYaml" => to_yaml,
        "fromYaml" => from_yaml,
        _ => return None,
    })
}

// ---------------------------------------------------------------- argument helpers

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() != n {
        return Err(FuncError::Arg(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn at_least(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() < n {
        return Err(FuncError::Arg(format!(
            "wrong number of args for {name}: want at least {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn wrong_type(expected: &str, v: &Value) -> FuncError {
    match v {
        Value::Nil => FuncError::Arg(format!("invalid value; expected {expected}")),
        v => FuncError::Arg(format!(
            "wrong type for value; expected {expected}; got {}",
            v.type_name()
        )),
    }
}

fn str_arg(v: &Value) -> Result<&str, FuncError> {
    match v {
        Value::String(s) => Ok(s),
        v => Err(wrong_type("string", v)),
    }
}

fn int_arg(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        v => Err(wrong_type("int", v)),
    }
}

fn bool_arg(v: &Value) -> Result<bool, FuncError> {
    match v {
        Value::Bool(b) => Ok(*b),
        v => Err(wrong_type("bool", v)),
    }
}

fn map_arg(v: &Value) -> Result<&Arc<BTreeMap<String, Value>>, FuncError> {
    match v {
        Value::Map(m) => Ok(m),
        v => Err(wrong_type("map[string]interface {}", v)),
    }
}

fn take<const N: usize>(name: &str, args: Vec<Value>) -> Result<[Value; N], FuncError> {
    arity(name, &args, N)?;
    args.try_into()
        .map_err(|_| FuncError::Arg(format!("wrong number of args for {name}")))
}

fn too_long(ctx: &Ctx) -> FuncError {
    FuncError::Call(format!("result exceeds {} bytes", ctx.max_len))
}

fn check_len(ctx: &Ctx, s: String) -> FResult {
    if s.len() > ctx.max_len {
        return Err(too_long(ctx));
    }
    Ok(Value::String(s))
}

/// `v` as `fmt.Sprint` prints it, bounded by `limit` bytes.
pub(crate) fn sprint(v: &Value, limit: usize) -> Option<String> {
    sprint_value(v, limit)
}

/// Sprig's `strval`: a string as is, anything else as `%v` prints it.
fn strval(ctx: &Ctx, v: &Value) -> Result<String, FuncError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        v => sprint(v, ctx.max_len).ok_or_else(|| too_long(ctx)),
    }
}

/// Sprig's `toInt64` (spf13/cast): numbers, numeric strings (base prefixes allowed) and
/// booleans; anything else is 0.
fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => parse_go_int(trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

fn trim_zero_decimal(s: &str) -> &str {
    let b = s.as_bytes();
    let mut found_zero = false;
    for i in (1..=b.len()).rev() {
        match b[i - 1] {
            b'.' if found_zero => return &s[..i - 1],
            b'.' => return s,
            b'0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.is_empty() || (!prefixed && digits.contains('_')) || digits.starts_with(['+', '-']) {
        return None;
    }
    let digits = digits.replace('_', "");
    let v = i128::from_str_radix(&digits, radix).ok()?;
    i64::try_from(if neg { -v } else { v }).ok()
}

fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

// ---------------------------------------------------------------- Go builtins

fn not(_: &Ctx, args: Vec<Value>) -> FResult {
    let [v] = take("not", args)?;
    Ok(Value::Bool(!v.truth()))
}

fn len(_: &Ctx, args: Vec<Value>) -> FResult {
    let [v] = take("len", args)?;
    match v {
        Value::String(s) => Ok(Value::Int(s.len() as i64)),
        Value::List(l) => Ok(Value::Int(l.len() as i64)),
        Value::Map(m) => Ok(Value::Int(m.len() as i64)),
        Value::Nil => Err(FuncError::Call("len of nil pointer".into())),
        v => Err(FuncError::Call(format!("len of type {}", v.type_name()))),
    }
}

fn index_arg(i: &Value, len: usize) -> Result<usize, FuncError> {
    let x = match i {
        Value::Int(x) => *x,
        Value::Nil => return Err(FuncError::Call("cannot index slice/array with nil".into())),
        v => {
            return Err(FuncError::Call(format!(
                "cannot index slice/array with type {}",
                v.type_name()
            )));
        }
    };
    if x < 0 || x as usize >= len {
        return Err(FuncError::Call(format!("index out of range: {x}")));
    }
    Ok(x as usize)
}

fn index(_: &Ctx, args: Vec<Value>) -> FResult {
    at_least("index", &args, 1)?;
    let mut it = args.into_iter();
    let mut item = it.next().unwrap_or_default();
    if let Value::Nil = item {
        return Err(FuncError::Call("index of untyped nil".into()));
    }
    for i in it {
        item = match &item {
            Value::List(l) => l[index_arg(&i, l.len())?].clone(),
            Value::String(s) => Value::Int(i64::from(s.as_bytes()[index_arg(&i, s.len())?])),
            Value::Map(m) => match &i {
                Value::String(k) => m.get(k).cloned().unwrap_or_default(),
                Value::Nil => Value::Nil,
                v => {
                    return Err(FuncError::Call(format!(
                        "value has type {}; should be string",
                        v.type_name()
                    )));
                }
            },
            Value::Nil => return Err(FuncError::Call("index of nil pointer".into())),
            v => {
                return Err(FuncError::Call(format!(
                    "can't index item of type {}",
                    v.type_name()
                )));
            }
        };
    }
    Ok(item)
}

fn slice(_: &Ctx, args: Vec<Value>) -> FResult {
    at_least("slice", &args, 1)?;
    let item = &args[0];
    let idx = &args[1..];
    let len = match item {
        Value::String(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Nil => return Err(FuncError::Call("slice of untyped nil".into())),
        v => {
            return Err(FuncError::Call(format!(
                "can't slice item of type {}",
                v.type_name()
            )));
        }
    };
    let max = if matches!(item, Value::String(_)) {
        2
    } else {
        3
    };
    if idx.len() > max {
        return Err(FuncError::Call(format!(
            "too many slice indexes: {}",
            idx.len()
        )));
    }
    let mut bounds = [0usize, len, len];
    for (k, i) in idx.iter().enumerate() {
        let x = match i {
            Value::Int(x) => *x,
            v => {
                return Err(FuncError::Call(format!(
                    "cannot index slice/array with type {}",
                    v.type_name()
                )));
            }
        };
        if x < 0 || x as usize > len {
            return Err(FuncError::Call(format!("index out of range: {x}")));
        }
        bounds[k] = x as usize;
    }
    if idx.len() < 2 {
        bounds[1] = len;
    }
    if bounds[0] > bounds[1] {
        return Err(FuncError::Call(format!(
            "invalid slice index: {} > {}",
            bounds[0], bounds[1]
        )));
    }
    Ok(match item {
        Value::String(s) => {
            Value::String(String::from_utf8_lossy(&s.as_bytes()[bounds[0]..bounds[1]]).into_owned())
        }
        Value::List(l) => Value::list(l[bounds[0]..bounds[1]].to_vec()),
        _ => Value::Nil,
    })
}

/// `fmt.Sprint`: spaces between operands when neither side is a string.
fn sprint_all(ctx: &Ctx, args: &[Value], newline: bool) -> Result<String, FuncError> {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0
            && (newline
                || !(matches!(a, Value::String(_)) || matches!(args[i - 1], Value::String(_))))
        {
            out.push(' ');
        }
        out.push_str(&sprint(a, ctx.max_len).ok_or_else(|| too_long(ctx))?);
        if out.len() > ctx.max_len {
            return Err(too_long(ctx));
        }
    }
    if newline {
        out.push('\n');
    }
    Ok(out)
}

fn print(ctx: &Ctx, args: Vec<Value>) -> FResult {
    check_len(ctx, sprint_all(ctx, &args, false)?)
}

fn println(ctx: &Ctx, args: Vec<Value>) -> FResult {
    check_len(ctx, sprint_all(ctx, &args, true)?)
}

fn printf(ctx: &Ctx, args: Vec<Value>) -> FResult {
    at_least("printf", &args, 1)?;
    let f = str_arg(&args[0])?;
    sprintf(f, &args[1..], ctx.max_len)
        .map(Value::String)
        .map_err(|_| too_long(ctx))
}

/// The text the escaping functions work on: a lone string, or `fmt.Sprint` of the arguments.
fn escaper_text(ctx: &Ctx, args: &[Value]) -> Result<String, FuncError> {
    if let [Value::String(s)] = args {
        return Ok(s.clone());
    }
    sprint_all(ctx, args, false)
}

fn html(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let s = escaper_text(ctx, &args)?;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    check_len(ctx, out)
}

fn js(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let s = escaper_text(ctx, &args)?;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    check_len(ctx, out)
}

fn urlquery(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let s = escaper_text(ctx, &args)?;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    check_len(ctx, out)
}

#[derive(PartialEq)]
enum Kind {
    Nil,
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Nil => Kind::Nil,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::Str,
        _ => Kind::Other,
    }
}

fn equal(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let (ka, kb) = (kind(a), kind(b));
    if ka != kb {
        if ka == Kind::Nil || kb == Kind::Nil {
            return Ok(false);
        }
        return Err(FuncError::Call("incompatible types for comparison".into()));
    }
    Ok(match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (x, _) => {
            return Err(FuncError::Call(format!(
                "non-comparable type {}",
                x.type_name()
            )));
        }
    })
}

fn eq(_: &Ctx, args: Vec<Value>) -> FResult {
    at_least("eq", &args, 1)?;
    if args.len() == 1 {
        return Err(FuncError::Call("missing argument for comparison".into()));
    }
    for b in &args[1..] {
        if equal(&args[0], b)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn ne(_: &Ctx, args: Vec<Value>) -> FResult {
    let [a, b] = take("ne", args)?;
    Ok(Value::Bool(!equal(&a, &b)?))
}

fn less(a: &Value, b: &Value) -> Result<bool, FuncError> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x < y),
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::String(x), Value::String(y)) => Ok(x < y),
        (
            Value::Int(_) | Value::Float(_) | Value::String(_),
            Value::Int(_) | Value::Float(_) | Value::String(_),
        ) => Err(FuncError::Call("incompatible types for comparison".into())),
        _ => Err(FuncError::Call("invalid type for comparison".into())),
    }
}

fn lt(_: &Ctx, args: Vec<Value>) -> FResult {
    let [a, b] = take("lt", args)?;
    Ok(Value::Bool(less(&a, &b)?))
}

fn le(_: &Ctx, args: Vec<Value>) -> FResult {
    let [a, b] = take("le", args)?;
    Ok(Value::Bool(less(&a, &b)? || equal(&a, &b)?))
}

fn gt(_: &Ctx, args: Vec<Value>) -> FResult {
    let [a, b] = take("gt", args)?;
    Ok(Value::Bool(!(less(&a, &b)? || equal(&a, &b)?)))
}

fn ge(_: &Ctx, args: Vec<Value>) -> FResult {
    let [a, b] = take("ge", args)?;
    Ok(Value::Bool(!less(&a, &b)?))
}

fn call(_: &Ctx, args: Vec<Value>) -> FResult {
    at_least("call", &args, 1)?;
    Err(FuncError::Call(format!(
        "non-function of type {}",
        args[0].type_name()
    )))
}

// ---------------------------------------------------------------- Sprig: general

fn default(_: &Ctx, args: Vec<Value>) -> FResult {
    at_least("default", &args, 1)?;
    let mut it = args.into_iter();
    let d = it.next().unwrap_or_default();
    match it.next() {
        Some(v) if v.truth() => Ok(v),
        _ => Ok(d),
    }
}

fn empty(_: &Ctx, args: Vec<Value>) -> FResult {
    let [v] = take("empty", args)?;
    Ok(Value::Bool(!v.truth()))
}

fn coalesce(_: &Ctx, args: Vec<Value>) -> FResult {
    Ok(args.into_iter().find(Value::truth).unwrap_or_default())
}

fn ternary(_: &Ctx, args: Vec<Value>) -> FResult {
    let [t, f, c] = take("ternary", args)?;
    Ok(if bool_arg(&c)? { t } else { f })
}

fn to_string(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [v] = take("toString", args)?;
    Ok(Value::String(strval(ctx, &v)?))
}

/// Go's `encoding/json` output for a value; `None` when it cannot be encoded (NaN) or is
/// too long.
pub(crate) fn go_json(v: &Value, indent: bool, escape_html: bool, limit: usize) -> Option<String> {
    fn float(f: f64) -> Option<String> {
        if !f.is_finite() {
            return None;
        }
        let a = f.abs();
        if a != 0.0 && !(1e-6..1e21).contains(&a) {
            let s = super::value::format_float_e(f, None, false);
            // Go writes e-7, not e-07.
            let s = if let Some(p) = s.find("e-0") {
                format!("{}e-{}", &s[..p], &s[p + 3..])
            } else {
                s
            };
            return Some(s);
        }
        Some(format!("{f}"))
    }
    fn string(out: &mut String, s: &str, escape_html: bool) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '<' | '>' | '&' if escape_html => {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                }
                '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    fn walk(
        out: &mut String,
        v: &Value,
        indent: bool,
        html: bool,
        level: usize,
        limit: usize,
    ) -> Option<()> {
        if out.len() > limit || level > 200 {
            return None;
        }
        let nl = |out: &mut String, level: usize| {
            if indent {
                out.push('\n');
                for _ in 0..level {
                    out.push_str("  ");
                }
            }
        };
        match v {
            Value::Nil => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&float(*f)?),
            Value::String(s) => string(out, s, html),
            Value::List(l) => {
                out.push('[');
                for (i, x) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    nl(out, level + 1);
                    walk(out, x, indent, html, level + 1, limit)?;
                }
                if !l.is_empty() {
                    nl(out, level);
                }
                out.push(']');
            }
            Value::Map(m) => {
                out.push('{');
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    nl(out, level + 1);
                    string(out, k, html);
                    out.push(':');
                    if indent {
                        out.push(' ');
                    }
                    walk(out, x, indent, html, level + 1, limit)?;
                }
                if !m.is_empty() {
                    nl(out, level);
                }
                out.push('}');
            }
        }
        (out.len() <= limit).then_some(())
    }
    let mut out = String::new();
    walk(&mut out, v, indent, escape_html, 0, limit)?;
    Some(out)
}

fn json_fn(ctx: &Ctx, args: Vec<Value>, name: &str, indent: bool, html: bool) -> FResult {
    let [v] = take(name, args)?;
    if v.bounded_size(ctx.max_len).is_none() {
        return Err(too_long(ctx));
    }
    // Sprig ignores encoding errors and returns an empty string.
    match go_json(&v, indent, html, ctx.max_len) {
        Some(s) => Ok(Value::String(s)),
        None if v.bounded_size(ctx.max_len / 2).is_none() => Err(too_long(ctx)),
        None => Ok(Value::String(String::new())),
    }
}

fn to_json(ctx: &Ctx, args: Vec<Value>) -> FResult {
    json_fn(ctx, args, "toJson", false, true)
}

fn to_pretty_json(ctx: &Ctx, args: Vec<Value>) -> FResult {
    json_fn(ctx, args, "toPrettyJson", true, true)
}

fn to_raw_json(ctx: &Ctx, args: Vec<Value>) -> FResult {
    json_fn(ctx, args, "toRawJson", false, false)
}

fn kind_of(_: &Ctx, args: Vec<Value>) -> FResult {
    let [v] = take("kindOf", args)?;
    Ok(Value::string(match v {
        Value::Nil => "invalid",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "slice",
        Value::Map(_) => "map",
    }))
}

fn type_of(_: &Ctx, args: Vec<Value>) -> FResult {
    let [v] = take("typeOf", args)?;
    Ok(Value::string(v.type_name()))
}

fn required(_: &Ctx, args: Vec<Value>) -> FResult {
    let [warn, v] = take("required", args)?;
    let warn = str_arg(&warn)?;
    match &v {
        Value::Nil => Err(FuncError::Call(warn.to_string())),
        Value::String(s) if s.is_empty() => Err(FuncError::Call(warn.to_string())),
        _ => Ok(v),
    }
}

fn fail(_: &Ctx, args: Vec<Value>) -> FResult {
    let [msg] = take("fail", args)?;
    Err(FuncError::Call(str_arg(&msg)?.to_string()))
}

// ---------------------------------------------------------------- Sprig: strings

fn quote(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let mut parts = Vec::new();
    for a in args.iter().filter(|a| !matches!(a, Value::Nil)) {
        parts.push(go_quote(&strval(ctx, a)?));
    }
    check_len(ctx, parts.join(" "))
}

fn squote(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let mut parts = Vec::new();
    for a in args.iter().filter(|a| !matches!(a, Value::Nil)) {
        parts.push(format!("'{}'", strval(ctx, a)?));
    }
    check_len(ctx, parts.join(" "))
}

fn one_str(name: &str, args: Vec<Value>, f: impl Fn(&str) -> String) -> FResult {
    let [v] = take(name, args)?;
    Ok(Value::String(f(str_arg(&v)?)))
}

fn two_str(name: &str, args: Vec<Value>, f: impl Fn(&str, &str) -> Value) -> FResult {
    let [a, b] = take(name, args)?;
    Ok(f(str_arg(&a)?, str_arg(&b)?))
}

fn upper(_: &Ctx, args: Vec<Value>) -> FResult {
    one_str("upper", args, str::to_uppercase)
}

fn lower(_: &Ctx, args: Vec<Value>) -> FResult {
    one_str("lower", args, str::to_lowercase)
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
fn title(_: &Ctx, args: Vec<Value>) -> FResult {
    fn is_separator(c: char) -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphanumeric() {
            return false;
        }
        c.is_whitespace()
    }
    one_str("title", args, |s| {
        let mut prev = ' ';
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            if is_separator(prev) {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            prev = c;
        }
        out
    })
}

fn trim(_: &Ctx, args: Vec<Value>) -> FResult {
    one_str("trim", args, |s| s.trim().to_string())
}

fn trim_all(_: &Ctx, args: Vec<Value>) -> FResult {
    two_str("trimAll", args, |cut, s| {
        Value::string(s.trim_matches(|c| cut.contains(c)))
    })
}

fn trim_prefix(_: &Ctx, args: Vec<Value>) -> FResult {
    two_str("trimPrefix", args, |p, s| {
        Value::string(s.strip_prefix(p).unwrap_or(s))
    })
}

fn trim_suffix(_: &Ctx, args: Vec<Value>) -> FResult {
    two_str("trimSuffix", args, |p, s| {
        Value::string(s.strip_suffix(p).unwrap_or(s))
    })
}

fn nospace(_: &Ctx, args: Vec<Value>) -> FResult {
    one_str("nospace", args, |s| {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    })
}

fn trunc(_: &Ctx, args: Vec<Value>) -> FResult {
    let [c, s] = take("trunc", args)?;
    let (c, s) = (int_arg(&c)?, str_arg(&s)?);
    let b = s.as_bytes();
    let n = b.len() as i64;
    let r = if c < 0 && n + c > 0 {
        &b[(n + c) as usize..]
    } else if c >= 0 && n > c {
        &b[..c as usize]
    } else {
        b
    };
    Ok(Value::String(String::from_utf8_lossy(r).into_owned()))
}

fn replace(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [old, new, src] = take("replace", args)?;
    let (old, new, src) = (str_arg(&old)?, str_arg(&new)?, str_arg(&src)?);
    let count = if old.is_empty() {
        src.chars().count() + 1
    } else {
        src.matches(old).count()
    };
    let size = src.len() as u128 + count as u128 * new.len() as u128;
    if size > ctx.max_len as u128 {
        return Err(too_long(ctx));
    }
    if old.is_empty() {
        // Go inserts `new` before every character and at the end.
        let mut out = String::new();
        for c in src.chars() {
            out.push_str(new);
            out.push(c);
        }
        out.push_str(new);
        return Ok(Value::String(out));
    }
    Ok(Value::String(src.replace(old, new)))
}

fn contains(_: &Ctx, args: Vec<Value>) -> FResult {
    two_str("contains", args, |sub, s| Value::Bool(s.contains(sub)))
}

fn has_prefix(_: &Ctx, args: Vec<Value>) -> FResult {
    two_str("hasPrefix", args, |p, s| Value::Bool(s.starts_with(p)))
}

fn has_suffix(_: &Ctx, args: Vec<Value>) -> FResult {
    two_str("hasSuffix", args, |p, s| Value::Bool(s.ends_with(p)))
}

/// Go's `strings.Split`: an empty separator splits into characters.
fn go_split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(String::from).collect()
}

fn split(_: &Ctx, args: Vec<Value>) -> FResult {
    two_str("split", args, |sep, s| {
        Value::map(
            go_split(s, sep)
                .into_iter()
                .enumerate()
                .map(|(i, p)| (format!("_{i}"), Value::String(p)))
                .collect(),
        )
    })
}

fn split_list(_: &Ctx, args: Vec<Value>) -> FResult {
    two_str("splitList", args, |sep, s| {
        Value::list(go_split(s, sep).into_iter().map(Value::String).collect())
    })
}

fn join(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [sep, v] = take("join", args)?;
    let sep = str_arg(&sep)?;
    let parts: Vec<String> = match &v {
        Value::List(l) => {
            let mut out = Vec::new();
            let mut total = 0usize;
            for x in l.iter().filter(|x| !matches!(x, Value::Nil)) {
                let s = strval(ctx, x)?;
                total += s.len() + sep.len();
                if total > ctx.max_len + sep.len() {
                    return Err(too_long(ctx));
                }
                out.push(s);
            }
            out
        }
        Value::Nil => Vec::new(),
        v => vec![strval(ctx, v)?],
    };
    check_len(ctx, parts.join(sep))
}

fn indent_str(ctx: &Ctx, spaces: i64, s: &str, newline: bool) -> FResult {
    let pad = " ".repeat(usize::try_from(spaces).unwrap_or(0).min(ctx.max_len + 1));
    let lines = s.matches('\n').count() + 1;
    if (lines as u128) * (pad.len() as u128) + s.len() as u128 + 1 > ctx.max_len as u128 {
        return Err(too_long(ctx));
    }
    let body = format!("{pad}{}", s.replace('\n', &format!("\n{pad}")));
    Ok(Value::String(if newline {
        format!("\n{body}")
    } else {
        body
    }))
}

fn indent(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [n, s] = take("indent", args)?;
    indent_str(ctx, int_arg(&n)?, str_arg(&s)?, false)
}

fn nindent(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [n, s] = take("nindent", args)?;
    indent_str(ctx, int_arg(&n)?, str_arg(&s)?, true)
}

fn repeat(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [n, s] = take("repeat", args)?;
    let (n, s) = (int_arg(&n)?, str_arg(&s)?);
    if n < 0 {
        return Err(FuncError::Call("strings: negative Repeat count".into()));
    }
    if (n as u128) * (s.len() as u128) > ctx.max_len as u128 {
        return Err(too_long(ctx));
    }
    Ok(Value::String(s.repeat(n as usize)))
}

fn substr(_: &Ctx, args: Vec<Value>) -> FResult {
    let [start, end, s] = take("substr", args)?;
    let (start, end, s) = (int_arg(&start)?, int_arg(&end)?, str_arg(&s)?);
    let b = s.as_bytes();
    let n = b.len() as i64;
    let oob = |a: i64, z: i64| {
        FuncError::Call(format!(
            "runtime error: slice bounds out of range [{a}:{z}]"
        ))
    };
    let r = if start < 0 {
        if end < 0 || end > n {
            return Err(oob(0, end));
        }
        &b[..end as usize]
    } else if end < 0 || end > n {
        if start > n {
            return Err(oob(start, n));
        }
        &b[start as usize..]
    } else {
        if start > end {
            return Err(oob(start, end));
        }
        &b[start as usize..end as usize]
    };
    Ok(Value::String(String::from_utf8_lossy(r).into_owned()))
}

fn b64enc(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [v] = take("b64enc", args)?;
    let s = strval(ctx, &v)?;
    check_len(ctx, base64::engine::general_purpose::STANDARD.encode(s))
}

fn b64dec(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [v] = take("b64dec", args)?;
    let s = strval(ctx, &v)?;
    // Sprig returns the decoding error's text as the result.
    Ok(Value::String(
        match base64::engine::general_purpose::STANDARD.decode(s.as_bytes()) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                let at = match e {
                    base64::DecodeError::InvalidByte(i, _)
                    | base64::DecodeError::InvalidLastSymbol(i, _) => i,
                    _ => s.len(),
                };
                format!("illegal base64 data at input byte {at}")
            }
        },
    ))
}

fn compile(ctx: &Ctx, pattern: &str) -> Result<regex::Regex, String> {
    if let Some(r) = ctx.regexes.borrow().get(pattern) {
        return Ok(r.clone());
    }
    if pattern.len() > 4096 {
        return Err("regular expression longer than 4096 bytes".into());
    }
    let r = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| format!("error parsing regexp: {e}"))?;
    let mut cache = ctx.regexes.borrow_mut();
    if cache.len() < 64 {
        cache.insert(pattern.to_string(), r.clone());
    }
    Ok(r)
}

fn regex_match(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [re, s] = take("regexMatch", args)?;
    let (re, s) = (str_arg(&re)?, str_arg(&s)?);
    // Sprig ignores a bad pattern here and answers false.
    Ok(Value::Bool(compile(ctx, re).is_ok_and(|r| r.is_match(s))))
}

fn regex_replace_all(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [re, s, repl] = take("regexReplaceAll", args)?;
    let (re, s, repl) = (str_arg(&re)?, str_arg(&s)?, str_arg(&repl)?);
    let r = compile(ctx, re).map_err(FuncError::Call)?;
    let matches = r.find_iter(s).count();
    if (matches as u128) * (repl.len() as u128 * 4 + 1) + s.len() as u128 > ctx.max_len as u128 {
        return Err(too_long(ctx));
    }
    check_len(ctx, r.replace_all(s, repl).into_owned())
}

// ---------------------------------------------------------------- Sprig: lists and dicts

fn list(ctx: &Ctx, args: Vec<Value>) -> FResult {
    nest(ctx, &args)?;
    Ok(Value::list(args))
}

fn list_arg<'a>(name: &str, v: &'a Value) -> Result<&'a [Value], FuncError> {
    match v {
        Value::List(l) => Ok(l),
        Value::Nil => Ok(&[]),
        v => Err(FuncError::Call(format!(
            "Cannot find {name} on type {}",
            v.type_name()
        ))),
    }
}

fn append(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [l, v] = take("append", args)?;
    nest(ctx, std::slice::from_ref(&v))?;
    let mut items = list_arg("append", &l)?.to_vec();
    if items.len() >= ctx.max_len {
        return Err(too_long(ctx));
    }
    items.push(v);
    Ok(Value::list(items))
}

fn prepend(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [l, v] = take("prepend", args)?;
    nest(ctx, std::slice::from_ref(&v))?;
    let mut items = vec![v];
    items.extend_from_slice(list_arg("prepend", &l)?);
    Ok(Value::list(items))
}

fn first(_: &Ctx, args: Vec<Value>) -> FResult {
    let [l] = take("first", args)?;
    Ok(list_arg("first", &l)?.first().cloned().unwrap_or_default())
}

fn last(_: &Ctx, args: Vec<Value>) -> FResult {
    let [l] = take("last", args)?;
    Ok(list_arg("last", &l)?.last().cloned().unwrap_or_default())
}

fn rest(_: &Ctx, args: Vec<Value>) -> FResult {
    let [l] = take("rest", args)?;
    let l = list_arg("rest", &l)?;
    Ok(if l.is_empty() {
        Value::Nil
    } else {
        Value::list(l[1..].to_vec())
    })
}

fn initial(_: &Ctx, args: Vec<Value>) -> FResult {
    let [l] = take("initial", args)?;
    let l = list_arg("initial", &l)?;
    Ok(if l.is_empty() {
        Value::Nil
    } else {
        Value::list(l[..l.len() - 1].to_vec())
    })
}

/// Sprig's deep equality for `has` and `uniq`.
fn deep_eq(a: &Value, b: &Value) -> bool {
    a == b
}

fn has(_: &Ctx, args: Vec<Value>) -> FResult {
    let [needle, hay] = take("has", args)?;
    let hay = list_arg("has", &hay)?;
    Ok(Value::Bool(hay.iter().any(|x| deep_eq(x, &needle))))
}

fn uniq(_: &Ctx, args: Vec<Value>) -> FResult {
    let [l] = take("uniq", args)?;
    let mut out: Vec<Value> = Vec::new();
    for x in list_arg("uniq", &l)? {
        if !out.iter().any(|y| deep_eq(x, y)) {
            out.push(x.clone());
        }
    }
    Ok(Value::list(out))
}

fn compact(_: &Ctx, args: Vec<Value>) -> FResult {
    let [l] = take("compact", args)?;
    Ok(Value::list(
        list_arg("compact", &l)?
            .iter()
            .filter(|x| x.truth())
            .cloned()
            .collect(),
    ))
}

fn reverse(_: &Ctx, args: Vec<Value>) -> FResult {
    let [l] = take("reverse", args)?;
    let mut items = list_arg("reverse", &l)?.to_vec();
    items.reverse();
    Ok(Value::list(items))
}

fn until(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [n] = take("until", args)?;
    let n = int_arg(&n)?;
    if n.unsigned_abs() > (ctx.max_len as u64).min(100_000) {
        return Err(FuncError::Call(format!("until {n}: too many items")));
    }
    let step = if n < 0 { -1 } else { 1 };
    let items = (0..n.abs()).map(|i| Value::Int(i * step)).collect();
    Ok(Value::list(items))
}

fn dict(ctx: &Ctx, args: Vec<Value>) -> FResult {
    nest(ctx, &args)?;
    let mut m = BTreeMap::new();
    let mut it = args.chunks(2);
    for pair in &mut it {
        let k = strval(ctx, &pair[0])?;
        let v = pair.get(1).cloned().unwrap_or_else(|| Value::string(""));
        m.insert(k, v);
    }
    Ok(Value::map(m))
}

fn get(_: &Ctx, args: Vec<Value>) -> FResult {
    let [d, k] = take("get", args)?;
    let (d, k) = (map_arg(&d)?, str_arg(&k)?);
    Ok(d.get(k).cloned().unwrap_or_else(|| Value::string("")))
}

fn set(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [d, k, v] = take("set", args)?;
    nest(ctx, std::slice::from_ref(&v))?;
    let mut m = map_arg(&d)?.clone();
    Arc::make_mut(&mut m).insert(str_arg(&k)?.to_string(), v);
    Ok(Value::Map(m))
}

fn unset(_: &Ctx, args: Vec<Value>) -> FResult {
    let [d, k] = take("unset", args)?;
    let mut m = map_arg(&d)?.clone();
    Arc::make_mut(&mut m).remove(str_arg(&k)?);
    Ok(Value::Map(m))
}

fn has_key(_: &Ctx, args: Vec<Value>) -> FResult {
    let [d, k] = take("hasKey", args)?;
    Ok(Value::Bool(map_arg(&d)?.contains_key(str_arg(&k)?)))
}

fn keys(_: &Ctx, args: Vec<Value>) -> FResult {
    let mut out = Vec::new();
    for d in &args {
        out.extend(map_arg(d)?.keys().map(|k| Value::String(k.clone())));
    }
    Ok(Value::list(out))
}

// ---------------------------------------------------------------- Sprig: numbers

fn add(_: &Ctx, args: Vec<Value>) -> FResult {
    Ok(Value::Int(
        args.iter().fold(0i64, |a, v| a.wrapping_add(to_i64(v))),
    ))
}

fn add1(_: &Ctx, args: Vec<Value>) -> FResult {
    let [v] = take("add1", args)?;
    Ok(Value::Int(to_i64(&v).wrapping_add(1)))
}

fn sub(_: &Ctx, args: Vec<Value>) -> FResult {
    let [a, b] = take("sub", args)?;
    Ok(Value::Int(to_i64(&a).wrapping_sub(to_i64(&b))))
}

fn mul(_: &Ctx, args: Vec<Value>) -> FResult {
    at_least("mul", &args, 1)?;
    Ok(Value::Int(
        args.iter().fold(1i64, |a, v| a.wrapping_mul(to_i64(v))),
    ))
}

fn div(_: &Ctx, args: Vec<Value>) -> FResult {
    let [a, b] = take("div", args)?;
    let b = to_i64(&b);
    if b == 0 {
        return Err(FuncError::Call(
            "runtime error: integer divide by zero".into(),
        ));
    }
    Ok(Value::Int(to_i64(&a).wrapping_div(b)))
}

fn modulo(_: &Ctx, args: Vec<Value>) -> FResult {
    let [a, b] = take("mod", args)?;
    let b = to_i64(&b);
    if b == 0 {
        return Err(FuncError::Call(
            "runtime error: integer divide by zero".into(),
        ));
    }
    Ok(Value::Int(to_i64(&a).wrapping_rem(b)))
}

fn max(_: &Ctx, args: Vec<Value>) -> FResult {
    at_least("max", &args, 1)?;
    Ok(Value::Int(args.iter().map(to_i64).max().unwrap_or(0)))
}

fn min(_: &Ctx, args: Vec<Value>) -> FResult {
    at_least("min", &args, 1)?;
    Ok(Value::Int(args.iter().map(to_i64).min().unwrap_or(0)))
}

fn int(_: &Ctx, args: Vec<Value>) -> FResult {
    let [v] = take("int", args)?;
    Ok(Value::Int(to_i64(&v)))
}

fn float64(_: &Ctx, args: Vec<Value>) -> FResult {
    let [v] = take("float64", args)?;
    Ok(Value::Float(to_f64(&v)))
}

fn atoi(_: &Ctx, args: Vec<Value>) -> FResult {
    let [v] = take("atoi", args)?;
    let s = str_arg(&v)?;
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let ok = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    Ok(Value::Int(if ok { s.parse().unwrap_or(0) } else { 0 }))
}

// ---------------------------------------------------------------- Tinkerbell

/// `formatPartition DEVICE N`: `/dev/disk/...` devices get `-partN`, devices ending in a
/// digit (`/dev/nvme0n1`) get `pN`, others (`/dev/sda`) just `N`.
fn format_partition(_: &Ctx, args: Vec<Value>) -> FResult {
    let [dev, n] = take("formatPartition", args)?;
    let (dev, n) = (str_arg(&dev)?, int_arg(&n)?);
    Ok(Value::String(if dev.starts_with("/dev/disk/") {
        format!("{dev}-part{n}")
    } else if dev.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{dev}p{n}")
    } else {
        format!("{dev}{n}")
    }))
}

/// `netmaskToPrefixLength MASK`: `255.255.255.0` to `"24"` (a string); a mask whose ones
/// are not contiguous gives `"0"`, as Go's `net.IPMask.Size` does.
fn netmask_to_prefix_length(_: &Ctx, args: Vec<Value>) -> FResult {
    prefix_length("netmaskToPrefixLength", args)
}

/// `netmaskToCIDR MASK`: the same as `netmaskToPrefixLength`, under the name EKS Anywhere's
/// default template calls (`addresses: - IP/{{ netmaskToCIDR ...Netmask }}` in its netplan).
fn netmask_to_cidr(_: &Ctx, args: Vec<Value>) -> FResult {
    prefix_length("netmaskToCIDR", args)
}

/// The prefix length of the one netmask in `args`, errors naming the function `name`.
fn prefix_length(name: &str, args: Vec<Value>) -> FResult {
    let [m] = take(name, args)?;
    let m = str_arg(&m)?;
    let v4 = match m.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => a,
        Ok(std::net::IpAddr::V6(a)) => match a.to_ipv4_mapped() {
            Some(a) => a,
            None => return Err(FuncError::Call(format!("netmask must be IPv4: {m}"))),
        },
        Err(_) => return Err(FuncError::Call(format!("invalid netmask format: {m}"))),
    };
    let bits = u32::from(v4);
    let ones = bits.leading_ones();
    let contiguous = ones == 32 || bits << ones == 0;
    Ok(Value::String(if contiguous { ones } else { 0 }.to_string()))
}

/// The JSON a value becomes in Go before YAML output: integral floats print as integers.
fn yaml_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            serde_json::Value::from(*f as i64)
        }
        Value::List(l) => serde_json::Value::Array(l.iter().map(yaml_json).collect()),
        Value::Map(m) => {
            serde_json::Value::Object(m.iter().map(|(k, x)| (k.clone(), yaml_json(x))).collect())
        }
        other => other.to_json(),
    }
}

fn to_yaml(ctx: &Ctx, args: Vec<Value>) -> FResult {
    let [v] = take("toYaml", args)?;
    if v.bounded_size(ctx.max_len).is_none() {
        return Err(too_long(ctx));
    }
    let text = serde_yaml_ng::to_string(&yaml_json(&v))
        .map_err(|e| FuncError::Call(format!("toYaml: {e}")))?;
    check_len(ctx, text.strip_suffix('\n').unwrap_or(&text).to_string())
}

fn yaml_to_value(y: &serde_yaml_ng::Value, depth: usize) -> Result<Value, String> {
    if depth > 200 {
        return Err("fromYaml: document nested too deeply".into());
    }
    Ok(match y {
        serde_yaml_ng::Value::Null => Value::Nil,
        serde_yaml_ng::Value::Bool(b) => Value::Bool(*b),
        // Go decodes YAML through JSON into interface{}: every number is a float64.
        serde_yaml_ng::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_yaml_ng::Value::String(s) => Value::String(s.clone()),
        serde_yaml_ng::Value::Sequence(items) => Value::list(
            items
                .iter()
                .map(|x| yaml_to_value(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        serde_yaml_ng::Value::Mapping(m) => {
            let mut out = BTreeMap::new();
            for (k, x) in m {
                let key = match k {
                    serde_yaml_ng::Value::String(s) => s.clone(),
                    serde_yaml_ng::Value::Number(n) => n.to_string(),
                    serde_yaml_ng::Value::Bool(b) => b.to_string(),
                    serde_yaml_ng::Value::Null => "null".to_string(),
                    _ => return Err("fromYaml: unsupported map key".into()),
                };
                out.insert(key, yaml_to_value(x, depth + 1)?);
            }
            Value::map(out)
        }
        serde_yaml_ng::Value::Tagged(t) => yaml_to_value(&t.value, depth + 1)?,
    })
}

fn from_yaml(_: &Ctx, args: Vec<Value>) -> FResult {
    let [s] = take("fromYaml", args)?;
    let s = str_arg(&s)?;
    if s.is_empty() {
        return Err(FuncError::Call("fromYaml: empty YAML input".into()));
    }
    let y: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(s).map_err(|e| FuncError::Call(format!("fromYaml: {e}")))?;
    yaml_to_value(&y, 0).map_err(FuncError::Call)
}
