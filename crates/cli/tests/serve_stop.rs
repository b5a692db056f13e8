//! `ironbell serve all` as systemd runs it (`Type=notify`), without systemd: the test
//! listens on the `NOTIFY_SOCKET` it hands the service and checks `READY=1` once every
//! port answers, `WATCHDOG=1` at half `WATCHDOG_USEC`, and, after SIGTERM (or SIGINT) sent
//! by PID, `STOPPING=1`, exit status 0 within a few seconds and every port free again.
//! Every service listens on loopback ports the test picked; the workflow and BMC
//! controllers' Prometheus families are scraped from their `/metrics`. And the unit file that runs it,
//! `deploy/ironbell.service`, passes `systemd-analyze verify`.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ironbell_testbed::ChildGuard;
use nix::sys::signal::Signal;

/// How long start-up may take (a debug build on a loaded machine).
const START: Duration = Duration::from_secs(60);
/// How long stopping may take after the signal.
const STOP: Duration = Duration::from_secs(5);

/// A free loopback port for TCP, and one for UDP.
fn free_ports() -> (u16, u16) {
    let tcp = TcpListener::bind("127.0.0.1:0").expect("tcp");
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let ports = (
        tcp.local_addr().expect("addr").port(),
        udp.local_addr().expect("addr").port(),
    );
    (ports.0, ports.1)
}

/// The messages received on `socket` until `done` says so or `deadline` passes.
fn receive_until(
    socket: &UnixDatagram,
    got: &mut Vec<String>,
    deadline: Instant,
    done: impl Fn(&[String]) -> bool,
) {
    let mut buf = [0u8; 256];
    while !done(got) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out; received so far: {got:?}");
        socket.set_read_timeout(Some(left)).expect("timeout");
        if let Ok(len) = socket.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
    }
}

/// The body of `GET path` on `127.0.0.1:port` (HTTP/1.1, the connection closed after).
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
    answer
}

fn count(got: &[String], state: &str) -> usize {
    got.iter().filter(|m| *m == state).count()
}

