//! The receiver against real senders (busybox `logger` through busybox `syslogd -R`,
//! util-linux `logger` in RFC 5424 and RFC 3164 modes, raw UDP sockets), each test inside
//! a network namespace of its own that it removes. Needs root, iproute2, busybox, and
//! util-linux (`logger`, `unshare`).

use std::net::IpAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ironbell_syslog::{
    Config, Facility, Format, Message, RateLimit, Receiver, RingSink, SdElement, Severity,
    StatsSnapshot,
};
use ironbell_testbed::Netns;
use tokio::task::JoinHandle;

struct Running {
    ns: Netns,
    port: u16,
    receiver: Arc<Receiver<RingSink>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Running {
    /// A receiver on 127.0.0.1 inside a fresh namespace.
    fn start(config: Config) -> Self {
        let ns = Netns::new().expect("create network namespace (needs root and iproute2)");
        let std_socket = ns
            .enter(|| std::net::UdpSocket::bind("127.0.0.1:0"))
            .expect("enter namespace")
            .expect("bind");
        std_socket.set_nonblocking(true).expect("nonblocking");
        let port = std_socket.local_addr().expect("local addr").port();
        let socket = tokio::net::UdpSocket::from_std(std_socket).expect("tokio socket");
        let receiver = Arc::new(Receiver::new(config, RingSink::new(1000, 16)));
        let task = tokio::spawn({
            let receiver = receiver.clone();
            async move { receiver.serve(socket).await }
        });
        Self {
            ns,
            port,
            receiver,
            task,
        }
    }

    fn stats(&self) -> StatsSnapshot {
        self.receiver.stats().snapshot()
    }

    /// Waits until `n` datagrams have been received (or fails after 10 s).
    async fn wait_received(&self, n: u64) -> StatsSnapshot {
        for _ in 0..200 {
            let s = self.stats();
            if s.received >= n {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {n} datagrams: {:?}", self.stats());
    }

    fn messages(&self, from: &str) -> Vec<Message> {
        self.receiver
            .sink()
            .messages(from.parse::<IpAddr>().expect("ip"))
    }

    /// Sends `datagrams` from a socket bound to `from` inside the namespace.
    fn send_raw(&self, from: &str, datagrams: &[&[u8]]) {
        let port = self.port;
        let from = format!("{from}:0");
        self.ns
            .enter(move || -> std::io::Result<()> {
                let s = std::net::UdpSocket::bind(&from)?;
                for d in datagrams {
                    s.send_to(d, ("127.0.0.1", port))?;
                }
                Ok(())
            })
            .expect("enter namespace")
            .expect("send");
    }

    fn logger(&self, args: &[&str]) {
        // The tests that call it checked for `logger` first.
        let port = self.port.to_string();
        let mut all = vec!["--server", "127.0.0.1", "--port", &port, "--udp"];
        all.extend_from_slice(args);
        let out = self.ns.output("logger", &all).expect("run logger");
        assert!(
            out.status.success(),
            "logger {all:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn near_now(t: Option<SystemTime>) -> bool {
    // Senders stamp local time; allow any time zone.
    t.and_then(|t| {
        let now = SystemTime::now();
        now.duration_since(t)
            .or_else(|_| t.duration_since(now))
            .ok()
    })
    .is_some_and(|d| d < Duration::from_secs(15 * 3600))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busybox_logger_through_busybox_syslogd() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    if !ironbell_testbed::require_tools(&["busybox", "unshare"]) {
        return;
    }
    let r = Running::start(Config::default());
    // busybox `logger` can only write to /dev/log, so run busybox `syslogd -R` as an
    // initramfs does. Both get a private /dev (a mount namespace; /dev/null made anew for
    // the shell's background job), and a PID namespace, so that syslogd dies with the shell
    // whatever happens. The shell waits for its stdin to close.
    let script = format!(
        "mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 || exit 1
         busybox syslogd -n -R 127.0.0.1:{port} -O - & pid=$!
         i=0; while [ ! -S /dev/log ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
         busybox logger -t hook -p daemon.warn 'hello from busybox'
         busybox logger -t hook 'second line'
         read _ignored
         kill $pid; wait $pid; exit 0",
        port = r.port
    );
    let mut child =
        r.ns.command("unshare")
            .args([
                "--mount",
                "--pid",
                "--fork",
                "--mount-proc",
                "sh",
                "-c",
                &script,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn unshare");
    let stdin = child.stdin.take();
    let stats = r.wait_received(2).await;
    drop(stdin);
    let out = child.wait_with_output().expect("wait for shell");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!((stats.rfc3164, stats.dropped()), (2, 0));
    let got = r.messages("127.0.0.1");
    assert_eq!(got.len(), 2);
    let first = &got[0];
    assert_eq!(first.format, Format::Rfc3164);
    assert_eq!(
        (first.facility, first.severity),
        (Facility::Daemon, Severity::Warning)
    );
    assert_eq!(first.app_name.as_deref(), Some("hook"));
    assert_eq!(first.hostname, None);
    assert_eq!(first.text, "hello from busybox");
    assert!(near_now(first.timestamp), "{:?}", first.timestamp);
    assert!(first.to_string().ends_with(" - hook: hello from busybox"));
    let second = &got[1];
    assert_eq!(
        (second.facility, second.severity),
        (Facility::User, Severity::Notice)
    );
    assert_eq!(
        (second.app_name.as_deref(), second.text.as_str()),
        (Some("hook"), "second line")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn util_linux_logger_rfc5424_and_rfc3164() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("logger");
    let r = Running::start(Config::default());
    r.logger(&[
        "--rfc5424",
        "-t",
        "hook-agent",
        "--id=4242",
        "--msgid",
        "ACTION",
        "--sd-id",
        "ironbell@32473",
        "--sd-param",
        "phase=\"install\"",
        "--sd-param",
        "disk=\"/dev/sda \\\"1\\\"\"",
        "-p",
        "local0.info",
        "writing image",
    ]);
    r.logger(&[
        "--rfc3164",
        "-t",
        "app",
        "--id=77",
        "-p",
        "local3.err",
        "hi 3164",
    ]);
    let stats = r.wait_received(2).await;
    assert_eq!((stats.rfc5424, stats.rfc3164, stats.dropped()), (1, 1, 0));
    let got = r.messages("127.0.0.1");
    let m = &got[0];
    assert_eq!(m.format, Format::Rfc5424);
    assert_eq!((m.facility, m.severity), (Facility::Local0, Severity::Info));
    assert_eq!(m.app_name.as_deref(), Some("hook-agent"));
    assert_eq!(m.proc_id.as_deref(), Some("4242"));
    assert_eq!(m.msg_id.as_deref(), Some("ACTION"));
    assert!(m.hostname.is_some());
    assert!(near_now(m.timestamp), "{:?}", m.timestamp);
    assert_eq!(m.text, "writing image");
    assert_eq!(m.structured_data.len(), 2, "{:?}", m.structured_data);
    assert_eq!(m.structured_data[0].id, "timeQuality");
    assert_eq!(
        m.structured_data[1],
        SdElement {
            id: "ironbell@32473".into(),
            params: vec![
                ("phase".into(), "install".into()),
                ("disk".into(), "/dev/sda \"1\"".into())
            ],
        }
    );
    let m = &got[1];
    assert_eq!(m.format, Format::Rfc3164);
    assert_eq!((m.facility, m.severity), (Facility::Local3, Severity::Err));
    assert!(m.hostname.is_some());
    assert_eq!(
        (m.app_name.as_deref(), m.proc_id.as_deref(), m.text.as_str()),
        (Some("app"), Some("77"), "hi 3164")
    );
    assert!(near_now(m.timestamp), "{:?}", m.timestamp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_datagrams_are_counted_not_fatal() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("logger");
    let r = Running::start(Config::default());
    let mut oversized = b"<13>".to_vec();
    oversized.resize(9000, b'x');
    r.send_raw(
        "127.0.0.1",
        &[
            b"",
            b"\n\0",
            b"not syslog at all",
            b"\xFF\xFE\x00binary",
            b"<13>1 2026-99-99T00:00:00Z h a - - - broken 5424",
            &oversized,
        ],
    );
    // The receiver is still there afterwards.
    r.logger(&["--rfc5424", "-t", "after", "still alive"]);
    let s = r.wait_received(7).await;
    assert_eq!(
        (s.invalid, s.raw, s.rfc3164, s.rfc5424, s.truncated),
        (2, 2, 2, 1, 1),
        "{s:?}"
    );
    let got = r.messages("127.0.0.1");
    let texts: Vec<&str> = got.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts[0], "not syslog at all");
    assert_eq!(texts[1], "\u{FFFD}\u{FFFD}\u{0}binary");
    assert_eq!(texts[2], "1 2026-99-99T00:00:00Z h a - - - broken 5424");
    assert_eq!(texts[3].len(), 8 * 1024 - 4);
    assert_eq!(texts[4], "still alive");
    assert!(!r.task.is_finished());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_drops_excess_from_one_source_only() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let r = Running::start(Config {
        rate_limit: Some(RateLimit {
            per_second: 0.1,
            burst: 5,
        }),
        ..Config::default()
    });
    let flood: Vec<Vec<u8>> = (0..20)
        .map(|i| format!("<13>Nov 22 06:40:00 chatty app: line {i}").into_bytes())
        .collect();
    let flood: Vec<&[u8]> = flood.iter().map(Vec::as_slice).collect();
    r.send_raw("127.0.0.2", &flood);
    r.send_raw(
        "127.0.0.3",
        &[b"<13>quiet 1", b"<13>quiet 2", b"<13>quiet 3"],
    );
    let s = r.wait_received(23).await;
    let chatty = r.messages("127.0.0.2");
    assert_eq!(chatty.len(), 5, "{s:?}");
    assert_eq!(chatty[4].text, "line 4");
    assert_eq!(s.rate_limited, 15);
    assert_eq!(r.messages("127.0.0.3").len(), 3);
}
