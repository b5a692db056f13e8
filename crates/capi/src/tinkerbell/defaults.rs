//! The default Tinkerbell workflow of a machine config that names no
//! `TinkerbellTemplateConfig`: stream the OS image to the first disk, write the network
//! configuration and cloud-init's datasource settings into the installed OS, and reboot.
//!
//! The actions and their environment follow EKS Anywhere v0.24.6's default template
//! (`NewDefaultTinkerbellTemplateConfigCreate`); the `{{ ... }}` expressions inside are
//! Tinkerbell template expressions, expanded per Hardware when the Workflow is created.

use std::collections::BTreeMap;

use ironbell_model::anywhere::{Cluster, OsFamily};
use ironbell_model::template_def::{TemplateAction, TemplateDefinition, TemplateTask};

const IMAGE2DISK: &str = "127.0.0.1/embedded/image2disk";
const WRITEFILE: &str = "127.0.0.1/embedded/writefile";
const REBOOT: &str = "127.0.0.1/embedded/reboot";

const DISK: &str = "{{ index .Hardware.Disks 0 }}";

/// The first interface's netmask as a prefix length.
const MASK: &str = "{{ netmaskToCIDR (index .Hardware.Interfaces 0).DHCP.IP.Netmask }}";

/// The first interface's VLAN id (empty when untagged).
const VLAN: &str = "{{ (index .Hardware.Interfaces 0).DHCP.VLANID }}";

/// The template condition "the first interface is tagged".
const IF_TAGGED: &str = "{{ if (index .Hardware.Interfaces 0).DHCP.VLANID }}";

/// The first interface's name servers, joined by `sep`.
fn name_servers(sep: &str) -> String {
    format!(
        "{{{{ range $i, $ns := (index .Hardware.Interfaces 0).DHCP.NameServers }}}}{{{{if $i}}}}{sep}{{{{end}}}}{{{{$ns}}}}{{{{end}}}}"
    )
}

/// One template or the other depending on whether the first interface is tagged.
fn tagged_or_plain(tagged: &str, plain: &str) -> String {
    format!("{IF_TAGGED}{tagged}{{{{ else }}}}{plain}{{{{ end }}}}")
}

fn partition(n: u32) -> String {
    format!("{{{{ formatPartition ( index .Hardware.Disks 0 ) {n} }}}}")
}

