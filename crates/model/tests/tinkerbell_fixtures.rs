//! Tinkerbell, Rufio and core Secret kinds against upstream fixtures and hand-written
//! objects that exercise most fields: parse, round trip, and errors that name their path.

mod common;

use std::net::IpAddr;
use std::path::PathBuf;

use ironbell_model::bmc::{Action, Machine, PowerAction, PowerState};
use ironbell_model::corev1::{Bytes, Secret};
use ironbell_model::tinkerbell::hegel::parse_flatfile;
use ironbell_model::tinkerbell::{BootMode, Hardware, Quantity, Workflow, WorkflowState};
use ironbell_model::{MacAddr, Object, parse_documents};

fn tinkerbell_dir() -> PathBuf {
    common::conformance_dir().join("tinkerbell-9111b51")
}

fn hegel_dir() -> PathBuf {
    common::conformance_dir().join("hegel-9d5f707")
}

/// Round-trips inline YAML the way `common::assert_round_trip` does for files.
fn assert_text_round_trip(text: &str) -> Vec<Object> {
    let objects = parse_documents(text).unwrap_or_else(|e| panic!("does not parse:\n{e}"));
    let raw = common::raw_objects(text);
    assert_eq!(objects.len(), raw.len(), "object count");
    for (i, (obj, want)) in objects.iter().zip(raw).enumerate() {
        let got = common::normalize(serde_json::to_value(obj).expect("serializes"));
        let want = common::normalize(want);
        assert_eq!(got, want, "object {} round trip differs", i + 1);
        // The dynamic (store) form converts back to the same typed object.
        let dynamic = obj.to_dynamic().expect("to dynamic");
        let back = Object::from_dynamic(&dynamic)
            .expect("from dynamic")
            .expect("known kind");
        assert_eq!(&back, obj, "object {} dynamic round trip differs", i + 1);
    }
    objects
}

// ---------------------------------------------------------------------------------------
// Upstream fixtures

#[test]
fn tinkerbell_file_backend_example_round_trips() {
    let path = tinkerbell_dir().join("pkg/backend/file/testdata/example.yaml");
    let text = std::fs::read_to_string(&path).expect("readable");
    // The fixture's fifth Hardware, "bad-data", has `ip.address: "3"`, which Tinkerbell's
    // file backend fails on when it answers DHCP; ironbell refuses it when parsing, with
    // the object and the field named.
    let err = parse_documents(&text)
        .expect_err("bad-data is refused")
        .to_string();
    assert!(
        err.contains("item 5 (Hardware \"bad-data\")")
            && err.contains("spec.interfaces[0].dhcp.ip.address"),
        "{err}"
    );
    // The four good ones parse and round-trip.
    let mut items: Vec<serde_yaml_ng::Value> = serde_yaml_ng::from_str(&text).expect("a list");
    items.retain(|i| i["metadata"]["name"].as_str() != Some("bad-data"));
    let text = serde_yaml_ng::to_string(&items).expect("prints");
    let objects = assert_text_round_trip(&text);
    assert_eq!(objects.len(), 4);
    let Object::Hardware(hw) = &objects[0] else {
        panic!("expected Hardware, got {:?}", objects[0].kind_info());
    };
    assert_eq!(hw.metadata.name(), "pxe-virtualbox");
    let mac = |s: &str| s.parse::<MacAddr>().expect("mac");
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    // A MAC written in upper case finds the same interface: parsed, not compared as text.
    let iface = hw
        .interface_by_mac(mac("08:00:27:29:4E:67"))
        .expect("MAC lookup");
    let dhcp = iface.dhcp.as_ref().expect("dhcp");
    assert_eq!(dhcp.lease_time, Some(86400));
    assert_eq!(
        dhcp.name_servers.as_deref(),
        Some(&[ip("8.8.8.8"), ip("1.1.1.1")][..])
    );
    assert!(iface.allow_pxe());
    assert!(!iface.allow_workflow());
    assert_eq!(hw.ips(), vec![ip("192.168.2.153")]);
    assert_eq!(hw.macs(), vec![mac("08:00:27:29:4e:67")]);
    assert!(hw.interface_by_mac(mac("08:00:27:29:4e:00")).is_none());
    assert_eq!(
        hw.interface_by_ip(ip("192.168.2.153"))
            .and_then(|i| i.mac()),
        Some(mac("08:00:27:29:4e:67"))
    );
}

