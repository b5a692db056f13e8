//! The client against the real sushy-tools Redfish emulator (fake driver), each test with
//! its own emulator in its own network namespace.
//!
//! sushy-tools facts these tests rely on (read from its source): no SessionService (so
//! session auth falls back to basic), basic auth from a bcrypt htpasswd
//! (`SUSHY_EMULATOR_AUTH_FILE`), power changes applied 1–11 s after the request, reset
//! types On/ForceOff/GracefulShutdown/GracefulRestart/ForceRestart/Nmi/ForceOn (no
//! PowerCycle), `BootSourceOverrideEnabled` always reported `Continuous`, virtual media
//! under `/redfish/v1/Systems/<id>/VirtualMedia` linked from the Manager, with the image
//! downloaded by the emulator on insert.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use ironbell_redfish::{
    Auth, BootMode, BootOverride, BootSource, Client, Config, Error, OverrideEnabled, PowerState,
    ResetType,
};

const FAKE_UUID: &str = "27946b59-9e44-4fa7-8e91-f3527a1ef094";

#[test]
fn basic_auth_finds_the_only_system_and_by_name() {
    if !common::peers_present() {
        return;
    }
    let sushy = Sushy::start(Options {
        auth: true,
        ..Options::default()
    });
    let cfg = sushy.config(Auth::Basic);
    sushy.run(|| async move {
        let client = Client::connect(cfg.clone()).await.unwrap();
        assert_eq!(client.auth_in_use(), Auth::Basic);
        assert_eq!(client.system_id(), FAKE_UUID);
        assert_eq!(
            client.system_path(),
            format!("/redfish/v1/Systems/{FAKE_UUID}")
        );
        assert_eq!(client.power_state().await.unwrap(), PowerState::Off);
        client.close().await.unwrap();

        for name in ["fake", FAKE_UUID] {
            let mut c = cfg.clone();
            c.system_name = Some(name.into());
            let client = Client::connect(c).await.unwrap();
            assert_eq!(client.system_id(), FAKE_UUID, "by {name}");
        }

        let mut c = cfg.clone();
        c.system_name = Some("node-7".into());
        let err = Client::connect(c).await.unwrap_err();
        assert!(
            matches!(&err, Error::SystemNotFound { available, .. } if available == &[format!("{FAKE_UUID} (fake)")]),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("node-7") && text.contains("fake"), "{text}");
    });
}

#[test]
fn session_auth_falls_back_to_basic_on_sushy() {
    if !common::peers_present() {
        return;
    }
    let sushy = Sushy::start(Options {
        auth: true,
        ..Options::default()
    });
    let cfg = sushy.config(Auth::Session);
    sushy.run(|| async move {
        let client = Client::connect(cfg).await.unwrap();
        assert_eq!(client.auth_in_use(), Auth::Basic);
        assert_eq!(client.power_state().await.unwrap(), PowerState::Off);
        client.close().await.unwrap();
    });
}

#[test]
fn wrong_password_is_an_authentication_error_without_the_password() {
    if !common::peers_present() {
        return;
    }
    let sushy = Sushy::start(Options {
        auth: true,
        ..Options::default()
    });
    let wrong = "Wr0ng-pa55word-xyz";
    let cfg = Config::new(&sushy.url(), USER, wrong).unwrap();
    for auth in [Auth::Basic, Auth::Session] {
        let mut cfg = cfg.clone();
        cfg.auth = auth;
        let err = sushy.run(|| async move { Client::connect(cfg).await.unwrap_err() });
        let (text, debug) = (err.to_string(), format!("{err:?}"));
        assert!(
            matches!(&err, Error::Auth { status: 401, username, .. } if username == USER),
            "{debug}"
        );
        assert!(
            text.contains(&format!("127.0.0.1:{}", sushy.port)),
            "{text}"
        );
        for s in [&text, &debug] {
            assert!(!s.contains(wrong) && !s.contains(PASSWORD), "{s}");
        }
    }
    // Nor does the configuration's Debug.
    assert!(!format!("{cfg:?}").contains(wrong));
}

