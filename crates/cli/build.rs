//! Records the git commit the binary is built from, for `ironbell --version`: `git rev-parse
//! --short=12 HEAD` in the source tree, "unknown" outside a git checkout or without git (a
//! source tarball, a vendored build). Reads the local repository only; no network.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=IRONBELL_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=GIT_DIR");
    // Run again when HEAD moves: HEAD itself (a checkout, a detached commit) and the
    // branch it points at (a commit). Only paths that exist: cargo reruns a build script
    // on every build when a watched path is missing.
    let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]).map(PathBuf::from) else {
        return;
    };
    let common = git(&["rev-parse", "--git-common-dir"]).map_or_else(
        || git_dir.clone(),
        |c| {
            let c = PathBuf::from(c);
            if c.is_absolute() {
                c
            } else {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(c)
            }
        },
    );
    let mut watched = vec![git_dir.join("HEAD"), common.join("packed-refs")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common.join(&branch));
    }
    for path in watched.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
