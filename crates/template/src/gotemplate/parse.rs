//! The parser: items to a tree of nodes, with Go's checks made at parse time (undefined
//! functions and variables, `{{break}}` outside `{{range}}`, misplaced `{{else}}`/`{{end}}`).

use std::collections::HashMap;

use super::lex::{Item, Tok, unquote};
use super::value::Value;

/// Deepest nesting of control structures and parentheses the parser accepts.
pub(crate) const MAX_PARSE_DEPTH: usize = 100;

/// A node of a template's body.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Control),
    Range(Control),
    With(Control),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

/// `if`, `range` and `with`: a pipeline, a body and an optional else body.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    pub(crate) pipe: Pipe,
    pub(crate) list: Vec<Node>,
    pub(crate) else_list: Option<Vec<Node>>,
}

/// A pipeline, with the variables it declares or assigns.
#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub(crate) pos: usize,
    pub(crate) is_assign: bool,
    pub(crate) decl: Vec<String>,
    pub(crate) cmds: Vec<Command>,
}

/// One stage of a pipeline: an operation and its arguments.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub(crate) pos: usize,
    pub(crate) args: Vec<Arg>,
}

/// An operand.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// `.a.b`
    Field(usize, Vec<String>),
    /// `.`
    Dot(usize),
    /// `$x.a.b` (name with the dollar, then fields)
    Variable(usize, String, Vec<String>),
    /// A function name.
    Identifier(usize, String),
    /// `(pipeline).a.b`, or another operand followed by fields.
    Chain(usize, Box<Arg>, Vec<String>),
    /// `(pipeline)`
    Pipe(usize, Box<Pipe>),
    /// `nil`
    Nil(usize),
    /// A constant: boolean, number, character or string, with its source text.
    Const(usize, Value, String),
}

impl Arg {
    pub(crate) fn pos(&self) -> usize {
        match self {
            Arg::Field(p, _)
            | Arg::Dot(p)
            | Arg::Variable(p, _, _)
            | Arg::Identifier(p, _)
            | Arg::Chain(p, _, _)
            | Arg::Pipe(p, _)
            | Arg::Nil(p)
            | Arg::Const(p, _, _) => *p,
        }
    }
}

fn fields(f: &[String]) -> String {
    f.iter().map(|x| format!(".{x}")).collect()
}

impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arg::Field(_, c) => write!(f, "{}", fields(c)),
            Arg::Dot(_) => write!(f, "."),
            Arg::Variable(_, n, c) => write!(f, "{n}{}", fields(c)),
            Arg::Identifier(_, n) => write!(f, "{n}"),
            Arg::Chain(_, a, c) => write!(f, "{a}{}", fields(c)),
            Arg::Pipe(_, p) => write!(f, "({p})"),
            Arg::Nil(_) => write!(f, "nil"),
            Arg::Const(_, _, text) => write!(f, "{text}"),
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.decl.is_empty() {
            write!(
                f,
                "{} {} ",
                self.decl.join(", "),
                if self.is_assign { "=" } else { ":=" }
            )?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                write!(f, " | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// A parse error: message and byte offset.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub(crate) msg: String,
    pub(crate) pos: usize,
}

/// The parsed templates: the main body and every `define`d or `block` template.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    pub(crate) root: Vec<Node>,
    pub(crate) defs: HashMap<String, Vec<Node>>,
}

enum End {
    Close(usize),
    Else(usize, Option<&'static str>),
    Eof,
}

struct Parser<'f> {
    items: Vec<Item>,
    i: usize,
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    defs: HashMap<String, Vec<Node>>,
    is_func: &'f dyn Fn(&str) -> bool,
}

type PResult<T> = Result<T, ParseError>;