/// Connects, makes sure the fake system is on, and returns the client.
async fn powered_on(cfg: Config) -> Client {
    let client = Client::connect(cfg).await.unwrap();
    assert_eq!(client.power_state().await.unwrap(), PowerState::Off);
    assert_eq!(
        client.reset(ResetType::On).await.unwrap(),
        vec![ResetType::On]
    );
    poll_power(&client, PowerState::On).await;
    // Already on: nothing to send.
    assert_eq!(client.reset(ResetType::On).await.unwrap(), vec![]);
    client
}

#[test]
fn power_on_and_force_off() {
    if !common::peers_present() {
        return;
    }
    let sushy = Sushy::start(Options::default());
    let cfg = sushy.config(Auth::Basic);
    sushy.run(|| async move {
        let client = powered_on(cfg).await;
        assert_eq!(
            client.reset(ResetType::ForceOff).await.unwrap(),
            vec![ResetType::ForceOff]
        );
        poll_power(&client, PowerState::Off).await;
        assert_eq!(client.reset(ResetType::ForceOff).await.unwrap(), vec![]);
    });
}

#[test]
fn power_graceful_shutdown() {
    if !common::peers_present() {
        return;
    }
    let sushy = Sushy::start(Options::default());
    let cfg = sushy.config(Auth::Basic);
    sushy.run(|| async move {
        let client = powered_on(cfg).await;
        assert_eq!(
            client.reset(ResetType::GracefulShutdown).await.unwrap(),
            vec![ResetType::GracefulShutdown]
        );
        poll_power(&client, PowerState::Off).await;
    });
}

#[test]
fn power_force_restart_goes_off_then_on() {
    if !common::peers_present() {
        return;
    }
    let sushy = Sushy::start(Options::default());
    let cfg = sushy.config(Auth::Basic);
    sushy.run(|| async move {
        let client = powered_on(cfg).await;
        assert_eq!(
            client.reset(ResetType::ForceRestart).await.unwrap(),
            vec![ResetType::ForceRestart]
        );
        // The fake driver drops to Off at once, then comes back On.
        let seen = poll_power(&client, PowerState::On).await;
        assert_eq!(seen, vec![PowerState::Off, PowerState::On]);
    });
}

#[test]
fn power_cycle_falls_back_to_force_off_then_on() {
    if !common::peers_present() {
        return;
    }
    let sushy = Sushy::start(Options::default());
    let cfg = sushy.config(Auth::Basic);
    sushy.run(|| async move {
        let client = powered_on(cfg).await;
        // sushy does not list PowerCycle: ForceOff, wait for Off, On.
        assert_eq!(
            client.reset(ResetType::PowerCycle).await.unwrap(),
            vec![ResetType::ForceOff, ResetType::On]
        );
        poll_power(&client, PowerState::On).await;
    });
}

#[test]
fn power_cycle_of_an_off_machine_turns_it_on() {
    if !common::peers_present() {
        return;
    }
    let sushy = Sushy::start(Options::default());
    let cfg = sushy.config(Auth::Basic);
    sushy.run(|| async move {
        let client = Client::connect(cfg).await.unwrap();
        assert_eq!(client.power_state().await.unwrap(), PowerState::Off);
        assert_eq!(
            client.reset(ResetType::PowerCycle).await.unwrap(),
            vec![ResetType::On]
        );
        poll_power(&client, PowerState::On).await;
    });
}

