//! Protocol behaviour no stock client exercises, driven by the crate's own test client
//! (tests/common) inside a network namespace: windowsize, lost ACKs, wrong TIDs, OVMF's
//! abort, malformed packets, busy refusals, path confinement, WRQ, the final empty block.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{fetch, pseudo_random, recv, rrq, with_server};
use ironbell_tftp::packet::{ErrorCode, Mode, Packet, Request};
use ironbell_tftp::{Config, FileSource};
use tokio::net::UdpSocket;

fn fast() -> Config {
    Config {
        timeout: Duration::from_millis(300),
        ..common::one_address()
    }
}

fn mem(files: &[(&str, Vec<u8>)]) -> FileSource {
    FileSource::memory(
        files
            .iter()
            .map(|(n, d)| (n.to_string(), Bytes::from(d.clone()))),
    )
}

#[test]
fn windowsize_16_blksize_1468() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let data = pseudo_random(1_000_000, 7);
    with_server(fast(), mem(&[("w.bin", data.clone())]), |h| {
        let got =
            h.rt.block_on(fetch(
                h.addr,
                "/w.bin",
                &[("blksize", "1468"), ("windowsize", "16"), ("tsize", "0")],
                None,
            ))
            .unwrap();
        let oack = got.oack.unwrap();
        let want = [
            ("blksize", "1468"),
            ("windowsize", "16"),
            ("tsize", "1000000"),
        ];
        assert_eq!(
            oack,
            want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
        );
        assert!(got.data == data, "windowed download differs");
        assert_eq!(got.duplicates, 0);
        h.wait_for("ok", |s| s.transfers_ok == 1);
        let s = h.stats.snapshot();
        assert_eq!((s.retransmits, s.bytes_sent), (0, 1_000_000));
    });
}

#[test]
fn blksize_and_windowsize_are_capped_by_config() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let data = pseudo_random(200_000, 8);
    let config = Config {
        max_blksize: 1024,
        max_windowsize: 4,
        ..fast()
    };
    with_server(config, mem(&[("c.bin", data.clone())]), |h| {
        let got =
            h.rt.block_on(fetch(
                h.addr,
                "c.bin",
                &[("blksize", "65464"), ("windowsize", "1000"), ("foo", "bar")],
                None,
            ))
            .unwrap();
        let oack = got.oack.unwrap();
        assert_eq!(
            oack,
            vec![
                ("blksize".to_string(), "1024".to_string()),
                ("windowsize".to_string(), "4".to_string())
            ]
        );
        assert!(got.data == data);
    });
}

#[test]
fn dropped_ack_is_recovered_by_retransmission() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let data = pseudo_random(100_000, 9);
    with_server(fast(), mem(&[("r.bin", data.clone())]), |h| {
        // Windowed: the ACK closing the second window (block 8) is lost.
        let got =
            h.rt.block_on(fetch(
                h.addr,
                "r.bin",
                &[("blksize", "512"), ("windowsize", "4")],
                Some(8),
            ))
            .unwrap();
        assert!(got.data == data, "windowed download differs");
        assert_eq!(got.duplicates, 4, "the whole window is sent again once");
        h.wait_for("ok", |s| s.transfers_ok == 1);
        assert_eq!(h.stats.snapshot().retransmits, 4);
        // Lock-step, no options at all: the ACK of block 3 is lost.
        let got = h.rt.block_on(fetch(h.addr, "r.bin", &[], Some(3))).unwrap();
        assert!(got.oack.is_none());
        assert!(got.data == data, "lock-step download differs");
        assert_eq!(got.duplicates, 1);
        h.wait_for("ok", |s| s.transfers_ok == 2);
        let s = h.stats.snapshot();
        assert_eq!((s.retransmits, s.transfers_failed), (5, 0));
    });
}

