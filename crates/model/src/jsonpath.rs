//! kubectl's JSONPath template dialect: what `kubectl get -o jsonpath=...`, `-o
//! custom-columns=...`, `kubectl wait --for=jsonpath=...` and a CRD's
//! `additionalPrinterColumns[].jsonPath` accept, evaluated over a `serde_json::Value`.
//!
//! Written by hand: the JSONPath crates implement RFC 9535 (or Goessner's draft) for
//! queries, not kubectl's *template* dialect (text around `{...}` actions, `range`/`end`,
//! `{"\n"}` literals, paths relative to the current `range` item), and not its printing
//! rules. The subset here is client-go's `util/jsonpath`:
//!
//! - text outside braces is printed as is; `{.a.b}` prints the values found, separated by
//!   spaces (strings raw, `null` empty, anything else compact JSON);
//! - `$` is the root, `@` and a leading `.` the current object (the root, or the item of
//!   the innermost `range`);
//! - `.field`, `['field.with.dots']`, `.*` and `[*]`, `[N]`, `[-N]`, `[start:end:step]`,
//!   `..field` (recursive descent), filters `[?(@.k == "v")]` with `==`, `!=`, `<`, `<=`,
//!   `>`, `>=` against a string, number, boolean or `null`, and `[?(@.k)]` (exists);
//! - `{range PATH}...{end}` repeats its body with `@` bound to each value found;
//! - `{"text"}` prints a literal with `\n`, `\t`, `\\` and `\"` escapes.
//!
//! A missing field finds nothing, as `kubectl get -o jsonpath` (with its
//! `allowMissingKeys`) prints it. Not supported: unions (`['a','b']`), functions and
//! client-go's `{.a} {.b}` inside one brace pair; they are parse errors naming the position.
//!
//! **Bounds**: a template is at most [`MAX_TEMPLATE_BYTES`] long with `range` nested at
//! most [`MAX_DEPTH`] deep, and rendering stops with [`JsonPathError::TooLarge`] once the
//! output would pass [`MAX_OUTPUT_BYTES`]; parsing never panics on any input (a property
//! test feeds it arbitrary text).

use std::fmt;

use serde_json::Value;

/// Longest template accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 4096;
/// Deepest nesting of `range` accepted.
pub const MAX_DEPTH: usize = 8;
/// Most output one rendering may produce, in bytes.
pub const MAX_OUTPUT_BYTES: usize = 64 << 20;

/// A template or path that could not be read or rendered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JsonPathError {
    /// The text is not a template of the dialect; `at` is a byte offset into it.
    #[error("JSONPath {template:?}: {message} at byte {at}")]
    Syntax {
        /// The template as given (cut to 200 bytes).
        template: String,
        /// Where the problem is.
        at: usize,
        /// What is wrong.
        message: String,
    },
    /// The template is over [`MAX_TEMPLATE_BYTES`] or nests `range` over [`MAX_DEPTH`].
    #[error(
        "JSONPath template is too large or nests too deep (limits: {MAX_TEMPLATE_BYTES} bytes, {MAX_DEPTH} ranges)"
    )]
    TooComplex,
    /// Rendering would produce more than [`MAX_OUTPUT_BYTES`].
    #[error("JSONPath output is over {MAX_OUTPUT_BYTES} bytes")]
    TooLarge,
}

/// One step of a path.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    /// `.name` or `['name']`.
    Field(String),
    /// `..name`: every descendant (and self) holding `name`.
    Descend(String),
    /// `..*` / `..[*]`: every descendant.
    DescendAll,
    /// `.*` or `[*]`.
    All,
    /// `[N]`, negative from the end.
    Index(i64),
    /// `[start:end:step]`.
    Slice(Option<i64>, Option<i64>, Option<i64>),
    /// `[?(@.path OP literal)]`, or `[?(@.path)]` when `test` is `None`.
    Filter(Box<Path>, Option<(Cmp, Value)>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A path such as `.spec.interfaces[0].dhcp.mac`: where values are found in an object.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// From the root (`$`) rather than the current object.
    rooted: bool,
    steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Text(String),
    Path(Path),
    Range(Path, Vec<Node>),
}

