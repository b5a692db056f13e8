//! The task lists against LIFECYCLE.md's tables (sections 1.1, 1.3, 1.5), read from the
//! excerpt in `testdata/lifecycle-tasks.md`; the excerpt is checked to still be part of
//! `../shared/LIFECYCLE.md` (beside the repository, as CI places it).

use ironbell_lifecycle::plan::Command;
use ironbell_lifecycle::{Context, Next, Pipeline, PlanError, Task, TaskError};

const EXCERPT: &str = include_str!("../testdata/lifecycle-tasks.md");

/// The lists of one section: the first backticked name of each table row (the
/// management command), and the `a → b → c` list in the prose (the workload command).
fn section(number: &str) -> (Vec<String>, Vec<String>) {
    let start = EXCERPT
        .find(&format!("### {number} "))
        .unwrap_or_else(|| panic!("section {number} in the excerpt"));
    let rest = &EXCERPT[start + 4..];
    let text = &rest[..rest.find("### ").unwrap_or(rest.len())];
    let mut table = Vec::new();
    let mut prose = String::new();
    // Rows after the header's `|---|` line.
    let mut in_body = false;
    for line in text.lines() {
        if line.starts_with("|---") {
            in_body = true;
        } else if line.starts_with('|') {
            if let Some(name) = line.split('`').nth(1).filter(|_| in_body) {
                table.push(name.to_string());
            }
        } else {
            in_body = false;
            prose.push_str(line);
            prose.push(' ');
        }
    }
    let arrows = prose
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.contains('→'))
        .flat_map(|span| span.split('→'))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    (table, arrows)
}

fn names(command: Command) -> Vec<String> {
    command.task_names().iter().map(|s| s.to_string()).collect()
}

/// The management and workload lists of `command`'s verb are those of the section.
fn check(number: &str, management: Command, workload: Command, rows: usize) {
    let (table, arrows) = section(number);
    assert_eq!(table.len(), rows, "{table:?}");
    assert_eq!(names(management), table);
    assert_eq!(names(workload), arrows);
}

#[test]
fn create_lists_are_section_1_1() {
    check(
        "1.1",
        Command::CreateManagement,
        Command::CreateWorkload,
        13,
    );
}

#[test]
fn upgrade_lists_are_section_1_3() {
    check(
        "1.3",
        Command::UpgradeManagement,
        Command::UpgradeWorkload,
        12,
    );
}

#[test]
fn delete_lists_are_section_1_5() {
    check("1.5", Command::DeleteManagement, Command::DeleteWorkload, 8);
}

#[test]
fn the_excerpt_is_still_lifecycle_md() {
    // `../shared` sits beside the repository, as CI places it.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/LIFECYCLE.md");
    let shared = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for block in EXCERPT.split("\n\n").skip(1) {
        assert!(
            shared.contains(block.trim()),
            "LIFECYCLE.md changed: update testdata/lifecycle-tasks.md and the lists\n{block}"
        );
    }
}

struct Named(&'static str);

#[async_trait::async_trait]
impl Task for Named {
    fn name(&self) -> &str {
        self.0
    }
    async fn run(&self, _: &mut Context) -> Result<Next, TaskError> {
        Ok(Next::proceed())
    }
}

#[test]
fn a_pipeline_holds_exactly_its_commands_tasks() {
    for command in Command::ALL {
        let pipeline = Pipeline::build(command, |n| Box::new(Named(n))).expect("builds");
        assert_eq!(pipeline.task_names(), command.task_names());
    }
    let mut tasks: Vec<Box<dyn Task>> = Command::DeleteWorkload
        .task_names()
        .iter()
        .map(|n| Box::new(Named(n)) as Box<dyn Task>)
        .collect();
    tasks.swap(0, 1);
    let err = Pipeline::new(Command::DeleteWorkload, tasks).expect_err("out of order");
    let PlanError::Mismatch { .. } = &err;
    assert!(
        err.to_string()
            .contains("runs [setup-and-validate-delete, delete-workload-cluster"),
        "{err}"
    );
}
