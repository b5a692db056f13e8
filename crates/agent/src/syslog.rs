//! A `tracing` layer that also sends every log line to `syslog_host` over UDP in RFC 5424
//! format — where Tinkerbell's HookOS sends its logs, so action output shows up at the
//! provisioning server's syslog receiver.
//!
//! One datagram per event: `<PRI>1 TIMESTAMP HOSTNAME ironbell-agent PID - SD MSG`, the
//! facility `user` (1), the severity from the level, the enclosing spans' fields
//! (workflow, task, action) as the structured-data element `[action@32473 …]`, and the
//! message followed by the event's other fields. Sending never blocks and errors are
//! dropped: logging must not stop provisioning.

use std::fmt::Write as _;
use std::net::{ToSocketAddrs, UdpSocket};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The layer.
#[derive(Debug)]
pub struct SyslogLayer {
    socket: UdpSocket,
    hostname: String,
}

impl SyslogLayer {
    /// Resolves `host:port` and opens a UDP socket to it.
    pub fn connect(host_port: &str) -> std::io::Result<Self> {
        let addr = host_port.to_socket_addrs()?.next().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{host_port} resolves to nothing"),
            )
        })?;
        let socket = UdpSocket::bind(if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        })?;
        socket.connect(addr)?;
        socket.set_nonblocking(true)?;
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "-".into());
        Ok(Self { socket, hostname })
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.pairs.push((field.name(), format!("{value:?}")));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.pairs.push((field.name(), value.to_string()));
        }
    }
}

struct SpanFields(Vec<(&'static str, String)>);

/// The severity RFC 5424 assigns a level.
pub fn severity(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

fn sd_escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(']', "\\]")
}

/// Formats a UTC time as RFC 3339 with microseconds.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Builds one RFC 5424 line.
pub fn format_line(
    hostname: &str,
    level: &Level,
    span_fields: &[(&'static str, String)],
    message: &str,
    event_fields: &[(&'static str, String)],
    now: std::time::SystemTime,
) -> String {
    let pri = 8 + severity(level);
    let sd = if span_fields.is_empty() {
        "-".to_string()
    } else {
        let mut s = String::from("[action@32473");
        for (k, v) in span_fields {
            let _ = write!(s, " {k}=\"{}\"", sd_escape(v));
        }
        s.push(']');
        s
    };
    let mut msg = message.to_string();
    for (k, v) in event_fields {
        let _ = write!(msg, " {k}={v}");
    }
    format!(
        "<{pri}>1 {} {hostname} ironbell-agent {} - {sd} {msg}",
        rfc3339(now),
        std::process::id()
    )
}

impl<S> Layer<S> for SyslogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(f.pairs));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let mut span_fields = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(sf) = span.extensions().get::<SpanFields>() {
                    span_fields.extend(sf.0.iter().cloned());
                }
            }
        }
        let line = format_line(
            &self.hostname,
            event.metadata().level(),
            &span_fields,
            &f.message,
            &f.pairs,
            std::time::SystemTime::now(),
        );
        let _ = self.socket.send(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn line_format() {
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.123456Z");
        let l = format_line(
            "hook",
            &Level::WARN,
            &[("workflow", "wf\"1".into()), ("action", "a]".into())],
            "hello",
            &[("n", "1".into())],
            t,
        );
        let want = format!(
            "<12>1 2023-11-14T22:13:20.123456Z hook ironbell-agent {} - [action@32473 workflow=\"wf\\\"1\" action=\"a\\]\"] hello n=1",
            std::process::id()
        );
        assert_eq!(l, want);
    }

    #[test]
    fn events_arrive_over_udp_with_span_fields() {
        use tracing_subscriber::layer::SubscriberExt;
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        rx.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let layer =
            SyslogLayer::connect(&rx.local_addr().expect("addr").to_string()).expect("connect");
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("action", workflow = "wf1", action = "a1");
            let _g = span.enter();
            tracing::info!(bytes = 5, "progress");
        });
        let mut buf = [0u8; 2048];
        let n = rx.recv(&mut buf).expect("datagram");
        let line = String::from_utf8_lossy(&buf[..n]);
        assert!(line.starts_with("<14>1 "), "{line}");
        assert!(
            line.contains("[action@32473 workflow=\"wf1\" action=\"a1\"] progress bytes=5"),
            "{line}"
        );
    }
}
