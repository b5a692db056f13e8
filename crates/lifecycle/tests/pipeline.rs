//! The runner and its journal over the real embedded store (SQLite in a temporary folder),
//! with fake tasks: the providers' real tasks come later; what is tested here is the
//! pipeline, the journal, the checkpoint file and the output.
//!
//! The fake tasks keep their state in files (how often each ran, whether it must fail, crash
//! or return checkpoint data), so a run in another process (the crash test) and the runs
//! after it see the same state. Every run opens the store again, as a new command would.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ironbell_cluster_spec::{Provider as SpecProvider, Spec};
use ironbell_lifecycle::journal::{Phase, TaskResult};
use ironbell_lifecycle::plan::{Command, names};
use ironbell_lifecycle::provider::{Check, HookPoint};
use ironbell_lifecycle::{
    CheckpointFile, ClusterOperation, Context, Inputs, Layout, Next, Output, Pipeline, Provider,
    RunError, RunOptions, RunSummary, Task, TaskError, run,
};
use ironbell_store::{Api, SharedStore};
use ironbell_store_sqlite::SqliteStore;
use serde_json::{Value, json};

const CLUSTER: &str = "mgmt";
const CRASH_DIR_ENV: &str = "IRONBELL_LIFECYCLE_CRASH_DIR";

/// A task whose behaviour and run count live in files under `dir`.
struct Fake {
    name: &'static str,
    dir: PathBuf,
}

impl Fake {
    fn path(dir: &Path, what: &str, name: &str) -> PathBuf {
        dir.join(what).join(name)
    }
}

