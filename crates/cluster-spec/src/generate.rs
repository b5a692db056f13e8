//! [`generate`]: a complete starting spec for a provider, in the shape `eksctl anywhere
//! generate clusterconfig NAME --provider P` prints at v0.24.6 (`NewClusterGenerate` and each
//! provider's `New*Generate`): the same documents, names (`NAME`, `NAME-cp`, `NAME-etcd`),
//! machine counts, external etcd where EKS Anywhere adds it, networks, CNI and Kubernetes
//! version.
//!
//! One difference, on purpose: EKS Anywhere leaves what only the user knows empty (the
//! endpoint, the Tinkerbell IP, vCenter paths, offerings...), so its output does not pass
//! its own validation. Here those fields hold example values from the documentation ranges
//! (addresses in 192.0.2.0/24, names under `example.com`), so the spec loads and validates as
//! it is, and a header comment lists the values to replace.

use serde_json::{Value, json};

use crate::spec::Provider;

/// The Kubernetes version `generate clusterconfig` writes (EKS Anywhere's
/// `GetClusterDefaultKubernetesVersion` at v0.24.6).
pub const DEFAULT_KUBERNETES_VERSION: &str = "1.34";

/// The example control plane endpoint of a generated spec.
pub const EXAMPLE_ENDPOINT: &str = "192.0.2.10";

/// An EKS Anywhere object of this API group.
fn object(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": ironbell_model::anywhere::API_VERSION,
        "kind": kind,
        "metadata": { "name": name },
        "spec": spec,
    })
}

fn reference(kind: &str, name: &str) -> Value {
    json!({ "kind": kind, "name": name })
}

/// A login user with EKS Anywhere's placeholder key.
fn user(name: &str) -> Value {
    json!([{ "name": name, "sshAuthorizedKeys": ["ssh-rsa AAAA... replace-with-your-public-key"] }])
}

/// The machine counts of a provider's generated spec: control plane, external etcd (if
/// any), workers.
fn counts(provider: Provider) -> (u32, Option<u32>, u32) {
    match provider {
        Provider::Docker => (1, Some(1), 1),
        Provider::VSphere | Provider::CloudStack | Provider::Nutanix => (2, Some(3), 2),
        Provider::Snow => (3, None, 3),
        Provider::Tinkerbell => (1, None, 1),
    }
}

/// The machine config spec of a provider's machine group (`role`: `cp`, `md` or `etcd`).
fn machine_spec(provider: Provider, role: &str) -> Value {
    match provider {
        Provider::Tinkerbell => json!({
            "hardwareSelector": { "type": if role == "cp" { "cp" } else { "worker" } },
            "osFamily": "ubuntu",
            "osImageURL": format!("http://192.0.2.5:8080/ubuntu-2204-kube-{}.gz", DEFAULT_KUBERNETES_VERSION.replace('.', "-")),
            "users": user("ec2-user"),
        }),
        Provider::VSphere => json!({
            "datastore": "/Datacenter/datastore/datastore1",
            "diskGiB": 25,
            "folder": "/Datacenter/vm/eksa",
            "memoryMiB": 8192,
            "numCPUs": 2,
            "osFamily": "bottlerocket",
            "resourcePool": "/Datacenter/host/Cluster/Resources",
            "users": user("ec2-user"),
        }),
        Provider::CloudStack => json!({
            "computeOffering": { "name": "large" },
            "template": { "name": format!("rhel-8-kube-v{DEFAULT_KUBERNETES_VERSION}") },
            "users": user("capc"),
        }),
        Provider::Nutanix => json!({
            "osFamily": "ubuntu",
            "users": user("eksa"),
            "vcpusPerSocket": 1,
            "vcpuSockets": 2,
            "memorySize": "4Gi",
            "image": { "type": "name", "name": format!("ubuntu-2204-kube-v{DEFAULT_KUBERNETES_VERSION}") },
            "cluster": { "type": "name", "name": "prism-element" },
            "subnet": { "type": "name", "name": "vm-network" },
            "systemDiskSize": "40Gi",
            "bootType": "legacy",
        }),
        Provider::Snow => json!({
            "devices": ["192.0.2.20"],
            "instanceType": "sbe-c.large",
            "physicalNetworkConnector": "SFP_PLUS",
            "osFamily": "ubuntu",
            "network": {
                "directNetworkInterfaces": [{ "index": 1, "dhcp": true, "primary": true }]
            },
        }),
        Provider::Docker => json!({}),
    }
}

