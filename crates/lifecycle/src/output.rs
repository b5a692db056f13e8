//! What the user sees, as `eksctl anywhere` shows it: one line per task with its result and
//! elapsed time, the validations' ✅/❌ lines, more with `-v`, and the error at the end.
//!
//! Verbosity follows EKS Anywhere's `-v`: 0 prints the task and validation lines, 1 adds
//! each task's details (what it is doing, what it found), 4 and above add debug lines (the
//! journal writes, hooks, restored checkpoints). Credentials never go through here.
//!
//! Output goes to any [`Write`] (standard output for the CLI, a buffer in tests); a failed
//! write to the terminal is ignored, as a lost progress line must not fail a cluster create.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `-v` level at which details appear.
pub const DETAIL: u8 = 1;
/// The `-v` level at which debug lines appear.
pub const DEBUG: u8 = 4;

/// Where progress lines go, and how many.
#[derive(Clone)]
pub struct Output {
    sink: Arc<Mutex<Box<dyn Write + Send>>>,
    verbosity: u8,
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("verbosity", &self.verbosity)
            .finish_non_exhaustive()
    }
}

/// A buffer an [`Output`] writes into, for tests and for callers that print later.
#[derive(Clone, Debug, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Forgets what was written.
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Output {
    /// Lines to `sink` at `verbosity`.
    pub fn new(sink: impl Write + Send + 'static, verbosity: u8) -> Self {
        Self {
            sink: Arc::new(Mutex::new(Box::new(sink))),
            verbosity,
        }
    }

    /// Lines to standard output.
    pub fn stdout(verbosity: u8) -> Self {
        Self::new(std::io::stdout(), verbosity)
    }

    /// Lines into a buffer the caller reads with [`Captured::text`].
    pub fn captured(verbosity: u8) -> (Self, Captured) {
        let buffer = Captured::default();
        (Self::new(buffer.clone(), verbosity), buffer)
    }

    /// The `-v` level.
    pub fn verbosity(&self) -> u8 {
        self.verbosity
    }

    /// Writes `line` when the verbosity is at least `level`.
    pub fn line(&self, level: u8, line: impl fmt::Display) {
        if self.verbosity < level {
            return;
        }
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        // A lost progress line must not fail the command (see the module docs).
        let _ = writeln!(sink, "{line}");
        let _ = sink.flush();
    }

    /// A line always shown.
    pub fn info(&self, line: impl fmt::Display) {
        self.line(0, line);
    }

    /// A detail (`-v 1` and above), indented under its task.
    pub fn detail(&self, line: impl fmt::Display) {
        self.line(DETAIL, format_args!("    {line}"));
    }

    /// A debug line (`-v 4` and above).
    pub fn debug(&self, line: impl fmt::Display) {
        self.line(DEBUG, format_args!("    debug: {line}"));
    }

    /// A validation's result, as EKS Anywhere's validation runner prints it.
    pub fn validation(&self, name: &str, outcome: Result<(), &str>) {
        match outcome {
            Ok(()) => self.info(format_args!("✅ {name}")),
            Err(reason) => self.info(format_args!("❌ {name}: {reason}")),
        }
    }
}

/// A duration as the task lines show it: `420ms`, `3.2s`, `1m05s`, `1h02m`.
pub fn elapsed(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{}.{}s", ms / 1000, (ms % 1000) / 100),
        60_000..3_600_000 => format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000),
        _ => format!("{}h{:02}m", ms / 3_600_000, (ms % 3_600_000) / 60_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_reads_like_a_person_would_write_it() {
        assert_eq!(elapsed(Duration::from_millis(420)), "420ms");
        assert_eq!(elapsed(Duration::from_millis(3_250)), "3.2s");
        assert_eq!(elapsed(Duration::from_secs(65)), "1m05s");
        assert_eq!(elapsed(Duration::from_secs(3_720)), "1h02m");
    }

    #[test]
    fn levels_filter_lines() {
        let (out, text) = Output::captured(1);
        out.info("task");
        out.detail("what it did");
        out.debug("hidden");
        out.validation("Hardware is enough", Ok(()));
        out.validation("BMCs contactable", Err("bmc-1 does not answer"));
        assert_eq!(
            text.text(),
            "task\n    what it did\n✅ Hardware is enough\n❌ BMCs contactable: bmc-1 does not answer\n"
        );
    }
}
