//! `lab up`: build the lab (or resume it), start what is not running, import, create the
//! Workflows, follow the machines, print the summary.

use std::fmt::Write as _;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ironbell_model::parse_documents;
use ironbell_model::tinkerbell::{Hardware, Workflow};
use ironbell_ops::apply::ApplyOptions;
use ironbell_ops::spec::{Access, StoreSpec};
use ironbell_store::{ListParams, SharedStore, api};

use crate::plan::{self, Firmware, MachinePlan, NAMESPACE, SERVER_IP};
use crate::process::{self, Started};
use crate::progress::{self, Milestone, Outcome, Reported, Tracker};
use crate::state::LabState;
use crate::vm::{self, VmFiles};
use crate::{LabError, Options, net, replicas, vbmc};

/// One machine's result.
#[derive(Debug, Clone)]
pub struct MachineSummary {
    /// Its name.
    pub name: String,
    /// Firmware and BMC protocols.
    pub spec: plan::MachineSpec,
    /// Phases and their durations.
    pub phases: Vec<(String, Duration)>,
    /// Time from the Workflows' creation to the phone-home.
    pub total: Option<Duration>,
    /// How it ended.
    pub outcome: Outcome,
}

/// What `lab up` measured.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Per machine.
    pub machines: Vec<MachineSummary>,
    /// Strangers that DHCP answered (should be none).
    pub strangers_answered: Vec<String>,
    /// From the Workflows' creation until the last machine finished.
    pub total: Duration,
    /// ironbell's peak RSS (bytes) and CPU time over the run.
    pub ironbell_usage: Option<(u64, Duration)>,
    /// The virtual BMCs' peak RSS and CPU time.
    pub vbmc_usage: Option<(u64, Duration)>,
    /// HookOS kernel and initramfs sizes (bytes).
    pub hookos_bytes: (u64, u64),
    /// The OS image's size (bytes, compressed).
    pub os_image_bytes: u64,
}

impl Summary {
    /// Whether every machine is done and no stranger was answered.
    pub fn success(&self) -> bool {
        self.strangers_answered.is_empty()
            && self.machines.iter().all(|m| m.outcome == Outcome::Done)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
        writeln!(f, "summary:")?;
        for m in &self.machines {
            let outcome = match &m.outcome {
                Outcome::Done => "done".to_string(),
                Outcome::Running => "not finished".to_string(),
                Outcome::Failed(why) => format!("FAILED: {why}"),
            };
            writeln!(
                f,
                "  {:<8} {:<13} total {:>8}  {outcome}",
                m.name,
                m.spec.to_string(),
                m.total.map(progress::human).unwrap_or_else(|| "-".into()),
            )?;
            let mut line = String::from("           ");
            for (phase, d) in &m.phases {
                let _ = write!(line, " {phase} {}", progress::human(*d));
            }
            writeln!(f, "{line}")?;
        }
        for s in &self.strangers_answered {
            writeln!(f, "  {s}: answered by DHCP although not in hardware.csv")?;
        }
        writeln!(
            f,
            "  all {} machines: {}",
            self.machines.len(),
            progress::human(self.total)
        )?;
        if let Some((rss, cpu)) = self.ironbell_usage {
            writeln!(
                f,
                "  ironbell services: peak RSS {}, CPU {:.1} s",
                mb(rss),
                cpu.as_secs_f64()
            )?;
        }
        if let Some((rss, cpu)) = self.vbmc_usage {
            writeln!(
                f,
                "  virtual BMCs: peak RSS {}, CPU {:.1} s",
                mb(rss),
                cpu.as_secs_f64()
            )?;
        }
        writeln!(
            f,
            "  HookOS: kernel {}, initramfs {}; OS image {} (zstd)",
            mb(self.hookos_bytes.0),
            mb(self.hookos_bytes.1),
            mb(self.os_image_bytes)
        )
    }
}

