//! Shared by the tests that run this crate's examples as processes.

use std::path::PathBuf;
use std::process::Command;

/// The example binary `name`, which `cargo test` builds before the tests:
/// `target/<profile>/deps/<test>-<hash>` -> `target/<profile>/examples/<name>`.
pub fn example(name: &str) -> Command {
    let mut path: PathBuf = std::env::current_exe().unwrap();
    path.pop();
    path.pop();
    path.push("examples");
    path.push(name);
    assert!(path.exists(), "{} is not built", path.display());
    Command::new(path)
}
