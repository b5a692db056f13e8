//! Tinkerbell's template handling: the data a template sees (`.device_1`, `.Hardware`,
//! `.hardware`), validation of the rendered document, and image references.

use std::collections::BTreeMap;

use ironbell_model::Object;
use ironbell_model::tinkerbell::Hardware;
use ironbell_template::image::{ImageRefError, parse_normalized};
use ironbell_template::{TemplateError, render, render_and_validate};

const CSV: &str = "hostname,bmc_ip,bmc_username,bmc_password,mac,ip_address,netmask,gateway,nameservers,labels,disk
worker1,192.168.0.10,Admin,admin,00:00:00:00:00:01,10.10.10.10,255.255.255.0,10.10.10.1,1.1.1.1|8.8.8.8,type=cp,/dev/nvme0n1
";

fn hw() -> Hardware {
    let rows = ironbell_inventory::parse(CSV).expect("csv parses");
    ironbell_inventory::to_objects(&rows, "eksa-system")
        .into_iter()
        .find_map(|o| match o {
            Object::Hardware(h) => Some(h),
            _ => None,
        })
        .expect("a hardware")
}

fn map() -> BTreeMap<String, String> {
    BTreeMap::from([("device_1".to_string(), "00:00:00:00:00:01".to_string())])
}

#[track_caller]
fn ok(text: &str, want: &str) {
    let h = hw();
    assert_eq!(
        render(text, &map(), Some(&h)).expect("renders"),
        want,
        "{text}"
    );
}

#[track_caller]
fn err(text: &str) -> String {
    let h = hw();
    render(text, &map(), Some(&h))
        .expect_err("fails")
        .to_string()
}

#[test]
fn hardware_map_and_legacy_hardware_view() {
    ok("{{.device_1}}", "00:00:00:00:00:01");
    ok(
        "{{.Hardware.Disks}} {{index .Hardware.Disks 0}}",
        "[/dev/nvme0n1] /dev/nvme0n1",
    );
    ok(
        "{{formatPartition (index .Hardware.Disks 0) 2}}",
        "/dev/nvme0n1p2",
    );
    ok(
        "{{with index .Hardware.Interfaces 0}}{{.DHCP.MAC}} {{.DHCP.IP.Address}}/{{netmaskToPrefixLength .DHCP.IP.Netmask}} gw {{.DHCP.IP.Gateway}} dns {{join \",\" .DHCP.NameServers}} {{.DHCP.Hostname}} {{.DHCP.Arch}} {{.DHCP.UEFI}} {{.DHCP.LeaseTime}} {{.Netboot.AllowPXE}} {{.DisableDHCP}}{{end}}",
        "00:00:00:00:00:01 10.10.10.10/24 gw 10.10.10.1 dns 1.1.1.1,8.8.8.8 worker1 x86_64 true 4294967294 true false",
    );
    ok(
        "{{.Hardware.Metadata.Instance.Hostname}} {{.Hardware.Metadata.Instance.ID}} {{.Hardware.Metadata.Facility.FacilityCode}} {{(index .Hardware.Metadata.Instance.Ips 0).Address}}",
        "worker1 00:00:00:00:00:01 onprem 10.10.10.10",
    );
    // Every Go field is there, with Go's zero values.
    ok(
        "[{{.Hardware.UserData}}][{{.Hardware.VendorData}}][{{.Hardware.Metadata.State}}][{{.Hardware.Metadata.BondingMode}}][{{(index .Hardware.Interfaces 0).DHCP.VLANID}}][{{(index .Hardware.Interfaces 0).DHCP.TimeServers}}][{{.Hardware.Metadata.Manufacturer}}]",
        "[][][][0][][[]][<no value>]",
    );
    // A nil Go pointer cannot be walked through.
    assert!(
        err("{{.Hardware.Metadata.Manufacturer.ID}}")
            .contains("nil pointer evaluating interface {}.ID")
    );
    // JSON names do not work on the Go view...
    assert!(err("{{.Hardware.disks}}").contains("map has no entry for key \"disks\""));
    // ...but do on `.hardware`, where (as in Go, through JSON) numbers are float64.
    ok(
        "{{.hardware.metadata.name}} {{(index .hardware.spec.interfaces 0).dhcp.mac}} {{(index .hardware.spec.interfaces 0).dhcp.lease_time}}",
        "worker1 00:00:00:00:00:01 4.294967294e+09",
    );
    ok("{{.references}} {{len .references}}", "map[] 0");
    assert!(err("{{.device_2}}").contains(
        r#"template: workflow-template:1:2: executing "workflow-template" at <.device_2>: map has no entry for key "device_2""#
    ));
}

#[test]
fn no_hardware_gives_the_zero_view() {
    let got = render(
        "{{.Hardware.Disks}}{{len .Hardware.Interfaces}}{{.Hardware.Metadata.Instance}}{{.device_1}}",
        &map(),
        None,
    )
    .expect("renders");
    assert_eq!(got, "[]0<no value>00:00:00:00:00:01");
}

fn doc(name: &str, tasks: &str) -> String {
    format!("version: \"0.1\"\nname: {name}\nglobal_timeout: 1800\ntasks:\n{tasks}")
}

fn task(name: &str, worker: &str, actions: &str) -> String {
    format!("  - name: \"{name}\"\n    worker: \"{worker}\"\n    actions:\n{actions}")
}

fn action(name: &str, image: &str, timeout: i64) -> String {
    format!("      - name: \"{name}\"\n        image: \"{image}\"\n        timeout: {timeout}\n")
}

#[track_caller]
fn invalid(text: &str, want: &str) {
    let h = hw();
    let e = render_and_validate(text, &map(), Some(&h)).expect_err("invalid");
    assert_eq!(e.to_string(), want);
}