#[test]
fn boot_override_every_target_enabled_and_mode() {
    if !common::peers_present() {
        return;
    }
    let sushy = Sushy::start(Options {
        auth: true,
        ..Options::default()
    });
    let cfg = sushy.config(Auth::Session);
    sushy.run(|| async move {
        let client = Client::connect(cfg).await.unwrap();
        let mut count = 0;
        for target in [
            BootSource::Pxe,
            BootSource::Hdd,
            BootSource::BiosSetup,
            BootSource::Cd,
        ] {
            for persistent in [false, true] {
                for uefi in [true, false] {
                    let how = BootOverride {
                        persistent,
                        uefi: Some(uefi),
                    };
                    let set = client
                        .set_boot_override(target.clone(), how)
                        .await
                        .unwrap_or_else(|e| panic!("{target} {how:?}: {e}"));
                    let read = client.boot_override().await.unwrap();
                    assert_eq!(set, read);
                    assert_eq!(read.target, target);
                    let mode = if uefi {
                        BootMode::Uefi
                    } else {
                        BootMode::Legacy
                    };
                    assert_eq!(read.mode, Some(mode), "{target} {how:?}");
                    // sushy reports Continuous whatever was set; the client copes.
                    assert_eq!(read.enabled, OverrideEnabled::Continuous);
                    count += 1;
                }
            }
        }
        assert_eq!(count, 16);
        // Without a mode, the mode is left alone.
        let read = client
            .set_boot_override(
                BootSource::Pxe,
                BootOverride {
                    persistent: false,
                    uefi: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (read.target, read.mode),
            (BootSource::Pxe, Some(BootMode::Legacy))
        );
    });
}

#[test]
fn virtual_media_insert_and_eject() {
    if !common::peers_present() {
        return;
    }
    let sushy = Sushy::start(Options {
        auth: true,
        ..Options::default()
    });
    // The emulator downloads the image on insert: serve one inside the namespace.
    let www = sushy.dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(www.join("hook.iso"), vec![0x5a_u8; 64 * 1024]).unwrap();
    let port = free_port(&sushy.ns);
    let log = sushy.dir.path().join("http.log");
    let mut cmd = sushy.ns.command(python().to_str().unwrap());
    cmd.args(["-m", "http.server", "-b", "127.0.0.1", &port.to_string()])
        .arg("-d")
        .arg(&www);
    let mut http = Proc::spawn(cmd, &log);
    wait_listening(&sushy.ns, port, &mut http, &log);
    let image = format!("http://127.0.0.1:{port}/hook.iso");

    let cfg = sushy.config(Auth::Basic);
    sushy.run(|| async move {
        let client = Client::connect(cfg).await.unwrap();
        let before = client.virtual_media().await.unwrap();
        assert!(
            before.iter().any(|s| s.id == "Cd" && s.takes_cd()),
            "{before:?}"
        );
        assert!(before.iter().all(|s| !s.inserted), "{before:?}");

        let slot = client.insert_media(&image).await.unwrap();
        assert_eq!(slot.id, "Cd");
        assert_eq!(slot.image.as_deref(), Some(image.as_str()));
        assert!(slot.inserted);

        // Inserting again replaces the media (eject first, then insert).
        let slot = client.insert_media(&image).await.unwrap();
        assert!(slot.inserted);

        client.eject_media().await.unwrap();
        let after = client.virtual_media().await.unwrap();
        assert!(
            after.iter().all(|s| !s.inserted && s.image.is_none()),
            "{after:?}"
        );
        client.close().await.unwrap();
    });
    let served = std::fs::read_to_string(sushy.dir.path().join("http.log")).unwrap();
    assert!(served.contains("GET /hook.iso"), "{served}");
}

#[test]
fn tls_verified_insecure_and_custom_ca() {
    if !common::peers_present() {
        return;
    }
    let (ca, cert, key) = certificates();
    let sushy = Sushy::start(Options {
        auth: true,
        tls: Some((cert, key)),
    });
    let url = format!("https://127.0.0.1:{}", sushy.port);
    let base = {
        let mut c = Config::new(&url, USER, PASSWORD).unwrap();
        c.timeout = Duration::from_secs(20);
        c
    };
    let port = sushy.port;
    let (verified, insecure, with_ca, plain) = sushy.run(|| async move {
        let verified = Client::connect(base.clone()).await.map(drop);
        let mut c = base.clone();
        c.insecure_tls = true;
        let insecure = Client::connect(c).await.map(|c| c.system_id().to_string());
        let mut c = base.clone();
        c.ca_pem = Some(ca);
        let with_ca = match Client::connect(c).await {
            Ok(client) => client.power_state().await,
            Err(e) => Err(e),
        };
        // Plain HTTP to a TLS port is not a TLS error.
        let mut c = Config::new(&format!("http://127.0.0.1:{port}"), USER, PASSWORD).unwrap();
        c.timeout = Duration::from_secs(5);
        let plain = Client::connect(c).await.map(drop);
        (verified, insecure, with_ca, plain)
    });
    match verified {
        Err(Error::Tls { host, detail, .. }) => {
            assert_eq!(host, format!("127.0.0.1:{port}"));
            assert!(detail.contains("certificate"), "{detail}");
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert_eq!(insecure.unwrap(), FAKE_UUID);
    assert_eq!(with_ca.unwrap(), PowerState::Off);
    assert!(plain.is_err());
}
