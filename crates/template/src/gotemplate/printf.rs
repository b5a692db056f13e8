//! Go's `fmt.Sprintf` over [`Value`]s: the verbs templates use (`%v %s %d %q %x %X %o %b
//! %c %U %e %E %f %F %g %G %t %T %%`), flags `+ - # 0 space`, width, precision, `*` and
//! explicit argument indexes `%[n]d`, and Go's error forms (`%!d(string=x)`, `%!d(MISSING)`,
//! `%!(EXTRA ...)`).

use super::value::{Bounded, Overflow, Value, format_float_e, format_float_g, go_quote};

#[derive(Default, Clone, Copy)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Formats `args` according to `format`, refusing to produce more than `limit` bytes.
pub(crate) fn sprintf(format: &str, args: &[Value], limit: usize) -> Result<String, Overflow> {
    let mut out = Bounded::new(limit);
    let mut argi = 0usize;
    let mut reordered = false;
    let b = format.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let Some(off) = format[i..].find('%') else {
            out.push_str(&format[i..])?;
            break;
        };
        out.push_str(&format[i..i + off])?;
        i += off + 1;
        let mut spec = Spec::default();
        // Flags.
        while i < b.len() {
            match b[i] {
                b'+' => spec.plus = true,
                b'-' => spec.minus = true,
                b'#' => spec.sharp = true,
                b'0' => spec.zero = true,
                b' ' => spec.space = true,
                _ => break,
            }
            i += 1;
        }
        let mut bad_index = false;
        let mut arg_index = |i: &mut usize, argi: &mut usize, reordered: &mut bool| {
            if *i < b.len() && b[*i] == b'[' {
                *reordered = true;
                if let Some(close) = format[*i..].find(']') {
                    let n: Option<usize> = format[*i + 1..*i + close].parse().ok();
                    *i += close + 1;
                    match n {
                        Some(n) if n >= 1 && n <= args.len() => *argi = n - 1,
                        _ => bad_index = true,
                    }
                } else {
                    bad_index = true;
                    *i = b.len();
                }
            }
        };
        arg_index(&mut i, &mut argi, &mut reordered);
        // Width.
        let mut bad_width = false;
        if i < b.len() && b[i] == b'*' {
            i += 1;
            match args.get(argi) {
                Some(Value::Int(w)) => {
                    if *w < 0 {
                        spec.minus = true;
                    }
                    spec.width = Some(w.unsigned_abs().min(1 << 20) as usize);
                }
                _ => bad_width = true,
            }
            argi += 1;
        } else {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i > start {
                spec.width = format[start..i]
                    .parse::<usize>()
                    .ok()
                    .map(|w| w.min(1 << 20));
            }
        }
        // Precision.
        let mut bad_prec = false;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            arg_index(&mut i, &mut argi, &mut reordered);
            if i < b.len() && b[i] == b'*' {
                i += 1;
                match args.get(argi) {
                    Some(Value::Int(p)) if *p >= 0 => {
                        spec.prec = Some((*p as usize).min(1 << 20));
                    }
                    _ => bad_prec = true,
                }
                argi += 1;
            } else {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                spec.prec = Some(format[start..i].parse::<usize>().unwrap_or(0).min(1 << 20));
            }
        }
        arg_index(&mut i, &mut argi, &mut reordered);
        if bad_width {
            out.push_str("%!(BADWIDTH)")?;
        }
        if bad_prec {
            out.push_str("%!(BADPREC)")?;
        }
        let Some(verb) = format[i..].chars().next() else {
            out.push_str("%!(NOVERB)")?;
            break;
        };
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%')?;
            continue;
        }
        if bad_index {
            out.push_str(&format!("%!{verb}(BADINDEX)"))?;
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"))?;
            continue;
        };
        argi += 1;
        format_value(&mut out, verb, &spec, arg, 0)?;
    }
    if !reordered && argi < args.len() {
        out.push_str("%!(EXTRA ")?;
        for (k, a) in args[argi..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ")?;
            }
            if let Value::Nil = a {
                out.push_str("<nil>")?;
            } else {
                out.push_str(a.type_name())?;
                out.push('=')?;
                format_value(&mut out, 'v', &Spec::default(), a, 0)?;
            }
        }
        out.push(')')?;
    }
    Ok(out.buf)
}

fn pad(out: &mut Bounded, s: &str, spec: &Spec, zero_ok: bool) -> Result<(), Overflow> {
    let len = s.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        return out.push_str(s);
    }
    let fill = width - len;
    if spec.minus {
        out.push_str(s)?;
        for _ in 0..fill {
            out.push(' ')?;
        }
        return Ok(());
    }
    if spec.zero && zero_ok {
        // Zeros go after the sign.
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'-' | b'+' | b' ') => s.split_at(1),
            _ => ("", s),
        };
        out.push_str(sign)?;
        for _ in 0..fill {
            out.push('0')?;
        }
        return out.push_str(rest);
    }
    for _ in 0..fill {
        out.push(' ')?;
    }
    out.push_str(s)
}