/// Writes a file readable by its owner only (it holds BMC passwords).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), LabError> {
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| LabError::io(format!("writing {}", path.display()), e))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Checks what the lab needs before changing anything.
fn preflight(opts: &Options) -> Result<(), LabError> {
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root (network namespaces and taps)".to_string());
    }
    for (program, package) in [
        ("ip", "iproute2"),
        ("qemu-system-x86_64", "qemu-system-x86"),
    ] {
        if !on_path(program) {
            missing.push(format!("{program} (Debian package {package})"));
        }
    }
    if opts.machines.iter().any(|m| m.firmware == Firmware::Uefi) {
        for f in [vm::OVMF_CODE, vm::OVMF_VARS] {
            if !Path::new(f).is_file() {
                missing.push(format!("{f} (Debian package ovmf)"));
            }
        }
    }
    // A machines-only lab serves nothing: whoever provisions its machines brings HookOS.
    for f in ["vmlinuz-x86_64", "initramfs-x86_64"] {
        let p = opts.hookos_dir.join(f);
        if !opts.machines_only && !p.is_file() {
            missing.push(format!("{} (build it: bash hookos/build.sh)", p.display()));
        }
    }
    if !opts.machines_only && !opts.os_image.is_file() {
        missing.push(format!(
            "{} (build it: bash os-image/build.sh)",
            opts.os_image.display()
        ));
    }
    if !opts.ironbell.is_file() {
        missing.push(format!("the ironbell binary {}", opts.ironbell.display()));
    }
    if !opts.ipxe_dir.is_dir() {
        missing.push(format!(
            "{} (Debian packages ipxe, ipxe-qemu)",
            opts.ipxe_dir.display()
        ));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(LabError::Setup(format!(
            "the lab needs:\n  {}\n(scripts/setup installs the packages)",
            missing.join("\n  ")
        )))
    }
}

/// 16 hex digits: IPMI 2.0 allows passwords of at most 20 bytes.
fn random_password() -> String {
    let mut bytes = [0u8; 8];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn copy_into(src: &Path, dir: &Path, name: &str) -> Result<u64, LabError> {
    let dst = dir.join(name);
    std::fs::copy(src, &dst)
        .map_err(|e| LabError::io(format!("copying {} to {}", src.display(), dst.display()), e))
}

/// Writes `dir/hardware.csv` (mode 0600: it holds the BMC password).
fn write_hardware_csv(
    dir: &Path,
    machines: &[MachinePlan],
    bmc_password: &str,
) -> Result<(), LabError> {
    write_private(
        &dir.join("hardware.csv"),
        plan::hardware_csv(machines, bmc_password).as_bytes(),
    )
}

/// Writes what the lab imports and applies into `dir`: `hardware.csv` (mode 0600: it holds
/// the BMC password), `template.yaml` and `workflows.yaml` (a Workflow per machine in
/// hardware.csv).
pub fn write_inputs(
    dir: &Path,
    machines: &[MachinePlan],
    bmc_password: &str,
    template: &str,
) -> Result<(), LabError> {
    write_hardware_csv(dir, machines, bmc_password)?;
    std::fs::write(dir.join("template.yaml"), template)
        .map_err(|e| LabError::io("writing template.yaml", e))?;
    let workflows: Vec<String> = machines
        .iter()
        .filter(|m| !m.is_stranger())
        .map(plan::workflow_yaml)
        .collect();
    std::fs::write(dir.join("workflows.yaml"), workflows.join("---\n"))
        .map_err(|e| LabError::io("writing workflows.yaml", e))
}

/// Creates a new lab's files and network; returns its state (nothing started yet).
fn create(opts: &Options, out: &mut dyn Write) -> Result<LabState, LabError> {
    let machines = plan::layout(&opts.machines, opts.strangers);
    let netns = crate::netns_name(&opts.name);
    if net::exists(&netns) {
        return Err(LabError::Setup(format!(
            "network namespace {netns} exists but {} holds no lab; remove it with `ip netns del {netns}`",
            opts.dir.display()
        )));
    }
    std::fs::create_dir_all(&opts.dir)
        .map_err(|e| LabError::io(format!("creating {}", opts.dir.display()), e))?;
    if !(1..=replicas::MAX_REPLICAS).contains(&opts.replicas) {
        return Err(LabError::Setup(format!(
            "--replicas {}: a lab runs 1 to {} replicas",
            opts.replicas,
            replicas::MAX_REPLICAS
        )));
    }
    if opts.machines_only && opts.replicas != 1 {
        return Err(LabError::Setup(format!(
            "--replicas {}: a machines-only lab runs no ironbell service",
            opts.replicas
        )));
    }
    let state = LabState {
        name: opts.name.clone(),
        netns: netns.clone(),
        machines: machines.clone(),
        processes: Vec::new(),
        replicas: opts.replicas,
        machines_only: opts.machines_only,
        extra_netns: (1..opts.replicas)
            .map(|k| replicas::replica_netns(&netns, k))
            .collect(),
    };
    // Saved first: from here on `lab down` can remove whatever was made.
    state.save(&opts.dir)?;
    let password = random_password();
    vbmc::write_config(
        &opts.dir.join("vbmc.json"),
        &vbmc::configs(&opts.dir, &machines, &password),
    )?;
    if opts.machines_only {
        write_hardware_csv(&opts.dir, &machines, &password)?;
    } else {
        let template = match &opts.template {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| LabError::io(format!("reading {}", p.display()), e))?,
            None => crate::LAB_TEMPLATE.to_string(),
        };
        write_inputs(&opts.dir, &machines, &password, &template)?;
        let artifacts = opts.dir.join("artifacts");
        std::fs::create_dir_all(&artifacts)
            .map_err(|e| LabError::io(format!("creating {}", artifacts.display()), e))?;
        for f in ["vmlinuz-x86_64", "initramfs-x86_64"] {
            copy_into(&opts.hookos_dir.join(f), &artifacts, f)?;
        }
        copy_into(&opts.os_image, &artifacts, plan::OS_IMAGE_FILE)?;
    }
    for m in &machines {
        VmFiles::new(&opts.dir, m).prepare(m)?;
    }
    let _ = writeln!(
        out,
        "network: namespace {netns}, bridge {} {SERVER_IP}/{}",
        plan::BRIDGE,
        plan::PREFIX_LEN
    );
    net::create(&netns, &machines)?;
    for k in 1..state.replicas {
        let ns = replicas::create_replica_netns(&netns, k)?;
        let _ = writeln!(
            out,
            "replica {k}: namespace {ns}, {}/{} on the bridge",
            replicas::replica_ip(k),
            plan::PREFIX_LEN
        );
    }
    if state.replicas > 1 {
        let _ = writeln!(
            out,
            "store: {} (three etcd members)",
            replicas::store_spec()
        );
    }
    state.save(&opts.dir)?;
    Ok(state)
}