fn datacenter_spec(provider: Provider) -> Value {
    match provider {
        Provider::Tinkerbell => json!({ "tinkerbellIP": "192.0.2.11" }),
        Provider::VSphere => json!({
            "datacenter": "Datacenter",
            "network": "/Datacenter/network/VM Network",
            "server": "vcenter.example.com",
            "thumbprint": "",
            "insecure": false,
        }),
        Provider::CloudStack => json!({
            "availabilityZones": [{
                "name": "az-1",
                "credentialsRef": "global",
                "zone": { "name": "zone1", "network": { "name": "net1" } },
                "domain": "domain1",
                "account": "admin",
                "managementApiEndpoint": "https://cloudstack.example.com:8080/client/api",
            }]
        }),
        Provider::Nutanix => json!({
            "endpoint": "prism-central.example.com",
            "port": 9440,
            "credentialRef": reference("Secret", "nutanix-credentials"),
        }),
        Provider::Snow | Provider::Docker => json!({}),
    }
}

/// The values of a generated spec a user replaces, for the header comment.
fn to_replace(provider: Provider) -> &'static str {
    match provider {
        Provider::Tinkerbell => {
            "the endpoint host, tinkerbellIP, the hardware selectors, osImageURL and the SSH key"
        }
        Provider::Docker => "nothing is required",
        Provider::VSphere => {
            "the endpoint host, the vCenter server, datacenter, network, datastore, folder, resource pool and the SSH key"
        }
        Provider::CloudStack => {
            "the endpoint host, the availability zone (zone, network, domain, account, API endpoint), the offerings, the template and the SSH key"
        }
        Provider::Nutanix => {
            "the endpoint host, Prism Central's endpoint, the image, Prism Element cluster and subnet names and the SSH key"
        }
        Provider::Snow => "the endpoint host and the devices",
    }
}

/// A complete starting spec named `name` for `provider`, as multi-document YAML (see the
/// module docs).
pub fn generate(name: &str, provider: Provider) -> String {
    let dc_kind = provider.datacenter_kind();
    let (cp_count, etcd_count, worker_count) = counts(provider);
    let mut control_plane = json!({ "count": cp_count });
    let mut worker = json!({ "count": worker_count, "name": "md-0" });
    let mut etcd = etcd_count.map(|count| json!({ "count": count }));
    let mut machines = Vec::new();
    if let Some(kind) = provider.machine_config_kind() {
        let cp_name = format!("{name}-cp");
        control_plane["machineGroupRef"] = reference(kind, &cp_name);
        worker["machineGroupRef"] = reference(kind, name);
        machines.push(object(kind, &cp_name, machine_spec(provider, "cp")));
        machines.push(object(kind, name, machine_spec(provider, "md")));
        if let Some(etcd) = etcd.as_mut() {
            let etcd_name = format!("{name}-etcd");
            etcd["machineGroupRef"] = reference(kind, &etcd_name);
            machines.push(object(kind, &etcd_name, machine_spec(provider, "etcd")));
        }
    }
    if provider != Provider::Docker {
        control_plane["endpoint"] = json!({ "host": EXAMPLE_ENDPOINT });
    }
    let mut spec = json!({
        "clusterNetwork": {
            "cniConfig": { "cilium": {} },
            "pods": { "cidrBlocks": ["192.168.0.0/16"] },
            "services": { "cidrBlocks": ["10.96.0.0/12"] },
        },
        "controlPlaneConfiguration": control_plane,
        "datacenterRef": reference(dc_kind, name),
        "kubernetesVersion": DEFAULT_KUBERNETES_VERSION,
        "managementCluster": { "name": name },
        "workerNodeGroupConfigurations": [worker],
    });
    if let Some(etcd) = etcd {
        spec["externalEtcdConfiguration"] = etcd;
    }
    let mut documents = vec![
        object("Cluster", name, spec),
        object(dc_kind, name, datacenter_spec(provider)),
    ];
    documents.extend(machines);
    let mut out = format!(
        "# A {provider} cluster spec generated by ironbell. Replace the example values:\n# {}.\n",
        to_replace(provider)
    );
    for (i, doc) in documents.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        // Serializing a `serde_json::Value` to YAML cannot fail.
        out.push_str(&serde_yaml_ng::to_string(doc).unwrap_or_default());
    }
    out
}