fn bad_verb(out: &mut Bounded, verb: char, v: &Value) -> Result<(), Overflow> {
    out.push_str("%!")?;
    out.push(verb)?;
    out.push('(')?;
    if let Value::Nil = v {
        out.push_str("<nil>")?;
    } else {
        out.push_str(v.type_name())?;
        out.push('=')?;
        format_value(out, 'v', &Spec::default(), v, 0)?;
    }
    out.push(')')
}

fn format_value(
    out: &mut Bounded,
    verb: char,
    spec: &Spec,
    v: &Value,
    depth: usize,
) -> Result<(), Overflow> {
    if depth > 100 {
        return Err(Overflow);
    }
    if verb == 'T' {
        return pad(out, v.type_name(), spec, false);
    }
    match v {
        Value::List(l) => {
            if verb == 'v' && spec.sharp {
                out.push_str("[]interface {}{")?;
                for (k, x) in l.iter().enumerate() {
                    if k > 0 {
                        out.push_str(", ")?;
                    }
                    format_value(out, verb, spec, x, depth + 1)?;
                }
                return out.push('}');
            }
            out.push('[')?;
            for (k, x) in l.iter().enumerate() {
                if k > 0 {
                    out.push(' ')?;
                }
                format_value(out, verb, spec, x, depth + 1)?;
            }
            out.push(']')
        }
        Value::Map(m) => {
            if verb == 'v' && spec.sharp {
                out.push_str("map[string]interface {}{")?;
                for (k, (key, x)) in m.iter().enumerate() {
                    if k > 0 {
                        out.push_str(", ")?;
                    }
                    out.push_str(&go_quote(key))?;
                    out.push(':')?;
                    format_value(out, verb, spec, x, depth + 1)?;
                }
                return out.push('}');
            }
            out.push_str("map[")?;
            for (k, (key, x)) in m.iter().enumerate() {
                if k > 0 {
                    out.push(' ')?;
                }
                format_value(out, verb, spec, &Value::String(key.clone()), depth + 1)?;
                out.push(':')?;
                format_value(out, verb, spec, x, depth + 1)?;
            }
            out.push(']')
        }
        Value::Nil => match verb {
            'v' => pad(out, "<nil>", spec, false),
            _ => bad_verb(out, verb, v),
        },
        Value::Bool(b) => match verb {
            'v' | 't' => pad(out, if *b { "true" } else { "false" }, spec, false),
            _ => bad_verb(out, verb, v),
        },
        Value::String(s) => match verb {
            'v' if spec.sharp => pad(out, &go_quote(s), spec, false),
            'v' | 's' => {
                let s = match spec.prec {
                    Some(p) => s.chars().take(p).collect::<String>(),
                    None => s.clone(),
                };
                pad(out, &s, spec, false)
            }
            'q' => pad(out, &go_quote(s), spec, false),
            'x' | 'X' => {
                let bytes = s.as_bytes();
                let bytes = match spec.prec {
                    Some(p) => &bytes[..p.min(bytes.len())],
                    None => bytes,
                };
                let mut h = String::new();
                for (k, byte) in bytes.iter().enumerate() {
                    if spec.space && k > 0 {
                        h.push(' ');
                    }
                    if spec.sharp && (spec.space || k == 0) {
                        h.push_str(if verb == 'x' { "0x" } else { "0X" });
                    }
                    if verb == 'x' {
                        h.push_str(&format!("{byte:02x}"));
                    } else {
                        h.push_str(&format!("{byte:02X}"));
                    }
                }
                pad(out, &h, spec, false)
            }
            _ => bad_verb(out, verb, v),
        },
        Value::Int(n) => match verb {
            'v' | 'd' => pad(
                out,
                &integer(*n, 10, false, spec, ""),
                spec,
                spec.prec.is_none(),
            ),
            'b' => pad(
                out,
                &integer(*n, 2, false, spec, "0b"),
                spec,
                spec.prec.is_none(),
            ),
            'o' => pad(
                out,
                &integer(*n, 8, false, spec, "0"),
                spec,
                spec.prec.is_none(),
            ),
            'O' => {
                let s = spec_with_sharp(spec);
                pad(
                    out,
                    &integer(*n, 8, false, &s, "0o"),
                    spec,
                    spec.prec.is_none(),
                )
            }
            'x' => pad(
                out,
                &integer(*n, 16, false, spec, "0x"),
                spec,
                spec.prec.is_none(),
            ),
            'X' => pad(
                out,
                &integer(*n, 16, true, spec, "0X"),
                spec,
                spec.prec.is_none(),
            ),
            'c' => {
                let c = u32::try_from(*n)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{fffd}');
                pad(out, &c.to_string(), spec, false)
            }
            'q' => {
                let c = u32::try_from(*n)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{fffd}');
                let q = go_quote(&c.to_string());
                let inner = &q[1..q.len() - 1];
                let inner = if inner == "\\\"" { "\"" } else { inner };
                let inner = if inner == "'" { "\\'" } else { inner };
                pad(out, &format!("'{inner}'"), spec, false)
            }
            'U' => {
                let s = if *n < 0 {
                    format!("U+{:X}", *n)
                } else {
                    format!("U+{:04X}", *n)
                };
                pad(out, &s, spec, false)
            }
            'e' | 'E' | 'f' | 'F' | 'g' | 'G' => bad_verb(out, verb, v),
            _ => bad_verb(out, verb, v),
        },
        Value::Float(f) => {
            let body = match verb {
                'v' | 'g' => format_float_g(*f, spec.prec, false),
                'G' => format_float_g(*f, spec.prec, true),
                'e' => format_float_e(*f, Some(spec.prec.unwrap_or(6)), false),
                'E' => format_float_e(*f, Some(spec.prec.unwrap_or(6)), true),
                'f' | 'F' => {
                    if f.is_finite() {
                        format!("{:.*}", spec.prec.unwrap_or(6), f)
                    } else {
                        format_float_g(*f, None, false)
                    }
                }
                _ => return bad_verb(out, verb, v),
            };
            let body = if f.is_finite() && !body.starts_with('-') {
                if spec.plus {
                    format!("+{body}")
                } else if spec.space {
                    format!(" {body}")
                } else {
                    body
                }
            } else if body == "+Inf" && !spec.plus {
                "+Inf".to_string()
            } else {
                body
            };
            pad(out, &body, spec, f.is_finite())
        }
    }
}

