//! The BMC side ([`ironbell_ipmi::server`]) against peers: Debian's `ipmitool -I lanplus`
//! (cipher suites 3 and 17) and this crate's own client. The chassis behind the server is
//! an in-memory record of what it was asked to do; everything runs on 127.0.0.1.

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ironbell_ipmi::server::{self, Chassis, ChassisError, Limits, Stats, StatsSnapshot};
use ironbell_ipmi::{
    BootDevice, BootOptions, ChassisControl, CipherSuite, CipherSuiteChoice, Config, Session,
};
use ironbell_testbed::{require_tool, wait_until};

const USER: &str = "admin";
const PASSWORD: &str = "Lab-pw-1234567";

#[derive(Default)]
struct Record {
    on: bool,
    boot: Option<(BootDevice, BootOptions)>,
    log: Vec<String>,
}

#[derive(Default)]
struct Memory(Mutex<Record>);

impl Memory {
    fn with<T>(&self, f: impl FnOnce(&mut Record) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Chassis for Memory {
    async fn power_is_on(&self) -> Result<bool, ChassisError> {
        Ok(self.with(|r| r.on))
    }
    async fn control(&self, action: ChassisControl) -> Result<(), ChassisError> {
        self.with(|r| {
            r.log.push(action.to_string());
            r.on = !matches!(
                action,
                ChassisControl::PowerDown | ChassisControl::SoftShutdown
            );
        });
        Ok(())
    }
    async fn set_boot_device(
        &self,
        device: BootDevice,
        options: BootOptions,
    ) -> Result<(), ChassisError> {
        self.with(|r| {
            r.log.push(format!("boot {device}"));
            r.boot = Some((device, options));
        });
        Ok(())
    }
    async fn boot_device(&self) -> Result<(BootDevice, BootOptions), ChassisError> {
        Ok(self
            .with(|r| r.boot)
            .unwrap_or((BootDevice::NoOverride, BootOptions::default())))
    }
}

struct Bmc {
    port: u16,
    chassis: Arc<Memory>,
    stats: Arc<Stats>,
    _runtime: tokio::runtime::Runtime,
}

fn start() -> Bmc {
    start_with(Limits::default())
}

fn start_with(limits: Limits) -> Bmc {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("addr").port();
    socket.set_nonblocking(true).expect("nonblocking");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let chassis = Arc::new(Memory::default());
    let stats = Arc::new(Stats::default());
    let (c, s) = (chassis.clone(), stats.clone());
    runtime.spawn(async move {
        let socket = tokio::net::UdpSocket::from_std(socket).expect("tokio socket");
        let creds = server::Credentials {
            username: USER.into(),
            password: PASSWORD.into(),
        };
        server::serve_with_limits(socket, creds, c, s, limits, std::future::pending()).await
    });
    Bmc {
        port,
        chassis,
        stats,
        _runtime: runtime,
    }
}

impl Bmc {
    fn ipmitool(&self, suite: &str, password: &str, args: &[&str]) -> (bool, String) {
        ipmitool(self.port, suite, password, args)
    }

    fn ok(&self, suite: &str, args: &[&str]) -> String {
        let (ok, out) = self.ipmitool(suite, PASSWORD, args);
        assert!(ok, "ipmitool -C {suite} {args:?}: {out}");
        out
    }

    fn config(&self, suite: CipherSuite) -> Config {
        config(self.port, suite)
    }

    fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    fn log(&self) -> Vec<String> {
        self.chassis.with(|r| r.log.clone())
    }
}

fn config(port: u16, suite: CipherSuite) -> Config {
    let mut c = Config::new("127.0.0.1", USER, PASSWORD);
    c.port = port;
    c.cipher_suite = CipherSuiteChoice::Only(suite);
    c
}

/// Runs `ipmitool -I lanplus` against 127.0.0.1:`port`: (success, stdout and stderr).
fn ipmitool(port: u16, suite: &str, password: &str, args: &[&str]) -> (bool, String) {
    let suite = (!suite.is_empty()).then_some(suite);
    let out = Command::new("ipmitool")
        .args(ironbell_testbed::lanplus_args(
            port, USER, password, suite, 2,
        ))
        .args(args)
        .output()
        .expect("run ipmitool");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn ipmitool_drives_the_bmc_with_suites_3_and_17() {
    require_tool!("ipmitool");
    let bmc = start();
    for suite in ["3", "17", ""] {
        bmc.chassis.with(|r| r.log.clear());
        assert!(
            bmc.ok(suite, &["chassis", "power", "off"])
                .contains("Down/Off")
        );
        assert!(
            bmc.ok(suite, &["chassis", "power", "status"])
                .contains("Power is off")
        );
        assert!(bmc.ok(suite, &["chassis", "power", "on"]).contains("Up/On"));
        assert!(
            bmc.ok(suite, &["chassis", "power", "status"])
                .contains("Power is on")
        );
        bmc.ok(suite, &["chassis", "power", "cycle"]);
        bmc.ok(suite, &["chassis", "power", "reset"]);
        bmc.ok(suite, &["chassis", "bootdev", "pxe", "options=efiboot"]);
        let param = bmc.ok(suite, &["chassis", "bootparam", "get", "5"]);
        assert!(param.contains("Force PXE"), "{param}");
        assert!(param.contains("BIOS EFI boot"), "{param}");
        let mc = bmc.ok(suite, &["mc", "info"]);
        assert!(mc.contains("IPMI Version              : 2.0"), "{mc}");
        let log = bmc.chassis.with(|r| r.log.clone());
        assert_eq!(
            log,
            [
                "power down",
                "power up",
                "power cycle",
                "hard reset",
                "boot PXE"
            ],
            "suite {suite}"
        );
        let (device, options) = bmc.chassis.with(|r| r.boot).expect("boot set");
        assert_eq!(device, BootDevice::Pxe);
        assert!(options.efi && !options.persistent);
    }
    assert!(bmc.stats.snapshot().sessions >= 27);
}

#[test]
fn our_client_talks_to_the_bmc() {
    let bmc = start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for suite in [CipherSuite::Suite3, CipherSuite::Suite17] {
        rt.block_on(async {
            let mut s = Session::connect(bmc.config(suite)).await.expect("session");
            assert!(!s.chassis_status().await.expect("status").power_on);
            s.chassis_control(ChassisControl::PowerUp)
                .await
                .expect("on");
            assert!(s.chassis_status().await.expect("status").power_on);
            s.set_boot_device(
                BootDevice::Disk,
                BootOptions {
                    persistent: true,
                    efi: false,
                },
            )
            .await
            .expect("boot");
            let flags = s.boot_device().await.expect("flags");
            assert_eq!(flags.device, BootDevice::Disk);
            assert!(flags.persistent && !flags.efi);
            s.chassis_control(ChassisControl::PowerDown)
                .await
                .expect("off");
            s.close().await.expect("close");
        });
    }
}

#[test]
fn wrong_credentials_are_refused_and_counted() {
    let bmc = start();
    let (ok, out) = bmc.ipmitool("3", "wrong-password", &["chassis", "power", "status"]);
    assert!(!ok, "{out}");
    let mut c = bmc.config(CipherSuite::Suite17);
    c.password = "wrong-password".into();
    c.retries = 0;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let err = rt.block_on(Session::connect(c)).expect_err("refused");
    assert!(!err.to_string().contains("wrong-password"), "{err}");
    let mut c = bmc.config(CipherSuite::Suite3);
    c.username = "root".into();
    c.retries = 0;
    assert!(rt.block_on(Session::connect(c)).is_err());
    let stats = bmc.stats.snapshot();
    // ipmitool gives up silently after RAKP 2 fails to verify; our client says so in RAKP 3
    // (counted), and the wrong user is refused at RAKP 1 (counted).
    assert!(stats.auth_failures >= 2, "{stats:?}");
    assert_eq!(stats.sessions, 0);
    assert!(bmc.chassis.with(|r| r.log.is_empty()));
}

#[test]
fn garbage_is_dropped_and_counted_and_the_bmc_keeps_answering() {
    let bmc = start();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut rng = ironbell_testbed::Rng::new(7);
    let mut sent = 0;
    let mut datagrams: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x06],
        vec![0x06, 0x00, 0xFF, 0x07],
        vec![
            0x06, 0x00, 0xFF, 0x07, 0x06, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF,
        ],
        vec![
            0x06, 0x00, 0xFF, 0x07, 0x06, 0xC0, 1, 2, 3, 4, 1, 0, 0, 0, 4, 0, 1, 2, 3, 4,
        ],
        vec![
            0x06, 0x00, 0xFF, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 200, 1, 2,
        ],
        vec![0xFF; 1500],
    ];
    for _ in 0..300 {
        let len = rng.below(80);
        let mut d = rng.bytes(len);
        if len > 4 && rng.below(2) == 0 {
            d[..4].copy_from_slice(&[0x06, 0x00, 0xFF, 0x07]);
        }
        datagrams.push(d);
    }
    for d in &datagrams {
        if sock.send_to(d, ("127.0.0.1", bmc.port)).is_ok() {
            sent += 1;
        }
        // Each counted before the next goes, so that the server's receive buffer never
        // overflows.
        assert!(
            eventually(|| bmc.stats().malformed == sent as u64),
            "{:?} of {sent}",
            bmc.stats()
        );
    }
    let stats = bmc.stats.snapshot();
    assert_eq!(stats.malformed, sent as u64, "{stats:?} of {sent}");
    assert!(
        bmc.ok("17", &["chassis", "power", "status"])
            .contains("Power is off")
    );
}

#[test]
fn ipmitool_privilege_levels_are_enforced() {
    require_tool!("ipmitool");
    let bmc = start();
    let user = |args: &[&str]| {
        let mut all = vec!["-L", "USER"];
        all.extend_from_slice(args);
        bmc.ipmitool("17", PASSWORD, &all)
    };
    // USER may read, not act.
    let (ok, out) = user(&["chassis", "power", "status"]);
    assert!(ok && out.contains("Power is off"), "{out}");
    let (ok, out) = user(&["mc", "info"]);
    assert!(ok && out.contains("IPMI Version"), "{out}");
    let (ok, out) = user(&["chassis", "power", "on"]);
    assert!(!ok, "{out}");
    assert!(out.contains("Insufficient privilege"), "{out}");
    let (ok, out) = user(&["chassis", "bootdev", "pxe"]);
    assert!(!ok || out.contains("Insufficient privilege"), "{out}");
    assert!(bmc.log().is_empty(), "{:?}", bmc.log());
    assert!(bmc.stats().privilege_denied >= 2, "{:?}", bmc.stats());
    // OPERATOR and ADMINISTRATOR (ipmitool's default) may act.
    for (level, suite) in [
        ("OPERATOR", "3"),
        ("OPERATOR", "17"),
        ("ADMINISTRATOR", "17"),
    ] {
        let out = bmc.ok(suite, &["-L", level, "chassis", "power", "on"]);
        assert!(out.contains("Up/On"), "{out}");
        bmc.ok(suite, &["-L", level, "chassis", "bootdev", "disk"]);
    }
    assert_eq!(
        bmc.log(),
        [
            "power up",
            "boot disk",
            "power up",
            "boot disk",
            "power up",
            "boot disk"
        ]
    );
}

/// A datagram the relay passed on: (from the console, bytes).
type Datagram = (bool, Vec<u8>);

/// A UDP relay between a console and the BMC that records every datagram and can replay
/// what it recorded from its own address (the one the BMC sees as the console's).
struct Relay {
    port: u16,
    socket: UdpSocket,
    bmc: SocketAddr,
    /// (from the console, bytes), in arrival order.
    seen: Arc<Mutex<Vec<Datagram>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The RMCP+ session sequence number of an in-session (encrypted) datagram.
fn session_seq(d: &[u8]) -> Option<u32> {
    if d.len() < 16 || d[4] != 0x06 || d[5] & 0xC0 != 0xC0 {
        return None;
    }
    Some(u32::from_le_bytes([d[10], d[11], d[12], d[13]]))
}

impl Relay {
    /// A relay to the BMC at `bmc_port` that loses the in-session answers whose ordinal
    /// (1 for the first) is in `lose`.
    fn start(bmc_port: u16, lose: &'static [usize]) -> Relay {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let port = socket.local_addr().expect("addr").port();
        let bmc: SocketAddr = ([127, 0, 0, 1], bmc_port).into();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sock, log, halt) = (
            socket.try_clone().expect("clone"),
            seen.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let mut console: Option<SocketAddr> = None;
            let mut answers = 0;
            while !halt.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let d = buf[..n].to_vec();
                let to_bmc = from != bmc;
                log.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((to_bmc, d.clone()));
                if to_bmc {
                    console = Some(from);
                    let _ = sock.send_to(&d, bmc);
                } else if let Some(c) = console {
                    if session_seq(&d).is_some() {
                        answers += 1;
                        if lose.contains(&answers) {
                            continue;
                        }
                    }
                    let _ = sock.send_to(&d, c);
                }
            }
        });
        Relay {
            port,
            socket,
            bmc,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<Datagram> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sends `d` to the BMC from the relay's address.
    fn replay(&self, d: &[u8]) {
        self.socket.send_to(d, self.bmc).expect("send");
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Waits up to 5 s for `f` to hold.
fn eventually(f: impl FnMut() -> bool) -> bool {
    wait_until(Duration::from_secs(5), f)
}

#[test]
fn a_replayed_datagram_gets_the_cached_reply_and_runs_once() {
    let bmc = start();
    let relay = Relay::start(bmc.port, &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut s = Session::connect(config(relay.port, CipherSuite::Suite17))
            .await
            .expect("session");
        // Session sequence 1 is Set Session Privilege Level, 2 this Chassis Control.
        s.chassis_control(ChassisControl::PowerUp)
            .await
            .expect("on");
        let seen = relay.seen();
        let at = seen
            .iter()
            .position(|(to_bmc, d)| *to_bmc && session_seq(d) == Some(2))
            .expect("chassis control captured");
        let request = seen[at].1.clone();
        let reply = seen[at + 1..]
            .iter()
            .find(|(to_bmc, _)| !to_bmc)
            .map(|(_, d)| d.clone())
            .expect("reply captured");

        // The same datagram again: the same reply, not a second power up.
        relay.replay(&request);
        assert!(
            eventually(|| relay.seen().len() == seen.len() + 1),
            "no answer to the replay"
        );
        assert_eq!(relay.seen().last().map(|(_, d)| d), Some(&reply));
        assert_eq!(bmc.log(), ["power up"]);
        assert_eq!(bmc.stats().retransmissions, 1, "{:?}", bmc.stats());

        // From another address: dropped as not the session's console.
        let before = bmc.stats().malformed;
        let other = UdpSocket::bind("127.0.0.1:0").expect("bind");
        other
            .send_to(&request, ("127.0.0.1", bmc.port))
            .expect("send");
        assert!(eventually(|| bmc.stats().malformed == before + 1));

        // Once the reply has left the cache (8 more commands), a replay is dropped.
        for _ in 0..8 {
            s.chassis_status().await.expect("status");
        }
        let n = relay.seen().len();
        relay.replay(&request);
        assert!(eventually(|| bmc.stats().replays == 1), "{:?}", bmc.stats());
        assert_eq!(bmc.log(), ["power up"]);
        // The session still works, and its request and answer are all the relay sees
        // after the replay: the BMC answers in order, so an answer to the replay would
        // have come first.
        assert!(s.chassis_status().await.expect("status").power_on);
        assert_eq!(relay.seen().len(), n + 2, "the replay got an answer");
        s.close().await.expect("close");
    });
    let stats = bmc.stats();
    assert_eq!(stats.retransmissions, 1, "{stats:?}");
    assert_eq!(stats.replays, 1, "{stats:?}");
}

#[test]
fn ipmitool_retransmissions_after_lost_replies_run_once() {
    require_tool!("ipmitool");
    let bmc = start();
    // ipmitool retransmits under a new session sequence number with the same rqSeq: the
    // answers to Set Session Privilege Level (1st) and Chassis Control (3rd, after the
    // retransmitted 2nd) are lost once each.
    let relay = Relay::start(bmc.port, &[1, 3]);
    let (ok, out) = ipmitool(relay.port, "17", PASSWORD, &["chassis", "power", "on"]);
    assert!(ok && out.contains("Up/On"), "{out}");
    assert_eq!(bmc.log(), ["power up"]);
    let stats = bmc.stats();
    assert_eq!(stats.retransmissions, 2, "{stats:?}");
    assert_eq!(stats.replays, 0, "{stats:?}");
}

#[test]
fn our_client_retransmissions_after_lost_replies_run_once() {
    let bmc = start();
    let relay = Relay::start(bmc.port, &[2]);
    let mut c = config(relay.port, CipherSuite::Suite3);
    c.timeout = Duration::from_millis(300);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut s = Session::connect(c).await.expect("session");
        s.chassis_control(ChassisControl::PowerCycle)
            .await
            .expect("cycle");
        assert_eq!(s.stats().retransmissions, 1);
        s.close().await.expect("close");
    });
    assert_eq!(bmc.log(), ["power cycle"]);
    assert_eq!(bmc.stats().retransmissions, 1);
}

