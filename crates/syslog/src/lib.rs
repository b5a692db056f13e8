//! # ironbell-syslog
//!
//! The syslog receiver of ironbell's boot service: machines running the in-memory
//! installer OS (HookOS) send their logs over UDP (port 514), and `ironbell logs
//! <hardware>` shows them. This crate is the protocol part only: it parses datagrams and
//! hands each [`Message`] with its source IP to a [`Sink`]. It knows nothing of the store
//! or of Hardware; the boot service's `Sink` maps the source IP to a Hardware.
//!
//! It reads RFC 5424 (with structured data, NILVALUE and BOM), RFC 3164 / BSD and what is
//! really sent in its name (no host name, glibc and busybox `syslog(3)`, busybox
//! `syslogd -R`, which forwards the local line as it is, and rsyslog's RFC 3339 time), and
//! keeps anything else as raw `user.notice` text as rsyslog does. It does not do syslog over
//! TCP or TLS (RFC 6587 / 5425), relaying, or filtering by facility.
//!
//! Start reading at [`parse`], then [`Receiver`] (rate limit per source, truncation,
//! [`Stats`]) and [`RingSink`] (recent messages within a byte budget).
//!
//! No syslog crate is used. `cargo search` could not reach the registry from here; `cargo
//! info` showed `syslog_loose` 0.23 (lenient 5424 + 3164, on `nom` and `chrono`) and
//! `syslog_rfc5424` 0.10 (5424 only). The first would bring two dependencies and its own
//! heuristics for the busybox and no-host variants we must test anyway; the second covers
//! half the job. Parsing by hand is a few hundred lines over bytes, which also makes the
//! no-panic guarantee easy to test (see the mutation test in `tests/parse.rs`).

mod message;
mod parse;
mod receiver;
mod ring;
mod time;

pub use message::{Facility, Format, Message, SdElement, Severity};
pub use parse::{ParseError, parse, parse_rfc5424};
pub use receiver::{Config, RateLimit, Receiver, Sink, Stats, StatsSnapshot};
pub use ring::{DEFAULT_MAX_BYTES, RingSink};
