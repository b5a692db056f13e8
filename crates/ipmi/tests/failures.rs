//! Failure paths against real servers (and a garbage-sending peer), each in its own
//! namespace: wrong password, wrong user, unsupported commands, nothing listening, a peer
//! that answers garbage. Every error and every `Debug`/`Display` of the configuration is
//! checked for the password text.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Bmc, Kind, in_ns, tools_present};
use ironbell_ipmi::{
    AuthFailure, CipherSuite, CipherSuiteChoice, Config, Error, RakpStatus, Session,
};
use ironbell_testbed::{Netns, Rng, Tier, require_tier};

const SECRET: &str = "Sup3rSecretPw!";

/// Neither Display nor Debug of `e` contains the password.
fn assert_secret_absent(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} leaks the password: {text}");
    assert!(
        !text.contains("Sup3r"),
        "{what} leaks part of the password: {text}"
    );
    assert!(
        !text.contains(common::PASSWORD),
        "{what} leaks the password: {text}"
    );
    assert!(
        !text.contains("adminPw"),
        "{what} leaks part of the password: {text}"
    );
}

fn check_error(what: &str, e: &Error) {
    assert_secret_absent(what, &e.to_string());
    assert_secret_absent(what, &format!("{e:?}"));
    assert_secret_absent(what, &format!("{e:#?}"));
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        assert_secret_absent(what, &s.to_string());
        source = s.source();
    }
    eprintln!("{what}: {e}");
}

#[test]
fn config_never_shows_the_password() {
    let mut c = Config::new("bmc.example", "admin", SECRET);
    c.cipher_suite = CipherSuiteChoice::Only(CipherSuite::Suite17);
    for text in [format!("{c}"), format!("{c:?}"), format!("{c:#?}")] {
        assert_secret_absent("Config", &text);
        assert!(
            text.contains("admin") && text.contains("bmc.example"),
            "{text}"
        );
    }
    assert!(format!("{c:?}").contains("<redacted>"));
}

#[test]
fn invalid_config_is_refused_without_echoing_it() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let long = "x".repeat(21);
    let mut c = Config::new("127.0.0.1", "admin", format!("{SECRET}{long}"));
    let e = rt.block_on(Session::connect(c.clone())).err().unwrap();
    assert!(matches!(e, Error::InvalidConfig { .. }), "{e}");
    check_error("password too long", &e);
    c.password = SECRET.into();
    c.username = "u".repeat(17);
    let e = rt.block_on(Session::connect(c.clone())).err().unwrap();
    assert!(matches!(e, Error::InvalidConfig { .. }), "{e}");
    c.username = "admin".into();
    c.timeout = Duration::ZERO;
    let e = rt.block_on(Session::connect(c)).err().unwrap();
    assert!(matches!(e, Error::InvalidConfig { .. }), "{e}");
}

/// Wrong password: the BMC's RAKP 2 HMAC does not verify (both servers, every suite they
/// have).
#[test]
fn wrong_password_is_an_authentication_error() {
    if !tools_present(&["ipmi_sim", "python"]) {
        return;
    }
    for (kind, suite) in [
        (Kind::IpmiSim, CipherSuite::Suite3),
        (Kind::Pyghmi, CipherSuite::Suite3),
        (Kind::PyghmiSuite17, CipherSuite::Suite17),
    ] {
        let bmc = Bmc::start(kind);
        bmc.run(|| async {
            for choice in [CipherSuiteChoice::Only(suite), CipherSuiteChoice::Auto] {
                let mut c = bmc.config(choice);
                c.password = SECRET.into();
                let e = Session::connect(c)
                    .await
                    .expect_err("wrong password accepted");
                assert!(
                    matches!(
                        e,
                        Error::Authentication {
                            reason: AuthFailure::Rakp2Mismatch,
                            ..
                        }
                    ),
                    "{kind:?}: {e}"
                );
                check_error(&format!("{kind:?} wrong password"), &e);
            }
            // The BMC still takes the right password afterwards.
            let s = Session::connect(bmc.config(CipherSuiteChoice::Only(suite)))
                .await
                .expect("connect");
            s.close().await.expect("close");
        });
    }
}

/// Wrong user name: ipmi_sim says "unauthorized name" in RAKP 2; pyghmi stays silent.
#[test]
fn wrong_username_is_an_authentication_error() {
    if !tools_present(&["ipmi_sim", "python"]) {
        return;
    }
    for kind in [Kind::IpmiSim, Kind::Pyghmi] {
        let bmc = Bmc::start(kind);
        bmc.run(|| async {
            let mut c = bmc.config(CipherSuiteChoice::Only(CipherSuite::Suite3));
            c.username = "nobody".into();
            c.password = SECRET.into();
            c.timeout = Duration::from_millis(300);
            c.retries = 1;
            let e = Session::connect(c)
                .await
                .expect_err("unknown user accepted");
            let want = match kind {
                Kind::IpmiSim => AuthFailure::Rakp2Status(RakpStatus(0x0D)),
                _ => AuthFailure::NoRakp2,
            };
            match &e {
                Error::Authentication {
                    reason, username, ..
                } => {
                    assert_eq!(*reason, want, "{kind:?}: {e}");
                    assert_eq!(username, "nobody");
                }
                other => panic!("{kind:?}: {other}"),
            }
            check_error(&format!("{kind:?} wrong user"), &e);
        });
    }
}

