//! The field path (`spec.interfaces[0].dhcp.mac`) of a `serde_json` error, found from the
//! error's position in the text instead of by tracking the path during deserialization.
//!
//! [`crate::DynamicObject::to_typed`] is on every typed read of the store, so it
//! deserializes with plain `serde_json` and pays for a path only when the text is wrong.
//! The crate that tracks paths, `serde_path_to_error`, wraps the deserializer: every kind
//! read through it gets a second copy of its whole deserialization code (11.2 MB of the
//! release binary's 56.1 MB of code; without it the bootstrap plane's peak RSS went from 66
//! to 61 MiB), and every field costs more on every read (a typed read is 1.7× faster
//! without it: `cargo bench -p ironbell-model --bench to_typed`).
//!
//! Where `serde_json` puts an error, and so what path this finds: an error about a value
//! (wrong type, bad number, unknown variant) is placed right after that value, so the path
//! names its field; an error about an object or array as a whole (a missing field, a wrong
//! length, a failed check of the struct) right after its closing bracket, so the path names
//! the field that holds it; an unknown key right after the key, before its `:`, so the path
//! ends with that key. These are the paths `serde_path_to_error` gives (the
//! tests compare both on broken fixtures), written the same way: `.` for the root, fields
//! joined with `.`, array indexes as `[N]`.

use std::fmt::Write as _;

/// One open container on the way from the root to the error.
enum Frame {
    /// An object; `key` is the field whose value is being read (after its `:`).
    Object { key: Option<String> },
    /// An array at element `index`.
    Array { index: usize },
}

/// The path of the value that `error` (from deserializing `text`) is about; `.` when it is
/// the whole text or the error has no position.
pub(crate) fn of(text: &str, error: &serde_json::Error) -> String {
    match offset(text, error.line(), error.column()) {
        Some(at) => path(text.as_bytes(), at, &error.to_string()),
        None => ".".into(),
    }
}

/// The path of what an error placed at byte `at` of `text`, saying `message`, is about.
fn path(text: &[u8], at: usize, message: &str) -> String {
    if message.starts_with("trailing characters") {
        // A visitor left elements of an array (or object) unread: the error is placed on
        // the first of them, and it is about the container.
        let (mut stack, _) = frames_at(text, at.saturating_sub(1));
        stack.pop();
        return render(&stack);
    }
    let (mut stack, pending) = frames_at(text, at);
    // An error right after a key (before its `:`) is about that key (an unknown field),
    // unless the key is an enum's variant (`{"variant": ...}`), which is not a field.
    if !message.starts_with("unknown variant")
        && let (Some(key), Some(Frame::Object { key: open @ None })) = (pending, stack.last_mut())
    {
        *open = Some(key);
    }
    render(&stack)
}

/// The byte offset of a 1-based `line` and a `column` that counts the bytes before the
/// position on its line (what `serde_json` reports); `None` for line 0 (no position).
fn offset(text: &str, line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let start = if line == 1 {
        0
    } else {
        text.bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .nth(line - 2)
            .map(|(i, _)| i + 1)?
    };
    Some((start + column).min(text.len()))
}

/// The containers open at byte `end` of the JSON `text` and, in each, the field or element
/// being read; and a key read there whose `:` has not come yet.
fn frames_at(text: &[u8], end: usize) -> (Vec<Frame>, Option<String>) {
    let mut stack: Vec<Frame> = Vec::new();
    let mut pending: Option<String> = None;
    let end = end.min(text.len());
    let mut i = 0;
    while i < end {
        match text[i] {
            b'{' => stack.push(Frame::Object { key: None }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { key }) => *key = None,
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            b':' => {
                if let Some(Frame::Object { key }) = stack.last_mut() {
                    *key = pending.take();
                }
            }
            b'"' => {
                let close = string_end(text, i);
                if let Some(Frame::Object { key: None }) = stack.last() {
                    pending = Some(unescape(&text[i..close.min(text.len())]));
                }
                i = close;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    (stack, pending)
}

/// `spec.interfaces[0].dhcp`, or `.` for the root.
fn render(stack: &[Frame]) -> String {
    let mut out = String::new();
    for frame in stack {
        match frame {
            Frame::Object { key: Some(key) } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Frame::Object { key: None } => {}
            Frame::Array { index } => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
    if out.is_empty() { ".".into() } else { out }
}

/// The index just after the string that starts with the quote at `start`.
fn string_end(text: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    text.len()
}

/// A key's text from its quoted JSON form (escapes decoded; as it is if it does not parse).
fn unescape(quoted: &[u8]) -> String {
    serde_json::from_slice::<String>(quoted).unwrap_or_else(|_| {
        String::from_utf8_lossy(quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or(&[]))
            .into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The path of an error placed right after the first `marker` in `text`.
    fn after(text: &str, marker: &str, message: &str) -> String {
        let at = text.find(marker).expect("marker") + marker.len();
        path(text.as_bytes(), at, message)
    }

    #[test]
    fn paths_at_positions() {
        let t = r#"{"spec":{"a":[{"b":1},{"c":"x,}]"}],"d\"q":2},"e":{}}"#;
        let value = |marker| after(t, marker, "invalid type");
        assert_eq!(value(r#"{"spec":{"a":[{"b":1"#), "spec.a[0].b");
        assert_eq!(value(r#"{"c":"x,}]""#), "spec.a[1].c");
        assert_eq!(value(r#""x,}]"}"#), "spec.a[1]");
        assert_eq!(value(r#""x,}]"}]"#), "spec.a");
        assert_eq!(value(r#""d\"q""#), "spec.d\"q");
        assert_eq!(after(t, r#""d\"q""#, "unknown variant `d\"q`"), "spec");
        assert_eq!(value(r#""d\"q":2"#), "spec.d\"q");
        assert_eq!(value(r#""e":{}"#), "e");
        assert_eq!(value(r#""e":{}}"#), ".");
        // Placed on the first element left unread (`{"c"...`): about the array.
        assert_eq!(after(t, r#"{"b":1},{"#, "trailing characters"), "spec.a");
        assert_eq!(path(b"", 0, ""), ".");
        assert_eq!(path(br#"{"a":[1,2"#, 100, ""), "a[1]");
    }

    #[test]
    fn line_and_column_are_a_byte_offset() {
        let text = "{\n  \"a\": 1,\n  \"b\": \"x\"\n}";
        assert_eq!(offset(text, 0, 5), None);
        assert_eq!(offset(text, 1, 1), Some(1));
        assert_eq!(offset(text, 3, 10), Some(22));
        assert_eq!(offset(text, 9, 1), None);
        let err = serde_json::from_str::<std::collections::BTreeMap<String, u8>>(text)
            .expect_err("b is a string");
        assert_eq!(of(text, &err), "b");
    }
}