fn read_runs(dir: &Path, name: &str) -> u32 {
    std::fs::read_to_string(Fake::path(dir, "runs", name))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn append(path: &Path, line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("log file");
    writeln!(f, "{line}").expect("log line");
}

#[async_trait::async_trait]
impl Task for Fake {
    fn name(&self) -> &str {
        self.name
    }

    async fn run(&self, ctx: &mut Context) -> Result<Next, TaskError> {
        // The task's effect: one more run, written before anything else.
        let runs = read_runs(&self.dir, self.name) + 1;
        std::fs::write(Fake::path(&self.dir, "runs", self.name), runs.to_string())
            .expect("run count");
        append(&self.dir.join("order"), self.name);
        ctx.out()
            .detail(format_args!("{} ran ({runs} times)", self.name));
        if Fake::path(&self.dir, "crash", self.name).exists() {
            // A crash after the effect and before the journal write.
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(std::process::id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            )
            .expect("SIGKILL to itself");
        }
        if self.name == names::SETUP_VALIDATE || self.name == names::SETUP_AND_VALIDATE {
            let provider = ctx.provider();
            let mut checks = vec![Check::pass(format!(
                "{} Provider setup is valid",
                provider.name()
            ))];
            checks.extend(provider.validations(ctx.spec(), Command::create(ctx.spec())));
            ctx.validate(checks.into_iter().map(|c| (c.name, c.outcome)))?;
        }
        if Fake::path(&self.dir, "meddle", self.name).exists() {
            // Another writer of the same journal, as a second `create` would be.
            let name = ClusterOperation::object_name(CLUSTER, Command::CreateManagement);
            Api::<ClusterOperation>::new(ctx.store().clone())
                .modify_status("default", &name, |op| {
                    if let Some(status) = op.status.as_mut() {
                        status.error = Some("someone else".into());
                    }
                })
                .await?;
        }
        if let Ok(message) = std::fs::read_to_string(Fake::path(&self.dir, "fail", self.name)) {
            return Err(TaskError::Failed(message));
        }
        // What this task sees of an earlier task's checkpoint data.
        let seen = ctx.checkpoint_of(names::UPGRADE_CORE_COMPONENTS);
        append(
            &self.dir.join("seen"),
            &format!("{} {}", self.name, json!(seen)),
        );
        let checkpoint = std::fs::read_to_string(Fake::path(&self.dir, "checkpoint", self.name))
            .ok()
            .map(|text| serde_json::from_str(&text).expect("checkpoint JSON"))
            .unwrap_or(Value::Null);
        if Fake::path(&self.dir, "finish", self.name).exists() {
            return Ok(Next::Finish(checkpoint));
        }
        Ok(Next::proceed_with(checkpoint))
    }

    async fn restore(&self, _: &mut Context, checkpoint: &Value) -> Result<(), TaskError> {
        append(
            &self.dir.join("restored"),
            &format!("{} {checkpoint}", self.name),
        );
        Ok(())
    }
}

/// A provider that records its hooks and has one validation a file can make fail.
struct Recorder {
    dir: PathBuf,
    hooks: Arc<Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl Provider for Recorder {
    fn name(&self) -> &str {
        "Fake"
    }

    fn validations(&self, _: &Spec, _: Command) -> Vec<Check> {
        let name = "Hardware is enough for every selector";
        match std::fs::read_to_string(self.dir.join("invalid")) {
            Ok(reason) => vec![Check::fail(name, reason.trim())],
            Err(_) => vec![Check::pass(name)],
        }
    }

    async fn hook(&self, point: HookPoint<'_>, _: &mut Context) -> Result<(), TaskError> {
        let line = match point {
            HookPoint::Before(t) => format!("before {t}"),
            HookPoint::After(t) => format!("after {t}"),
        };
        self.hooks.lock().expect("hooks").push(line);
        Ok(())
    }
}

/// A cluster folder, a spec, a hardware.csv and the fake tasks' state, in a temp dir.
struct Bench {
    root: Root,
    hooks: Arc<Mutex<Vec<String>>>,
}

/// The bench's folder: its own (removed at the end), or another process's.
enum Root {
    Owned(tempfile::TempDir),
    Borrowed(PathBuf),
}

impl Root {
    fn path(&self) -> &Path {
        match self {
            Self::Owned(t) => t.path(),
            Self::Borrowed(p) => p,
        }
    }
}

struct Outcome {
    result: Result<RunSummary, RunError>,
    text: String,
}

impl Outcome {
    fn summary(&self) -> &RunSummary {
        match &self.result {
            Ok(s) => s,
            Err(e) => panic!("run failed: {e}\n{}", self.text),
        }
    }

    fn error(&self) -> &RunError {
        match &self.result {
            Ok(_) => panic!("the run succeeded\n{}", self.text),
            Err(e) => e,
        }
    }
}

impl Bench {
    fn new() -> Self {
        let bench = Self::at(Root::Owned(tempfile::tempdir().expect("temp dir")));
        std::fs::write(
            bench.spec_path(),
            ironbell_cluster_spec::generate(CLUSTER, SpecProvider::Tinkerbell),
        )
        .expect("spec");
        std::fs::write(
            bench.hardware_path(),
            "hostname,mac\ncp-1,52:54:00:00:00:01\n",
        )
        .expect("hardware.csv");
        bench
    }

    fn at(root: Root) -> Self {
        for sub in ["runs", "fail", "crash", "checkpoint", "finish", "meddle"] {
            std::fs::create_dir_all(root.path().join("state").join(sub)).expect("state dir");
        }
        Self {
            root,
            hooks: Arc::default(),
        }
    }

    fn state(&self) -> PathBuf {
        self.root.path().join("state")
    }

    fn spec_path(&self) -> PathBuf {
        self.root.path().join(format!("{CLUSTER}.yaml"))
    }

    fn hardware_path(&self) -> PathBuf {
        self.root.path().join("hardware.csv")
    }

    fn layout(&self) -> Layout {
        Layout::beside(&self.spec_path(), CLUSTER).expect("layout")
    }

    fn store(&self) -> SharedStore {
        let layout = self.layout();
        layout.create_dirs().expect("generated dir");
        Arc::new(SqliteStore::open(layout.generated_dir().join("plane.db")).expect("store"))
    }

    fn set(&self, what: &str, task: &str, content: &str) {
        std::fs::write(Fake::path(&self.state(), what, task), content).expect("state file");
    }

    fn clear(&self, what: &str, task: &str) {
        std::fs::remove_file(Fake::path(&self.state(), what, task)).expect("state file");
    }

    fn runs(&self, task: &str) -> u32 {
        read_runs(&self.state(), task)
    }

    fn lines(&self, file: &str) -> Vec<String> {
        std::fs::read_to_string(self.state().join(file))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn take_order(&self) -> Vec<String> {
        let order = self.lines("order");
        let _ = std::fs::remove_file(self.state().join("order"));
        order
    }

    async fn run(&self, command: Command, restart: bool, verbosity: u8) -> Outcome {
        let spec = Spec::load(self.spec_path()).expect("spec loads");
        let inputs = Inputs::new()
            .spec("spec", &spec)
            .expect("spec hashes")
            .file("hardware.csv", &self.hardware_path())
            .expect("hardware.csv hashes");
        let state = self.state();
        let pipeline = Pipeline::build(command, |name| {
            Box::new(Fake {
                name,
                dir: state.clone(),
            })
        })
        .expect("pipeline");
        let provider = Arc::new(Recorder {
            dir: state.clone(),
            hooks: self.hooks.clone(),
        });
        let (out, text) = Output::captured(verbosity);
        let mut ctx = Context::new(
            Arc::new(spec),
            &self.spec_path(),
            self.store(),
            provider,
            out,
        )
        .expect("context");
        let result = run(&pipeline, &mut ctx, &inputs, RunOptions { restart }).await;
        Outcome {
            result,
            text: text.text(),
        }
    }

    async fn journal(&self, command: Command) -> ClusterOperation {
        Api::<ClusterOperation>::new(self.store())
            .get("default", &ClusterOperation::object_name(CLUSTER, command))
            .await
            .expect("journal")
    }

    fn checkpoint(&self) -> CheckpointFile {
        CheckpointFile::read(&self.layout().checkpoint_file()).expect("checkpoint file")
    }
}

fn all(command: Command) -> Vec<String> {
    command.task_names().iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn runs_every_task_once_and_journals_each() {
    let bench = Bench::new();
    let command = Command::CreateManagement;
    let outcome = bench.run(command, false, 0).await;
    let summary = outcome.summary();
    assert_eq!(summary.ran, all(command));
    assert!(summary.done_earlier.is_empty());
    assert_eq!(bench.take_order(), all(command));

    let journal = bench.journal(command).await;
    assert_eq!(journal.spec.tasks, all(command));
    assert_eq!(journal.spec.inputs.len(), 2, "spec and hardware.csv");
    assert_eq!(
        journal.metadata.label("lifecycle.ironbell.dev/cluster"),
        Some(CLUSTER)
    );
    let status = journal.status.as_ref().expect("status");
    assert_eq!(status.phase, Phase::Succeeded);
    assert!(status.finished_at.is_some());
    assert_eq!(status.tasks.len(), 13);
    for (record, name) in status.tasks.iter().zip(command.task_names()) {
        assert_eq!(&record.name, name);
        assert_eq!(record.result, TaskResult::Succeeded);
        assert_eq!(record.attempts, 1);
        assert!(record.finished_at.is_some_and(|f| f >= record.started_at));
        assert_eq!(record.inputs, journal.spec.inputs);
    }

    // One line per task, the validations' ✅ lines, then the summary.
    let text = &outcome.text;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 13 + 2 + 1, "{text}");
    assert_eq!(lines[0], "✅ Fake Provider setup is valid");
    assert_eq!(lines[1], "✅ Hardware is enough for every selector");
    assert!(lines[2].starts_with("[ 1/13] setup-validate "), "{text}");
    assert!(lines[2].contains(" done in "), "{text}");
    assert!(
        lines[14].starts_with("[13/13] install-curated-packages "),
        "{text}"
    );
    assert!(
        lines[15].starts_with("🎉 create of cluster mgmt finished in "),
        "{text}"
    );
    assert!(
        lines[15].ends_with("13 tasks run, 0 done earlier"),
        "{text}"
    );
    // The task names line up.
    let column = |l: &str| l.find(" done in ").expect("result column");
    assert!(
        lines[2..15].iter().all(|l| column(l) == column(lines[2])),
        "{text}"
    );

    // Hooks around every task, in order.
    let hooks = bench.hooks.lock().expect("hooks").clone();
    assert_eq!(hooks.len(), 26);
    assert_eq!(hooks[0], "before setup-validate");
    assert_eq!(hooks[1], "after setup-validate");

    // Running it again does nothing: the command completed with these inputs.
    let again = bench.run(command, false, 0).await;
    assert!(again.summary().ran.is_empty(), "{}", again.text);
    assert_eq!(again.summary().done_earlier.len(), 13);
    assert!(bench.take_order().is_empty());
    assert!(
        again.text.contains("[ 1/13] setup-validate "),
        "{}",
        again.text
    );
    assert!(again.text.contains("  done earlier"), "{}", again.text);
}

#[tokio::test]
async fn a_failed_task_runs_again_and_only_it_and_those_after_it() {
    let bench = Bench::new();
    let command = Command::CreateManagement;
    let k = 5; // workload-cluster-init
    let failing = command.task_names()[k];
    bench.set("fail", failing, "the control plane did not come up in 10m");
    let first = bench.run(command, false, 0).await;
    let err = first.error();
    assert!(matches!(err, RunError::Task { task, .. } if task == failing));
    assert_eq!(bench.take_order(), all(command)[..=k]);
    // The error comes at the end, naming the task, and says how to go on.
    let lines: Vec<&str> = first.text.lines().collect();
    let n = lines.len();
    assert!(
        lines[n - 3].starts_with("[ 6/13] workload-cluster-init ")
            && lines[n - 3].contains("FAILED after"),
        "{}",
        first.text
    );
    assert_eq!(
        lines[n - 2],
        "Error: task workload-cluster-init failed: the control plane did not come up in 10m"
    );
    assert_eq!(
        lines[n - 1],
        "Run the same command again to resume at workload-cluster-init; --restart starts over."
    );
    let journal = bench.journal(command).await;
    let status = journal.status.as_ref().expect("status");
    assert_eq!(status.phase, Phase::Failed);
    assert!(
        status
            .error
            .as_deref()
            .is_some_and(|e| e.contains("workload-cluster-init")),
        "{status:?}"
    );
    let record = journal.record(failing).expect("record");
    assert_eq!(record.result, TaskResult::Failed);
    assert_eq!(
        record.error.as_deref(),
        Some("the control plane did not come up in 10m")
    );
    // The checkpoint file lists the five tasks before it.
    let completed: Vec<String> = bench.checkpoint().completed_tasks.into_keys().collect();
    let mut expected = all(command)[..k].to_vec();
    expected.sort();
    assert_eq!(completed, expected);

    bench.clear("fail", failing);
    bench.hooks.lock().expect("hooks").clear();
    // The file is only a mirror: the store is the truth, and the run rewrites it.
    std::fs::write(bench.layout().checkpoint_file(), "garbage: [").expect("overwrite");
    let second = bench.run(command, false, 0).await;
    let summary = second.summary();
    assert_eq!(summary.done_earlier, all(command)[..k]);
    assert_eq!(summary.ran, all(command)[k..]);
    assert_eq!(bench.take_order(), all(command)[k..]);
    for (i, name) in command.task_names().iter().enumerate() {
        assert_eq!(bench.runs(name), if i == k { 2 } else { 1 }, "{name}");
    }
    // Tasks done earlier are restored, not run, and get no hooks.
    let restored: Vec<String> = bench.lines("restored");
    assert_eq!(restored.len(), k);
    assert!(restored[0].starts_with("setup-validate "));
    let hooks = bench.hooks.lock().expect("hooks").clone();
    assert_eq!(hooks[0], "before workload-cluster-init");
    assert_eq!(hooks.len(), 2 * (13 - k));
    assert_eq!(
        bench
            .journal(command)
            .await
            .record(failing)
            .expect("record")
            .attempts,
        2
    );
    assert!(
        second
            .text
            .contains("[ 5/13] eksa-components-bootstrap-install")
    );
    assert!(
        second.text.contains("8 tasks run, 5 done earlier"),
        "{}",
        second.text
    );
    assert_eq!(bench.checkpoint().completed_tasks.len(), 13);
}

#[tokio::test]
async fn a_changed_input_is_refused_unless_restart() {
    let bench = Bench::new();
    let command = Command::CreateManagement;
    bench.set("fail", names::CAPI_MANAGEMENT_MOVE, "move failed");
    bench.run(command, false, 0).await.error();
    bench.clear("fail", names::CAPI_MANAGEMENT_MOVE);
    bench.take_order();

    // The spec changes: a worker group renamed.
    let original = std::fs::read_to_string(bench.spec_path()).expect("spec");
    std::fs::write(bench.spec_path(), original.replace("md-0", "md-1")).expect("spec");
    let refused = bench.run(command, false, 0).await;
    let RunError::InputChanged { change, .. } = refused.error() else {
        panic!("{}", refused.text);
    };
    assert_eq!(change.input, "spec");
    let message = refused.error().to_string();
    assert!(
        message.starts_with("spec changed since `create` of cluster mgmt started")
            && message.contains("--restart"),
        "{message}"
    );
    assert!(
        refused.text.ends_with(&format!("Error: {message}\n")),
        "{}",
        refused.text
    );
    assert!(bench.take_order().is_empty(), "nothing ran");

    // Reformatting the spec (comments, indentation) is not a change.
    std::fs::write(bench.spec_path(), format!("# edited\n{original}")).expect("spec");
    // ...but hardware.csv is.
    std::fs::write(
        bench.hardware_path(),
        "hostname,mac\ncp-9,52:54:00:00:00:09\n",
    )
    .expect("hardware.csv");
    let refused = bench.run(command, false, 0).await;
    let RunError::InputChanged { change, .. } = refused.error() else {
        panic!("{}", refused.text);
    };
    assert_eq!(change.input, "hardware.csv");

    // --restart starts over with the new inputs: every task runs again.
    let restarted = bench.run(command, true, 0).await;
    assert_eq!(restarted.summary().ran, all(command));
    assert_eq!(bench.runs(names::SETUP_VALIDATE), 2);
    let journal = bench.journal(command).await;
    let status = journal.status.expect("status");
    assert_eq!(status.phase, Phase::Succeeded);
    assert!(status.tasks.iter().all(|r| r.attempts == 1), "{status:?}");

    // A completed command with new inputs is a new operation, no --restart needed.
    std::fs::write(bench.spec_path(), original.replace("md-0", "md-2")).expect("spec");
    let next = bench.run(command, false, 0).await;
    assert_eq!(next.summary().ran, all(command));
}

#[tokio::test]
async fn a_failed_validation_changes_nothing_and_a_fixed_spec_runs_without_restart() {
    let bench = Bench::new();
    let command = Command::CreateManagement;
    std::fs::write(
        bench.state().join("invalid"),
        "selector type=cp matches 0 Hardware, 1 needed",
    )
    .expect("state");
    let failed = bench.run(command, false, 0).await;
    assert_eq!(bench.take_order(), [names::SETUP_VALIDATE]);
    let lines: Vec<&str> = failed.text.lines().collect();
    assert_eq!(lines[0], "✅ Fake Provider setup is valid");
    assert_eq!(
        lines[1],
        "❌ Hardware is enough for every selector: selector type=cp matches 0 Hardware, 1 needed"
    );
    assert_eq!(
        lines[3],
        "Error: task setup-validate failed: 1 of 2 validations failed: Hardware is enough for every selector"
    );
    // The user fixes the spec; nothing had finished, so nothing needs --restart.
    std::fs::remove_file(bench.state().join("invalid")).expect("state");
    let original = std::fs::read_to_string(bench.spec_path()).expect("spec");
    std::fs::write(bench.spec_path(), original.replace("md-0", "md-1")).expect("spec");
    let fixed = bench.run(command, false, 0).await;
    assert_eq!(fixed.summary().ran, all(command));
}

/// The child of [`a_crash_between_effect_and_journal_reruns_exactly_that_task`]: runs the
/// create in its own process, where the crashing task kills the process with SIGKILL.
#[tokio::test]
#[ignore = "run by a_crash_between_effect_and_journal_reruns_exactly_that_task in a child process"]
async fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR_ENV) else {
        return;
    };
    let bench = Bench::at(Root::Borrowed(PathBuf::from(dir)));
    let outcome = bench.run(Command::CreateManagement, false, 0).await;
    panic!(
        "the crashing task should have killed this process: {}",
        outcome.text
    );
}

#[tokio::test]
async fn a_crash_between_effect_and_journal_reruns_exactly_that_task() {
    let bench = Bench::new();
    let command = Command::CreateManagement;
    let k = 7; // capi-management-move
    let crashing = command.task_names()[k];
    bench.set("crash", crashing, "");
    let exe = std::env::current_exe().expect("test binary");
    let status = std::process::Command::new(exe)
        .args(["crash_child", "--exact", "--ignored", "--nocapture"])
        .env(CRASH_DIR_ENV, bench.root.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("child runs");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the child died of SIGKILL: {status:?}"
    );
    assert_eq!(bench.take_order(), all(command)[..=k]);
    // The journal shows the task started and never finished.
    let journal = bench.journal(command).await;
    let status = journal.status.as_ref().expect("status");
    assert_eq!(status.phase, Phase::Running);
    assert_eq!(
        journal.record(crashing).expect("record").result,
        TaskResult::Running
    );
    assert_eq!(bench.checkpoint().completed_tasks.len(), k);

    bench.clear("crash", crashing);
    let resumed = bench.run(command, false, 0).await;
    assert_eq!(resumed.summary().done_earlier, all(command)[..k]);
    assert_eq!(bench.take_order(), all(command)[k..]);
    for (i, name) in command.task_names().iter().enumerate() {
        assert_eq!(bench.runs(name), if i == k { 2 } else { 1 }, "{name}");
    }
}

#[tokio::test]
async fn the_checkpoint_file_is_eksa_format_and_checkpoint_data_comes_back() {
    let bench = Bench::new();
    let command = Command::UpgradeManagement;
    let diff = json!({"components": [
        {"name": "tinkerbell", "newVersion": "v0.6.5", "oldVersion": "v0.6.4"},
        {"name": "eks-a", "newVersion": "v0.24.6", "oldVersion": "v0.24.5"},
    ]});
    bench.set(
        "checkpoint",
        names::UPGRADE_CORE_COMPONENTS,
        &diff.to_string(),
    );
    bench.set(
        "fail",
        names::UPGRADE_WORKLOAD_CLUSTER,
        "a machine did not come up",
    );
    bench.run(command, false, 0).await.error();

    // The file is EKS Anywhere's: completedTasks by name (sorted, as Go's YAML prints a
    // map), `checkpoint: null` for most, the change diff for upgrade-core-components.
    let path = bench.layout().checkpoint_file();
    assert_eq!(
        path,
        bench
            .root
            .path()
            .join("mgmt/generated/mgmt-checkpoint.yaml")
    );
    let written = std::fs::read_to_string(&path).expect("checkpoint file");
    let expected = include_str!("../testdata/upgrade-checkpoint.yaml");
    let as_yaml =
        |text: &str| -> serde_yaml_ng::Value { serde_yaml_ng::from_str(text).expect("YAML") };
    assert_eq!(as_yaml(&written), as_yaml(expected), "{written}");
    assert_eq!(
        CheckpointFile::parse(&path, expected).expect("parses"),
        bench.checkpoint()
    );
    // No temporary file is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(bench.layout().generated_dir())
        .expect("generated")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The resume restores the diff into the tasks after it.
    bench.clear("fail", names::UPGRADE_WORKLOAD_CLUSTER);
    let _ = std::fs::remove_file(bench.state().join("seen"));
    bench.run(command, false, 0).await.summary();
    let restored = bench.lines("restored");
    assert!(
        restored.contains(&format!("{} {diff}", names::UPGRADE_CORE_COMPONENTS)),
        "{restored:?}"
    );
    let seen = bench.lines("seen");
    assert_eq!(
        seen[0],
        format!("{} {diff}", names::UPGRADE_WORKLOAD_CLUSTER)
    );
    assert_eq!(bench.checkpoint().completed_tasks.len(), 12);
}

#[test]
fn eksa_checkpoint_files_read_and_print_alike() {
    let path = Path::new("testdata/minimal-checkpoint.yaml");
    let text = include_str!("../testdata/minimal-checkpoint.yaml");
    let file = CheckpointFile::parse(path, text).expect("parses");
    assert_eq!(file.completed_tasks["taskA"].checkpoint, Value::Null);
    assert_eq!(file.to_yaml(), format!("{text}\n"));
    let err = CheckpointFile::parse(path, "completedTasks: [1, 2]").expect_err("not a map");
    assert!(
        err.to_string().starts_with(
            "checkpoint file testdata/minimal-checkpoint.yaml is not EKS Anywhere's format"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_task_may_finish_the_command_early() {
    let bench = Bench::new();
    let command = Command::UpgradeManagement;
    bench.set("finish", names::SETUP_AND_VALIDATE, "");
    let outcome = bench.run(command, false, 0).await;
    let summary = outcome.summary();
    assert_eq!(summary.ran, [names::SETUP_AND_VALIDATE]);
    assert_eq!(summary.not_needed.len(), 11);
    assert!(
        outcome.text.contains("[ 2/12] update-secrets "),
        "{}",
        outcome.text
    );
    assert!(outcome.text.contains("  not needed\n"), "{}", outcome.text);
    assert!(outcome.text.contains(", 11 not needed"), "{}", outcome.text);
    assert_eq!(
        bench.journal(command).await.status.expect("status").phase,
        Phase::Succeeded
    );
    // Complete: running it again runs nothing.
    let again = bench.run(command, false, 0).await;
    assert!(again.summary().ran.is_empty());
    assert_eq!(again.summary().not_needed.len(), 11);
}

#[tokio::test]
async fn verbosity_adds_details_then_debug_lines() {
    let bench = Bench::new();
    let command = Command::DeleteWorkload;
    let quiet = bench.run(command, false, 0).await;
    assert_eq!(quiet.text.lines().count(), 3 + 1, "{}", quiet.text);
    let bench = Bench::new();
    let detail = bench.run(command, false, 1).await;
    assert!(
        detail
            .text
            .lines()
            .any(|l| l.starts_with("[ 1/3] setup-and-validate-delete ") && l.ends_with(" started")),
        "{}",
        detail.text
    );
    assert!(
        detail
            .text
            .contains("    delete-workload-cluster ran (1 times)\n"),
        "{}",
        detail.text
    );
    assert!(!detail.text.contains("debug:"), "{}", detail.text);
    let bench = Bench::new();
    let debug = bench.run(command, false, 4).await;
    assert!(
        debug
            .text
            .contains("    debug: journal default/mgmt-delete committed"),
        "{}",
        debug.text
    );
    assert!(
        debug
            .text
            .contains("    debug: hook before delete-workload-cluster"),
        "{}",
        debug.text
    );
}

#[tokio::test]
async fn another_writer_of_the_journal_stops_the_run() {
    let bench = Bench::new();
    let command = Command::CreateManagement;
    bench.set("meddle", names::UPDATE_SECRETS_CREATE, "");
    let outcome = bench.run(command, false, 0).await;
    assert!(
        matches!(outcome.error(), RunError::Concurrent { .. }),
        "{}",
        outcome.text
    );
    assert!(
        outcome.error().to_string().starts_with(
            "the journal default/mgmt-create changed under this run: is another ironbell running `create` on cluster mgmt?"
        ),
        "{}",
        outcome.error()
    );
    assert_eq!(bench.take_order(), all(command)[..3]);
}

#[test]
fn the_cluster_folder_is_beside_the_spec_and_named_safely() {
    let layout = Layout::beside(Path::new("/srv/clusters/mgmt.yaml"), "mgmt").expect("layout");
    assert_eq!(layout.cluster_dir(), Path::new("/srv/clusters/mgmt"));
    assert_eq!(
        layout.checkpoint_file(),
        Path::new("/srv/clusters/mgmt/generated/mgmt-checkpoint.yaml")
    );
    let here = Layout::beside(Path::new("mgmt.yaml"), "mgmt").expect("layout");
    assert_eq!(here.cluster_dir(), Path::new("./mgmt"));
    for bad in ["../etc", "a/b", "", "UPPER"] {
        let err = Layout::beside(Path::new("x.yaml"), bad).expect_err(bad);
        assert!(err.to_string().starts_with("cluster name"), "{err}");
    }
}

#[test]
fn the_spec_picks_management_or_workload() {
    let text = ironbell_cluster_spec::generate("w1", SpecProvider::Tinkerbell);
    let mut spec = Spec::parse(&text).expect("spec");
    assert_eq!(Command::create(&spec), Command::CreateManagement);
    spec.cluster.spec.management_cluster = Some(ironbell_model::anywhere::ManagementCluster {
        name: Some("mgmt".into()),
    });
    assert_eq!(Command::create(&spec), Command::CreateWorkload);
    assert_eq!(Command::upgrade(&spec), Command::UpgradeWorkload);
    assert_eq!(Command::delete(&spec), Command::DeleteWorkload);
    assert_eq!(
        ClusterOperation::object_name("w1", Command::CreateWorkload),
        "w1-create"
    );
}

#[tokio::test]
async fn a_second_run_on_the_same_cluster_is_refused_while_the_first_holds_the_lock() {
    let bench = Bench::new();
    bench.layout().create_dirs().expect("folder");
    let held = bench.layout().try_lock().expect("lock").expect("free");
    let outcome = bench.run(Command::CreateManagement, false, 0).await;
    assert!(
        matches!(outcome.error(), RunError::Busy { .. }),
        "{}",
        outcome.text
    );
    assert!(
        outcome
            .error()
            .to_string()
            .starts_with("another ironbell is working on cluster mgmt (it holds "),
        "{}",
        outcome.error()
    );
    assert!(bench.take_order().is_empty());
    drop(held);
    bench
        .run(Command::CreateManagement, false, 0)
        .await
        .summary();
}

#[tokio::test]
async fn a_journal_of_another_task_list_is_not_resumed() {
    let bench = Bench::new();
    let command = Command::CreateWorkload;
    bench.set("fail", names::GITOPS_MANAGER_INSTALL, "flux failed");
    bench.run(command, false, 0).await.error();
    bench.clear("fail", names::GITOPS_MANAGER_INSTALL);
    // The journal as an ironbell with another list for this command would have left it.
    let api = Api::<ClusterOperation>::new(bench.store());
    api.modify("default", "mgmt-create", |op| {
        op.spec.tasks.insert(1, "create-bootstrap-something".into());
    })
    .await
    .expect("journal edited");
    let refused = bench.run(command, false, 0).await;
    assert!(
        matches!(refused.error(), RunError::PlanChanged { .. }),
        "{}",
        refused.text
    );
    assert!(
        refused
            .error()
            .to_string()
            .contains("run again with --restart"),
        "{}",
        refused.error()
    );
    let restarted = bench.run(command, true, 0).await;
    assert_eq!(restarted.summary().ran, all(command));
}
