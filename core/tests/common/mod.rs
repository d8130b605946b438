//! Helpers shared by the core's integration tests.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

/// The RAVDESS folder from `RAVDESS_DIR`. Panics loudly when it is unset or missing: a test
/// that needs the data never passes silently without it.
pub fn ravdess_dir() -> PathBuf {
    let dir = std::env::var_os("RAVDESS_DIR").unwrap_or_else(|| {
        panic!(
            "RAVDESS_DIR is not set: this test needs the RAVDESS speech set \
             (CI sets RAVDESS_DIR=../shared/data/ravdess)"
        )
    });
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("Actor_01").is_dir(),
        "RAVDESS_DIR={} does not hold the RAVDESS set (no Actor_01 folder)",
        dir.display()
    );
    dir
}

/// The path of a RAVDESS clip by its file name (`03-01-06-01-02-01-12.wav`).
pub fn ravdess_clip(name: &str) -> PathBuf {
    let actor = &name[18..20];
    ravdess_dir().join(format!("Actor_{actor}")).join(name)
}