/// The first interface's DHCP field, as a Tinkerbell template expression.
fn nic(field: &str) -> String {
    format!("{{{{ (index .Hardware.Interfaces 0).DHCP.{field} }}}}")
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn action(name: &str, image: &str, environment: BTreeMap<String, String>) -> TemplateAction {
    TemplateAction {
        name: name.to_string(),
        image: image.to_string(),
        timeout: Some(90),
        command: None,
        on_timeout: None,
        on_failure: None,
        volumes: None,
        environment: Some(environment),
        pid: None,
        namespaces: None,
    }
}

/// File-writing settings shared by the writefile actions.
fn write_env(disk: &str, path: &str, mode: &str, dirmode: &str) -> BTreeMap<String, String> {
    env(&[
        ("DEST_DISK", disk),
        ("DEST_PATH", path),
        ("FS_TYPE", "ext4"),
        ("UID", "0"),
        ("GID", "0"),
        ("MODE", mode),
        ("DIRMODE", dirmode),
    ])
}

fn netplan(disk: &str, os: OsFamily) -> TemplateAction {
    let mut e = write_env(disk, "/etc/netplan/config.yaml", "0644", "0755");
    if os == OsFamily::Bottlerocket {
        e.insert("DEST_PATH".into(), "/net.toml".into());
        e.insert("STATIC_BOTTLEROCKET".into(), "true".into());
        e.insert("IFNAME".into(), "eno1".into());
    } else {
        let (mac, addr, mask, gw, vlan) =
            (nic("MAC"), nic("IP.Address"), MASK, nic("IP.Gateway"), VLAN);
        let dns = format!("[{}]", name_servers(", "));
        let plain = format!(
            "network:\n    version: 2\n    renderer: networkd\n    ethernets:\n        id0:\n            match:\n                macaddress: {mac}\n            addresses:\n                - {addr}/{mask}\n            nameservers:\n                addresses: {dns}\n            routes:\n                - to: default\n                  via: {gw}\n"
        );
        let tagged = format!(
            "network:\n    version: 2\n    renderer: networkd\n    ethernets:\n        mainif:\n            match:\n                macaddress: {mac}\n            set-name: mainif\n\n    vlans:\n        vlan{vlan}:\n            id: {vlan}\n            link: mainif\n            addresses:\n            - {addr}/{mask}\n            nameservers:\n                addresses: {dns}\n            {{{{- if (index .Hardware.Interfaces 0).DHCP.IP.Gateway }}}}\n            routes:\n                - to: default\n                  via: {gw}\n            {{{{- end }}}}\n"
        );
        e.insert("CONTENTS".into(), tagged_or_plain(&tagged, &plain));
    }
    let mut a = action("write netplan config", WRITEFILE, e);
    a.pid = Some("host".into());
    a
}

/// The default workflow template for a cluster's machines.
///
/// `local_ip` is the Tinkerbell IP the machines first boot from (the admin machine's while
/// bootstrapping), `lb_ip` the cluster's `tinkerbellIP`; cloud-init reads metadata from both.
pub fn default_template(
    cluster: &Cluster,
    os_image_url: &str,
    local_ip: &str,
    lb_ip: &str,
    os: OsFamily,
) -> TemplateDefinition {
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let urls = [
        format!("http://{local_ip}:50061"),
        format!("http://{lb_ip}:50061"),
    ];
    let mut stream_env = env(&[
        ("DEST_DISK", DISK),
        ("IMG_URL", os_image_url),
        ("COMPRESSED", "true"),
    ]);
    if let Some(proxy) = &cluster.spec.proxy_configuration {
        stream_env.insert(
            "HTTP_PROXY".into(),
            proxy.http_proxy.clone().unwrap_or_default(),
        );
        stream_env.insert(
            "HTTPS_PROXY".into(),
            proxy.https_proxy.clone().unwrap_or_default(),
        );
        // The cluster's own no-proxy list (the user's entries, pod and service networks, the
        // API endpoint), then both Tinkerbell addresses.
        let mut no_proxy: Vec<String> = proxy.no_proxy.clone().unwrap_or_default();
        no_proxy.extend(crate::common::cidrs(cluster, false));
        no_proxy.extend(crate::common::cidrs(cluster, true));
        no_proxy.extend(
            cluster
                .spec
                .control_plane_configuration
                .as_ref()
                .and_then(|cp| cp.endpoint.as_ref())
                .map(|e| e.host.clone())
                .filter(|h| !h.is_empty()),
        );
        no_proxy.extend([local_ip.to_string(), lb_ip.to_string()]);
        stream_env.insert("NO_PROXY".into(), no_proxy.join(","));
    }
    let mut stream = action("stream image to disk", IMAGE2DISK, stream_env);
    stream.timeout = Some(600);
    let mut reboot = action("reboot", REBOOT, BTreeMap::new());
    reboot.environment = None;
    reboot.pid = Some("host".into());
    reboot.volumes = Some(vec!["/worker:/worker".into()]);

    let mut actions = vec![stream];
    match os {
        OsFamily::Bottlerocket => {
            let p = partition(12);
            let mut bootconfig = write_env(&p, "/bootconfig.data", "0644", "0700");
            bootconfig.insert("BOOTCONFIG_CONTENTS".into(), "kernel {}".into());
            let mut user_data = write_env(&p, "/user-data.toml", "0644", "0700");
            user_data.insert("HEGEL_URLS".into(), urls.join(","));
            for (n, e) in [
                ("write Bottlerocket bootconfig", bootconfig),
                ("write Bottlerocket user data", user_data),
            ] {
                let mut a = action(n, WRITEFILE, e);
                a.pid = Some("host".into());
                actions.push(a);
            }
            actions.push(netplan(&p, os));
        }
        _ => {
            let p = partition(if os == OsFamily::Redhat { 1 } else { 2 });
            let metadata_urls = if os == OsFamily::Redhat {
                urls.iter()
                    .map(|u| format!("'{u}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                urls.join(",")
            };
            if os == OsFamily::Redhat {
                actions.push(network_manager(&p));
            } else {
                actions.push(netplan(&p, os));
            }
            let mut no_net = write_env(
                &p,
                "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg",
                "0600",
                "0700",
            );
            no_net.insert("CONTENTS".into(), "network: {config: disabled}".into());
            actions.push(action(
                "disable cloud-init network capabilities",
                WRITEFILE,
                no_net,
            ));
            let mut ci = write_env(
                &p,
                "/etc/cloud/cloud.cfg.d/10_tinkerbell.cfg",
                "0600",
                "0700",
            );
            ci.insert(
                "CONTENTS".into(),
                format!("datasource:\n  Ec2:\n    metadata_urls: [{metadata_urls}]\n    strict_id: false\nmanage_etc_hosts: localhost\nwarnings:\n  dsid_missing_source: off\n"),
            );
            actions.push(action("add cloud-init config", WRITEFILE, ci));
            let mut ds = write_env(&p, "/etc/cloud/ds-identify.cfg", "0600", "0700");
            ds.insert("CONTENTS".into(), "datasource: Ec2\n".into());
            actions.push(action("add cloud-init ds config", WRITEFILE, ds));
        }
    }
    actions.push(reboot);

    TemplateDefinition {
        version: Some("0.1".into()),
        name: name.clone(),
        id: Some(String::new()),
        global_timeout: Some(6000),
        tasks: vec![TemplateTask {
            name,
            worker: "{{.device_1}}".into(),
            actions,
            volumes: Some(vec![
                "/dev:/dev".into(),
                "/dev/console:/dev/console".into(),
                "/lib/firmware:/lib/firmware:ro".into(),
            ]),
            environment: None,
        }],
    }
}

/// The NetworkManager connection of a Red Hat machine (static, from the Hardware's DHCP data).
fn network_manager(disk: &str) -> TemplateAction {
    let mut e = write_env(
        disk,
        "/etc/NetworkManager/system-connections/static-connection.nmconnection",
        "0600",
        "0755",
    );
    let (mac, addr, gw, mask, vlan) =
        (nic("MAC"), nic("IP.Address"), nic("IP.Gateway"), MASK, VLAN);
    let dns = format!("{};", name_servers(";"));
    let ipv = format!(
        "[ipv4]\naddress1={addr}/{mask}\ndns={dns}\ngateway={gw}\nmethod=manual\n\n[ipv6]\naddr-gen-mode=default\nmethod=ignore\n"
    );
    let plain = format!(
        "[connection]\nid=static-connection\ntype=ethernet\nautoconnect=yes\nautoconnect-priority=10\n\n[ethernet]\nmac-address={mac}\n\n{ipv}"
    );
    let tagged = format!(
        "[connection]\nid=vlan-connection\ntype=vlan\nautoconnect=yes\nautoconnect-priority=10\n\n[ethernet]\nmac-address={mac}\n\n[vlan]\nflags=1\nid={vlan}\nmac-address={mac}\n\n{ipv}"
    );
    e.insert("CONTENTS".into(), tagged_or_plain(&tagged, &plain));
    let mut a = action("write network manager config", WRITEFILE, e);
    a.pid = Some("host".into());
    a
}