/// Replica `k`'s command line (the one service of a single-replica lab is replica 0).
fn ironbell_argv(opts: &Options, state: &LabState, dir: &Path, k: usize) -> Vec<String> {
    let net = plan::network();
    let logs = if k == 0 {
        "machine-logs".to_string()
    } else {
        format!("machine-logs-{k}")
    };
    let mut argv: Vec<String> = vec![
        opts.ironbell.display().to_string(),
        "--db".into(),
        state.store_spec(dir),
        "--machine-log-dir".into(),
        dir.join(logs).display().to_string(),
        "serve".into(),
        "all".into(),
    ];
    if state.replicas > 1 {
        argv.extend([
            "--replica-id".to_string(),
            format!("replica-{k}"),
            "--grpc-authorities".to_string(),
            (0..state.replicas)
                .map(|r| format!("{}:{}", replicas::replica_ip(r), net.grpc.port()))
                .collect::<Vec<_>>()
                .join(","),
        ]);
    }
    argv.extend([
        "--public-ip".into(),
        replicas::replica_ip(k).to_string(),
        "--interface".into(),
        replicas::replica_interface(k).into(),
        "--artifacts-dir".into(),
        dir.join("artifacts").display().to_string(),
        "--ipxe-dir".into(),
        opts.ipxe_dir.display().to_string(),
        "--http-addr".into(),
        net.http.to_string(),
        "--metadata-addr".into(),
        net.metadata.to_string(),
        "--grpc-addr".into(),
        net.grpc.to_string(),
        "--syslog-addr".into(),
        net.syslog.to_string(),
    ]);
    if let (0, Some(addr)) = (k, opts.dashboard) {
        argv.extend(["--dashboard".into(), addr.to_string()]);
    }
    argv
}