/// An RMCP + IPMI v2.0 session header without a session around `payload`.
fn v2(payload_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut d = vec![0x06, 0x00, 0xFF, 0x07, 0x06, payload_type];
    d.extend_from_slice(&[0; 8]);
    d.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    d.extend_from_slice(payload);
    d
}

/// Sends `d` and waits for one answer's payload (after the 16-byte header).
fn exchange(sock: &UdpSocket, port: u16, d: &[u8]) -> Option<Vec<u8>> {
    sock.send_to(d, ("127.0.0.1", port)).expect("send");
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).ok()?;
    buf.get(16..n).map(<[u8]>::to_vec)
}

/// Open Session for suite 3: the BMC's session ID.
fn open_session(sock: &UdpSocket, port: u16, console_sid: u32) -> u32 {
    let mut p = vec![7, 0, 0, 0];
    p.extend_from_slice(&console_sid.to_le_bytes());
    p.extend_from_slice(&[
        0, 0, 0, 8, 1, 0, 0, 0, 1, 0, 0, 8, 1, 0, 0, 0, 2, 0, 0, 8, 1, 0, 0, 0,
    ]);
    let r = exchange(sock, port, &v2(0x10, &p)).expect("open session response");
    assert_eq!(r[1], 0, "open session status");
    u32::from_le_bytes([r[8], r[9], r[10], r[11]])
}