/// A parsed template (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Path {
    /// Reads one path, with or without the braces (`.status.state`, `{.status.state}`), as
    /// a printer column or a custom column gives it.
    pub fn parse(text: &str) -> Result<Self, JsonPathError> {
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(JsonPathError::TooComplex);
        }
        let start = text.len() - text.trim_start().len();
        let trimmed = text.trim();
        let braced = trimmed.len() >= 2 && trimmed.starts_with('{') && trimmed.ends_with('}');
        let (pos, end) = if braced {
            (start + 1, start + trimmed.len() - 1)
        } else {
            (start, start + trimmed.len())
        };
        let mut p = Parser {
            src: text,
            pos,
            end,
        };
        let path = p.path()?;
        p.skip_ws();
        if p.pos != p.end {
            return Err(p.error("unexpected text after the path"));
        }
        Ok(path)
    }

    /// Every value the path finds in `root` (the current object is the root).
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        self.eval(root, root)
    }

    fn eval<'a>(&self, root: &'a Value, current: &'a Value) -> Vec<&'a Value> {
        let mut nodes = vec![if self.rooted { root } else { current }];
        for step in &self.steps {
            let mut next = Vec::new();
            for node in nodes {
                step.apply(root, node, &mut next);
            }
            nodes = next;
            if nodes.is_empty() {
                break;
            }
        }
        nodes
    }
}

impl Step {
    fn apply<'a>(&self, root: &'a Value, node: &'a Value, out: &mut Vec<&'a Value>) {
        match self {
            Self::Field(name) => out.extend(node.get(name.as_str())),
            Self::Descend(name) => descend(node, &mut |v| out.extend(v.get(name.as_str()))),
            Self::DescendAll => descend(node, &mut |v| children(v, out)),
            Self::All => children(node, out),
            Self::Index(i) => {
                if let Value::Array(items) = node {
                    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                    let i = if *i < 0 { len + i } else { *i };
                    out.extend(usize::try_from(i).ok().and_then(|i| items.get(i)));
                }
            }
            Self::Slice(start, end, step) => {
                if let Value::Array(items) = node {
                    slice(items, *start, *end, *step, out);
                }
            }
            Self::Filter(path, test) => {
                let candidates: Vec<&Value> = match node {
                    Value::Array(items) => items.iter().collect(),
                    Value::Object(map) => map.values().collect(),
                    _ => Vec::new(),
                };
                for item in candidates {
                    let found = path.eval(root, item);
                    let keep = match test {
                        None => !found.is_empty(),
                        Some((cmp, lit)) => found.iter().any(|v| compare(v, *cmp, lit)),
                    };
                    if keep {
                        out.push(item);
                    }
                }
            }
        }
    }
}

fn children<'a>(node: &'a Value, out: &mut Vec<&'a Value>) {
    match node {
        Value::Array(items) => out.extend(items.iter()),
        Value::Object(map) => out.extend(map.values()),
        _ => {}
    }
}

/// Calls `each` on `node` and every value below it, depth first. serde_json's parser
/// bounds the depth of a parsed value (128), so the recursion is bounded too.
fn descend<'a>(node: &'a Value, each: &mut dyn FnMut(&'a Value)) {
    each(node);
    match node {
        Value::Array(items) => items.iter().for_each(|v| descend(v, each)),
        Value::Object(map) => map.values().for_each(|v| descend(v, each)),
        _ => {}
    }
}

fn slice<'a>(
    items: &'a [Value],
    start: Option<i64>,
    end: Option<i64>,
    step: Option<i64>,
    out: &mut Vec<&'a Value>,
) {
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let clamp = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
    let step = step.unwrap_or(1);
    if step <= 0 {
        return;
    }
    let (from, to) = (clamp(start.unwrap_or(0)), clamp(end.unwrap_or(len)));
    let mut i = from;
    while i < to {
        out.extend(usize::try_from(i).ok().and_then(|i| items.get(i)));
        i = i.saturating_add(step);
    }
}

fn compare(v: &Value, cmp: Cmp, lit: &Value) -> bool {
    use std::cmp::Ordering;
    let order = match (v, lit) {
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (a, b) if a == b => Some(Ordering::Equal),
        _ => None,
    };
    match (cmp, order) {
        (Cmp::Eq, o) => o == Some(Ordering::Equal),
        (Cmp::Ne, o) => o != Some(Ordering::Equal),
        (_, None) => false,
        (Cmp::Lt, Some(o)) => o == Ordering::Less,
        (Cmp::Le, Some(o)) => o != Ordering::Greater,
        (Cmp::Gt, Some(o)) => o == Ordering::Greater,
        (Cmp::Ge, Some(o)) => o != Ordering::Less,
    }
}