/// A command the BMC does not know gives a named completion code; the session survives.
#[test]
fn completion_codes_are_named() {
    if !tools_present(&["ipmi_sim", "python"]) {
        return;
    }
    for kind in [Kind::IpmiSim, Kind::Pyghmi] {
        let bmc = Bmc::start(kind);
        bmc.run(|| async {
            let mut c = bmc.config(CipherSuiteChoice::Auto);
            c.password = common::PASSWORD.into();
            let mut s = Session::connect(c).await.expect("connect");
            // Chassis netFn, command 0x77: defined by nobody.
            let e = s.raw(0x00, 0x77, &[]).await.expect_err("unknown command");
            match &e {
                Error::Completion { code, .. } => {
                    assert_eq!(code.code, 0xC1, "{kind:?}: {e}");
                    assert!(e.to_string().contains("invalid command"), "{e}");
                }
                other => panic!("{kind:?}: {other}"),
            }
            check_error(&format!("{kind:?} completion code"), &e);
            assert_secret_absent("Session", &format!("{s:?}"));
            assert!(s.chassis_status().await.is_ok());
            s.close().await.expect("close");
        });
    }
}

/// Nothing listens: a timeout error within the configured time.
#[test]
fn unreachable_port_times_out_in_time() {
    require_tier!(Tier::Root);
    let ns = Netns::new().expect("netns");
    let mut c = Config::new("127.0.0.1", "admin", SECRET);
    c.port = common::fresh_port();
    c.timeout = Duration::from_millis(200);
    c.retries = 2;
    let started = Instant::now();
    let e = in_ns(&ns, || Session::connect(c)).expect_err("connected to nothing");
    let took = started.elapsed();
    match &e {
        Error::Timeout {
            attempts, dropped, ..
        } => {
            assert_eq!(*attempts, 3);
            assert_eq!(*dropped, 0);
        }
        other => panic!("{other}"),
    }
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    check_error("timeout", &e);
}

/// A peer that answers every datagram with garbage: each is dropped and counted, and the
/// client times out instead of panicking or accepting it.
#[test]
fn garbage_answers_are_dropped_and_counted() {
    require_tier!(Tier::Root);
    let ns = Netns::new().expect("netns");
    let port = common::fresh_port();
    let peer = ns
        .enter(|| std::net::UdpSocket::bind(("127.0.0.1", port)))
        .expect("enter")
        .expect("bind");
    peer.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let garbage = std::thread::spawn(move || {
        let mut rng = Rng::new(623);
        let mut buf = [0u8; 1500];
        let mut answered = 0u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let Ok((n, from)) = peer.recv_from(&mut buf) else {
                continue;
            };
            // Several kinds of garbage per request: random bytes, a truncated copy of the
            // request, a well-formed RMCP/IPMI header with random contents, empty.
            let (a, b) = (rng.below(64), 10 + rng.below(40));
            let mut answers = vec![rng.bytes(a), buf[..n / 2].to_vec(), Vec::new()];
            let mut framed = vec![0x06, 0x00, 0xFF, 0x07, 0x06, 0x11];
            framed.extend(rng.bytes(b));
            answers.push(framed);
            let mut v15 = vec![0x06, 0x00, 0xFF, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF];
            v15.extend(rng.bytes(8));
            answers.push(v15);
            for a in answers {
                if peer.send_to(&a, from).is_ok() {
                    answered += 1;
                }
            }
        }
        answered
    });
    let mut c = Config::new("127.0.0.1", "admin", SECRET);
    c.port = port;
    c.timeout = Duration::from_millis(200);
    c.retries = 2;
    let e = in_ns(&ns, || Session::connect(c)).expect_err("garbage accepted");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = garbage.join().expect("garbage thread");
    match &e {
        Error::Timeout {
            dropped, attempts, ..
        } => {
            assert_eq!(*attempts, 3);
            // Five answers per attempt (the empty ones count as well); on a loaded machine
            // the last attempt's may come after its deadline.
            assert!(
                (5..=15).contains(dropped),
                "dropped {dropped}, garbage sent: {sent}"
            );
        }
        other => panic!("{other}"),
    }
    check_error("garbage", &e);
}

/// A `MakeWriter` that appends everything to one shared buffer.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Every log line (at TRACE) of a failed and a successful session leaves the password out.
#[test]
fn log_lines_never_carry_the_password() {
    if !tools_present(&["python"]) {
        return;
    }
    let bmc = Bmc::start(Kind::PyghmiSuite17);
    let captured = Captured::default();
    let sink = captured.clone();
    let bmc = &bmc;
    bmc.ns
        .enter(move || {
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(sink)
                .with_ansi(false)
                .finish();
            tracing::subscriber::with_default(subscriber, || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let mut c = bmc.config(CipherSuiteChoice::Auto);
                    c.password = SECRET.into();
                    assert!(Session::connect(c).await.is_err());
                    let mut s = Session::connect(bmc.config(CipherSuiteChoice::Auto))
                        .await
                        .expect("connect");
                    s.chassis_status().await.expect("status");
                    let _ = s.raw(0x00, 0x77, &[]).await;
                    s.close().await.expect("close");
                })
            })
        })
        .expect("enter");
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("RAKP 2"), "nothing logged? {logs}");
    assert!(logs.contains("IPMI session open"), "{logs}");
    assert_secret_absent("log", &logs);
}
