//! The EKS Anywhere bare-metal spec of cluster `c1` the played-machine lifecycle tests use
//! (`cluster_lifecycle.rs`, `native_cluster.rs`); included with `#[path]`.

/// Cluster `c1` with its plane at `tinkerbell_ip`, control-plane endpoint `endpoint`,
/// `control_planes` control-plane machines (selector `type: cp`) and `workers` workers
/// whose machine config selects `worker_selector` and installs `worker_image`.
pub fn spec(
    tinkerbell_ip: &str,
    endpoint: &str,
    control_planes: u32,
    workers: u32,
    worker_image: &str,
    worker_selector: &str,
) -> String {
    format!(
        r#"apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata:
  name: c1
spec:
  clusterNetwork:
    cniConfig:
      cilium: {{}}
    pods:
      cidrBlocks: [192.168.0.0/16]
    services:
      cidrBlocks: [10.96.0.0/12]
  controlPlaneConfiguration:
    count: {control_planes}
    endpoint:
      host: {endpoint}
    machineGroupRef:
      kind: TinkerbellMachineConfig
      name: c1-cp
  datacenterRef:
    kind: TinkerbellDatacenterConfig
    name: c1
  kubernetesVersion: '1.31'
  managementCluster:
    name: c1
  workerNodeGroupConfigurations:
  - count: {workers}
    machineGroupRef:
      kind: TinkerbellMachineConfig
      name: c1-worker
    name: md-0
    upgradeRolloutStrategy:
      type: RollingUpdate
      rollingUpdate:
        maxSurge: 1
        maxUnavailable: 0
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: TinkerbellDatacenterConfig
metadata:
  name: c1
spec:
  tinkerbellIP: {tinkerbell_ip}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: TinkerbellMachineConfig
metadata:
  name: c1-cp
spec:
  hardwareSelector:
    type: cp
  osFamily: ubuntu
  osImageURL: http://{tinkerbell_ip}/ubuntu-1-31-a.raw.gz
  users:
  - name: ec2-user
    sshAuthorizedKeys:
    - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVmDj9HT8Jj0d9bU9A6bhgIwhMXPYx2cQMZ0yFlaJtB test
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: TinkerbellMachineConfig
metadata:
  name: c1-worker
spec:
  hardwareSelector:
    {worker_selector}
  osFamily: ubuntu
  osImageURL: {worker_image}
  users:
  - name: ec2-user
    sshAuthorizedKeys:
    - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVmDj9HT8Jj0d9bU9A6bhgIwhMXPYx2cQMZ0yFlaJtB test
"#
    )
}

/// The header of a hardware.csv with every EKS Anywhere column.
pub const CSV_HEADER: &str = "hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels,bmc_ip,bmc_username,bmc_password,vlan_id\n";