fn stops_cleanly_on(signal: Signal) {
    ironbell_testbed::require_tool!("curl");
    let dir = tempfile::tempdir().expect("tempdir");
    let notify_path = dir.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
    let artifacts = dir.path().join("hookos");
    std::fs::create_dir(&artifacts).expect("mkdir");
    let (http, dhcp) = free_ports();
    let (metadata, tftp) = free_ports();
    let (grpc, syslog) = free_ports();
    let (metrics, _) = free_ports();
    let addr = |port: u16| format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("serve.log")).expect("log");
    let mut server = ChildGuard::new(
        Command::new(env!("CARGO_BIN_EXE_ironbell"))
            .arg("--db")
            .arg(dir.path().join("store.db"))
            .args(["serve", "all", "--public-ip", "127.0.0.1"])
            .args([
                "--http-addr",
                &addr(http),
                "--metadata-addr",
                &addr(metadata),
            ])
            .args(["--grpc-addr", &addr(grpc), "--dhcp-addr", &addr(dhcp)])
            .args(["--tftp-addr", &addr(tftp), "--syslog-addr", &addr(syslog)])
            .args(["--metrics-addr", &addr(metrics)])
            .arg("--artifacts-dir")
            .arg(&artifacts)
            .env("NOTIFY_SOCKET", &notify_path)
            .env("WATCHDOG_USEC", "400000")
            .env_remove("WATCHDOG_PID")
            .env_remove("IRONBELL_LOG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start serve all"),
    );
    let log = || std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();

    // READY=1 comes first, and only once every port answers.
    let mut got = Vec::new();
    receive_until(&notify, &mut got, Instant::now() + START, |g| !g.is_empty());
    assert_eq!(got[0], "READY=1", "{got:?}\n{}", log());
    for port in [http, metadata, grpc, metrics] {
        TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("port {port}: {e}"));
    }
    // An agent's call is counted: curl speaking gRPC, one empty GetAction message (a
    // 5-byte frame: uncompressed, length 0), which names no agent and is refused as such.
    let message = dir.path().join("get-action.bin");
    std::fs::write(&message, [0u8; 5]).expect("write");
    let call = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--http2-prior-knowledge"])
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .arg("--data-binary")
        .arg(format!("@{}", message.display()))
        .arg(format!(
            "http://127.0.0.1:{grpc}/proto.WorkflowService/GetAction"
        ))
        .status()
        .expect("curl");
    assert!(call.success());
    // The workflow and BMC services' metrics: on their own port and on the boot service's
    // /metrics.
    for port in [metrics, http] {
        let scraped = http_get(port, "/metrics");
        for family in [
            "# TYPE ironbell_controller_reconciles counter",
            "# TYPE ironbell_controller_reconcile_duration_seconds histogram",
            "ironbell_controller_queue_ready{controller=\"workflow\"}",
            "ironbell_controller_queue_ready{controller=\"bmc-job\"}",
            "ironbell_controller_queue_delayed{controller=\"bmc-machine\"}",
            "ironbell_workflow_agent_calls_total{method=\"GetAction\",code=\"InvalidArgument\"} 1",
        ] {
            assert!(scraped.contains(family), "{port}: {family}\n{scraped}");
        }
    }
    assert!(http_get(metrics, "/healthz").ends_with("ok\n"));
    for port in [dhcp, tftp, syslog] {
        let taken = UdpSocket::bind(("127.0.0.1", port));
        assert!(
            taken.is_err(),
            "UDP port {port} is not bound by the service"
        );
    }
    // The watchdog every 200 ms (half of 400 ms): two pings well within two seconds.
    receive_until(
        &notify,
        &mut got,
        Instant::now() + Duration::from_secs(10),
        |g| count(g, "WATCHDOG=1") >= 2,
    );

    let pid = server.id().expect("pid");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid"));
    nix::sys::signal::kill(pid, signal).expect("signal");
    let sent = Instant::now();
    let status = loop {
        let child = server.child().expect("child");
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            sent.elapsed() < STOP,
            "still running {STOP:?} after {signal}\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    println!("{signal}: exited {status} after {:?}", sent.elapsed());
    assert!(status.success(), "{signal}: {status}\n{}", log());
    receive_until(&notify, &mut got, Instant::now() + STOP, |g| {
        count(g, "STOPPING=1") == 1
    });
    assert_eq!(count(&got, "READY=1"), 1, "{got:?}");
    let log = log();
    assert!(
        log.contains(&format!("{signal}: stopping every service")),
        "{log}"
    );
    assert!(log.contains("every service stopped"), "{log}");

    // Every port is free again.
    for port in [http, metadata, grpc, metrics] {
        TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .unwrap_or_else(|e| panic!("TCP port {port} still taken: {e}"));
    }
    for port in [dhcp, tftp, syslog] {
        UdpSocket::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("UDP port {port} still taken: {e}"));
    }
}

#[test]
fn sigterm_stops_every_service_within_seconds_after_telling_systemd() {
    stops_cleanly_on(Signal::SIGTERM);
}

#[test]
fn sigint_stops_every_service_the_same_way() {
    stops_cleanly_on(Signal::SIGINT);
}

/// `deploy/ironbell.service` passes `systemd-analyze verify` without a word (its exit
/// status is 0 even for unknown keys, so its output is checked), with ExecStart pointing at
/// the binary under test; the settings its comment names are ones `serve all` reads.
#[test]
fn the_shipped_unit_passes_systemd_analyze_verify() {
    ironbell_testbed::require_tool!("systemd-analyze");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let unit = std::fs::read_to_string(repo.join("deploy/ironbell.service")).expect("unit");
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        assert!(unit.lines().any(|l| l.starts_with(line)), "{line}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ironbell.service");
    let exe = env!("CARGO_BIN_EXE_ironbell");
    std::fs::write(&path, unit.replace("/usr/local/bin/ironbell", exe)).expect("write");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");

    let help = Command::new(exe)
        .args(["serve", "all", "--help"])
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    for setting in unit
        .lines()
        .filter_map(|l| l.strip_prefix("#   "))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
    {
        assert!(
            help.contains(&format!("[env: {setting}=")),
            "{setting} in:\n{help}"
        );
    }
}
