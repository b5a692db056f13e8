//! The workflow template of a `TinkerbellMachine` without a `templateOverride`: CAPT's
//! default (v0.6.5 `internal/templates`): stream the OS image to the Hardware's first disk,
//! point cloud-init at the metadata service, and kexec into the installed kernel.
//!
//! EKS Anywhere always renders a `templateOverride` (`ironbell_capi`'s default template,
//! which needs the EKS Anywhere spec); this default is for TinkerbellMachines written by
//! hand, as with CAPT alone.

use crate::api::TinkerbellClusterSpec;

/// CAPT's image name format when the TinkerbellCluster gives none.
pub const DEFAULT_IMAGE_FORMAT: &str =
    "{{.BaseRegistry}}/{{.OSDistro}}-{{.OSVersion}}-kube-{{.KubernetesVersion}}.raw.gz";
/// CAPT's image registry when the TinkerbellCluster gives none.
pub const DEFAULT_BASE_REGISTRY: &str = "ghcr.io/tinkerbell/cluster-api-provider-tinkerbell";
/// CAPT's OS distribution when the TinkerbellCluster gives none.
pub const DEFAULT_OS_DISTRO: &str = "ubuntu";
/// CAPT's OS version when the TinkerbellCluster gives none.
pub const DEFAULT_OS_VERSION: &str = "20.04";
/// The metadata service port cloud-init reads from (Hegel's).
pub const METADATA_PORT: u16 = 50061;

/// The OS image URL of a machine running Kubernetes `kubernetes_version` in a cluster
/// with `spec`: the lookup format with its placeholders filled.
pub fn image_url(spec: &TinkerbellClusterSpec, kubernetes_version: &str) -> String {
    let pick = |v: &Option<String>, default: &'static str| {
        v.clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    let format = pick(&spec.image_lookup_format, DEFAULT_IMAGE_FORMAT);
    let os_version = pick(&spec.image_lookup_os_version, DEFAULT_OS_VERSION).replace('.', "");
    format
        .replace(
            "{{.BaseRegistry}}",
            &pick(&spec.image_lookup_base_registry, DEFAULT_BASE_REGISTRY),
        )
        .replace(
            "{{.OSDistro}}",
            &pick(&spec.image_lookup_os_distro, DEFAULT_OS_DISTRO),
        )
        .replace("{{.OSVersion}}", &os_version)
        .replace("{{.KubernetesVersion}}", kubernetes_version)
}

/// The first partition of `disk`: `/dev/sda` → `/dev/sda1`, `/dev/nvme0n1` →
/// `/dev/nvme0n1p1`.
pub fn first_partition(disk: &str) -> String {
    if disk.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{disk}p1")
    } else {
        format!("{disk}1")
    }
}

/// CAPT's default template for machine `name`, writing `image_url` to `disk`, with
/// cloud-init reading metadata from `metadata` (`IP:PORT`; CAPT's is the Tinkerbell IP and
/// [`METADATA_PORT`]).
pub fn default_template(name: &str, disk: &str, image_url: &str, metadata: &str) -> String {
    let partition = first_partition(disk);
    format!(
        r#"version: "0.1"
name: {name}
global_timeout: 6000
tasks:
  - name: "{name}"
    worker: "{{{{.device_1}}}}"
    volumes:
      - /dev:/dev
      - /dev/console:/dev/console
      - /lib/firmware:/lib/firmware:ro
    actions:
      - name: "stream-image"
        image: quay.io/tinkerbell-actions/oci2disk:v1.0.0
        timeout: 600
        environment:
          IMG_URL: {image_url}
          DEST_DISK: {disk}
          COMPRESSED: true
      - name: "add-tink-cloud-init-config"
        image: quay.io/tinkerbell-actions/writefile:v1.0.0
        timeout: 90
        environment:
          DEST_DISK: {partition}
          FS_TYPE: ext4
          DEST_PATH: /etc/cloud/cloud.cfg.d/10_tinkerbell.cfg
          UID: 0
          GID: 0
          MODE: 0600
          DIRMODE: 0700
          CONTENTS: |
            datasource:
              Ec2:
                metadata_urls: ["http://{metadata}"]
                strict_id: false
            system_info:
              default_user:
                name: tink
                groups: [wheel, adm]
                sudo: ["ALL=(ALL) NOPASSWD:ALL"]
                shell: /bin/bash
            manage_etc_hosts: localhost
            warnings:
              dsid_missing_source: off
      - name: "add-tink-cloud-init-ds-config"
        image: quay.io/tinkerbell-actions/writefile:v1.0.0
        timeout: 90
        environment:
          DEST_DISK: {partition}
          FS_TYPE: ext4
          DEST_PATH: /etc/cloud/ds-identify.cfg
          UID: 0
          GID: 0
          MODE: 0600
          DIRMODE: 0700
          CONTENTS: |
            datasource: Ec2
      - name: "kexec-image"
        image: quay.io/tinkerbell-actions/kexec:v1.0.0
        timeout: 90
        pid: host
        environment:
          BLOCK_DEVICE: {partition}
          FS_TYPE: ext4
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_urls_fill_the_lookup_format() {
        let capt = TinkerbellClusterSpec::default();
        assert_eq!(
            image_url(&capt, "v1.29.1"),
            "ghcr.io/tinkerbell/cluster-api-provider-tinkerbell/ubuntu-2004-kube-v1.29.1.raw.gz"
        );
        // What EKS Anywhere renders: a literal name and "/" as the registry.
        let eksa = TinkerbellClusterSpec {
            image_lookup_format: Some("--kube-v1.21.2-eks-1-21-4.raw.gz".into()),
            image_lookup_base_registry: Some("/".into()),
            ..TinkerbellClusterSpec::default()
        };
        assert_eq!(
            image_url(&eksa, "v1.21.2"),
            "--kube-v1.21.2-eks-1-21-4.raw.gz"
        );
    }

    #[test]
    fn the_default_template_targets_the_disk_and_the_metadata_service() {
        assert_eq!(first_partition("/dev/sda"), "/dev/sda1");
        assert_eq!(first_partition("/dev/nvme0n1"), "/dev/nvme0n1p1");
        let t = default_template("tm-1", "/dev/vda", "http://img/x.raw.gz", "10.0.0.2:50061");
        assert!(t.contains("name: tm-1\n"));
        assert!(t.contains("worker: \"{{.device_1}}\""));
        assert!(t.contains("DEST_DISK: /dev/vda\n"));
        assert!(t.contains("DEST_DISK: /dev/vda1\n"));
        assert!(t.contains("http://10.0.0.2:50061"));
        let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&t).expect("YAML");
        assert_eq!(
            parsed["tasks"][0]["actions"].as_sequence().map(Vec::len),
            Some(4)
        );
    }
}
