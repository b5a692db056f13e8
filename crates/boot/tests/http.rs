//! The HTTP boot service for real: served inside a throw-away network namespace and
//! fetched with curl from inside it.

mod common;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ironbell_boot::Index;
use ironbell_boot::http::{self, Config, HttpState};
use ironbell_model::tinkerbell::{Hardware, Ipxe};
use ironbell_testbed::Netns;

const CP01: &str = "3c:ec:ef:10:00:11";
const NOBOOT: &str = "3c:ec:ef:10:00:31";
const CUSTOM: &str = "3c:ec:ef:10:00:32";
const CHAIN: &str = "3c:ec:ef:10:00:33";
const CUSTOM_SCRIPT: &str = "#!ipxe\necho custom\nexit\n";
const SECRET: &str = "top-secret-not-for-http";

/// One HTTP answer as curl printed it with `-i`.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

struct Fixture {
    ns: Netns,
    port: u16,
    artifact: Vec<u8>,
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Fixture {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `curl -s -i EXTRA... URL` inside the namespace.
    async fn curl(&self, extra: &[&str], path: &str) -> Answer {
        let mut args: Vec<String> =
            vec!["-s".into(), "-i".into(), "--max-time".into(), "10".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(self.url(path));
        let ns_name = self.ns.name().to_string();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("ip")
                .args(["netns", "exec", &ns_name, "curl"])
                .args(&args)
                .stdin(std::process::Stdio::null())
                .output()
        })
        .await
        .expect("join")
        .expect("run curl");
        assert!(out.status.success(), "curl {path}: {out:?}");
        let raw = out.stdout;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("header end");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        Answer {
            status,
            head,
            body: raw[split + 4..].to_vec(),
        }
    }
}

fn hardware() -> Vec<Hardware> {
    let mut all = common::example_hardware();
    let base = all[0].clone();
    all[1].spec.interfaces.as_mut().expect("ifaces")[0]
        .dhcp
        .as_mut()
        .expect("dhcp")
        .vlan_id = Some("42".into());

    let mut noboot = common::variant(&base, "noboot", NOBOOT, "10.20.0.31");
    noboot.spec.interfaces.as_mut().expect("ifaces")[0]
        .netboot
        .as_mut()
        .expect("netboot")
        .allow_pxe = Some(false);
    let mut custom = common::variant(&base, "custom", CUSTOM, "10.20.0.32");
    custom.spec.interfaces.as_mut().expect("ifaces")[0]
        .netboot
        .as_mut()
        .expect("netboot")
        .ipxe = Some(Ipxe {
        contents: Some(CUSTOM_SCRIPT.into()),
        ..Ipxe::default()
    });
    let mut chain = common::variant(&base, "chain", CHAIN, "10.20.0.33");
    chain.spec.interfaces.as_mut().expect("ifaces")[0]
        .netboot
        .as_mut()
        .expect("netboot")
        .ipxe = Some(Ipxe {
        url: Some("http://10.0.0.9/boot.ipxe".into()),
        ..Ipxe::default()
    });
    all.extend([noboot, custom, chain]);
    all
}

