//! A Go `text/template` engine, with the function map Tinkerbell gives workflow templates.
//!
//! Why not a crate: the Rust ports of `text/template` (`gtmpl`, last released 2021, lacks
//! `html`/`js` and a stable `printf`; `gotmpl`, young and single-maintainer) have their own
//! value types and no way to bound a render; Tinkerbell renders user-supplied templates, so
//! this engine must cap the output (256 KiB, as Tinkerbell does), bound the work
//! ([`Limits::max_steps`]) and the nesting ([`Limits::max_depth`]) so that no template can
//! hang the service or overflow its stack, and it must carry the Sprig and Tinkerbell
//! functions. Writing the engine was simpler than adapting one.
//!
//! What it is: the lexer (the rules of Go's `text/template/parse`: `{{ }}`,
//! `{{- ` / ` -}}`, `{{/* */}}`), the parser (actions, pipelines, variables, `if`/`else
//! if`/`range`/`with`/`define`/`template`/`block`/`break`/`continue`) and the executor with
//! Go's semantics under `missingkey=error`: truthiness, `%v` printing (`map[k:v]`,
//! `[a b]`, `<no value>` for nil), errors as `template: NAME:LINE:COL: executing "NAME" at
//! <NODE>: MESSAGE` (the column is Go's: a 0-based byte offset in the line).
//!
//! What it is not: there are no methods, function values or typed Go structs; data is a
//! [`Value`] (JSON's kinds). Hence struct printing (`{a b}`), `call`, complex numbers,
//! unsigned integers, hexadecimal floats (`%x` of a float) and custom delimiters are not
//! supported. Parse errors carry a column too (Go's give only a line).
//!
//! Start at [`Template::parse`] and [`Template::execute`], or [`render`].

mod exec;
mod funcs;
mod lex;
mod parse;
mod printf;
mod value;

pub use value::Value;

use exec::{Exec, Stop};

/// Bounds on one execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes of output; also the longest string a function may build.
    pub max_output: usize,
    /// Most evaluation steps (actions, commands, loop iterations; functions that handle
    /// large data count more).
    pub max_steps: u64,
    /// Deepest nesting of control structures, template calls and parenthesized pipelines
    /// while executing.
    pub max_depth: usize,
}

/// Tinkerbell's output cap: 256 KiB.
pub const MAX_OUTPUT: usize = 256 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_output: MAX_OUTPUT,
            max_steps: 1_000_000,
            max_depth: 64,
        }
    }
}

/// A template could not be parsed or executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not a valid template.
    #[error("template: {name}:{line}:{col}: {message}")]
    Parse {
        /// Name of the template.
        name: String,
        /// 1-based line.
        line: usize,
        /// 0-based byte offset in the line (as Go counts).
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// Execution failed at a node.
    #[error("template: {name}:{line}:{col}: executing {template:?} at <{context}>: {message}")]
    Exec {
        /// Name of the parsed template (where the line and column point).
        name: String,
        /// 1-based line.
        line: usize,
        /// 0-based byte offset in the line.
        col: usize,
        /// The (possibly `define`d) template being executed.
        template: String,
        /// The node being evaluated, as written (cut at 20 characters).
        context: String,
        /// What failed.
        message: String,
    },
    /// The output grew past the cap.
    #[error("rendered template exceeds {limit} bytes")]
    OutputTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
}

/// A parsed template, ready to execute any number of times.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    src: String,
    tree: parse::Tree,
}

fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let before = &src.as_bytes()[..pos];
    let line = 1 + before.iter().filter(|b| **b == b'\n').count();
    let col = match before.iter().rposition(|b| *b == b'\n') {
        Some(nl) => pos - nl - 1,
        None => pos,
    };
    (line, col)
}

impl Template {
    /// Parses `text` as the template `name`.
    pub fn parse(name: &str, text: &str) -> Result<Self, Error> {
        let perr = |pos: usize, message: String| {
            let (line, col) = line_col(text, pos);
            Error::Parse {
                name: name.to_string(),
                line,
                col,
                message,
            }
        };
        let items = lex::lex(text).map_err(|e| perr(e.pos, e.msg))?;
        let tree = parse::parse(items, &funcs::is_defined).map_err(|e| perr(e.pos, e.msg))?;
        Ok(Self {
            name: name.to_string(),
            src: text.to_string(),
            tree,
        })
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs the template over `data` with the default [`Limits`].
    pub fn execute(&self, data: &Value) -> Result<String, Error> {
        self.execute_with(data, Limits::default())
    }

    /// Runs the template over `data` within `limits`.
    pub fn execute_with(&self, data: &Value, limits: Limits) -> Result<String, Error> {
        let mut exec = Exec::new(&self.tree, &self.name, limits);
        match exec.run(data) {
            Ok(()) => Ok(exec.out.buf),
            Err(Stop::Overflow) => Err(Error::OutputTooLarge {
                limit: limits.max_output,
            }),
            Err(Stop::At {
                pos,
                context,
                msg,
                template,
            }) => {
                let (line, col) = line_col(&self.src, pos);
                Err(Error::Exec {
                    name: self.name.clone(),
                    line,
                    col,
                    template,
                    context,
                    message: msg,
                })
            }
        }
    }
}

/// Parses and runs `text` as the template `name` over `data`, with the default limits.
pub fn render(name: &str, text: &str, data: &Value) -> Result<String, Error> {
    Template::parse(name, text)?.execute(data)
}