fn hegel_fixture(rel: &str) -> String {
    let path = hegel_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn hegel_flatfiles_parse_and_round_trip() {
    for rel in [
        "internal/backend/flatfile/testdata/TestFromYAMLFile_Valid.yml",
        "internal/backend/flatfile/testdata/TestGetEC2Instance.yml",
        "internal/e2e/testdata/e2e.yml",
    ] {
        let text = hegel_fixture(rel);
        let instances = parse_flatfile(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(instances.len(), 1, "{rel}");
        let i = &instances[0];
        assert_eq!(i.userdata.as_deref(), Some("test"), "{rel}");
        assert_eq!(i.metadata.id.as_deref(), Some("instanceid"), "{rel}");
        assert_eq!(
            i.metadata.local_hostname.as_deref(),
            Some("localhostname"),
            "{rel}"
        );
        assert_eq!(
            i.public_ipv4(),
            Some(std::net::Ipv4Addr::new(10, 10, 10, 10)),
            "{rel}"
        );
        let os = i.metadata.os.as_ref().expect("os");
        assert_eq!(os.image_tag.as_deref(), Some("imagetag"));
        assert_eq!(
            os.license_activation_state.as_deref(),
            Some("licenseactivationstate")
        );
        assert_eq!(
            i.metadata.tags.as_deref(),
            Some(&["foo".to_string(), "bar".to_string()][..])
        );

        let want: serde_json::Value = serde_yaml_ng::from_str(&text).expect("yaml");
        let got = serde_json::to_value(&instances).expect("serializes");
        assert_eq!(got, want, "{rel}: round trip differs");
    }
}

#[test]
fn hegel_invalid_flatfile_is_an_error() {
    let text = hegel_fixture("internal/backend/flatfile/testdata/TestFromYAMLFile_Invalid.yml");
    let err = parse_flatfile(&text).expect_err("invalid file must not parse");
    assert!(!err.message.is_empty());
    assert!(err.to_string().starts_with("hegel flat file"), "{err}");
}

#[test]
fn hegel_flatfile_unknown_field_names_its_path() {
    let err = parse_flatfile("- metadata:\n    ipv4:\n      publik: 10.0.0.1\n")
        .expect_err("unknown field");
    assert_eq!(err.path, "[0].metadata.ipv4.publik", "{err}");
    assert_eq!(parse_flatfile("").expect("empty file").len(), 0);
}

// ---------------------------------------------------------------------------------------
// Hand-written objects, one per kind

const HARDWARE: &str = r##"
apiVersion: tinkerbell.org/v1alpha1
kind: Hardware
metadata:
  name: node-1
  namespace: eksa-system
  labels:
    type: cp
spec:
  agentID: "00:50:56:aa:bb:01"
  auto:
    enrollmentEnabled: false
  bmcRef:
    apiGroup: bmc.tinkerbell.org
    kind: Machine
    name: bmc-node-1
  tinkVersion: 0
  userData: "#cloud-config\n"
  vendorData: "vendor"
  disks:
    - device: /dev/sda
  resources:
    cpu: 8
    memory: 64Gi
  references:
    lvm:
      group: example.com
      version: v1
      resource: lvmconfigs
      namespace: default
      name: lvm-1
  interfaces:
    - disableDhcp: false
      dhcp:
        mac: "00:50:56:aa:bb:01"
        hostname: node-1
        domain_name: example.com
        lease_time: 4294967294
        name_servers: ["1.1.1.1"]
        time_servers: []
        arch: x86_64
        uefi: true
        iface_name: eno1
        vlan_id: "10"
        tftp_server_name: 10.0.0.2
        boot_file_name: snp.efi
        classless_static_routes:
          - destination_descriptor: 10.1.0.0/16
            router: 10.0.0.254
        ip:
          address: 10.0.0.11
          netmask: 255.255.255.0
          gateway: 10.0.0.1
          family: 4
      netboot:
        allowPXE: true
        allowWorkflow: true
        ipxe:
          url: http://10.0.0.2/auto.ipxe
          contents: "#!ipxe\nexit\n"
          binary: ipxe.efi
        osie:
          baseURL: http://10.0.0.2:7171
          kernel: vmlinuz-x86_64
          initrd: initramfs-x86_64
          kernelParams: ["console=ttyS0"]
        pxelinux:
          config: "default hook"
        rpi:
          serialNum: "1234abcd"
          configTxt: "arm_64bit=1"
          firmwarePath: rpi-firmware
      isoboot:
        sourceISO: http://10.0.0.2/hook.iso
  metadata:
    state: provisioning
    bonding_mode: 5
    manufacturer:
      id: m1
      slug: dell
    facility:
      facility_code: onprem
      plan_slug: c3.small.x86
      plan_version_slug: ""
    custom:
      preinstalled_operating_system_version:
        slug: ubuntu
        distro: ubuntu
        version: "22.04"
        image_tag: latest
        os_slug: ubuntu_22_04
      private_subnets: ["10.0.0.0/8"]
    instance:
      id: "00:50:56:aa:bb:01"
      state: provisioning
      hostname: node-1
      allow_pxe: true
      always_pxe: false
      rescue: false
      network_ready: true
      ipxe_script_url: http://10.0.0.2/custom.ipxe
      userdata: "#cloud-config"
      crypted_root_password: "$6$xyz"
      tags: ["a", "b"]
      ssh_keys: ["ssh-ed25519 AAAA test"]
      operating_system:
        slug: ubuntu_22_04
        distro: ubuntu
        version: "22.04"
        image_tag: "v1"
        os_slug: ubuntu_22_04
      ips:
        - address: 10.0.0.11
          netmask: 255.255.255.0
          gateway: 10.0.0.1
          family: 4
          public: false
          management: true
      storage:
        disks:
          - device: /dev/sda
            wipe_table: true
            partitions:
              - label: ROOT
                number: 1
                size: 0
                start: 2048
                type_guid: 0FC63DAF-8483-4772-8E79-3D69D8477DE4
        raid:
          - name: md0
            level: "1"
            devices: [/dev/sdb, /dev/sdc]
            spare: 0
        filesystems:
          - mount:
              device: /dev/sda1
              format: ext4
              point: /
              create:
                force: true
                options: ["-L", "ROOT"]
              files:
                - path: /etc/motd
                  contents: hello
                  mode: 420
                  uid: 0
                  gid: 0
status:
  state: Ready
  attributes:
    outOfBand:
      lastUpdated: "2024-01-01T00:00:00Z"
      collectionMethod: redfish
      cpu:
        totalCores: 16
        totalThreads: 32
        sockets:
          - slot: CPU1
            vendor: Intel
            model: Xeon
            cores: 16
            threads: 32
            clockSpeedMHz: 2400
            serialNumber: ""
            capabilities: [sse4_2]
            firmwareVersion: "0x1"
      memory:
        totalBytes: 68719476736
        usableBytes: 68000000000
        modules:
          - slot: DIMM.A1
            vendor: Samsung
            model: M393
            serialNumber: S1
            partNumber: P1
            sizeBytes: 34359738368
            speedMHz: 3200
            formFactor: RDIMM
            firmwareVersion: "1"
      blockDevices:
        - name: nvme0n1
          controllerType: NVMe
          driveType: SSD
          vendor: Samsung
          model: PM9A3
          serialNumber: S2
          wwn: eui.1
          sizeBytes: 960197124096
          physicalBlockSizeBytes: 4096
          smartStatus: ok
          firmwareVersion: GDC
          status: {health: OK, state: Enabled}
      networkInterfaces:
        - name: eno1
          vendor: Intel
          model: X710
          serialNumber: S3
          firmwareVersion: "9.0"
          ports:
            - portID: NIC.Embedded.1
              mac: "00:50:56:aa:bb:01"
              speedMbps: 10000
              mtu: 1500
              linkStatus: Up
              enabledCapabilities: [tso]
      gpuDevices:
        - vendor: NVIDIA
          model: A100
          serialNumber: S4
          description: GPU
          class: "0302"
          driver: nvidia
          firmwareVersion: "1"
          status: {health: OK}
      pciDevices:
        - {vendor: Intel, model: C620, class: "0600", driver: none}
      chassis: {vendor: Dell, model: R650, serialNumber: S5}
      baseboard:
        vendor: Dell
        model: 0X1
        serialNumber: S6
        description: board
        firmwareVersion: "1"
        status: {health: OK}
      bios:
        vendor: Dell
        model: BIOS
        serialNumber: S7
        firmwareVersion: "2.1"
        releaseDate: 12/13/2021
        status: {health: OK, state: Enabled, postCode: 0, postCodeStatus: success}
      product:
        name: PowerEdge R650
        vendor: Dell
        model: R650
        serialNumber: TAG1
        status: {health: OK}
      bmc:
        vendor: Dell
        model: iDRAC9
        serialNumber: S8
        firmwareVersion: "7.0"
        nic:
          name: idrac
          ports: [{mac: "00:50:56:aa:bb:ff"}]
        status: {health: OK}
      psus:
        - {vendor: Dell, model: PSU, serialNumber: S9, description: psu, firmwareVersion: "1", powerCapacityWatts: 1400, status: {health: OK}}
      tpms:
        - {vendor: Infineon, model: SLB, serialNumber: S10, interfaceType: TPM2_0, firmwareVersion: "7", status: {health: OK}}
      storageControllers:
        - {vendor: Dell, model: PERC, serialNumber: S11, description: raid, firmwareVersion: "5", status: {health: OK}}
"##;

#[test]
fn hardware_with_most_fields_round_trips() {
    let objects = assert_text_round_trip(HARDWARE);
    let Object::Hardware(hw) = &objects[0] else {
        panic!("expected Hardware");
    };
    let iface = &hw.interfaces()[0];
    let dhcp = iface.dhcp.as_ref().expect("dhcp");
    assert_eq!(dhcp.lease_time, Some(4_294_967_294));
    assert_eq!(
        dhcp.time_servers.as_deref(),
        Some(&[][..]),
        "explicit [] kept"
    );
    assert_eq!(iface.disable_dhcp, Some(false), "explicit false kept");
    assert!(!iface.dhcp_disabled());
    let resources = hw.spec.resources.as_ref().expect("resources");
    assert_eq!(resources["cpu"], Quantity::Int(8));
    assert_eq!(resources["memory"], Quantity::String("64Gi".into()));
    assert_eq!(
        hw.spec.bmc_ref.as_ref().map(|r| r.name.as_str()),
        Some("bmc-node-1")
    );
    assert_eq!(
        hw.instance().and_then(|i| i.hostname.as_deref()),
        Some("node-1")
    );
    let status = hw.status.as_ref().expect("status");
    let bios = status
        .attributes
        .as_ref()
        .and_then(|a| a.out_of_band.as_ref())
        .and_then(|o| o.bios.as_ref())
        .expect("bios");
    assert_eq!(bios.status.as_ref().and_then(|s| s.post_code), Some(0));
}

const TEMPLATE: &str = r##"
apiVersion: tinkerbell.org/v1alpha1
kind: Template
metadata:
  name: ubuntu
  namespace: eksa-system
spec:
  data: |
    version: "0.1"
    name: ubuntu
    global_timeout: 6000
    tasks:
      - name: "os-installation"
        worker: "{{.device_1}}"
        actions:
          - name: "stream-image"
            image: quay.io/tinkerbell/actions/image2disk:latest
            timeout: 600
status:
  state: Ready
"##;

const WORKFLOW: &str = r##"
apiVersion: tinkerbell.org/v1alpha1
kind: Workflow
metadata:
  name: node-1
  namespace: eksa-system
spec:
  disabled: false
  templateRef: ubuntu
  hardwareRef: node-1
  hardwareMap:
    device_1: "00:50:56:aa:bb:01"
  bootOptions:
    toggleAllowNetboot: true
    bootMode: customboot
    isoURL: http://10.0.0.2/hook.iso
    custombootConfig:
      preparingActions:
        - powerAction: "off"
        - bootDevice: {device: pxe, persistent: false, efiBoot: true}
        - virtualMediaAction: {kind: CD, mediaURL: http://10.0.0.2/hook.iso}
        - oneTimeBootDeviceAction: {device: [pxe], efiBoot: true}
        - powerAction: "on"
      postActions:
        - powerAction: "off"
status:
  agentID: "00:50:56:aa:bb:01"
  state: RUNNING
  templateRendering: successful
  globalTimeout: 6000
  globalExecutionStop: "2024-01-01T01:40:00Z"
  bootOptions:
    allowNetboot:
      toggledTrue: true
      toggledFalse: false
    jobs:
      netboot-node-1:
        uid: 1234-5678
        complete: true
        existingJobDeleted: true
  currentState:
    agentID: "00:50:56:aa:bb:01"
    taskID: t1
    actionID: a1
    state: RUNNING
    actionName: stream-image
    taskName: os-installation
  conditions:
    - type: TemplateRenderedSuccess
      status: "True"
      reason: Complete
      message: rendered
      time: "2024-01-01T00:00:00Z"
  tasks:
    - id: t1
      name: os-installation
      agentID: "00:50:56:aa:bb:01"
      volumes: ["/dev:/dev"]
      environment: {A: "1"}
      actions:
        - id: a1
          name: stream-image
          image: quay.io/tinkerbell/actions/image2disk:latest
          timeout: 600
          command: ["/bin/sh", "-c", "true"]
          volumes: ["/tmp:/tmp"]
          pid: host
          namespaces: {network: host, pid: host}
          environment: {DEST_DISK: /dev/sda}
          state: RUNNING
          executionStart: "2024-01-01T00:00:10Z"
          executionStop: "2024-01-01T00:01:10Z"
          executionDuration: 1m0s
          message: streaming
        - id: a2
"##;

#[test]
fn template_and_workflow_round_trip() {
    let objects = assert_text_round_trip(TEMPLATE);
    let Object::Template(t) = &objects[0] else {
        panic!("expected Template");
    };
    assert!(t.data().contains("image2disk"));

    let objects = assert_text_round_trip(WORKFLOW);
    let Object::Workflow(wf) = &objects[0] else {
        panic!("expected Workflow");
    };
    assert_eq!(wf.state(), WorkflowState::Running);
    assert!(!wf.state().is_terminal());
    assert!(!wf.is_disabled());
    let boot = wf.spec.boot_options.as_ref().expect("boot options");
    assert_eq!(boot.boot_mode, Some(BootMode::Customboot));
    let prep = boot
        .customboot_config
        .as_ref()
        .and_then(|c| c.preparing_actions.as_ref())
        .expect("preparing actions");
    assert_eq!(prep[0], Action::power(PowerAction::Off));
    assert_eq!(Workflow::default().state(), WorkflowState::Pending);

    // The CRD allows any state string: unknown ones are kept as written.
    let old = WORKFLOW.replace(
        "  state: RUNNING\n  templateRendering",
        "  state: STATE_PENDING\n  templateRendering",
    );
    let objects = assert_text_round_trip(&old);
    let Object::Workflow(wf) = &objects[0] else {
        panic!("expected Workflow");
    };
    assert_eq!(wf.state(), WorkflowState::Other("STATE_PENDING".into()));
    assert_eq!(wf.state().as_str(), "STATE_PENDING");
}

const MACHINE: &str = r##"
apiVersion: bmc.tinkerbell.org/v1alpha1
kind: Machine
metadata:
  name: bmc-node-1
  namespace: eksa-system
spec:
  connection:
    host: 10.0.1.11
    port: 623
    insecureTLS: true
    authSecretRef:
      name: bmc-node-1-auth
      namespace: eksa-system
    providerOptions:
      preferredOrder: [gofish, ipmitool]
      redfish: {port: 443, useBasicAuth: true, systemName: System.Embedded.1}
      ipmitool: {port: 623, cipherSuite: "17"}
      intelAMT: {port: 16992, hostScheme: https}
      homeassistant: {switchEntityID: switch.node1, powerOperationDelaySeconds: 5}
      rpc:
        consumerURL: https://rpc.example.com
        logNotificationsDisabled: true
        request:
          httpContentType: application/json
          httpMethod: POST
          staticHeaders: {X-Token: [abc, def]}
          timestampFormat: RFC3339
          timestampHeader: X-BMCLIB-Timestamp
        signature:
          headerName: X-BMCLIB-Signature
          appendAlgoToHeaderDisabled: true
          includedPayloadHeaders: [X-Token]
        hmac:
          prefixSigDisabled: false
          secrets:
            sha256:
              - {name: hmac-1, namespace: eksa-system}
        experimental:
          customRequestPayload: '{"object":{}}'
          dotPath: object.data
status:
  powerState: "on"
  conditions:
    - type: Contactable
      status: "True"
      lastUpdateTime: "2024-01-01T00:00:00Z"
      message: ok
"##;

const JOB: &str = r##"
apiVersion: bmc.tinkerbell.org/v1alpha1
kind: Job
metadata:
  name: node-1-provision
  namespace: eksa-system
spec:
  machineRef:
    name: bmc-node-1
    namespace: eksa-system
  tasks:
    - powerAction: "off"
    - oneTimeBootDeviceAction:
        device: [pxe]
        efiBoot: true
    - bootDevice: {device: disk, persistent: true}
    - virtualMediaAction: {kind: CD}
    - powerAction: "on"
    - powerAction: soft
    - powerAction: status
    - powerAction: cycle
    - powerAction: reset
status:
  startTime: "2024-01-01T00:00:00Z"
  completionTime: "2024-01-01T00:01:00Z"
  conditions:
    - {type: Running, status: "True"}
    - {type: Completed, status: "True", message: done}
"##;

const TASK: &str = r##"
apiVersion: bmc.tinkerbell.org/v1alpha1
kind: Task
metadata:
  name: node-1-provision-task-0
  namespace: eksa-system
spec:
  task:
    powerAction: "off"
  connection:
    host: 10.0.1.11
    insecureTLS: false
    authSecretRef: {name: bmc-node-1-auth, namespace: eksa-system}
status:
  startTime: "2024-01-01T00:00:00Z"
  conditions:
    - {type: Failed, status: "True", message: "connection refused"}
"##;

#[test]
fn machine_job_task_round_trip() {
    let objects = assert_text_round_trip(MACHINE);
    let Object::Machine(m) = &objects[0] else {
        panic!("expected Machine");
    };
    assert_eq!(m.power_state(), PowerState::On);
    assert_eq!(m.spec.connection.port_or_default(), 623);
    assert!(m.spec.connection.insecure_tls);
    assert_eq!(Machine::default().power_state(), PowerState::Unknown);

    let objects = assert_text_round_trip(JOB);
    let Object::Job(job) = &objects[0] else {
        panic!("expected Job");
    };
    assert_eq!(job.spec.tasks.len(), 9);
    assert_eq!(job.spec.tasks[0], Action::power(PowerAction::Off));
    assert_eq!(job.spec.tasks[1], Action::one_time_boot("pxe", true));
    assert_eq!(job.task_name(0), "node-1-provision-task-0");

    let objects = assert_text_round_trip(TASK);
    let Object::Task(task) = &objects[0] else {
        panic!("expected Task");
    };
    let conn = task.spec.connection.as_ref().expect("connection");
    assert_eq!(conn.port, None);
    assert_eq!(conn.port_or_default(), 623);
}

const SECRET: &str = r##"
apiVersion: v1
kind: Secret
metadata:
  name: bmc-node-1-auth
  namespace: eksa-system
  labels:
    clusterctl.cluster.x-k8s.io/move: "true"
type: kubernetes.io/basic-auth
immutable: false
data:
  username: YWRtaW4=
  password: cDRzc3cwcmQh
  binary: AP8=
stringData:
  note: plain text
"##;

#[test]
fn secret_round_trips_and_decodes() {
    let objects = assert_text_round_trip(SECRET);
    let Object::Secret(s) = &objects[0] else {
        panic!("expected Secret");
    };
    assert_eq!(s.get_str("username"), Some("admin"));
    assert_eq!(s.get_str("password"), Some("p4ssw0rd!"));
    assert_eq!(s.get("binary"), Some(&[0x00, 0xff][..]));
    assert_eq!(s.get_str("binary"), None, "not UTF-8");
    assert_eq!(s.get_str("note"), Some("plain text"));
    assert_eq!(s.get_str("missing"), None);
    assert_eq!(s.keys(), vec!["binary", "note", "password", "username"]);
    assert_eq!(s.type_.as_deref(), Some("kubernetes.io/basic-auth"));

    let debug = format!("{s:?}");
    assert!(!debug.contains("admin"), "Debug leaks a value: {debug}");
    assert!(!debug.contains("YWRtaW4"), "Debug leaks a value: {debug}");
    assert!(
        !debug.contains("plain text"),
        "Debug leaks a value: {debug}"
    );
}

#[test]
fn secret_basic_auth_serializes_as_base64() {
    let s = Secret::basic_auth("eksa-system", "bmc-1-auth", "root", "calvin");
    let v = serde_json::to_value(&s).expect("serializes");
    assert_eq!(v["apiVersion"], "v1");
    assert_eq!(v["kind"], "Secret");
    assert_eq!(v["data"]["username"], "cm9vdA==");
    assert_eq!(v["data"]["password"], "Y2Fsdmlu");
    let back: Secret = serde_json::from_value(v).expect("parses");
    assert_eq!(back, s);
    assert_eq!(Bytes::from("root").to_base64(), "cm9vdA==");
}

// ---------------------------------------------------------------------------------------
// Errors name the document, the kind, the name and the path

fn single_error(text: &str) -> ironbell_model::document::DocumentError {
    let errs = parse_documents(text).expect_err("must not parse");
    assert_eq!(errs.0.len(), 1, "{errs}");
    errs.0.into_iter().next().expect("one error")
}

fn hardware_with_dhcp(dhcp_line: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: ok}}\n---\n\
         apiVersion: tinkerbell.org/v1alpha1\nkind: Hardware\nmetadata:\n  name: node-9\n\
         spec:\n  interfaces:\n    - dhcp:\n        mac: \"00:00:00:00:00:09\"\n        {dhcp_line}\n"
    )
}