async fn start() -> Option<Fixture> {
    if !ironbell_testbed::require_tier(ironbell_testbed::Tier::Root)
        || ironbell_testbed::require_tool("curl").is_none()
    {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let artifacts = dir.path().join("artifacts");
    let ipxe = dir.path().join("ipxe");
    std::fs::create_dir_all(&artifacts).expect("mkdir");
    std::fs::create_dir_all(&ipxe).expect("mkdir");
    let artifact: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(artifacts.join("vmlinuz-x86_64"), &artifact).expect("write");
    std::fs::write(artifacts.join("initramfs-x86_64"), b"initramfs").expect("write");
    std::fs::write(ipxe.join("ipxe.efi"), b"fake ipxe.efi").expect("write");
    std::fs::write(ipxe.join("other.bin"), b"not served").expect("write");
    std::fs::write(dir.path().join("secret.txt"), SECRET).expect("write");

    let ns = Netns::new().expect("netns (needs root)");
    ns.ip(&["addr", "add", "10.20.0.11/32", "dev", "lo"])
        .expect("addr");
    let std_listener = ns.tcp_listener("0.0.0.0:0").expect("bind in the namespace");
    let port = std_listener.local_addr().expect("addr").port();
    let listener = tokio::net::TcpListener::from_std(std_listener).expect("from_std");

    let mut config = Config::new(Ipv4Addr::new(10, 20, 0, 1));
    config.http_port = port;
    config.artifacts_dir = artifacts;
    config.ipxe_dir = ipxe;
    config.extra_kernel_args = vec!["tink_worker_image=example/agent:1".into()];
    let stats = Arc::new(ironbell_dhcp::Stats::default());
    stats.discover.fetch_add(7, Ordering::Relaxed);
    let state = HttpState::new(config, Index::from_hardware(hardware())).with_source(stats);
    let server = tokio::spawn(http::serve(listener, state));
    Some(Fixture {
        ns,
        port,
        artifact,
        _dir: dir,
        server,
    })
}

fn assert_hook_script(body: &str, mac: &str, base: &str) {
    let kernel = body
        .lines()
        .find(|l| l.starts_with("kernel "))
        .unwrap_or_else(|| panic!("no kernel line in {body}"));
    assert!(body.starts_with("#!ipxe\n"), "{body}");
    assert!(body.contains("\nset arch x86_64\n"), "{body}");
    assert!(
        kernel.starts_with(&format!("kernel {base}/vmlinuz-x86_64 ")),
        "{kernel}"
    );
    for param in [
        "grpc_authority=10.20.0.1:42113".to_string(),
        "syslog_host=10.20.0.1".to_string(),
        format!("worker_id={mac}"),
        format!("hw_addr={mac}"),
        "tinkerbell_tls=false".to_string(),
        "facility=onprem".to_string(),
        "initrd=initramfs-x86_64".to_string(),
        "console=tty0".to_string(),
        "console=ttyS0,115200".to_string(),
        "tink_worker_image=example/agent:1".to_string(),
    ] {
        assert!(
            kernel.split(' ').any(|p| p == param),
            "{param} missing from {kernel}"
        );
    }
    assert!(
        body.contains(&format!("\ninitrd {base}/initramfs-x86_64\n")),
        "{body}"
    );
    assert!(body.ends_with("boot\n"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_by_mac_and_by_source_address() {
    let Some(f) = start().await else { return };
    let base = format!("http://10.20.0.1:{}", f.port);

    let a = f.curl(&[], &format!("/ipxe/script/{CP01}/auto.ipxe")).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(a.head.to_lowercase().contains("content-type: text/plain"));
    assert_hook_script(&a.text(), CP01, &base);
    assert!(!a.text().contains("vlan_id="), "{}", a.text());

    // iPXE's ${net0/mac:hexhyp} form, upper case too.
    let b = f
        .curl(&[], "/ipxe/script/3C-EC-EF-10-00-11/auto.ipxe")
        .await;
    assert_eq!(b.status, 200);
    assert_eq!(b.body, a.body);

    // VLAN from the Hardware.
    let w = f
        .curl(&[], "/ipxe/script/3c-ec-ef-10-00-21/auto.ipxe")
        .await;
    assert_eq!(w.status, 200);
    assert!(w.text().contains(" vlan_id=42 "), "{}", w.text());

    // By source address.
    let c = f.curl(&["--interface", "10.20.0.11"], "/auto.ipxe").await;
    assert_eq!(c.status, 200, "{}", c.text());
    assert_eq!(c.body, a.body);
    let d = f.curl(&[], "/auto.ipxe").await;
    assert_eq!(d.status, 404, "127.0.0.1 is no machine");

    // Unknown and malformed MACs.
    let u = f
        .curl(&[], "/ipxe/script/aa:bb:cc:dd:ee:ff/auto.ipxe")
        .await;
    assert_eq!(u.status, 404);
    assert!(u.text().contains("no Hardware has MAC aa:bb:cc:dd:ee:ff"));
    let m = f.curl(&[], "/ipxe/script/not-a-mac/auto.ipxe").await;
    assert_eq!(m.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netboot_settings_of_the_hardware() {
    let Some(f) = start().await else { return };
    let n = f
        .curl(&[], &format!("/ipxe/script/{NOBOOT}/auto.ipxe"))
        .await;
    assert_eq!(n.status, 403);
    assert!(n.text().contains("allowPXE"), "{}", n.text());

    let c = f
        .curl(&[], &format!("/ipxe/script/{CUSTOM}/auto.ipxe"))
        .await;
    assert_eq!(c.status, 200);
    assert_eq!(c.text(), CUSTOM_SCRIPT);

    let u = f
        .curl(&[], &format!("/ipxe/script/{CHAIN}/auto.ipxe"))
        .await;
    assert_eq!(u.status, 200);
    assert_eq!(u.text(), "#!ipxe\nchain http://10.0.0.9/boot.ipxe\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_binaries_ranges_and_traversal() {
    let Some(f) = start().await else { return };
    let whole = f.curl(&[], "/vmlinuz-x86_64").await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, f.artifact);
    let init = f.curl(&[], "/initramfs-x86_64").await;
    assert_eq!(
        (init.status, init.body.as_slice()),
        (200, &b"initramfs"[..])
    );

    let part = f.curl(&["-r", "100-199"], "/vmlinuz-x86_64").await;
    assert_eq!(part.status, 206, "{}", part.head);
    assert_eq!(part.body, &f.artifact[100..200]);
    assert!(
        part.head
            .to_lowercase()
            .contains("content-range: bytes 100-199/10000"),
        "{}",
        part.head
    );

    let bin = f.curl(&[], &format!("/ipxe/binary/{CP01}/ipxe.efi")).await;
    assert_eq!(
        (bin.status, bin.body.as_slice()),
        (200, &b"fake ipxe.efi"[..])
    );
    let missing = f.curl(&[], &format!("/ipxe/binary/{CP01}/snp.efi")).await;
    assert_eq!(missing.status, 404, "known name, file absent");
    let other = f.curl(&[], &format!("/ipxe/binary/{CP01}/other.bin")).await;
    assert_eq!(other.status, 404, "only the known iPXE names");

    for path in [
        "/ipxe/binary/x/../../etc/passwd",
        "/ipxe/binary/3c:ec:ef:10:00:11/..%2f..%2fsecret.txt",
        "/ipxe/binary/3c:ec:ef:10:00:11/%2e%2e%2fsecret.txt",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%5csecret.txt",
        "/artifacts/../secret.txt",
        "/../../../../etc/passwd",
        "/",
    ] {
        let a = f.curl(&["--path-as-is"], path).await;
        eprintln!("{path} -> {}", a.status);
        assert!(
            matches!(a.status, 400 | 403 | 404),
            "{path}: {} {}",
            a.status,
            a.text()
        );
        assert!(!a.text().contains(SECRET), "{path} leaked the file");
        assert!(!a.text().contains("root:"), "{path} leaked /etc/passwd");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics() {
    let Some(f) = start().await else { return };
    let h = f.curl(&[], "/healthz").await;
    assert_eq!((h.status, h.text().as_str()), (200, "ok\n"));

    // Request heads are bounded: one huge header, or too many headers, are refused.
    let big = format!("X-Big: {}", "a".repeat(20_000));
    let a = f.curl(&["-H", &big], "/healthz").await;
    assert_eq!(a.status, 431, "{}", a.head);
    let many: Vec<String> = (0..80).map(|i| format!("X-H{i}: v")).collect();
    let mut args: Vec<&str> = Vec::new();
    for h in &many {
        args.extend(["-H", h.as_str()]);
    }
    let a = f.curl(&args, "/healthz").await;
    assert_eq!(a.status, 431, "{}", a.head);
    f.curl(&[], &format!("/ipxe/script/{CP01}/auto.ipxe")).await;
    f.curl(&[], &format!("/ipxe/script/{CP01}/auto.ipxe")).await;
    f.curl(&[], "/ipxe/script/aa:bb:cc:dd:ee:ff/auto.ipxe")
        .await;
    f.curl(&[], "/vmlinuz-x86_64").await;

    let m = f.curl(&[], "/metrics").await;
    assert_eq!(m.status, 200);
    assert!(
        m.head
            .contains("application/openmetrics-text; version=1.0.0"),
        "{}",
        m.head
    );
    let text = m.text();
    for line in [
        "# TYPE ironbell_boot_http_requests counter",
        "ironbell_boot_http_requests_total{route=\"script\",status=\"200\"} 2",
        "ironbell_boot_http_requests_total{route=\"script\",status=\"404\"} 1",
        "ironbell_boot_http_requests_total{route=\"healthz\",status=\"200\"} 1",
        "ironbell_boot_http_requests_total{route=\"artifact\",status=\"200\"} 1",
        "ironbell_boot_hardware 6",
        "ironbell_boot_mac_conflicts 0",
        "ironbell_dhcp_requests_total{type=\"discover\"} 7",
        "ironbell_dhcp_ignored_total{reason=\"unknown_mac\"} 0",
        "ironbell_boot_http_connections_refused_total 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing from\n{text}"
        );
    }
    assert_eq!(text.lines().last(), Some("# EOF"), "{text}");
    // Every sample line is `name{labels} value` or `name value`.
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let value = l.rsplit(' ').next().expect("value");
        assert!(value.parse::<u64>().is_ok(), "bad sample line {l:?}");
    }
}
