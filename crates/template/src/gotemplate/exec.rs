//! The executor: walks the parsed tree over the data, following Go's `text/template/exec.go`
//! with the option `missingkey=error`, under an output cap, a step budget and a depth limit.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Limits;
use super::funcs::{self, Ctx, FuncError};
use super::parse::{Arg, Command, Control, Node, Pipe, Tree};
use super::value::{Bounded, Overflow, Value, write_value};

/// Why execution stopped.
#[derive(Debug)]
pub(crate) enum Stop {
    /// An error at a node: position, node text, message, template being executed.
    At {
        pos: usize,
        context: String,
        msg: String,
        template: String,
    },
    /// The output grew past the cap.
    Overflow,
}

type R<T> = Result<T, Stop>;

enum Flow {
    Normal,
    Break,
    Continue,
}

pub(crate) struct Exec<'a> {
    pub(crate) tree: &'a Tree,
    pub(crate) limits: Limits,
    pub(crate) out: Bounded,
    vars: Vec<(String, Value)>,
    steps: u64,
    depth: usize,
    name: String,
    ctx: Ctx,
}

impl<'a> Exec<'a> {
    pub(crate) fn new(tree: &'a Tree, name: &str, limits: Limits) -> Self {
        Self {
            tree,
            limits,
            out: Bounded::new(limits.max_output),
            vars: Vec::new(),
            steps: 0,
            depth: 0,
            name: name.to_string(),
            ctx: Ctx {
                max_len: limits.max_output,
                ..Ctx::default()
            },
        }
    }

    pub(crate) fn run(&mut self, data: &Value) -> R<()> {
        self.vars.push(("$".to_string(), data.clone()));
        let root = &self.tree.root;
        self.walk_list(data, root)?;
        Ok(())
    }

    fn err<T>(&self, pos: usize, context: impl ToString, msg: impl Into<String>) -> R<T> {
        let mut context = context.to_string();
        if context.chars().count() > 20 {
            context = format!("{}...", context.chars().take(20).collect::<String>());
        }
        Err(Stop::At {
            pos,
            context,
            msg: msg.into(),
            template: self.name.clone(),
        })
    }