/// How a found value prints: strings raw, `null` empty, anything else compact JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl Template {
    /// Reads a template (`{.items[*].metadata.name}`, `{range .items[*]}{.x}{"\n"}{end}`).
    pub fn parse(text: &str) -> Result<Self, JsonPathError> {
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(JsonPathError::TooComplex);
        }
        let mut p = Parser {
            src: text,
            pos: 0,
            end: text.len(),
        };
        let (nodes, closed_by_end) = p.nodes(0)?;
        if closed_by_end {
            return Err(p.error("`end` without `range`"));
        }
        Ok(Self {
            source: text.to_string(),
            nodes,
        })
    }

    /// The template applied to `root`.
    pub fn render(&self, root: &Value) -> Result<String, JsonPathError> {
        let mut out = String::new();
        render(&self.nodes, root, root, &mut out)?;
        Ok(out)
    }

    /// The values its first action finds in `root` (for `kubectl wait --for=jsonpath=`:
    /// a template of one path).
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        self.nodes
            .iter()
            .find_map(|n| match n {
                Node::Path(p) => Some(p.find(root)),
                _ => None,
            })
            .unwrap_or_default()
    }
}

fn render(
    nodes: &[Node],
    root: &Value,
    current: &Value,
    out: &mut String,
) -> Result<(), JsonPathError> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Path(p) => {
                for (i, v) in p.eval(root, current).into_iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(&value_text(v));
                    if out.len() > MAX_OUTPUT_BYTES {
                        return Err(JsonPathError::TooLarge);
                    }
                }
            }
            Node::Range(p, body) => {
                for item in p.eval(root, current) {
                    render(body, root, item, out)?;
                }
            }
        }
        if out.len() > MAX_OUTPUT_BYTES {
            return Err(JsonPathError::TooLarge);
        }
    }
    Ok(())
}