#[test]
fn final_block_is_short_or_empty() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let files = [
        ("exact", pseudo_random(1024, 1)),
        ("empty", Vec::new()),
        ("short", pseudo_random(1000, 2)),
    ];
    with_server(fast(), mem(&files), |h| {
        for (name, data) in &files {
            for opts in [&[][..], &[("blksize", "8"), ("windowsize", "3")][..]] {
                let got = h.rt.block_on(fetch(h.addr, name, opts, None)).unwrap();
                assert!(got.data == *data, "{name} {opts:?}");
            }
        }
        h.wait_for("ok", |s| s.transfers_ok == 6);
    });
}

#[test]
fn wrong_tid_gets_error_5_and_the_transfer_goes_on() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    with_server(fast(), mem(&[("t", b"hello".to_vec())]), |h| {
        h.rt.block_on(async {
            let wait = Duration::from_secs(5);
            let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let intruder = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            client
                .send_to(&rrq("t", &[("tsize", "0")]), h.addr)
                .await
                .unwrap();
            let (pkt, tid) = recv(&client, wait).await.unwrap();
            assert_eq!(pkt, Packet::Oack(vec![("tsize".into(), "5".into())]));
            intruder
                .send_to(&Packet::Ack(0).encode(), tid)
                .await
                .unwrap();
            let (pkt, from) = recv(&intruder, wait).await.unwrap();
            assert_eq!(
                (from, pkt),
                (
                    tid,
                    Packet::error(ErrorCode::UnknownTid, "unknown transfer ID")
                )
            );
            client.send_to(&Packet::Ack(0).encode(), tid).await.unwrap();
            let (pkt, _) = recv(&client, wait).await.unwrap();
            assert_eq!(
                pkt,
                Packet::Data {
                    block: 1,
                    data: Bytes::from_static(b"hello")
                }
            );
            client.send_to(&Packet::Ack(1).encode(), tid).await.unwrap();
        });
        h.wait_for("ok", |s| s.transfers_ok == 1);
        let s = h.stats.snapshot();
        assert_eq!((s.packets_wrong_tid, s.retransmits), (1, 0));
    });
}

#[test]
fn ovmf_size_query_abort_is_quiet_and_the_next_request_works() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let data = pseudo_random(74_213, 3);
    with_server(fast(), mem(&[("undionly.kpxe", data.clone())]), |h| {
        h.rt.block_on(async {
            let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            client
                .send_to(
                    &rrq("/undionly.kpxe", &[("tsize", "0"), ("blksize", "1468")]),
                    h.addr,
                )
                .await
                .unwrap();
            let (pkt, tid) = recv(&client, Duration::from_secs(5)).await.unwrap();
            let Packet::Oack(o) = pkt else {
                panic!("want OACK, got {pkt:?}")
            };
            assert!(o.contains(&("tsize".into(), "74213".into())));
            let abort = Packet::error(ErrorCode::OptionRefused, "size known");
            client.send_to(&abort.encode(), tid).await.unwrap();
            // Nothing more comes: no retransmitted OACK, no error back.
            assert!(recv(&client, Duration::from_millis(900)).await.is_none());
        });
        h.wait_for("abort", |s| s.transfers_aborted == 1 && s.active == 0);
        let got =
            h.rt.block_on(fetch(
                h.addr,
                "/undionly.kpxe",
                &[("tsize", "0"), ("blksize", "1468")],
                None,
            ))
            .unwrap();
        assert!(got.data == data);
        h.wait_for("ok", |s| s.transfers_ok == 1);
        let s = h.stats.snapshot();
        assert_eq!((s.transfers_failed, s.retransmits), (0, 0));
    });
}