#[test]
fn handshakes_that_never_finish_are_dropped_and_counted() {
    let timeout = Duration::from_millis(400);
    let bmc = start_with(Limits {
        handshake_timeout: timeout,
        ..Limits::default()
    });
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    // One session stops after Open Session, one after RAKP 1 → 2.
    open_session(&sock, bmc.port, 1);
    let sid = open_session(&sock, bmc.port, 2);
    let mut rakp1 = vec![7, 0, 0, 0];
    rakp1.extend_from_slice(&sid.to_le_bytes());
    rakp1.extend_from_slice(&[0x5A; 16]);
    rakp1.extend_from_slice(&[0x14, 0, 0, USER.len() as u8]);
    rakp1.extend_from_slice(USER.as_bytes());
    let r2 = exchange(&sock, bmc.port, &v2(0x12, &rakp1)).expect("RAKP 2");
    assert_eq!(r2[1], 0, "RAKP 2 status");
    let started = Instant::now();
    assert!(eventually(|| bmc.stats().active_sessions == 2));
    assert_eq!(bmc.stats().auth_failures, 0);

    // No datagram arrives in the meantime: the periodic sweep finds them.
    assert!(eventually(|| bmc.stats().active_sessions == 0));
    assert!(started.elapsed() >= timeout / 2, "{:?}", started.elapsed());
    let stats = bmc.stats();
    assert_eq!(stats.handshake_timeouts, 2, "{stats:?}");
    assert_eq!(stats.auth_failures, 2, "{stats:?}");
    assert_eq!(stats.sessions, 0, "{stats:?}");

    // RAKP 3 for the dropped session: no answer.
    let mut rakp3 = vec![7, 0, 0, 0];
    rakp3.extend_from_slice(&sid.to_le_bytes());
    rakp3.extend_from_slice(&[0; 20]);
    assert_eq!(exchange(&sock, bmc.port, &v2(0x14, &rakp3)), None);
    // A handshake done in time still works.
    assert!(
        bmc.ok("3", &["chassis", "power", "status"])
            .contains("Power is off")
    );
}

#[test]
fn idle_sessions_expire_without_traffic() {
    let bmc = start_with(Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut c = bmc.config(CipherSuite::Suite3);
    c.retries = 0;
    c.timeout = Duration::from_millis(300);
    let mut s = rt.block_on(Session::connect(c)).expect("session");
    assert_eq!(bmc.stats().active_sessions, 1);
    assert!(eventually(|| bmc.stats().active_sessions == 0));
    assert_eq!(bmc.stats().idle_expired, 1);
    assert_eq!(bmc.stats().auth_failures, 0);
    // The BMC no longer knows the session: the request goes unanswered.
    assert!(rt.block_on(s.chassis_status()).is_err());
}