#[test]
fn wrong_type_deep_inside_names_its_path() {
    let e = single_error(&hardware_with_dhcp("lease_time: abc"));
    assert_eq!(e.path, "spec.interfaces[0].dhcp.lease_time");
    assert_eq!(e.document, 2);
    let shown = e.to_string();
    assert!(shown.contains("document 2"), "{shown}");
    assert!(shown.contains("Hardware"), "{shown}");
    assert!(shown.contains("node-9"), "{shown}");
    assert!(
        shown.contains("spec.interfaces[0].dhcp.lease_time"),
        "{shown}"
    );
}

#[test]
fn unknown_field_names_its_path() {
    let e = single_error(&hardware_with_dhcp("macc: \"00:00:00:00:00:10\""));
    assert_eq!(e.path, "spec.interfaces[0].dhcp.macc");
    assert!(e.message.contains("macc"), "{}", e.message);
    let shown = e.to_string();
    assert!(shown.contains("document 2"), "{shown}");
    assert!(shown.contains("Hardware"), "{shown}");
    assert!(shown.contains("node-9"), "{shown}");
}

#[test]
fn unknown_enum_value_names_its_path() {
    let text = "apiVersion: bmc.tinkerbell.org/v1alpha1\nkind: Machine\nmetadata: {name: bmc-9}\n\
                spec:\n  connection: {host: 10.0.0.9, insecureTLS: false}\n\
                status:\n  powerState: sideways\n";
    let e = single_error(text);
    assert_eq!(e.path, "status.powerState");
    assert!(e.message.contains("sideways"), "{}", e.message);
    let shown = e.to_string();
    assert!(shown.contains("document 1"), "{shown}");
    assert!(shown.contains("Machine"), "{shown}");
    assert!(shown.contains("bmc-9"), "{shown}");

    let text = "apiVersion: bmc.tinkerbell.org/v1alpha1\nkind: Job\nmetadata: {name: j}\n\
                spec:\n  machineRef: {name: m, namespace: n}\n  tasks:\n    - powerAction: explode\n";
    let e = single_error(text);
    assert_eq!(e.path, "spec.tasks[0].powerAction");
}