#[test]
fn malformed_packets_are_counted_and_dropped() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let data = pseudo_random(5000, 4);
    with_server(fast(), mem(&[("m", data.clone())]), |h| {
        let garbage: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0, 1],
            b"\x00\x01m".to_vec(),
            b"\x00\x01m\x00octet".to_vec(),
            b"\x00\x01m\x00binary\x00".to_vec(),
            b"\x00\x01m\x00octet\x00blksize\x00".to_vec(),
            b"\x00\x01\xff\x00octet\x00".to_vec(),
            b"\x00\x09hello".to_vec(),
            b"\x00\x04\x00\x01".to_vec(),
            b"\x00\x03\x00\x01data".to_vec(),
            vec![0u8; 65_000],
            [&b"\x00\x01m\x00octet\x00"[..], &vec![b'a'; 65_490][..]].concat(),
        ];
        let n = garbage.len() as u64;
        h.rt.block_on(async {
            let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            for g in &garbage {
                s.send_to(g, h.addr).await.unwrap();
            }
            // Dropped means no answer.
            assert!(recv(&s, Duration::from_millis(300)).await.is_none());
        });
        h.wait_for("malformed count", |s| s.packets_malformed == n);
        let got = h.rt.block_on(fetch(h.addr, "m", &[], None)).unwrap();
        assert!(got.data == data);
        let s = h.stats.snapshot();
        assert_eq!((s.requests, s.packets_malformed), (1, n));
    });
}

#[test]
fn write_requests_and_mail_mode_are_refused() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    with_server(fast(), mem(&[("f", b"x".to_vec())]), |h| {
        h.rt.block_on(async {
            let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let req = |mode| Request {
                filename: "f".into(),
                mode,
                options: vec![],
            };
            s.send_to(&Packet::Wrq(req(Mode::Octet)).encode(), h.addr)
                .await
                .unwrap();
            let (pkt, _) = recv(&s, Duration::from_secs(5)).await.unwrap();
            assert!(matches!(pkt, Packet::Error { code: 2, .. }), "{pkt:?}");
            s.send_to(&Packet::Rrq(req(Mode::Mail)).encode(), h.addr)
                .await
                .unwrap();
            let (pkt, _) = recv(&s, Duration::from_secs(5)).await.unwrap();
            assert!(matches!(pkt, Packet::Error { code: 4, .. }), "{pkt:?}");
        });
        // netascii is served byte for byte.
        let got = h.rt.block_on(async {
            let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let req = Request {
                filename: "f".into(),
                mode: Mode::Netascii,
                options: vec![],
            };
            s.send_to(&Packet::Rrq(req).encode(), h.addr).await.unwrap();
            let (pkt, tid) = recv(&s, Duration::from_secs(5)).await.unwrap();
            s.send_to(&Packet::Ack(1).encode(), tid).await.unwrap();
            pkt
        });
        assert_eq!(
            got,
            Packet::Data {
                block: 1,
                data: Bytes::from_static(b"x")
            }
        );
        h.wait_for("counts", |s| s.transfers_failed == 2 && s.transfers_ok == 1);
    });
}

#[test]
fn paths_are_confined_to_the_root() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("f"), b"inside").unwrap();
    std::fs::write(dir.path().join("secret"), b"outside").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("passwd")).unwrap();
    std::os::unix::fs::symlink("../secret", root.join("secret")).unwrap();
    std::os::unix::fs::symlink("../f", root.join("sub/up")).unwrap();
    with_server(fast(), FileSource::dir(&root).unwrap(), |h| {
        let cases: &[(&str, u16)] = &[
            ("../etc/passwd", 2),
            ("//etc/passwd", 2),
            ("..\\x", 2),
            ("passwd", 2),
            ("secret", 2),
            ("sub/../f", 2),
            ("/../f", 2),
            ("./f", 2),
            // One leading '/' is stripped: this is `etc/passwd` under the root.
            ("/etc/passwd", 1),
            ("nope", 1),
            ("sub", 1),
        ];
        for (name, code) in cases {
            let r = h.rt.block_on(fetch(h.addr, name, &[], None));
            assert_eq!(r.as_ref().err().map(|e| e.0), Some(*code), "{name}: {r:?}");
        }
        for name in ["f", "/f", "sub/up"] {
            let got = h.rt.block_on(fetch(h.addr, name, &[], None)).unwrap();
            assert_eq!(got.data, b"inside", "{name}");
        }
        h.wait_for("counts", |s| {
            s.transfers_failed == cases.len() as u64 && s.transfers_ok == 3
        });
    });
}