struct Parser<'s> {
    src: &'s str,
    pos: usize,
    end: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> JsonPathError {
        let mut cut = self.src.len().min(200);
        while !self.src.is_char_boundary(cut) {
            cut -= 1;
        }
        JsonPathError::Syntax {
            template: self.src[..cut].to_string(),
            at: self.pos,
            message: message.to_string(),
        }
    }

    fn rest(&self) -> &str {
        self.src.get(self.pos..self.end).unwrap_or_default()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Nodes until the end of input or an `{end}`; the flag says which.
    fn nodes(&mut self, depth: usize) -> Result<(Vec<Node>, bool), JsonPathError> {
        if depth > MAX_DEPTH {
            return Err(JsonPathError::TooComplex);
        }
        let mut nodes = Vec::new();
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if c != '{' {
                text.push(c);
                self.pos += c.len_utf8();
                continue;
            }
            if !text.is_empty() {
                nodes.push(Node::Text(std::mem::take(&mut text)));
            }
            self.pos += 1;
            self.skip_ws();
            if self.eat("end") {
                self.close()?;
                return Ok((nodes, true));
            }
            if self.eat("range ") {
                self.skip_ws();
                let path = self.path()?;
                self.close()?;
                let (body, closed) = self.nodes(depth + 1)?;
                if !closed {
                    return Err(self.error("`range` without `end`"));
                }
                nodes.push(Node::Range(path, body));
            } else if matches!(self.peek(), Some('"' | '\'')) {
                let lit = self.quoted()?;
                self.close()?;
                nodes.push(Node::Text(lit));
            } else {
                let path = self.path()?;
                self.close()?;
                nodes.push(Node::Path(path));
            }
        }
        if !text.is_empty() {
            nodes.push(Node::Text(text));
        }
        Ok((nodes, false))
    }

    fn close(&mut self) -> Result<(), JsonPathError> {
        self.skip_ws();
        if self.eat("}") {
            Ok(())
        } else {
            Err(self.error("expected `}`"))
        }
    }

    fn quoted(&mut self) -> Result<String, JsonPathError> {
        let Some(quote) = self.bump() else {
            return Err(self.error("expected a quoted string"));
        };
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated string")),
                Some(c) if c == quote => return Ok(s),
                Some('\\') => match self.bump() {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some(c @ ('\\' | '"' | '\'')) => s.push(c),
                    _ => return Err(self.error("unknown escape in string")),
                },
                Some(c) => s.push(c),
            }
        }
    }

    fn path(&mut self) -> Result<Path, JsonPathError> {
        let rooted = self.eat("$");
        if !rooted {
            self.eat("@");
        }
        let mut steps = Vec::new();
        loop {
            if steps.len() >= 64 {
                return Err(JsonPathError::TooComplex);
            }
            if self.eat("..") {
                if self.eat("*") || self.eat("[*]") {
                    steps.push(Step::DescendAll);
                } else {
                    steps.push(Step::Descend(self.field()?));
                }
            } else if self.eat(".") {
                if self.eat("*") {
                    steps.push(Step::All);
                } else if self.peek() == Some('[') {
                    // `.[0]`: client-go accepts a dot before a bracket.
                } else if self.peek().is_some_and(is_field_char) {
                    steps.push(Step::Field(self.field()?));
                }
                // A lone `.` (or `{.}`) is the current object.
            } else if self.eat("[") {
                steps.push(self.bracket()?);
            } else {
                return Ok(Path { rooted, steps });
            }
        }
    }

    fn field(&mut self) -> Result<String, JsonPathError> {
        let start = self.pos;
        while self.peek().is_some_and(is_field_char) {
            self.bump();
        }
        if self.pos == start {
            return Err(self.error("expected a field name"));
        }
        Ok(self.src[start..self.pos].to_string())
    }

    /// After `[`: an index, slice, `*`, quoted key or filter, and the `]`.
    fn bracket(&mut self) -> Result<Step, JsonPathError> {
        self.skip_ws();
        let step = if self.eat("*") {
            Step::All
        } else if matches!(self.peek(), Some('"' | '\'')) {
            Step::Field(self.quoted()?)
        } else if self.eat("?(") {
            self.skip_ws();
            if !(self.peek() == Some('@') || self.peek() == Some('$')) {
                return Err(self.error("a filter starts with @ or $"));
            }
            let path = self.path()?;
            self.skip_ws();
            let test = if self.eat(")") {
                None
            } else {
                let cmp = self.cmp()?;
                self.skip_ws();
                let lit = self.literal()?;
                self.skip_ws();
                if !self.eat(")") {
                    return Err(self.error("expected `)`"));
                }
                Some((cmp, lit))
            };
            Step::Filter(Box::new(path), test)
        } else {
            let a = self.int()?;
            if self.eat(":") {
                let b = self.int()?;
                let c = if self.eat(":") { self.int()? } else { None };
                Step::Slice(a, b, c)
            } else {
                Step::Index(
                    a.ok_or_else(|| self.error("expected an index, `*`, a key or a filter"))?,
                )
            }
        };
        self.skip_ws();
        if self.eat("]") {
            Ok(step)
        } else {
            Err(self.error("expected `]`"))
        }
    }

    fn int(&mut self) -> Result<Option<i64>, JsonPathError> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some('-') {
            self.bump();
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if self.pos == start {
            return Ok(None);
        }
        let n = self.src[start..self.pos]
            .parse()
            .map_err(|_| self.error("not an integer"))?;
        self.skip_ws();
        Ok(Some(n))
    }

    fn cmp(&mut self) -> Result<Cmp, JsonPathError> {
        for (s, c) in [
            ("==", Cmp::Eq),
            ("!=", Cmp::Ne),
            ("<=", Cmp::Le),
            (">=", Cmp::Ge),
            ("<", Cmp::Lt),
            (">", Cmp::Gt),
        ] {
            if self.eat(s) {
                return Ok(c);
            }
        }
        Err(self.error("expected ==, !=, <, <=, > or >="))
    }

    fn literal(&mut self) -> Result<Value, JsonPathError> {
        if matches!(self.peek(), Some('"' | '\'')) {
            return Ok(Value::String(self.quoted()?));
        }
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'))
        {
            self.bump();
        }
        let word = &self.src[start..self.pos];
        match word {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            _ => serde_json::from_str::<serde_json::Number>(word)
                .map(Value::Number)
                .map_err(|_| self.error("expected a string, number, true, false or null")),
        }
    }
}

