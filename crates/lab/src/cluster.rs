//! EKS Anywhere cluster specs for the lab's machines: what a user would write to build a
//! bare-metal cluster on the machines of `lab up --machines-only` (a `Cluster`, a
//! `TinkerbellDatacenterConfig` at the lab's Tinkerbell IP, and one
//! `TinkerbellMachineConfig` per role with a `hardwareSelector`), with no
//! `TinkerbellTemplateConfig`: the machines are installed by EKS Anywhere's default template,
//! which the lab OS understands (it reads cloud-init's `metadata_urls`).
//!
//! The OS image is served by the plane's HTTP boot service from its artifacts directory
//! ([`os_image_url`]); EKS Anywhere wants the Kubernetes version in its name, and an upgrade
//! is a new name (the same image under a second name will do).

use std::fmt::Write;
use std::net::Ipv4Addr;

use crate::plan;

/// The Kubernetes version of the lab's clusters (EKS Anywhere's `kubernetesVersion`).
pub const KUBERNETES_VERSION: &str = "1.34";

/// An unused lab address for the control-plane endpoint (`controlPlaneConfiguration.endpoint.host`):
/// below the machines' (`.11` up) and their BMCs' (`.201` up).
pub const ENDPOINT_HOST: Ipv4Addr = Ipv4Addr::new(10, 42, 0, 100);

/// The `hardwareSelector` label value of control-plane machines (`type=cp`).
pub const CONTROL_PLANE_TYPE: &str = "cp";
/// The `hardwareSelector` label value of worker machines (`type=worker`).
pub const WORKER_TYPE: &str = "worker";

/// The image file name for revision `revision` of the lab OS: `lab-os-1-34-r<revision>.raw.zst`
/// (the Kubernetes version in the name, as EKS Anywhere's validation wants).
pub fn os_image_file(revision: u32) -> String {
    format!(
        "lab-os-{}-r{revision}.raw.zst",
        KUBERNETES_VERSION.replace('.', "-")
    )
}

/// Where the plane's HTTP boot service serves [`os_image_file`] `revision` from its artifacts
/// directory.
pub fn os_image_url(revision: u32) -> String {
    format!("{}/{}", plan::http_base(), os_image_file(revision))
}

/// The shape of a lab cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabCluster {
    /// The cluster's name (also the prefix of its machine configs).
    pub name: String,
    /// Control-plane machines.
    pub control_plane: u32,
    /// Worker machines (one worker node group, `md-0`).
    pub workers: u32,
    /// The OS image every machine installs (the datacenter's `osImageURL`).
    pub os_image_url: String,
    /// Another image for the workers: then each machine config names its image (EKS
    /// Anywhere wants `osImageURL` in one place only), the control plane keeping
    /// [`os_image_url`](Self::os_image_url).
    pub worker_os_image_url: Option<String>,
    /// `maxSurge` of both rollouts (`upgradeRolloutStrategy`).
    pub max_surge: u32,
    /// The datacenter's `tinkerbellIP`: the lab's server address, or a free lab address
    /// that the plane holds as a virtual address (a management cluster whose plane moves
    /// onto its machines takes it along).
    pub tinkerbell_ip: Ipv4Addr,
    /// The datacenter's `hookImagesURLPath`: where machines fetch HookOS when the plane does
    /// not serve it itself (a moved plane has no artifacts directory).
    pub hook_images_url: Option<String>,
}