#[test]
fn validation_follows_tinkerbell() {
    let good_action = action(
        "stream-image",
        "quay.io/tinkerbell/actions/image2disk:v1.0.0",
        600,
    );
    let good = doc(
        "ubuntu",
        &task("os-installation", "{{.device_1}}", &good_action),
    );
    let def = render_and_validate(&good, &map(), Some(&hw())).expect("valid");
    assert_eq!(def.tasks[0].worker, "00:00:00:00:00:01");
    assert_eq!(def.tasks[0].actions[0].timeout, Some(600));

    invalid(
        &doc("\"\"", &task("t", "w", &good_action)),
        "template name \"\" must be 1 to 199 bytes long",
    );
    let long = "n".repeat(200);
    invalid(
        &doc(&long, &task("t", "w", &good_action)),
        &format!("template name \"{long}\" must be 1 to 199 bytes long"),
    );
    // 199 bytes is accepted.
    render_and_validate(
        &doc(&"n".repeat(199), &task("t", "w", &good_action)),
        &map(),
        None,
    )
    .expect("199 bytes");
    invalid(
        "version: \"0.1\"\nname: x\n",
        "template \"x\" must have at least one task",
    );
    invalid(
        &doc(
            "x",
            &(task("a", "w", &good_action) + &task("a", "w", &good_action)),
        ),
        "task \"a\": two tasks in a template cannot have the same name",
    );
    invalid(
        &doc("x", &task("", "w", &good_action)),
        "task \"\": name must be 1 to 199 bytes long",
    );
    invalid(
        &doc(
            "x",
            &task(
                "os-installation",
                "w",
                &(good_action.clone() + &good_action),
            ),
        ),
        "task \"os-installation\": action \"stream-image\": two actions in a task cannot have the same name",
    );
    invalid(
        &doc(
            "x",
            &task(
                "os-installation",
                "w",
                &action("stream-image", "Foo Bar", 60),
            ),
        ),
        "task \"os-installation\": action \"stream-image\": image \"Foo Bar\" is not a valid image reference: invalid reference format: repository name (library/Foo Bar) must be lowercase",
    );
    invalid(
        &doc(
            "x",
            &task(
                "os-installation",
                "w",
                &action("stream-image", "foo bar", 60),
            ),
        ),
        "task \"os-installation\": action \"stream-image\": image \"foo bar\" is not a valid image reference: invalid reference format",
    );
    invalid(
        &doc("x", &task("t", "w", &action("a", "img", 0))),
        "task \"t\": action \"a\": timeout 0 must be positive",
    );
    invalid(
        &doc("x", &task("t", "{{.Hardware.UserData}}", &good_action)),
        "task \"t\": worker is empty after rendering",
    );
    invalid(
        &format!(
            "version: \"0.1\"\nname: x\nglobal_timeout: -1\ntasks:\n{}",
            task("t", "w", &good_action)
        ),
        "global_timeout -1 must be positive",
    );
    // The document must be a template document.
    let e = render_and_validate("name: x\ntasks: 3\n", &map(), None).expect_err("bad");
    assert!(matches!(e, TemplateError::Document(_)), "{e}");
    // Render errors come first.
    let e = render_and_validate("{{.nope}}", &map(), None).expect_err("bad");
    assert!(matches!(e, TemplateError::Render(_)), "{e}");
}

#[test]
fn image_references() {
    let hex = "a".repeat(64);
    for good in [
        "image2disk:v1.0.0",
        "ubuntu",
        "quay.io/tinkerbell/actions/image2disk:latest",
        "public.ecr.aws/eks-anywhere/tinkerbell/hub/image2disk:6c0f0d437bde2c836d90b000312c8b25fa1b65e1-eks-a-15",
        "localhost:5000/foo/bar",
        "localhost/foo",
        "[::1]:5000/x:tag",
        "10.0.0.1:5000/a_b__c-d---e/f.g",
        "UPPER.example/foo",
        &format!("foo@sha256:{hex}"),
        &format!("registry.io/foo:tag@sha256:{hex}"),
    ] {
        parse_normalized(good).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    let r = parse_normalized("ubuntu:22.04").expect("valid");
    assert_eq!(
        (r.domain.as_str(), r.path.as_str(), r.tag.as_deref()),
        ("docker.io", "library/ubuntu", Some("22.04"))
    );
    assert_eq!(r.to_string(), "docker.io/library/ubuntu:22.04");
    let r = parse_normalized("localhost:5000/a/b@sha256:");
    assert_eq!(r, Err(ImageRefError::InvalidFormat));
    for (bad, want) in [
        ("", ImageRefError::InvalidFormat),
        ("Foo", ImageRefError::Uppercase("library/Foo".into())),
        ("foo:", ImageRefError::InvalidFormat),
        ("-foo", ImageRefError::InvalidFormat),
        ("foo/", ImageRefError::InvalidFormat),
        ("foo//bar", ImageRefError::InvalidFormat),
        ("foo:bad tag", ImageRefError::InvalidFormat),
        (&hex, ImageRefError::Identifier(hex.clone())),
        (
            &format!("foo@md5:{}", "a".repeat(32)),
            ImageRefError::DigestUnsupported,
        ),
        (
            &format!("foo@sha256:{}", "a".repeat(63)),
            ImageRefError::DigestLength,
        ),
        (
            &format!("foo@sha256:{}", "A".repeat(64)),
            ImageRefError::DigestFormat,
        ),
        (
            &format!("{}/x", "a".repeat(250)),
            ImageRefError::NameTooLong,
        ),
    ] {
        assert_eq!(parse_normalized(bad), Err(want), "{bad:?}");
    }
}
