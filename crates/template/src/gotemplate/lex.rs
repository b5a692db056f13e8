//! The lexer: template text to items, following the rules of Go's `text/template/parse`
//! lexer (delimiters `{{ }}`, trim markers `{{- ` and ` -}}`, comments `{{/* */}}`).

/// What an item is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// Plain text outside actions (already trimmed by trim markers).
    Text(String),
    /// `{{`.
    LeftDelim,
    /// `}}`.
    RightDelim,
    /// Spaces inside an action.
    Space,
    /// A function name or other bare word.
    Identifier(String),
    /// `.name` (the name without the dot).
    Field(String),
    /// `$` or `$name` (with the dollar).
    Variable(String),
    /// `.` alone.
    Dot,
    /// A number literal, as written.
    Number(String),
    /// A character literal, as written (with quotes).
    Char(String),
    /// A quoted string literal, already unquoted.
    Str(String, String),
    /// `true` or `false`.
    Bool(bool),
    /// `nil`.
    Nil,
    /// `|`.
    Pipe,
    /// `(`.
    LeftParen,
    /// `)`.
    RightParen,
    /// `:=`.
    Declare,
    /// `=`.
    Assign,
    /// `,`.
    Comma,
    /// A keyword: block, break, continue, define, else, end, if, range, template, with.
    Keyword(&'static str),
    /// End of input.
    Eof,
}

/// One item and the byte offset where it starts.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) tok: Tok,
    pub(crate) pos: usize,
}

/// A lexing error: message and byte offset.
#[derive(Debug)]
pub(crate) struct LexError {
    pub(crate) msg: String,
    pub(crate) pos: usize,
}

const KEYWORDS: [&str; 10] = [
    "block", "break", "continue", "define", "else", "end", "if", "range", "template", "with",
];

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn has_left_trim(s: &[u8]) -> bool {
    s.len() >= 2 && s[0] == b'-' && is_space(s[1])
}

fn has_right_trim(s: &[u8]) -> bool {
    s.len() >= 2 && is_space(s[0]) && s[1] == b'-'
}

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    items: Vec<Item>,
    paren_depth: usize,
}

/// Splits `src` into items.
pub(crate) fn lex(src: &str) -> Result<Vec<Item>, LexError> {
    let mut l = Lexer {
        src,
        b: src.as_bytes(),
        pos: 0,
        items: Vec::new(),
        paren_depth: 0,
    };
    l.run()?;
    Ok(l.items)
}