/// Starts every process of the lab that is not running, in dependency order, and waits
/// until each listens.
fn ensure_processes(
    opts: &Options,
    state: &mut LabState,
    out: &mut dyn Write,
) -> Result<(), LabError> {
    let dir = opts.dir.clone();
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| LabError::io("creating logs/", e))?;
    let start_in = |state: &mut LabState,
                    netns: &str,
                    role: &str,
                    argv: Vec<String>,
                    log: PathBuf,
                    out: &mut dyn Write|
     -> Result<bool, LabError> {
        if state.process(role).is_some_and(Started::is_running) {
            return Ok(false);
        }
        let started = process::spawn(netns, role, argv, &log)?;
        process::wait_exec(&started, Duration::from_secs(10))?;
        let _ = writeln!(
            out,
            "started {role} (pid {}, log {})",
            started.pid,
            log.display()
        );
        state.record(started);
        state.save(&dir)?;
        Ok(true)
    };
    let start =
        |state: &mut LabState, role: &str, argv: Vec<String>, log: PathBuf, out: &mut dyn Write| {
            let netns = state.netns.clone();
            start_in(state, &netns, role, argv, log, out)
        };

    // Router advertisements: without them the 2019 iPXE waits ~13 s for IPv6.
    if on_path("radvd") {
        let conf = dir.join("radvd.conf");
        std::fs::write(
            &conf,
            format!(
                "interface {} {{\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 4;\n  \
                 AdvDefaultLifetime 0;\n  prefix {} {{ AdvOnLink on; AdvAutonomous on; }};\n}};\n",
                plan::BRIDGE,
                plan::ULA_PREFIX
            ),
        )
        .map_err(|e| LabError::io("writing radvd.conf", e))?;
        let argv = vec![
            "radvd".into(),
            "--nodaemon".into(),
            "--config".into(),
            conf.display().to_string(),
            "--pidfile".into(),
            dir.join("radvd.pid").display().to_string(),
            "--logmethod".into(),
            "stderr".into(),
        ];
        start(state, "radvd", argv, logs.join("radvd.log"), out)?;
    } else {
        let _ = writeln!(
            out,
            "radvd is not installed: iPXE will wait ~13 s for IPv6 on each boot"
        );
    }

    // Machines (powered off) before their BMCs, whose QMP sockets they create.
    let mut qemu_started = Vec::new();
    for m in state.machines.clone() {
        let files = VmFiles::new(&dir, &m);
        let argv = vm::qemu_argv(&state.name, &m, &files, opts.memory_mib);
        if start(
            state,
            &format!("qemu {}", m.name),
            argv,
            files.qemu_log(),
            out,
        )? {
            qemu_started.push(m);
        }
    }
    for m in &qemu_started {
        wait_for(Duration::from_secs(20), || {
            VmFiles::new(&dir, m).qmp().exists()
        })
        .map_err(|()| LabError::Setup(format!("QEMU of {} made no QMP socket", m.name)))?;
    }

    let vbmc_argv = vec![
        opts.ironbell.display().to_string(),
        "lab".into(),
        "vbmc".into(),
        "--config".into(),
        dir.join("vbmc.json").display().to_string(),
    ];
    start(state, "vbmc", vbmc_argv, logs.join("vbmc.log"), out)?;
    let bmcs: Vec<MachinePlan> = state
        .machines
        .iter()
        .filter(|m| !m.is_stranger())
        .cloned()
        .collect();
    let netns = state.netns.clone();
    wait_for(Duration::from_secs(30), || {
        bmcs.iter().all(|m| {
            let Some(ip) = m.bmc_ip else { return true };
            (!m.spec.bmc.redfish() || net::tcp_open(&netns, ip, vbmc::REDFISH_PORT))
                && (!m.spec.bmc.ipmi() || net::udp_bound(&netns, ip, vbmc::IPMI_PORT))
        })
    })
    .map_err(|()| {
        LabError::Setup(format!(
            "the virtual BMCs did not start listening; see {}:\n{}",
            logs.join("vbmc.log").display(),
            process::tail(&logs.join("vbmc.log"), 20)
        ))
    })?;

    if state.machines_only {
        return Ok(());
    }
    if state.replicas > 1 {
        for i in 0..replicas::ETCD_MEMBERS {
            let argv = replicas::etcd_argv(i, &dir);
            start(
                state,
                &format!("etcd-{i}"),
                argv,
                logs.join(format!("etcd-{i}.log")),
                out,
            )?;
        }
        wait_for(Duration::from_secs(30), || {
            (0..replicas::ETCD_MEMBERS).all(|i| {
                let (ip, port) = replicas::etcd_client(i);
                net::tcp_open(&netns, ip, port)
            })
        })
        .map_err(|()| {
            LabError::Setup(format!(
                "etcd did not start listening; see {}:\n{}",
                logs.join("etcd-0.log").display(),
                process::tail(&logs.join("etcd-0.log"), 20)
            ))
        })?;
    }
    // The last replica first, and (on a new lab) until it leads: the Workflows' URLs name
    // replica 0, so the leader is one whose death leaves them working.
    for k in (0..state.replicas).rev() {
        let role = replicas::replica_role(k);
        let log = logs.join(format!("{role}.log"));
        let argv = ironbell_argv(opts, state, &dir, k);
        let (ns, ip) = (replicas::replica_netns(&netns, k), replicas::replica_ip(k));
        let started = start_in(state, &ns, &role, argv, log.clone(), out)?;
        wait_for(Duration::from_secs(30), || {
            plan::network()
                .tcp_listeners()
                .iter()
                .all(|(_, addr)| net::tcp_open(&ns, ip, addr.port()))
        })
        .map_err(|()| {
            LabError::Setup(format!(
                "ironbell's services ({role}) did not start listening; see {}:\n{}",
                log.display(),
                process::tail(&log, 20)
            ))
        })?;
        if started && k > 0 && k + 1 == state.replicas {
            wait_for(Duration::from_secs(30), || {
                std::fs::read_to_string(&log).is_ok_and(|l| l.contains(LEADS))
            })
            .map_err(|()| {
                LabError::Setup(format!(
                    "{role} did not come to lead the controllers; see {}:\n{}",
                    log.display(),
                    process::tail(&log, 20)
                ))
            })?;
            let _ = writeln!(out, "{role} leads the controllers");
        }
    }
    Ok(())
}