    fn step(&mut self, pos: usize, context: &dyn std::fmt::Display) -> R<()> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return self.err(
                pos,
                context,
                format!(
                    "exceeded the limit of {} evaluation steps",
                    self.limits.max_steps
                ),
            );
        }
        Ok(())
    }

    fn charge(&mut self, pos: usize, context: &dyn std::fmt::Display, n: u64) -> R<()> {
        self.steps += n;
        self.step(pos, context)
    }

    /// Enters a nested construct (control structure, template call, parenthesized pipeline).
    fn enter(&mut self, pos: usize, context: &dyn std::fmt::Display) -> R<()> {
        if self.depth >= self.limits.max_depth {
            return self.err(
                pos,
                context,
                format!(
                    "exceeded maximum template depth ({})",
                    self.limits.max_depth
                ),
            );
        }
        self.depth += 1;
        Ok(())
    }

    fn write(&mut self, s: &str) -> R<()> {
        self.out.push_str(s).map_err(|Overflow| Stop::Overflow)
    }

    fn walk_list(&mut self, dot: &Value, list: &'a [Node]) -> R<Flow> {
        for n in list {
            match self.walk(dot, n)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Value, node: &'a Node) -> R<Flow> {
        match node {
            Node::Text(t) => {
                self.write(t)?;
            }
            Node::Action(pipe) => {
                self.step(pipe.pos, pipe)?;
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.print_value(&v)?;
                }
            }
            Node::If(c) => return self.walk_if_or_with(dot, c, false),
            Node::With(c) => return self.walk_if_or_with(dot, c, true),
            Node::Range(c) => return self.walk_range(dot, c),
            Node::Template { pos, name, pipe } => self.walk_template(dot, *pos, name, pipe)?,
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn print_value(&mut self, v: &Value) -> R<()> {
        match v {
            Value::Nil => self.write("<no value>"),
            Value::String(s) => self.write(s),
            v => write_value(&mut self.out, v).map_err(|Overflow| Stop::Overflow),
        }
    }

    fn walk_if_or_with(&mut self, dot: &Value, c: &'a Control, with: bool) -> R<Flow> {
        self.step(c.pipe.pos, &c.pipe)?;
        self.enter(c.pipe.pos, &c.pipe)?;
        let mark = self.vars.len();
        let v = self.eval_pipeline(dot, &c.pipe)?;
        let flow = if v.truth() {
            if with {
                self.walk_list(&v, &c.list)?
            } else {
                self.walk_list(dot, &c.list)?
            }
        } else if let Some(e) = &c.else_list {
            self.walk_list(dot, e)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &Value, c: &'a Control) -> R<Flow> {
        self.step(c.pipe.pos, &c.pipe)?;
        self.enter(c.pipe.pos, &c.pipe)?;
        let r = self.walk_range_inner(dot, c);
        self.depth -= 1;
        r
    }

    fn walk_range_inner(&mut self, dot: &Value, c: &'a Control) -> R<Flow> {
        let mark = self.vars.len();
        let v = self.eval_pipeline(dot, &c.pipe)?;
        let items: Vec<(Value, Value)> = match &v {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, x)| (Value::Int(i as i64), x.clone()))
                .collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, x)| (Value::String(k.clone()), x.clone()))
                .collect(),
            Value::Int(n) => {
                if *n > self.limits.max_steps as i64 {
                    return self.err(
                        c.pipe.pos,
                        &c.pipe,
                        format!(
                            "exceeded the limit of {} evaluation steps",
                            self.limits.max_steps
                        ),
                    );
                }
                (0..*n.max(&0))
                    .map(|i| (Value::Int(i), Value::Int(i)))
                    .collect()
            }
            Value::Nil => Vec::new(),
            other => {
                let shown = funcs::sprint(other, 64).unwrap_or_default();
                return self.err(
                    c.pipe.pos,
                    &c.pipe,
                    format!("range can't iterate over {shown}"),
                );
            }
        };
        if items.is_empty() {
            let flow = match &c.else_list {
                Some(e) => self.walk_list(dot, e)?,
                None => Flow::Normal,
            };
            self.vars.truncate(mark);
            return Ok(match flow {
                Flow::Normal => Flow::Normal,
                // break/continue in a range's else belong to an outer range.
                f => f,
            });
        }
        let is_int_range = matches!(v, Value::Int(_));
        for (key, elem) in items {
            self.step(c.pipe.pos, &c.pipe)?;
            let n = c.pipe.decl.len();
            if n > 0 {
                let (first, second) = if n == 1 && is_int_range {
                    (key.clone(), None)
                } else if n == 1 {
                    (elem.clone(), None)
                } else {
                    (key.clone(), Some(elem.clone()))
                };
                if c.pipe.is_assign {
                    self.set_var(c.pipe.pos, &c.pipe.decl[0], first)?;
                    if let Some(s) = second {
                        self.set_var(c.pipe.pos, &c.pipe.decl[1], s)?;
                    }
                } else {
                    let len = self.vars.len();
                    match second {
                        None => self.vars[len - 1].1 = first,
                        Some(s) => {
                            self.vars[len - 2].1 = first;
                            self.vars[len - 1].1 = s;
                        }
                    }
                }
            }
            let inner = self.vars.len();
            let flow = self.walk_list(&elem, &c.list)?;
            self.vars.truncate(inner);
            if let Flow::Break = flow {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn walk_template(
        &mut self,
        dot: &Value,
        pos: usize,
        name: &str,
        pipe: &'a Option<Pipe>,
    ) -> R<()> {
        let context = format!("{{{{template {name:?}}}}}");
        self.step(pos, &context)?;
        let tree = self.tree;
        let Some(body) = tree.defs.get(name) else {
            return self.err(pos, &context, format!("no such template {name:?}"));
        };
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Nil,
        };
        self.enter(pos, &context)?;
        let saved_vars =
            std::mem::replace(&mut self.vars, vec![("$".to_string(), new_dot.clone())]);
        let saved_name = std::mem::replace(&mut self.name, name.to_string());
        let r = self.walk_list(&new_dot, body);
        self.vars = saved_vars;
        self.name = saved_name;
        self.depth -= 1;
        r.map(|_| ())
    }

    fn set_var(&mut self, pos: usize, name: &str, v: Value) -> R<()> {
        for (n, slot) in self.vars.iter_mut().rev() {
            if n == name {
                *slot = v;
                return Ok(());
            }
        }
        self.err(pos, name, format!("undefined variable: {name}"))
    }

    fn var(&self, pos: usize, name: &str) -> R<Value> {
        for (n, v) in self.vars.iter().rev() {
            if n == name {
                return Ok(v.clone());
            }
        }
        self.err(pos, name, format!("undefined variable: {name}"))
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &'a Pipe) -> R<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or_default();
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(pipe.pos, name, value.clone())?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, cmd: &Command, final_: &Option<Value>) -> R<()> {
        if cmd.args.len() > 1 || final_.is_some() {
            return self.err(
                cmd.pos,
                cmd,
                format!("can't give argument to non-function {}", cmd.args[0]),
            );
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &'a Command, final_: Option<Value>) -> R<Value> {
        self.step(cmd.pos, cmd)?;
        let first = &cmd.args[0];
        match first {
            Arg::Field(pos, chain) => {
                let has_args = cmd.args.len() > 1 || final_.is_some();
                self.eval_field_chain(dot.clone(), *pos, first, chain, has_args)
            }
            Arg::Variable(pos, name, chain) => {
                let v = self.var(*pos, name)?;
                if chain.is_empty() {
                    self.not_a_function(cmd, &final_)?;
                    return Ok(v);
                }
                let has_args = cmd.args.len() > 1 || final_.is_some();
                self.eval_field_chain(v, *pos, first, chain, has_args)
            }
            Arg::Chain(pos, inner, chain) => {
                if matches!(**inner, Arg::Nil(_)) {
                    return self.err(
                        *pos,
                        first,
                        format!("indirection through explicit nil in {first}"),
                    );
                }
                let v = self.eval_arg(dot, inner)?;
                let has_args = cmd.args.len() > 1 || final_.is_some();
                self.eval_field_chain(v, *pos, first, chain, has_args)
            }
            Arg::Identifier(_, name) => self.eval_function(dot, name, cmd, final_),
            Arg::Pipe(pos, p) => {
                self.not_a_function(cmd, &final_)?;
                self.enter(*pos, first)?;
                let r = self.eval_pipeline(dot, p);
                self.depth -= 1;
                r
            }
            Arg::Dot(_) => {
                self.not_a_function(cmd, &final_)?;
                Ok(dot.clone())
            }
            Arg::Nil(pos) => self.err(*pos, first, "nil is not a command"),
            Arg::Const(_, v, _) => {
                self.not_a_function(cmd, &final_)?;
                Ok(v.clone())
            }
        }
    }

    fn eval_field_chain(
        &mut self,
        mut receiver: Value,
        pos: usize,
        node: &Arg,
        chain: &[String],
        has_args: bool,
    ) -> R<Value> {
        let n = chain.len();
        for (i, name) in chain.iter().enumerate() {
            receiver = self.eval_field(receiver, name, pos, node, has_args && i + 1 == n)?;
        }
        Ok(receiver)
    }

    fn eval_field(
        &mut self,
        receiver: Value,
        name: &str,
        pos: usize,
        node: &Arg,
        has_args: bool,
    ) -> R<Value> {
        match receiver {
            Value::Map(m) => {
                if has_args {
                    return self.err(
                        pos,
                        node,
                        format!("{name} is not a method but has arguments"),
                    );
                }
                match m.get(name) {
                    Some(v) => Ok(v.clone()),
                    None => self.err(pos, node, format!("map has no entry for key {name:?}")),
                }
            }
            Value::Nil => self.err(
                pos,
                node,
                format!("nil pointer evaluating interface {{}}.{name}"),
            ),
            other => self.err(
                pos,
                node,
                format!("can't evaluate field {name} in type {}", other.type_name()),
            ),
        }
    }

    fn eval_arg(&mut self, dot: &Value, arg: &'a Arg) -> R<Value> {
        match arg {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Value::Nil),
            Arg::Field(pos, chain) => self.eval_field_chain(dot.clone(), *pos, arg, chain, false),
            Arg::Variable(pos, name, chain) => {
                let v = self.var(*pos, name)?;
                self.eval_field_chain(v, *pos, arg, chain, false)
            }
            Arg::Pipe(pos, p) => {
                self.enter(*pos, arg)?;
                let r = self.eval_pipeline(dot, p);
                self.depth -= 1;
                r
            }
            Arg::Identifier(pos, name) => {
                let cmd = Command {
                    pos: *pos,
                    args: vec![arg.clone()],
                };
                self.eval_function_args(dot, name, &cmd, Vec::new(), *pos)
            }
            Arg::Chain(pos, inner, chain) => {
                if matches!(**inner, Arg::Nil(_)) {
                    return self.err(
                        *pos,
                        arg,
                        format!("indirection through explicit nil in {arg}"),
                    );
                }
                let v = self.eval_arg(dot, inner)?;
                self.eval_field_chain(v, *pos, arg, chain, false)
            }
            Arg::Const(_, v, _) => Ok(v.clone()),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        name: &str,
        cmd: &'a Command,
        final_: Option<Value>,
    ) -> R<Value> {
        let arg_nodes = &cmd.args[1..];
        // `and` and `or` evaluate their arguments only as far as needed.
        if name == "and" || name == "or" {
            let total = arg_nodes.len() + usize::from(final_.is_some());
            if total == 0 {
                return self.err(
                    cmd.pos,
                    cmd,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                );
            }
            let mut last = Value::Nil;
            for a in arg_nodes {
                last = self.eval_arg(dot, a)?;
                if last.truth() == (name == "or") {
                    return Ok(last);
                }
            }
            if let Some(f) = final_ {
                last = f;
            }
            return Ok(last);
        }
        let mut args = Vec::with_capacity(arg_nodes.len() + 1);
        for a in arg_nodes {
            args.push(self.eval_arg(dot, a)?);
        }
        if let Some(f) = final_ {
            args.push(f);
        }
        let result = self.eval_function_args(dot, name, cmd, args, cmd.pos)?;
        // sprig's `set` changes the map in place; values here are immutable, so the new map
        // is stored back into the variable (or variable field) it was read from.
        if name == "set"
            && let Some(Arg::Variable(pos, var, chain)) = arg_nodes.first()
        {
            let root = self.var(*pos, var)?;
            let updated = replace_path(&root, chain, result.clone());
            self.set_var(*pos, var, updated)?;
        }
        Ok(result)
    }

    fn eval_function_args(
        &mut self,
        _dot: &Value,
        name: &str,
        cmd: &Command,
        args: Vec<Value>,
        pos: usize,
    ) -> R<Value> {
        let Some(f) = funcs::lookup(name) else {
            return self.err(pos, cmd, format!("{name:?} is not a defined function"));
        };
        // Work proportional to the data handled counts against the step budget.
        let mut work = self.ctx.work.take();
        for a in &args {
            work += cost(a);
        }
        let r = f(&self.ctx, args);
        work += self.ctx.work.take();
        if let Ok(v) = &r {
            work += cost(v);
        }
        self.charge(pos, cmd, work / 64)?;
        match r {
            Ok(v) => Ok(v),
            Err(FuncError::Call(m)) => self.err(pos, cmd, format!("error calling {name}: {m}")),
            Err(FuncError::Arg(m)) => self.err(pos, cmd, m),
        }
    }
}

/// `root` with the value at `path` (map keys) replaced by `v`; unchanged when a step of
/// the path is not a map.
fn replace_path(root: &Value, path: &[String], v: Value) -> Value {
    let Some((first, rest)) = path.split_first() else {
        return v;
    };
    match root {
        Value::Map(m) => {
            let Some(child) = m.get(first) else {
                return root.clone();
            };
            let mut copy: BTreeMap<String, Value> = (**m).clone();
            copy.insert(first.clone(), replace_path(child, rest, v));
            Value::Map(Arc::new(copy))
        }
        _ => root.clone(),
    }
}

/// What handling a value costs beyond one step, in bytes or items.
fn cost(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.len() as u64,
        Value::List(l) => l.len() as u64,
        Value::Map(m) => m.len() as u64,
        _ => 0,
    }
}