impl Lexer<'_> {
    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> Result<T, LexError> {
        Err(LexError {
            msg: msg.into(),
            pos,
        })
    }

    fn emit(&mut self, tok: Tok, pos: usize) {
        self.items.push(Item { tok, pos });
    }

    fn rest(&self) -> &[u8] {
        &self.b[self.pos..]
    }

    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    /// (is at right delimiter, with trim marker)
    fn at_right_delim(&self) -> (bool, bool) {
        let r = self.rest();
        if has_right_trim(r) && r[2..].starts_with(b"}}") {
            return (true, true);
        }
        (r.starts_with(b"}}"), false)
    }

    fn run(&mut self) -> Result<(), LexError> {
        loop {
            // Text up to the next left delimiter.
            let start = self.pos;
            let Some(off) = self.src[self.pos..].find("{{") else {
                if start < self.b.len() {
                    self.emit(Tok::Text(self.src[start..].to_string()), start);
                }
                self.emit(Tok::Eof, self.b.len());
                return Ok(());
            };
            let delim = start + off;
            let trim = has_left_trim(&self.b[delim + 2..]);
            let mut text_end = delim;
            if trim {
                while text_end > start && is_space(self.b[text_end - 1]) {
                    text_end -= 1;
                }
            }
            if text_end > start {
                self.emit(Tok::Text(self.src[start..text_end].to_string()), start);
            }
            self.pos = delim + 2;
            if trim {
                self.pos += 2;
            }
            if self.rest().starts_with(b"/*") {
                self.comment(delim)?;
                continue;
            }
            self.emit(Tok::LeftDelim, delim);
            self.inside_action()?;
        }
    }

    fn skip_leading_space(&mut self) {
        while self.pos < self.b.len() && is_space(self.b[self.pos]) {
            self.pos += 1;
        }
    }

    fn comment(&mut self, delim: usize) -> Result<(), LexError> {
        let Some(end) = self.src[self.pos + 2..].find("*/") else {
            return self.err(delim, "unclosed comment");
        };
        self.pos = self.pos + 2 + end + 2;
        let (at, trim) = self.at_right_delim();
        if !at {
            return self.err(delim, "comment ends before closing delimiter");
        }
        self.pos += if trim { 4 } else { 2 };
        if trim {
            self.skip_leading_space();
        }
        Ok(())
    }

    fn inside_action(&mut self) -> Result<(), LexError> {
        loop {
            let (at, trim) = self.at_right_delim();
            if at {
                if self.paren_depth > 0 {
                    return self.err(self.pos, "unclosed left paren");
                }
                self.emit(Tok::RightDelim, self.pos + if trim { 2 } else { 0 });
                self.pos += if trim { 4 } else { 2 };
                if trim {
                    self.skip_leading_space();
                }
                return Ok(());
            }
            let start = self.pos;
            let Some(c) = self.peek_char() else {
                return self.err(start, "unclosed action");
            };
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    let mut n = 0;
                    while self.pos < self.b.len() && is_space(self.b[self.pos]) {
                        self.pos += 1;
                        n += 1;
                    }
                    // A space followed by "-}}" belongs to the trim marker.
                    if has_right_trim(&self.b[self.pos - 1..])
                        && self.b[self.pos + 1..].starts_with(b"}}")
                    {
                        self.pos -= 1;
                        if n == 1 {
                            continue;
                        }
                    }
                    self.emit(Tok::Space, start);
                }
                '=' => {
                    self.pos += 1;
                    self.emit(Tok::Assign, start);
                }
                ':' => {
                    if self.rest().starts_with(b":=") {
                        self.pos += 2;
                        self.emit(Tok::Declare, start);
                    } else {
                        return self.err(start, "expected :=");
                    }
                }
                '|' => {
                    self.pos += 1;
                    self.emit(Tok::Pipe, start);
                }
                ',' => {
                    self.pos += 1;
                    self.emit(Tok::Comma, start);
                }
                '"' => self.quote()?,
                '`' => self.raw_quote()?,
                '\'' => self.char_lit()?,
                '$' => {
                    self.pos += 1;
                    let name = self.word();
                    self.emit(Tok::Variable(format!("${name}")), start);
                    self.check_terminator()?;
                }
                '.' => {
                    if self.b.get(self.pos + 1).is_some_and(u8::is_ascii_digit) {
                        self.number()?;
                    } else {
                        self.pos += 1;
                        let name = self.word();
                        if name.is_empty() {
                            self.emit(Tok::Dot, start);
                        } else {
                            self.emit(Tok::Field(name), start);
                        }
                        self.check_terminator()?;
                    }
                }
                '+' | '-' | '0'..='9' => self.number()?,
                '(' => {
                    self.pos += 1;
                    self.paren_depth += 1;
                    self.emit(Tok::LeftParen, start);
                }
                ')' => {
                    if self.paren_depth == 0 {
                        return self.err(start, "unexpected right paren");
                    }
                    self.pos += 1;
                    self.paren_depth -= 1;
                    self.emit(Tok::RightParen, start);
                }
                c if is_alnum(c) => {
                    let w = self.word();
                    self.check_terminator()?;
                    let tok = match w.as_str() {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        _ => match KEYWORDS.iter().find(|k| **k == w) {
                            Some(k) => Tok::Keyword(k),
                            None => Tok::Identifier(w),
                        },
                    };
                    self.emit(tok, start);
                }
                c => {
                    return self.err(
                        start,
                        format!(
                            "unrecognized character in action: U+{:04X} {:?}",
                            c as u32, c
                        ),
                    );
                }
            }
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek_char() {
            if !is_alnum(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        self.src[start..self.pos].to_string()
    }

    fn check_terminator(&self) -> Result<(), LexError> {
        let Some(c) = self.peek_char() else {
            return Ok(());
        };
        if matches!(
            c,
            ' ' | '\t' | '\r' | '\n' | '.' | ',' | '|' | ':' | ')' | '('
        ) || self.at_right_delim().0
        {
            return Ok(());
        }
        self.err(
            self.pos,
            format!("bad character U+{:04X} {:?}", c as u32, c),
        )
    }

    fn number(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        if matches!(self.b.get(self.pos), Some(b'+' | b'-')) {
            self.pos += 1;
        }
        let digits_of = |b: u8, radix: u32| (b as char).is_digit(radix) || b == b'_';
        let mut radix = 10;
        if self.b.get(self.pos) == Some(&b'0') {
            match self.b.get(self.pos + 1) {
                Some(b'x' | b'X') => radix = 16,
                Some(b'o' | b'O') => radix = 8,
                Some(b'b' | b'B') => radix = 2,
                _ => {}
            }
            if radix != 10 {
                self.pos += 2;
            }
        }
        while self.pos < self.b.len() && digits_of(self.b[self.pos], radix) {
            self.pos += 1;
        }
        if radix == 10 {
            if self.b.get(self.pos) == Some(&b'.') {
                self.pos += 1;
                while self.pos < self.b.len() && digits_of(self.b[self.pos], 10) {
                    self.pos += 1;
                }
            }
            if matches!(self.b.get(self.pos), Some(b'e' | b'E')) {
                self.pos += 1;
                if matches!(self.b.get(self.pos), Some(b'+' | b'-')) {
                    self.pos += 1;
                }
                while self.pos < self.b.len() && digits_of(self.b[self.pos], 10) {
                    self.pos += 1;
                }
            }
        }
        let text = &self.src[start..self.pos];
        if self.peek_char().is_some_and(is_alnum) || text == "+" || text == "-" {
            let end = self.src[self.pos..]
                .find(|c: char| !is_alnum(c))
                .map_or(self.src.len(), |e| self.pos + e);
            return self.err(
                start,
                format!("bad number syntax: {:?}", &self.src[start..end]),
            );
        }
        self.emit(Tok::Number(text.to_string()), start);
        Ok(())
    }

    fn quote(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.b.get(self.pos) {
                None | Some(b'\n') => return self.err(start, "unterminated quoted string"),
                Some(b'\\') => {
                    self.pos += 1;
                    match self.b.get(self.pos) {
                        None | Some(b'\n') => {
                            return self.err(start, "unterminated quoted string");
                        }
                        Some(_) => {
                            let c = self.peek_char().unwrap_or(' ');
                            self.pos += c.len_utf8();
                        }
                    }
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => {
                    let c = self.peek_char().unwrap_or(' ');
                    self.pos += c.len_utf8();
                }
            }
        }
        let raw = &self.src[start..self.pos];
        let value =
            unquote(&raw[1..raw.len() - 1], '"').map_err(|m| LexError { msg: m, pos: start })?;
        self.emit(Tok::Str(raw.to_string(), value), start);
        Ok(())
    }

    fn raw_quote(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        let Some(end) = self.src[start + 1..].find('`') else {
            return self.err(start, "unterminated raw quoted string");
        };
        self.pos = start + 1 + end + 1;
        let raw = &self.src[start..self.pos];
        let value = raw[1..raw.len() - 1].replace('\r', "");
        self.emit(Tok::Str(raw.to_string(), value), start);
        Ok(())
    }

    fn char_lit(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.b.get(self.pos) {
                None | Some(b'\n') => return self.err(start, "unterminated character constant"),
                Some(b'\\') => {
                    self.pos += 1;
                    if let Some(c) = self.peek_char() {
                        self.pos += c.len_utf8();
                    }
                }
                Some(b'\'') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => {
                    let c = self.peek_char().unwrap_or(' ');
                    self.pos += c.len_utf8();
                }
            }
        }
        self.emit(Tok::Char(self.src[start..self.pos].to_string()), start);
        Ok(())
    }
}