/// Parses the items of a template. `is_func` says which function names exist.
pub(crate) fn parse(items: Vec<Item>, is_func: &dyn Fn(&str) -> bool) -> PResult<Tree> {
    let mut p = Parser {
        items,
        i: 0,
        vars: vec!["$".to_string()],
        range_depth: 0,
        depth: 0,
        defs: HashMap::new(),
        is_func,
    };
    let mut root = Vec::new();
    loop {
        // `{{define}}` is only allowed at the top level.
        if matches!(p.peek().tok, Tok::LeftDelim) {
            let save = p.i;
            p.next();
            if matches!(p.next_non_space().tok, Tok::Keyword("define")) {
                p.definition()?;
                continue;
            }
            p.i = save;
        }
        match p.item_list_node()? {
            Some(Ok(n)) => root.push(n),
            Some(Err(End::Close(pos))) => return p.fail(pos, "unexpected {{end}}"),
            Some(Err(End::Else(pos, _))) => return p.fail(pos, "unexpected {{else}}"),
            Some(Err(End::Eof)) | None => break,
        }
    }
    Ok(Tree { root, defs: p.defs })
}

impl Parser<'_> {
    fn fail<T>(&self, pos: usize, msg: impl Into<String>) -> PResult<T> {
        Err(ParseError {
            msg: msg.into(),
            pos,
        })
    }

    fn peek(&self) -> &Item {
        let last = self.items.len() - 1;
        &self.items[self.i.min(last)]
    }

    fn next(&mut self) -> Item {
        let it = self.peek().clone();
        if self.i < self.items.len() {
            self.i += 1;
        }
        it
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let it = self.next();
            if it.tok != Tok::Space {
                return it;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let it = self.next_non_space();
        self.i -= 1;
        it
    }

    fn unexpected<T>(&self, it: &Item, context: &str) -> PResult<T> {
        self.fail(
            it.pos,
            format!("unexpected {} in {context}", describe(&it.tok)),
        )
    }

    fn enter(&mut self, pos: usize) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_PARSE_DEPTH {
            return self.fail(pos, format!("nesting deeper than {MAX_PARSE_DEPTH} levels"));
        }
        Ok(())
    }

    fn definition(&mut self) -> PResult<()> {
        let it = self.next_non_space();
        let name = match &it.tok {
            Tok::Str(_, v) => v.clone(),
            _ => return self.unexpected(&it, "define clause"),
        };
        let it = self.next_non_space();
        if it.tok != Tok::RightDelim {
            return self.unexpected(&it, "define clause");
        }
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let (list, end) = self.item_list()?;
        self.vars = saved;
        match end {
            End::Close(_) => {}
            End::Else(pos, _) => return self.fail(pos, "unexpected {{else}}"),
            End::Eof => return self.fail(it.pos, format!("unexpected EOF in define {name:?}")),
        }
        self.add_def(name, list);
        Ok(())
    }

    fn add_def(&mut self, name: String, list: Vec<Node>) {
        // As in Go, an empty definition does not replace a non-empty one.
        let empty = list
            .iter()
            .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()));
        if empty && self.defs.contains_key(&name) {
            return;
        }
        self.defs.insert(name, list);
    }

    /// Nodes until `{{end}}`, `{{else}}` or the end of input.
    fn item_list(&mut self) -> PResult<(Vec<Node>, End)> {
        let mut list = Vec::new();
        loop {
            match self.item_list_node()? {
                Some(Ok(n)) => list.push(n),
                Some(Err(e)) => return Ok((list, e)),
                None => return Ok((list, End::Eof)),
            }
        }
    }

    fn item_list_node(&mut self) -> PResult<Option<Result<Node, End>>> {
        let it = self.next();
        match it.tok {
            Tok::Eof => Ok(None),
            Tok::Text(t) => Ok(Some(Ok(Node::Text(t)))),
            Tok::LeftDelim => self.action().map(Some),
            _ => self.unexpected(&it, "input"),
        }
    }

    fn action(&mut self) -> PResult<Result<Node, End>> {
        let it = self.next_non_space();
        match it.tok {
            Tok::Keyword("block") => self.block(it.pos).map(Ok),
            Tok::Keyword("break") | Tok::Keyword("continue") => {
                let kw = if it.tok == Tok::Keyword("break") {
                    "break"
                } else {
                    "continue"
                };
                if self.range_depth == 0 {
                    return self.fail(it.pos, format!("{{{{{kw}}}}} outside {{{{range}}}}"));
                }
                let t = self.next_non_space();
                if t.tok != Tok::RightDelim {
                    return self.unexpected(&t, &format!("{{{{{kw}}}}}"));
                }
                Ok(Ok(if kw == "break" {
                    Node::Break
                } else {
                    Node::Continue
                }))
            }
            Tok::Keyword("else") => {
                let t = self.peek_non_space();
                match t.tok {
                    Tok::Keyword("if") => Ok(Err(End::Else(it.pos, Some("if")))),
                    Tok::Keyword("with") => Ok(Err(End::Else(it.pos, Some("with")))),
                    _ => {
                        let t = self.next_non_space();
                        if t.tok != Tok::RightDelim {
                            return self.unexpected(&t, "else");
                        }
                        Ok(Err(End::Else(it.pos, None)))
                    }
                }
            }
            Tok::Keyword("end") => {
                let t = self.next_non_space();
                if t.tok != Tok::RightDelim {
                    return self.unexpected(&t, "end");
                }
                Ok(Err(End::Close(it.pos)))
            }
            Tok::Keyword("if") => self.control("if", it.pos).map(|c| Ok(Node::If(c))),
            Tok::Keyword("range") => self.control("range", it.pos).map(|c| Ok(Node::Range(c))),
            Tok::Keyword("with") => self.control("with", it.pos).map(|c| Ok(Node::With(c))),
            Tok::Keyword("template") => self.template_call().map(Ok),
            _ => {
                self.i -= 1;
                let pipe = self.pipeline("command", true)?;
                Ok(Ok(Node::Action(pipe)))
            }
        }
    }

    fn block(&mut self, pos: usize) -> PResult<Node> {
        let it = self.next_non_space();
        let name = match &it.tok {
            Tok::Str(_, v) => v.clone(),
            _ => return self.unexpected(&it, "block clause"),
        };
        let pipe = self.pipeline("block", true)?;
        self.enter(pos)?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        self.vars = saved;
        self.range_depth = saved_range;
        self.depth -= 1;
        match end {
            End::Close(_) => {}
            End::Else(p, _) => return self.fail(p, "unexpected {{else}}"),
            End::Eof => return self.fail(pos, "unexpected EOF"),
        }
        self.add_def(name.clone(), list);
        Ok(Node::Template {
            pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_call(&mut self) -> PResult<Node> {
        let it = self.next_non_space();
        let name = match &it.tok {
            Tok::Str(_, v) => v.clone(),
            _ => return self.unexpected(&it, "template clause"),
        };
        let pipe = if self.peek_non_space().tok == Tok::RightDelim {
            self.next_non_space();
            None
        } else {
            Some(self.pipeline("template", true)?)
        };
        Ok(Node::Template {
            pos: it.pos,
            name,
            pipe,
        })
    }

    fn control(&mut self, context: &'static str, pos: usize) -> PResult<Control> {
        self.enter(pos)?;
        let mark = self.vars.len();
        let pipe = self.pipeline(context, true)?;
        if pipe.cmds.is_empty() {
            return self.fail(pos, format!("missing value for {context}"));
        }
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            End::Close(_) => None,
            End::Eof => return self.fail(pos, format!("unexpected EOF in {context}")),
            End::Else(epos, chained) => match chained {
                Some(kw) if kw == context && context != "range" => {
                    // `{{else if ...}}`: a nested control sharing our `{{end}}`.
                    let t = self.next_non_space();
                    let inner = self.control(kw, t.pos)?;
                    Some(vec![if kw == "if" {
                        Node::If(inner)
                    } else {
                        Node::With(inner)
                    }])
                }
                Some(kw) => {
                    return self.fail(epos, format!("unexpected {{{{else {kw}}}}} in {context}"));
                }
                None => {
                    let (else_list, end) = self.item_list()?;
                    match end {
                        End::Close(_) => Some(else_list),
                        End::Else(p, _) => {
                            return self.fail(p, "expected end; found {{else}}");
                        }
                        End::Eof => {
                            return self.fail(pos, format!("unexpected EOF in {context}"));
                        }
                    }
                }
            },
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(Control {
            pipe,
            list,
            else_list,
        })
    }

    /// A pipeline up to `}}` (`delim`) or `)`.
    fn pipeline(&mut self, context: &str, delim: bool) -> PResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations: `$x :=`, `$x =`, `$i, $v :=` (range only).
        if let Tok::Variable(name) = &start.tok {
            let save = self.i;
            self.next_non_space();
            let t = self.peek_non_space();
            match t.tok {
                Tok::Declare | Tok::Assign => {
                    self.next_non_space();
                    pipe.is_assign = t.tok == Tok::Assign;
                    pipe.decl.push(name.clone());
                    if pipe.is_assign {
                        if !self.vars.contains(name) {
                            return self.fail(start.pos, format!("undefined variable {name:?}"));
                        }
                    } else {
                        self.vars.push(name.clone());
                    }
                }
                Tok::Comma => {
                    self.next_non_space();
                    if context != "range" {
                        return self.fail(t.pos, format!("too many declarations in {context}"));
                    }
                    let v2 = self.next_non_space();
                    let Tok::Variable(name2) = &v2.tok else {
                        return self.fail(v2.pos, "range can only initialize variables");
                    };
                    let op = self.next_non_space();
                    if !matches!(op.tok, Tok::Declare | Tok::Assign) {
                        return self.unexpected(&op, "range declaration");
                    }
                    pipe.is_assign = op.tok == Tok::Assign;
                    pipe.decl.push(name.clone());
                    pipe.decl.push(name2.clone());
                    for n in [name.clone(), name2.clone()] {
                        if pipe.is_assign {
                            if !self.vars.contains(&n) {
                                return self.fail(start.pos, format!("undefined variable {n:?}"));
                            }
                        } else {
                            self.vars.push(n);
                        }
                    }
                }
                _ => self.i = save,
            }
        }
        loop {
            let t = self.next_non_space();
            match t.tok {
                Tok::RightDelim if delim => break,
                Tok::RightParen if !delim => break,
                Tok::Bool(_)
                | Tok::Char(_)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Identifier(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::Str(..)
                | Tok::Variable(_)
                | Tok::LeftParen => {
                    self.i -= 1;
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&t, context),
            }
        }
        if pipe.cmds.is_empty() {
            return self.fail(start.pos, format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(c.args[0], Arg::Const(..) | Arg::Dot(_) | Arg::Nil(_)) {
                return self.fail(
                    c.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                );
            }
        }
        Ok(pipe)
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let t = self.next();
            match t.tok {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => {
                    self.i -= 1;
                }
                Tok::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.fail(pos, "empty command");
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if !matches!(self.peek().tok, Tok::Field(_)) {
            return Ok(Some(term));
        }
        let mut chain = Vec::new();
        while let Tok::Field(f) = &self.peek().tok {
            chain.push(f.clone());
            self.next();
        }
        Ok(Some(match term {
            Arg::Field(p, mut c) => {
                c.extend(chain);
                Arg::Field(p, c)
            }
            Arg::Variable(p, n, mut c) => {
                c.extend(chain);
                Arg::Variable(p, n, c)
            }
            Arg::Const(p, ..) | Arg::Dot(p) | Arg::Nil(p) => {
                return self.fail(p, format!("unexpected . after term {:?}", term.to_string()));
            }
            other => Arg::Chain(other.pos(), Box::new(other), chain),
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        Ok(Some(match t.tok {
            Tok::Identifier(name) => {
                if !(self.is_func)(&name) {
                    return self.fail(t.pos, format!("function {name:?} not defined"));
                }
                Arg::Identifier(t.pos, name)
            }
            Tok::Dot => Arg::Dot(t.pos),
            Tok::Nil => Arg::Nil(t.pos),
            Tok::Variable(name) => {
                if !self.vars.contains(&name) {
                    return self.fail(t.pos, format!("undefined variable {name:?}"));
                }
                Arg::Variable(t.pos, name, Vec::new())
            }
            Tok::Field(f) => Arg::Field(t.pos, vec![f]),
            Tok::Bool(b) => Arg::Const(t.pos, Value::Bool(b), b.to_string()),
            Tok::Number(text) => {
                let v = number(&text).map_err(|msg| ParseError { msg, pos: t.pos })?;
                Arg::Const(t.pos, v, text)
            }
            Tok::Char(text) => {
                let inner = &text[1..text.len() - 1];
                let s = unquote(inner, '\'').map_err(|msg| ParseError { msg, pos: t.pos })?;
                let mut cs = s.chars();
                let (Some(c), None) = (cs.next(), cs.next()) else {
                    return self.fail(t.pos, format!("malformed character constant: {text}"));
                };
                Arg::Const(t.pos, Value::Int(i64::from(u32::from(c))), text)
            }
            Tok::Str(raw, v) => Arg::Const(t.pos, Value::String(v), raw),
            Tok::LeftParen => {
                self.enter(t.pos)?;
                let p = self.pipeline("parenthesized pipeline", false)?;
                self.depth -= 1;
                Arg::Pipe(t.pos, Box::new(p))
            }
            _ => {
                self.i -= 1;
                return Ok(None);
            }
        }))
    }
}

/// A number literal's value: an `int` unless it has a fraction or exponent (`float64`).
fn number(text: &str) -> Result<Value, String> {
    let bad = || format!("illegal number syntax: {text:?}");
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, &clean[..]),
    };
    let lower = body.to_ascii_lowercase();
    let radix_int = |digits: &str, radix: u32| {
        let v = i128::from_str_radix(digits, radix).map_err(|_| bad())?;
        let v = if neg { -v } else { v };
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| format!("number out of range: {text}"))
    };
    if let Some(h) = lower.strip_prefix("0x") {
        return radix_int(h, 16);
    }
    if let Some(o) = lower.strip_prefix("0o") {
        return radix_int(o, 8);
    }
    if let Some(b) = lower.strip_prefix("0b") {
        return radix_int(b, 2);
    }
    if lower.contains(['.', 'e']) {
        let f: f64 = body.parse().map_err(|_| bad())?;
        return Ok(Value::Float(if neg { -f } else { f }));
    }
    if body.len() > 1 && body.starts_with('0') {
        // Go reads a leading zero as octal.
        return radix_int(&body[1..], 8);
    }
    radix_int(body, 10)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Text(s) => format!("{s:?}"),
        Tok::LeftDelim => "\"{{\"".into(),
        Tok::RightDelim => "\"}}\"".into(),
        Tok::Space => "space".into(),
        Tok::Identifier(s) | Tok::Number(s) | Tok::Char(s) | Tok::Variable(s) => {
            format!("{s:?}")
        }
        Tok::Field(s) => format!("\".{s}\""),
        Tok::Dot => "\".\"".into(),
        Tok::Str(raw, _) => raw.clone(),
        Tok::Bool(b) => format!("\"{b}\""),
        Tok::Nil => "\"nil\"".into(),
        Tok::Pipe => "\"|\"".into(),
        Tok::LeftParen => "\"(\"".into(),
        Tok::RightParen => "\")\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Keyword(k) => format!("<{k}>"),
        Tok::Eof => "EOF".into(),
    }
}