/// What a replica logs when it comes to lead the controllers (`ironbell_ops::plane`).
const LEADS: &str = "controllers: this replica leads";

/// Switches on the machines that have no BMC (strangers) over QMP, as their power
/// button would.
async fn power_on_strangers(
    dir: &Path,
    state: &LabState,
    out: &mut dyn Write,
) -> Result<(), LabError> {
    for m in state.machines.iter().filter(|m| m.is_stranger()) {
        let qmp = VmFiles::new(dir, m).qmp();
        let on = async {
            ironbell_vbmc::qmp::Qmp::connect(&qmp)
                .await?
                .execute("cont", None)
                .await
        };
        on.await
            .map_err(|e| LabError::Setup(format!("powering on {}: {e}", m.name)))?;
        let _ = writeln!(out, "powered on {} (not in hardware.csv)", m.name);
    }
    Ok(())
}

fn wait_for(limit: Duration, mut ready: impl FnMut() -> bool) -> Result<(), ()> {
    let deadline = Instant::now() + limit;
    loop {
        if ready() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The lab's store, reached from where its services reach it: the SQLite file in the lab
/// directory, or (replicated lab) etcd inside the lab's namespace through a
/// [`replicas::NsRuntime`].
pub(crate) struct LabStore {
    store: SharedStore,
    ns: Option<replicas::NsRuntime>,
}

impl LabStore {
    /// Opens the store of the lab in `dir` with `state`'s layout.
    pub(crate) async fn open(
        state: &LabState,
        dir: &Path,
        access: Access,
    ) -> Result<Self, LabError> {
        let spec: StoreSpec = state
            .store_spec(dir)
            .parse()
            .map_err(|e: ironbell_ops::OpsError| LabError::Store(e.to_string()))?;
        let open = move || {
            ironbell_ops::spec::open(&spec, access)
                .map(|handle| handle.store().clone())
                .map_err(|e| LabError::Store(e.to_string()))
        };
        if state.replicas > 1 {
            let ns = replicas::NsRuntime::start(&state.netns)?;
            let store = ns.run(async move { open() }).await??;
            Ok(Self {
                store,
                ns: Some(ns),
            })
        } else {
            Ok(Self {
                store: open()?,
                ns: None,
            })
        }
    }

    /// Runs `f` with the store where its connections belong.
    pub(crate) async fn run<T, Fut>(
        &self,
        f: impl FnOnce(SharedStore) -> Fut,
    ) -> Result<T, LabError>
    where
        Fut: std::future::Future<Output = Result<T, LabError>> + Send + 'static,
        T: Send + 'static,
    {
        let fut = f(self.store.clone());
        match &self.ns {
            Some(ns) => ns.run(fut).await?,
            None => fut.await,
        }
    }
}

/// Imports the lab's `hardware.csv` and applies its Template and Workflows, in process,
/// through the same operations `ironbell hardware import` and `ironbell apply` use (into
/// the SQLite store of a single-replica lab in `dir`).
pub async fn import_and_apply(dir: &Path) -> Result<(), LabError> {
    let store = LabStore {
        store: {
            let spec = StoreSpec::Sqlite(dir.join("ironbell.db"));
            ironbell_ops::spec::open(&spec, Access::Create)
                .map_err(|e| LabError::Store(e.to_string()))?
                .store()
                .clone()
        },
        ns: None,
    };
    import_and_apply_into(&store, dir).await
}

async fn import_and_apply_into(store: &LabStore, dir: &Path) -> Result<(), LabError> {
    let failed = |command: &str, e: &dyn std::fmt::Display| LabError::Command {
        command: command.to_string(),
        output: e.to_string(),
    };
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| LabError::io(format!("reading {name}"), e))
    };
    let csv = read("hardware.csv")?;
    let rows = ironbell_inventory::parse_inventory(&csv)
        .map_err(|e| failed("hardware import", &e))?
        .rows;
    store
        .run(|store| async move {
            ironbell_ops::import::import(store.as_ref(), &rows, NAMESPACE, ApplyOptions::default())
                .await
                .map(drop)
                .map_err(|e| failed("hardware import", &e))
        })
        .await?;
    for file in ["template.yaml", "workflows.yaml"] {
        let command = format!("apply -f {file}");
        let mut objects = Vec::new();
        for mut o in parse_documents(&read(file)?).map_err(|e| failed(&command, &e))? {
            if o.metadata().namespace.as_deref().is_none_or(str::is_empty) {
                o.metadata_mut().namespace = Some(NAMESPACE.to_string());
            }
            objects.push(o.to_dynamic().map_err(|e| failed(&command, &e))?);
        }
        store
            .run(|store| async move {
                ironbell_ops::apply::apply(store.as_ref(), objects, ApplyOptions::default())
                    .await
                    .map(drop)
                    .map_err(|e| failed(&command, &e))
            })
            .await?;
    }
    Ok(())
}