#[test]
fn missing_required_field_is_an_error() {
    let text = "apiVersion: bmc.tinkerbell.org/v1alpha1\nkind: Machine\nmetadata: {name: m}\n\
                spec:\n  connection: {host: 10.0.0.9}\n";
    let e = single_error(text);
    assert!(e.message.contains("insecureTLS"), "{e}");
}

#[test]
fn invalid_base64_names_the_key() {
    let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: bad-secret}\n\
                data:\n  username: YWRtaW4=\n  password: \"not base64!\"\n";
    let e = single_error(text);
    assert_eq!(e.path, "data.password");
    assert!(e.message.contains("\"password\""), "{}", e.message);
    let shown = e.to_string();
    assert!(shown.contains("Secret"), "{shown}");
    assert!(shown.contains("bad-secret"), "{shown}");

    // Without path tracking the message alone still names the key.
    let err = serde_yaml_ng::from_str::<Secret>("data:\n  token: '***'\n").expect_err("invalid");
    assert!(err.to_string().contains("\"token\""), "{err}");
}

#[test]
fn kinds_are_found_by_their_aliases() {
    for (alias, kind) in [
        ("hw", "Hardware"),
        ("hardware", "Hardware"),
        ("tpl", "Template"),
        ("wf", "Workflow"),
        ("bmcmachine", "Machine"),
        ("bmcjob", "Job"),
        ("bmctask", "Task"),
        ("secret", "Secret"),
        ("secrets", "Secret"),
        ("machines.bmc.tinkerbell.org", "Machine"),
    ] {
        let registry = ironbell_model::KindRegistry::builtin();
        let info = registry.find(alias).unwrap_or_else(|| panic!("{alias}"));
        assert_eq!(info.kind, kind, "{alias}");
    }
    let _ = Hardware::default();
}

// ---------------------------------------------------------------------------------------
// Every property of every v1alpha1 CRD is accepted, with its type

#[test]
fn every_crd_property_is_accepted() {
    for (file, obj) in common::tinkerbell_crd_samples() {
        let json = serde_json::to_string(&obj).expect("json");
        let n = assert_text_round_trip(&json).len();
        assert_eq!(n, 1, "{file}");
    }
}
