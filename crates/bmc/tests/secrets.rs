//! A BMC that echoes credentials must not get the password into any log line, error or
//! status, whatever characters it has and however the BMC re-encodes it.
//!
//! The BMC here is a mock (`tests/data/echo_bmc.py`, Python's HTTPS server): no real
//! Redfish implementation echoes a password, sushy-tools included, so no real peer can
//! produce this fault. Everything on ironbell's side is real: the Redfish client, the BMC
//! service's Task, Job and Machine controllers, the `power status` command, the SQLite
//! store, and tracing output captured at debug level.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use common::*;
use ironbell_model::bmc::{Action, Job, JobSpec, Machine, MachineRef, PowerAction, Task};
use ironbell_model::corev1::Secret;
use ironbell_model::{ObjectMeta, Resource};
use ironbell_store::{Api, SharedStore};

/// Passwords with every character that needs escaping somewhere: `"`, `\`, `%`, `+`, `/`,
/// a space, non-ASCII (two- and four-byte UTF-8).
const PASSWORDS: &[(&str, &str)] = &[
    ("quote", r#"Zq"u\ot%2B+e/é-91"#),
    ("unicode", "ünï cødé/🔑+%\\\"Xk3"),
];

/// The forms of `password` (used by `USER`) that must appear nowhere.
fn encodings(password: &str) -> Vec<(&'static str, String)> {
    let json = serde_json::to_string(password).unwrap();
    let json = json[1..json.len() - 1].to_string();
    let ascii_json: String = password
        .encode_utf16()
        .map(|u| match u {
            0x20..=0x7e if u != 0x22 && u != 0x5c => {
                char::from_u32(u32::from(u)).unwrap().to_string()
            }
            _ => format!("\\u{u:04x}"),
        })
        .collect();
    let debug = format!("{password:?}");
    let debug = debug[1..debug.len() - 1].to_string();
    let percent = |text: &str, plus: bool| -> String {
        text.bytes()
            .map(|b| match b {
                b' ' if plus => "+".to_string(),
                b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => char::from(b).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    };
    let basic = format!("{USER}:{password}");
    let mut forms = vec![
        ("plain", password.to_string()),
        ("json", json),
        ("ascii json", ascii_json),
        ("debug", debug),
        ("percent", percent(password, false)),
        ("form", percent(password, true)),
    ];
    for (name, engine) in [
        ("base64", STANDARD),
        ("base64 url-safe", URL_SAFE),
        ("base64 unpadded", STANDARD_NO_PAD),
        ("base64 url-safe unpadded", URL_SAFE_NO_PAD),
    ] {
        forms.push((name, engine.encode(password)));
        forms.push((name, engine.encode(&basic)));
    }
    forms
}

fn assert_clean(what: &str, text: &str) {
    for (_, password) in PASSWORDS {
        for (form, enc) in encodings(password) {
            // Unpadded base64 of a short text may be a common word; these are not.
            assert!(
                !text.contains(&enc),
                "{what}: the {form} form {enc:?} of a password leaked:\n{text}"
            );
        }
    }
}

fn conn(port: u16, secret: &str, basic: bool, closed: u16) -> ironbell_model::bmc::Connection {
    let mut c = redfish_conn(port, "any", secret, closed);
    if let Some(r) = c.provider_options.as_mut().and_then(|o| o.redfish.as_mut()) {
        r.use_basic_auth = Some(basic);
        r.system_name = None;
    }
    c
}

async fn raw_json<K: Resource>(store: &SharedStore) -> String {
    let list = store
        .list(&ironbell_model::TypeKey::of::<K>(), &Default::default())
        .await
        .unwrap();
    list.items
        .iter()
        .map(|o| o.to_json().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn an_echoing_bmc_never_gets_the_password_into_logs_errors_or_status() {
    let mut lab = Lab::new();
    let cert = self_signed();
    let port = lab.echo_bmc(&cert);
    let closed = lab.free_port();
    let store = lab.store();
    let logs = Logs::default();
    let machines: Vec<String> = lab.run(&logs, || async {
        let secrets = Api::<Secret>::new(store.clone());
        let mut names = Vec::new();
        for (name, password) in PASSWORDS {
            secrets
                .create(&Secret::basic_auth(NS, *name, USER, password))
                .await
                .unwrap();
            for basic in [false, true] {
                let m = format!("{name}-{}", if basic { "basic" } else { "session" });
                machine(&store, &m, conn(port, name, basic, closed)).await;
                names.push(m);
            }
        }
        let service = tokio::spawn(ironbell_bmc::run(store.clone(), config()));
        let jobs = Api::<Job>::new(store.clone());
        for m in &names {
            jobs.create(&Job {
                metadata: ObjectMeta::named(NS, m),
                spec: JobSpec {
                    machine_ref: MachineRef {
                        name: m.clone(),
                        namespace: NS.into(),
                    },
                    tasks: vec![Action::power(PowerAction::On)],
                },
                ..Job::default()
            })
            .await
            .unwrap();
        }
        let t = Duration::from_secs(60);
        for m in &names {
            let (ok, msg) = wait_for::<Job, _>(&store, m, t, job_done).await;
            let msg = msg.unwrap_or_default();
            assert!(!ok, "{m}: {msg}");
            // The BMC did echo (the scrubber had something to do) ...
            assert!(msg.contains("<redacted>"), "{m}: {msg}");
            assert!(msg.contains("gofish: "), "{m}: {msg}");
            // ... and nothing of the password is left.
            assert_clean(&format!("Job {m} message"), &msg);
            let task = wait_for::<Task, _>(&store, &format!("{m}-task-0"), t, task_done).await;
            assert_clean(
                &format!("Task {m}-task-0 message"),
                &task.1.unwrap_or_default(),
            );
            // The Machine controller's Contactable message.
            let (status, message, _) = wait_for::<Machine, _>(&store, m, t, contactable).await;
            assert_eq!(status, "False", "{m}");
            assert_clean(&format!("Machine {m}"), &message.unwrap_or_default());
            // The CLI's `power status` error.
            let err = ironbell_bmc::cli::power(&store, NS, m, PowerAction::Status, None)
                .await
                .expect_err("the BMC refuses");
            let err = err.to_string();
            assert!(err.contains("<redacted>"), "{m}: {err}");
            assert_clean(&format!("power status {m}"), &err);
        }
        // Every status as stored (JSON, so escaped once more).
        assert_clean("stored Jobs", &raw_json::<Job>(&store).await);
        assert_clean("stored Tasks", &raw_json::<Task>(&store).await);
        assert_clean("stored Machines", &raw_json::<Machine>(&store).await);
        service.abort();
        names
    });
    assert_eq!(machines.len(), 4);
    let text = logs.text();
    assert!(
        text.contains("task failed"),
        "no task failure logged:\n{text}"
    );
    assert_clean("logs", &text);
}
