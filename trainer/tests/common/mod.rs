//! What the trainer's end-to-end tests share: the RAVDESS folder and running the binary.
#![allow(dead_code, reason = "each test file uses part of it")]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The RAVDESS speech set (`RAVDESS_DIR`); the test fails loudly without it.
pub fn ravdess_dir() -> PathBuf {
    voice_emotion::training::dataset::ravdess_dir_from_env().unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the `trainer` binary with `args`.
pub fn trainer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .output()
        .expect("trainer runs")
}