/// Every object of kind `K` in the lab's namespace.
async fn list_lab<K: ironbell_model::Resource>(store: &LabStore) -> Result<Vec<K>, LabError> {
    store
        .run(|store| async move {
            let params = ListParams {
                namespace: Some(NAMESPACE.into()),
                selector: None,
            };
            api::<K>(&store)
                .list(&params)
                .await
                .map(|(items, _)| items)
                .map_err(|e| LabError::Store(e.to_string()))
        })
        .await
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Builds the lab described by `opts` (or resumes the one in `opts.dir`), starts whatever is
/// not running, creates the Workflows (on a new lab) and, with `opts.wait`, follows every
/// machine until it is done, failed, or `opts.timeout` passed. Progress goes to `out`.
///
/// Resuming: when `opts.dir` already holds a lab, its layout is kept (the machines given
/// in `opts` are ignored), processes that died are started again and nothing is imported
/// twice; ironbell continues the Workflows from the store.
pub async fn up(opts: &Options, out: &mut (dyn Write + Send)) -> Result<Summary, LabError> {
    preflight(opts)?;
    let (mut state, fresh) = match LabState::load(&opts.dir)? {
        Some(state) => {
            if !net::exists(&state.netns) {
                return Err(LabError::Setup(format!(
                    "the lab in {} lost its network namespace {}; remove it with `ironbell lab down`",
                    opts.dir.display(),
                    state.netns
                )));
            }
            let _ = writeln!(out, "resuming the lab in {}", opts.dir.display());
            (state, false)
        }
        None => (create(opts, out)?, true),
    };
    ensure_processes(opts, &mut state, out)?;
    if fresh {
        power_on_strangers(&opts.dir, &state, out).await?;
    }
    if state.machines_only {
        print_machines_only(&opts.dir, &state, out);
        return Ok(summarize(opts, &state, &[], Instant::now(), Duration::ZERO));
    }
    if fresh {
        let store = LabStore::open(&state, &opts.dir, Access::Create).await?;
        import_and_apply_into(&store, &opts.dir).await?;
        let _ = writeln!(
            out,
            "imported {} and created a Workflow per machine (namespace {NAMESPACE})",
            opts.dir.join("hardware.csv").display()
        );
    }
    let start = Instant::now();
    let store = LabStore::open(&state, &opts.dir, Access::Existing).await?;
    let hardware: Vec<Hardware> = list_lab(&store).await?;
    let mut trackers: Vec<(MachinePlan, Tracker)> = state
        .machines
        .iter()
        .map(|m| {
            let hw = hardware
                .iter()
                .find(|h| h.metadata.name.as_deref() == Some(&m.name));
            let instance = hw
                .and_then(|h| h.spec.metadata.as_ref())
                .and_then(|md| md.instance.as_ref());
            let expect = Reported {
                instance_id: instance.and_then(|i| i.id.clone()).unwrap_or_default(),
                hostname: instance
                    .and_then(|i| i.hostname.clone())
                    .unwrap_or_default(),
            };
            let console = VmFiles::new(&opts.dir, m).console();
            (m.clone(), Tracker::new(&m.name, console, expect))
        })
        .collect();
    if !opts.wait {
        let _ = writeln!(
            out,
            "lab {} is up; follow it with `ironbell lab up --name {}` or `ironbell get workflows -n {NAMESPACE}`",
            opts.name, opts.name
        );
        return Ok(summarize(opts, &state, &trackers, start, start.elapsed()));
    }
    let deadline = start + opts.timeout;
    let mut strangers_answered = Vec::new();
    loop {
        let workflows: Vec<Workflow> = list_lab(&store).await?;
        let now = Instant::now();
        for (m, t) in &mut trackers {
            let wf = workflows
                .iter()
                .find(|w| w.metadata.name.as_deref() == Some(&m.name));
            let before = t.outcome.clone();
            for event in t.poll(wf, now) {
                if m.is_stranger() {
                    if event == Milestone::Dhcp && !strangers_answered.contains(&m.name) {
                        strangers_answered.push(m.name.clone());
                        let _ = writeln!(
                            out,
                            "{} got a DHCP answer although it is not in hardware.csv",
                            m.name
                        );
                    }
                    continue;
                }
                let extra = match &event {
                    Milestone::Metadata => t
                        .reported
                        .as_ref()
                        .map(|r| {
                            format!(" (instance-id={} hostname={})", r.instance_id, r.hostname)
                        })
                        .unwrap_or_default(),
                    Milestone::PhonedHome => t
                        .phoned_home
                        .as_ref()
                        .map(|status| format!(" ({status})"))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "[{:>7}] {:<8} {}{extra}",
                    progress::human(now.saturating_duration_since(start)),
                    m.name,
                    event.phase()
                );
            }
            if t.outcome != before
                && let Outcome::Failed(why) = &t.outcome
            {
                let _ = writeln!(out, "{}: FAILED: {why}", m.name);
            }
        }
        let pending = trackers
            .iter()
            .filter(|(m, t)| !m.is_stranger() && t.outcome == Outcome::Running)
            .count();
        if pending == 0 {
            break;
        }
        if now > deadline {
            let _ = writeln!(
                out,
                "timed out after {} with {pending} machines unfinished",
                progress::human(opts.timeout)
            );
            break;
        }
        // The services must stay up: the one service, or at least one replica (the
        // others take over from a replica that dies).
        let services: Vec<&Started> = (0..state.replicas)
            .filter_map(|k| state.process(&replicas::replica_role(k)))
            .collect();
        if !services.is_empty()
            && services.iter().all(|p| !p.is_running())
            && let Some(p) = services.first()
        {
            return Err(LabError::ProcessDied {
                role: p.role.clone(),
                log: p.log.clone(),
                tail: process::tail(&p.log, 20),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let total = trackers
        .iter()
        .filter_map(|(_, t)| t.total(start))
        .max()
        .unwrap_or_else(|| start.elapsed());
    let mut summary = summarize(opts, &state, &trackers, start, total);
    summary.strangers_answered = strangers_answered;
    let _ = write!(out, "{summary}");
    let _ = std::fs::write(opts.dir.join("summary.txt"), summary.to_string());
    Ok(summary)
}

/// What a machines-only lab offers and how to use it.
fn print_machines_only(dir: &Path, state: &LabState, out: &mut dyn Write) {
    let netns = &state.netns;
    let mut text = format!(
        "lab {name} is up with machines only: no ironbell service runs, nothing is imported\n\
         \x20 hardware.csv:  {csv} (mode 0600: it holds the BMC password)\n\
         \x20 Tinkerbell IP: {SERVER_IP} (bridge {bridge} in network namespace {netns}; the plane listens there)\n\
         \x20 machines (powered off, boot order disk then network):\n",
        name = state.name,
        csv = dir.join("hardware.csv").display(),
        bridge = plan::BRIDGE,
    );
    for m in &state.machines {
        let bmc = match m.bmc_ip {
            Some(ip) => {
                let protocols = match m.spec.bmc {
                    plan::BmcProtocols::Redfish => "Redfish",
                    plan::BmcProtocols::Ipmi => "IPMI",
                    plan::BmcProtocols::Both => "Redfish and IPMI",
                };
                format!("BMC {ip} ({protocols})")
            }
            None => "no BMC, not in hardware.csv".to_string(),
        };
        let _ = writeln!(
            text,
            "    {:<10} {:<14} {}  {}  {bmc}  labels {}",
            m.name,
            m.spec.kind(),
            m.mac,
            m.ip.map(|ip| ip.to_string()).unwrap_or_else(|| "-".into()),
            if m.is_stranger() {
                "-".to_string()
            } else {
                m.spec.labels_cell()
            },
        );
    }
    let _ = write!(
        text,
        "  run commands inside the lab's network: ip netns exec {netns} COMMAND\n\
         \x20   e.g. ip netns exec {netns} ironbell create cluster -f cluster.yaml --hardware-csv {csv}\n\
         \x20   (with the spec's tinkerbellIP {SERVER_IP})\n\
         \x20 remove it: ironbell lab down --name {name} --dir {dir}\n",
        csv = dir.join("hardware.csv").display(),
        name = state.name,
        dir = dir.display(),
    );
    let _ = out.write_all(text.as_bytes());
}

fn summarize(
    opts: &Options,
    state: &LabState,
    trackers: &[(MachinePlan, Tracker)],
    start: Instant,
    total: Duration,
) -> Summary {
    let artifacts = opts.dir.join("artifacts");
    Summary {
        machines: trackers
            .iter()
            .filter(|(m, _)| !m.is_stranger())
            .map(|(m, t)| MachineSummary {
                name: m.name.clone(),
                spec: m.spec.clone(),
                phases: t.phases(start),
                total: t.total(start),
                outcome: t.outcome.clone(),
            })
            .collect(),
        strangers_answered: Vec::new(),
        total,
        ironbell_usage: state
            .process("ironbell")
            .and_then(|p| process::usage(p.pid)),
        vbmc_usage: state.process("vbmc").and_then(|p| process::usage(p.pid)),
        hookos_bytes: (
            file_len(&artifacts.join("vmlinuz-x86_64")),
            file_len(&artifacts.join("initramfs-x86_64")),
        ),
        os_image_bytes: file_len(&artifacts.join(plan::OS_IMAGE_FILE)),
    }
}
