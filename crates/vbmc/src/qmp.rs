//! A QMP (QEMU Machine Protocol) client: newline-delimited JSON over a Unix socket.
//!
//! Written here rather than taken from a crate: the only QMP crates on crates.io
//! (`qapi`, `qmp-client`) generate bindings for QEMU's whole schema and pull in their own
//! async stacks, while the BMC needs five commands (`query-status`, `system_reset`, `cont`,
//! `stop`, `system_powerdown`) and `qom-set`.
//!
//! The protocol: QEMU sends a greeting (`{"QMP": {...}}`); the client answers
//! `qmp_capabilities`; then every `{"execute": ..., "arguments": ...}` gets one
//! `{"return": ...}` or `{"error": {"class", "desc"}}`, with asynchronous
//! `{"event": ...}` lines interleaved, which are skipped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// Longest line accepted from QEMU.
const MAX_LINE: u64 = 1 << 20;
/// How long a command may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A QMP failure, naming the socket and the command.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// The socket could not be reached or broke.
    #[error("QMP {socket}: {what}: {source}")]
    Io {
        /// The socket.
        socket: PathBuf,
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// QEMU sent something that is not QMP.
    #[error("QMP {socket}: {what}")]
    Protocol {
        /// The socket.
        socket: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// QEMU refused a command.
    #[error("QMP {socket}: {command}: {class}: {desc}")]
    Command {
        /// The socket.
        socket: PathBuf,
        /// The command.
        command: String,
        /// QEMU's error class.
        class: String,
        /// QEMU's message.
        desc: String,
    },
}

/// A connected, capability-negotiated QMP session.
#[derive(Debug)]
pub struct Qmp {
    socket: PathBuf,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Qmp {
    /// Connects to `socket`, reads the greeting and enters command mode.
    pub async fn connect(socket: &Path) -> Result<Self, QmpError> {
        let io = |what: &str| {
            let socket = socket.to_path_buf();
            let what = what.to_string();
            move |source| QmpError::Io {
                socket,
                what,
                source,
            }
        };
        let stream = tokio::time::timeout(TIMEOUT, UnixStream::connect(socket))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))
            .and_then(|r| r)
            .map_err(io("connecting"))?;
        let (r, w) = stream.into_split();
        let mut qmp = Self {
            socket: socket.to_path_buf(),
            reader: BufReader::new(r),
            writer: w,
        };
        let greeting = qmp.read_message().await?;
        if greeting.get("QMP").is_none() {
            return Err(qmp.protocol(format!("expected the QMP greeting, got {greeting}")));
        }
        qmp.execute("qmp_capabilities", None).await?;
        Ok(qmp)
    }

    fn protocol(&self, what: String) -> QmpError {
        QmpError::Protocol {
            socket: self.socket.clone(),
            what,
        }
    }

    async fn read_message(&mut self) -> Result<Value, QmpError> {
        let mut line = Vec::new();
        let read = tokio::time::timeout(
            TIMEOUT,
            (&mut self.reader)
                .take(MAX_LINE)
                .read_until(b'\n', &mut line),
        )
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))
        .and_then(|r| r)
        .map_err(|source| QmpError::Io {
            socket: self.socket.clone(),
            what: "reading".into(),
            source,
        })?;
        if read == 0 {
            return Err(QmpError::Io {
                socket: self.socket.clone(),
                what: "reading".into(),
                source: std::io::ErrorKind::UnexpectedEof.into(),
            });
        }
        if !line.ends_with(b"\n") {
            return Err(self.protocol(format!("a line longer than {MAX_LINE} bytes")));
        }
        serde_json::from_slice(&line).map_err(|e| self.protocol(format!("not JSON: {e}")))
    }

    /// Runs `command` with `arguments` and returns its `return` value.
    pub async fn execute(
        &mut self,
        command: &str,
        arguments: Option<Value>,
    ) -> Result<Value, QmpError> {
        let mut msg = json!({ "execute": command });
        if let Some(args) = arguments {
            msg["arguments"] = args;
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(b'\n');
        self.writer
            .write_all(&bytes)
            .await
            .map_err(|source| QmpError::Io {
                socket: self.socket.clone(),
                what: format!("sending {command}"),
                source,
            })?;
        loop {
            let reply = self.read_message().await?;
            if let Some(ret) = reply.get("return") {
                return Ok(ret.clone());
            }
            if let Some(err) = reply.get("error") {
                let field = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                return Err(QmpError::Command {
                    socket: self.socket.clone(),
                    command: command.to_string(),
                    class: field("class"),
                    desc: field("desc"),
                });
            }
            // An event: skip it.
        }
    }

    /// The run state (`query-status`): `running`, `paused`, `shutdown`, `prelaunch`...
    pub async fn status(&mut self) -> Result<String, QmpError> {
        let ret = self.execute("query-status", None).await?;
        ret.get("status")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| self.protocol(format!("query-status returned {ret}")))
    }

    /// Sets a device's `bootindex` (`qom-set /machine/peripheral/<id> bootindex`).
    pub async fn set_bootindex(&mut self, device: &str, index: i64) -> Result<(), QmpError> {
        self.execute(
            "qom-set",
            Some(json!({
                "path": format!("/machine/peripheral/{device}"),
                "property": "bootindex",
                "value": index,
            })),
        )
        .await
        .map(drop)
    }
}