fn is_field_char(c: char) -> bool {
    !(c.is_whitespace() || ".[]{}()=!<>,'\"@$*".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list() -> Value {
        json!({
            "kind": "List",
            "items": [
                {"metadata": {"name": "a", "labels": {"type": "cp"},
                    "annotations": {"tinkerbell.org/disabled": "true"}},
                 "spec": {"interfaces": [{"dhcp": {"mac": "aa:01"}}, {"dhcp": {"mac": "aa:02"}}]},
                 "status": {"state": "RUNNING", "count": 3}},
                {"metadata": {"name": "b", "labels": {"type": "worker"}},
                 "spec": {"interfaces": []},
                 "status": {"state": "PENDING", "count": 1}}
            ]
        })
    }

    fn render(t: &str) -> String {
        Template::parse(t).expect(t).render(&list()).expect(t)
    }

    #[test]
    fn paths_indexes_wildcards_and_slices() {
        assert_eq!(render("{.items[*].metadata.name}"), "a b");
        assert_eq!(render("{.items[0].spec.interfaces[1].dhcp.mac}"), "aa:02");
        assert_eq!(render("{.items[-1].metadata.name}"), "b");
        assert_eq!(render("{.items[0:1].metadata.name}"), "a");
        assert_eq!(render("{.items[::1].metadata.name}"), "a b");
        assert_eq!(render("{$.kind}/{.items[1].status.count}"), "List/1");
        assert_eq!(render("{.items[0].metadata.labels}"), r#"{"type":"cp"}"#);
        assert_eq!(
            render("{.items[0].metadata.annotations['tinkerbell.org/disabled']}"),
            "true"
        );
        assert_eq!(render("{..mac}"), "aa:01 aa:02");
        assert_eq!(render("{.items[0].status.*}"), "3 RUNNING");
        assert_eq!(render("{.missing.field}x"), "x");
        assert_eq!(render("{.items[7].metadata.name}"), "");
    }

    #[test]
    fn range_literals_and_filters() {
        assert_eq!(
            render(r#"{range .items[*]}{.metadata.name}{"\t"}{.status.state}{"\n"}{end}"#),
            "a\tRUNNING\nb\tPENDING\n"
        );
        assert_eq!(
            render(r#"{.items[?(@.metadata.labels.type=="worker")].metadata.name}"#),
            "b"
        );
        assert_eq!(render("{.items[?(@.status.count > 2)].metadata.name}"), "a");
        assert_eq!(
            render("{.items[?(@.metadata.annotations)].metadata.name}"),
            "a"
        );
        assert_eq!(
            render("{range .items[*]}[{range .spec.interfaces[*]}{.dhcp.mac},{end}]{end}"),
            "[aa:01,aa:02,][]"
        );
        assert_eq!(render("names: {.items[*].metadata.name}."), "names: a b.");
    }

    #[test]
    fn paths_for_columns() {
        let v = list();
        let p = Path::parse(".items[0].status.state").expect("path");
        assert_eq!(p.find(&v), [&json!("RUNNING")]);
        let p = Path::parse("{.items[*].metadata.name}").expect("braced");
        assert_eq!(p.find(&v).len(), 2);
        assert!(Path::parse(".a b").is_err());
    }

    #[test]
    fn bad_templates_are_errors_naming_the_position() {
        for bad in [
            "{.a",
            "{range .items[*]}{.x}",
            "{end}",
            "{.a[}",
            "{.a[?(@.x ~ 1)]}",
            "{\"unterminated}",
            "{.a[1:x]}",
            "{.a['b}",
            "{.a[?(x)]}",
        ] {
            let err = Template::parse(bad).expect_err(bad);
            assert!(matches!(err, JsonPathError::Syntax { .. }), "{bad}: {err}");
        }
        let deep = "{range .a}".repeat(MAX_DEPTH + 2);
        assert_eq!(Template::parse(&deep), Err(JsonPathError::TooComplex));
        assert_eq!(
            Template::parse(&"x".repeat(MAX_TEMPLATE_BYTES + 1)),
            Err(JsonPathError::TooComplex)
        );
    }

    #[test]
    fn arbitrary_text_never_panics() {
        // A deterministic sweep of short strings over the dialect's alphabet, and every
        // prefix of valid templates: parsing and rendering must return, never panic.
        let alphabet: Vec<char> = "{}[]().@$*?:'\"-=!<>0123 \\ranged\u{e9}".chars().collect();
        let mut state = 0x2545_f491_u64;
        let v = list();
        for _ in 0..20_000 {
            let len = (state % 24) as usize;
            let mut s = String::new();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            if let Ok(t) = Template::parse(&s) {
                let _ = t.render(&v);
            }
            let _ = Path::parse(&s);
            state = state.wrapping_add(1);
        }
        let good = r#"{range .items[?(@.status.count>=1)]}{.metadata.name}{"\n"}{end}"#;
        for (i, _) in good.char_indices() {
            let _ = Template::parse(&good[..i]);
        }
    }

    #[test]
    fn output_is_bounded() {
        let big = json!({"a": vec!["x".repeat(1 << 20); 8]});
        let t = Template::parse(&format!(
            "{}{{$.a[*]}}{}",
            "{range $.a[*]}".repeat(3),
            "{end}".repeat(3)
        ))
        .expect("template");
        assert_eq!(t.render(&big), Err(JsonPathError::TooLarge));
    }
}
