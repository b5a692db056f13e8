//! Telling systemd how a service is (`sd_notify(3)`): `READY=1` once every service listens,
//! `WATCHDOG=1` every half `WATCHDOG_USEC` while the process runs, `STOPPING=1` when it
//! stops. Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing.
//!
//! Written here rather than taken from the `sd-notify` crate: the protocol is one datagram
//! of `KEY=VALUE` lines to the `AF_UNIX` socket `NOTIFY_SOCKET` names (a path, or an
//! abstract name after `@`), which the standard library's `UnixDatagram` sends in a few
//! lines, with no `unsafe` and no dependency; the crate adds file-descriptor passing and
//! barriers, which ironbell does not use.

use std::ffi::OsString;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where systemd listens for this service's state, from `NOTIFY_SOCKET`.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// The notifier of this process's environment: `None` outside systemd (or when the
    /// socket cannot be made, which is logged).
    pub fn from_env() -> Option<Self> {
        Self::new(
            std::env::var_os("NOTIFY_SOCKET")?,
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
            std::env::var("WATCHDOG_PID").ok().as_deref(),
        )
    }

    /// A notifier sending to `path` (`@NAME`: the abstract socket NAME); the watchdog runs
    /// every `watchdog_usec` microseconds when set, positive and meant for this process
    /// (`watchdog_pid` unset or this PID).
    fn new(
        path: OsString,
        watchdog_usec: Option<&str>,
        watchdog_pid: Option<&str>,
    ) -> Option<Self> {
        let addr = match notify_addr(&path) {
            Ok(addr) => addr,
            Err(e) => {
                tracing::warn!(socket = ?path, "NOTIFY_SOCKET is not usable: {e}");
                return None;
            }
        };
        let socket = match UnixDatagram::unbound() {
            Ok(socket) => socket,
            Err(e) => {
                tracing::warn!("cannot make a socket to notify systemd: {e}");
                return None;
            }
        };
        let ours = watchdog_pid.is_none_or(|pid| pid.trim() == std::process::id().to_string());
        let watchdog = watchdog_usec
            .and_then(|usec| usec.trim().parse::<u64>().ok())
            .filter(|usec| *usec > 0 && ours)
            .map(Duration::from_micros);
        Some(Self {
            socket,
            addr,
            watchdog,
        })
    }

    /// Sends `state` (`READY=1`, `STOPPING=1`, ...). A failure is logged, not returned: the
    /// service runs the same whether systemd heard or not.
    pub fn notify(&self, state: &str) {
        if let Err(e) = self.socket.send_to_addr(state.as_bytes(), &self.addr) {
            tracing::warn!(state, "cannot notify systemd: {e}");
        }
    }

    /// How often to send `WATCHDOG=1`: half the watchdog timeout, as `sd_watchdog_enabled(3)`
    /// recommends; `None` without a watchdog.
    pub fn watchdog_period(&self) -> Option<Duration> {
        self.watchdog.map(|timeout| timeout / 2)
    }

    /// Sends `WATCHDOG=1` every [`Notifier::watchdog_period`] until dropped (the task is
    /// aborted with the returned handle); nothing without a watchdog. The pings come from
    /// the runtime's scheduler: a runtime stuck long enough misses them and systemd
    /// restarts the service.
    pub fn spawn_watchdog(self: &std::sync::Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let period = self.watchdog_period()?;
        let notifier = self.clone();
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                notifier.notify("WATCHDOG=1");
            }
        }))
    }
}

/// The address `NOTIFY_SOCKET` names.
fn notify_addr(path: &std::ffi::OsStr) -> std::io::Result<SocketAddr> {
    use std::os::unix::ffi::OsStrExt;
    match path.as_bytes() {
        [] => Err(std::io::Error::other("empty")),
        [b'@', name @ ..] => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)
        }
        _ => SocketAddr::from_pathname(path),
    }
}

#[cfg(test)]
mod tests {
    use super::Notifier;
    use std::os::unix::net::UnixDatagram;
    use std::time::Duration;

    #[test]
    fn states_reach_the_socket_and_the_watchdog_runs_at_half_its_timeout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).expect("bind");
        let pid = std::process::id().to_string();
        let n = Notifier::new(path.clone().into(), Some("3000000"), Some(&pid)).expect("notifier");
        assert_eq!(n.watchdog_period(), Some(Duration::from_millis(1500)));
        n.notify("READY=1");
        let mut buf = [0u8; 64];
        let len = listener.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..len], b"READY=1");
        // Another process's watchdog, or none, is not ours to feed.
        let other = Notifier::new(path.clone().into(), Some("3000000"), Some("1")).expect("n");
        assert_eq!(other.watchdog_period(), None);
        let none = Notifier::new(path.into(), Some("x"), None).expect("n");
        assert_eq!(none.watchdog_period(), None);
        assert!(Notifier::new("".into(), None, None).is_none());
    }

    #[test]
    fn an_abstract_socket_is_named_after_an_at_sign() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("ironbell-notify-test-{}", std::process::id());
        let addr =
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        let listener = UnixDatagram::bind_addr(&addr).expect("bind");
        let n = Notifier::new(format!("@{name}").into(), None, None).expect("notifier");
        n.notify("STOPPING=1");
        let mut buf = [0u8; 64];
        let len = listener.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..len], b"STOPPING=1");
    }
}