impl LabCluster {
    /// One control-plane machine and two workers installing [`os_image_url`] revision 1,
    /// rolled out one extra machine at a time.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            control_plane: 1,
            workers: 2,
            os_image_url: os_image_url(1),
            worker_os_image_url: None,
            max_surge: 1,
            tinkerbell_ip: plan::SERVER_IP,
            hook_images_url: None,
        }
    }

    /// The spec, as YAML documents.
    pub fn spec(&self) -> String {
        let Self {
            name,
            control_plane,
            workers,
            os_image_url,
            worker_os_image_url,
            max_surge,
            tinkerbell_ip,
            hook_images_url,
        } = self;
        let rollout = |max_unavailable: &str| {
            format!(
                "    upgradeRolloutStrategy:\n      type: RollingUpdate\n      rollingUpdate:\n        maxSurge: {max_surge}\n{max_unavailable}"
            )
        };
        let mut s = format!(
            "apiVersion: anywhere.eks.amazonaws.com/v1alpha1\n\
             kind: Cluster\n\
             metadata:\n  name: {name}\n\
             spec:\n\
             \x20 clusterNetwork:\n\
             \x20   cniConfig:\n      cilium: {{}}\n\
             \x20   pods:\n      cidrBlocks: [192.168.0.0/16]\n\
             \x20   services:\n      cidrBlocks: [10.96.0.0/12]\n\
             \x20 controlPlaneConfiguration:\n\
             \x20   count: {control_plane}\n\
             \x20   endpoint:\n      host: {ENDPOINT_HOST}\n\
             \x20   machineGroupRef:\n      kind: TinkerbellMachineConfig\n      name: {name}-cp\n\
             {}\
             \x20 datacenterRef:\n    kind: TinkerbellDatacenterConfig\n    name: {name}\n\
             \x20 kubernetesVersion: \"{KUBERNETES_VERSION}\"\n\
             \x20 managementCluster:\n    name: {name}\n\
             \x20 workerNodeGroupConfigurations:\n\
             \x20 - name: md-0\n\
             \x20   count: {workers}\n\
             \x20   machineGroupRef:\n      kind: TinkerbellMachineConfig\n      name: {name}-worker\n\
             {}\
             ---\n\
             apiVersion: anywhere.eks.amazonaws.com/v1alpha1\n\
             kind: TinkerbellDatacenterConfig\n\
             metadata:\n  name: {name}\n\
             spec:\n  tinkerbellIP: {tinkerbell_ip}\n{}{}",
            rollout(""),
            rollout("        maxUnavailable: 0\n"),
            match worker_os_image_url {
                None => format!("  osImageURL: {os_image_url}\n"),
                Some(_) => String::new(),
            },
            match hook_images_url {
                Some(url) => format!("  hookImagesURLPath: {url}\n"),
                None => String::new(),
            },
        );
        for (suffix, kind, image) in [
            ("cp", CONTROL_PLANE_TYPE, os_image_url),
            (
                "worker",
                WORKER_TYPE,
                worker_os_image_url.as_ref().unwrap_or(os_image_url),
            ),
        ] {
            let image = match worker_os_image_url {
                Some(_) => format!("  osImageURL: {image}\n"),
                None => String::new(),
            };
            let _ = write!(
                s,
                "---\n\
                 apiVersion: anywhere.eks.amazonaws.com/v1alpha1\n\
                 kind: TinkerbellMachineConfig\n\
                 metadata:\n  name: {name}-{suffix}\n\
                 spec:\n\
                 \x20 hardwareSelector:\n    type: {kind}\n\
                 {image}\
                 \x20 osFamily: ubuntu\n\
                 \x20 users:\n\
                 \x20 - name: ec2-user\n\
                 \x20   sshAuthorizedKeys:\n\
                 \x20   - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbZ5Qm3+MgtJd9u0o0s0dEBnlvx0NTtGdpbf1nKRTmO lab\n"
            );
        }
        s
    }
}

/// The spec of cluster `name`: `control_plane` + `workers` machines installing
/// `os_image_url` (see [`LabCluster`] for the rest).
pub fn cluster_spec(name: &str, workers: u32, os_image_url: &str) -> String {
    LabCluster {
        workers,
        os_image_url: os_image_url.to_string(),
        ..LabCluster::new(name)
    }
    .spec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_image_puts_every_image_on_the_machine_configs() {
        let spec = LabCluster {
            worker_os_image_url: Some(os_image_url(2)),
            ..LabCluster::new("lab")
        }
        .spec();
        let docs: Vec<serde_yaml_ng::Value> = serde_yaml_ng::Deserializer::from_str(&spec)
            .map(|d| serde::Deserialize::deserialize(d).expect("yaml"))
            .collect();
        assert!(docs[1]["spec"].get("osImageURL").is_none(), "{spec}");
        assert_eq!(docs[2]["spec"]["osImageURL"], os_image_url(1).as_str());
        assert_eq!(docs[3]["spec"]["osImageURL"], os_image_url(2).as_str());
    }

    #[test]
    fn the_spec_names_the_lab_and_rolls_out_one_machine_at_a_time() {
        let spec = cluster_spec("lab", 2, &os_image_url(2));
        let docs: Vec<serde_yaml_ng::Value> = serde_yaml_ng::Deserializer::from_str(&spec)
            .map(|d| serde::Deserialize::deserialize(d).expect("yaml"))
            .collect();
        assert_eq!(docs.len(), 4, "{spec}");
        let cluster = &docs[0]["spec"];
        let cp = &cluster["controlPlaneConfiguration"];
        assert_eq!(cp["count"], 1);
        assert_eq!(cp["endpoint"]["host"], "10.42.0.100");
        assert_eq!(cp["upgradeRolloutStrategy"]["rollingUpdate"]["maxSurge"], 1);
        let md = &cluster["workerNodeGroupConfigurations"][0];
        assert_eq!(md["count"], 2);
        assert_eq!(md["upgradeRolloutStrategy"]["type"], "RollingUpdate");
        assert_eq!(md["upgradeRolloutStrategy"]["rollingUpdate"]["maxSurge"], 1);
        let dc = &docs[1]["spec"];
        assert_eq!(dc["tinkerbellIP"], "10.42.0.1");
        assert_eq!(
            dc["osImageURL"],
            "http://10.42.0.1:7171/lab-os-1-34-r2.raw.zst"
        );
        assert_eq!(docs[2]["spec"]["hardwareSelector"]["type"], "cp");
        assert_eq!(docs[3]["spec"]["hardwareSelector"]["type"], "worker");
        assert_ne!(os_image_url(1), os_image_url(2));
    }
}