/// Go's escape sequences inside a quoted literal (without its quotes).
pub(crate) fn unquote(s: &str, quote: char) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    let bad = || format!("invalid syntax: {quote}{s}{quote}");
    while let Some(c) = chars.next() {
        if c != '\\' {
            if c == quote {
                return Err(bad());
            }
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            return Err(bad());
        };
        let hex = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize| {
            let mut v: u32 = 0;
            for _ in 0..n {
                let d = chars.next().and_then(|c| c.to_digit(16)).ok_or_else(bad)?;
                v = v * 16 + d;
            }
            Ok::<u32, String>(v)
        };
        match e {
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '\\' => out.push('\\'),
            '\'' if quote == '\'' => out.push('\''),
            '"' if quote == '"' => out.push('"'),
            'x' => {
                let v = hex(&mut chars, 2)?;
                // Go allows arbitrary bytes; only ASCII survives as UTF-8 here.
                out.push(char::from_u32(v).filter(|_| v < 0x80).unwrap_or('\u{fffd}'));
            }
            'u' => out.push(char::from_u32(hex(&mut chars, 4)?).ok_or_else(bad)?),
            'U' => out.push(char::from_u32(hex(&mut chars, 8)?).ok_or_else(bad)?),
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    let d = chars.next().and_then(|c| c.to_digit(8)).ok_or_else(bad)?;
                    v = v * 8 + d;
                }
                if v > 255 {
                    return Err(bad());
                }
                out.push(char::from_u32(v).filter(|_| v < 0x80).unwrap_or('\u{fffd}'));
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}