fn spec_with_sharp(spec: &Spec) -> Spec {
    Spec {
        sharp: true,
        ..*spec
    }
}

fn integer(n: i64, base: u32, upper: bool, spec: &Spec, prefix: &str) -> String {
    let neg = n < 0;
    let a = n.unsigned_abs();
    let mut digits = match base {
        2 => format!("{a:b}"),
        8 => format!("{a:o}"),
        16 if upper => format!("{a:X}"),
        16 => format!("{a:x}"),
        _ => a.to_string(),
    };
    if let Some(p) = spec.prec {
        if p == 0 && a == 0 {
            digits.clear();
        }
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    let mut s = String::new();
    if neg {
        s.push('-');
    } else if spec.plus {
        s.push('+');
    } else if spec.space {
        s.push(' ');
    }
    if spec.sharp && !prefix.is_empty() && !(base == 8 && digits.starts_with('0')) {
        s.push_str(prefix);
    }
    s.push_str(&digits);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, args: &[Value]) -> String {
        sprintf(fmt, args, 1 << 16).unwrap_or_default()
    }

    #[test]
    fn verbs() {
        assert_eq!(
            f("%5d|%-5d|%05d", &[3.into(), 3.into(), (-3).into()]),
            "    3|3    |-0003"
        );
        assert_eq!(
            f("%x %X %o %b", &[255.into(), 255.into(), 8.into(), 5.into()]),
            "ff FF 10 101"
        );
        assert_eq!(f("%q", &["a\"b".into()]), "\"a\\\"b\"");
        assert_eq!(f("%d", &["x".into()]), "%!d(string=x)");
        assert_eq!(f("%d %d", &[1.into()]), "1 %!d(MISSING)");
        assert_eq!(f("%d", &[1.into(), "a".into()]), "1%!(EXTRA string=a)");
        assert_eq!(
            f(
                "%.2f|%6.1f|%e",
                &[3.14259.into(), 2.25.into(), 1234.5.into()]
            ),
            "3.14|   2.2|1.234500e+03"
        );
        assert_eq!(
            f("%s", &[Value::list(vec!["a".into(), 1.into()])]),
            "[a %!s(int=1)]"
        );
        assert_eq!(
            f(
                "%v %t %c %U",
                &[Value::Nil, true.into(), 65.into(), 0x1F600.into()]
            ),
            "<nil> true A U+1F600"
        );
        assert_eq!(f("%[2]s %[1]s", &["a".into(), "b".into()]), "b a");
        assert_eq!(f("%*d", &[4.into(), 7.into()]), "   7");
        assert_eq!(f("100%%", &[]), "100%");
        assert_eq!(f("%x", &["hi".into()]), "6869");
        assert_eq!(
            f("%T %T", &[Value::list(vec![]), 1.into()]),
            "[]interface {} int"
        );
        assert_eq!(f("%.1s", &["héllo".into()]), "h");
    }
}