#[test]
fn transfers_beyond_the_limit_get_busy() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let config = Config {
        max_transfers: 1,
        ..fast()
    };
    with_server(config, mem(&[("b", b"busy?".to_vec())]), |h| {
        h.rt.block_on(async {
            let wait = Duration::from_secs(5);
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            a.send_to(&rrq("b", &[("tsize", "0")]), h.addr)
                .await
                .unwrap();
            let (_, tid) = recv(&a, wait).await.unwrap();
            // A holds the only slot (its OACK is unacknowledged).
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            b.send_to(&rrq("b", &[]), h.addr).await.unwrap();
            let (pkt, from) = recv(&b, wait).await.unwrap();
            assert_eq!(
                (from, pkt),
                (h.addr, Packet::error(ErrorCode::NotDefined, "server busy"))
            );
            a.send_to(
                &Packet::error(ErrorCode::OptionRefused, "bye").encode(),
                tid,
            )
            .await
            .unwrap();
        });
        h.wait_for("slot freed", |s| s.active == 0 && s.transfers_aborted == 1);
        let got = h.rt.block_on(fetch(h.addr, "b", &[], None)).unwrap();
        assert_eq!(got.data, b"busy?");
        assert_eq!(h.stats.snapshot().busy, 1);
    });
}

#[test]
fn silent_client_times_out_and_the_transfer_fails() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let config = Config {
        timeout: Duration::from_millis(100),
        retries: 2,
        ..common::one_address()
    };
    with_server(config, mem(&[("s", pseudo_random(2000, 5))]), |h| {
        let sent = h.rt.block_on(async {
            let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            c.send_to(&rrq("s", &[]), h.addr).await.unwrap();
            let mut n = 0;
            while let Some((pkt, _)) = recv(&c, Duration::from_millis(600)).await {
                match pkt {
                    Packet::Data { block: 1, .. } => n += 1,
                    Packet::Error { code: 0, .. } => break,
                    other => panic!("unexpected {other:?}"),
                }
            }
            n
        });
        assert_eq!(sent, 3, "first send and two retries");
        h.wait_for("failed", |s| s.transfers_failed == 1 && s.active == 0);
        assert_eq!(h.stats.snapshot().retransmits, 2);
    });
}

#[test]
fn stopping_the_server_ends_running_transfers_with_an_error() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    // The harness's own server is not used: this one is stopped in the middle of a
    // transfer, by dropping (aborting) its future.
    with_server(fast(), mem(&[]), |h| {
        let config = Config {
            timeout: Duration::from_secs(30),
            ..common::one_address()
        };
        let server = ironbell_tftp::Server::new(config, mem(&[("s", pseudo_random(5000, 3))]));
        let stats = server.stats();
        h.rt.block_on(async {
            let listen = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = listen.local_addr().unwrap();
            let task = tokio::spawn(server.serve(listen));
            let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            client.send_to(&rrq("s", &[]), addr).await.unwrap();
            let (pkt, _) = recv(&client, Duration::from_secs(5)).await.unwrap();
            assert!(matches!(pkt, Packet::Data { block: 1, .. }), "{pkt:?}");
            // The client never acknowledges; the 30 s timeout is far away.
            task.abort();
            let started = std::time::Instant::now();
            let (pkt, _) = recv(&client, Duration::from_secs(2)).await.unwrap();
            assert_eq!(pkt, Packet::error(ErrorCode::NotDefined, "server stopped"));
            assert!(started.elapsed() < Duration::from_secs(1));
        });
        // The thread counts the transfer just after sending the error.
        for _ in 0..100 {
            if stats.snapshot().active == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let s = stats.snapshot();
        assert_eq!((s.transfers_failed, s.active), (1, 0));
    });
}
