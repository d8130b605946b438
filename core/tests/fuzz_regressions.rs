//! Replays every input the fuzzers kept through the fuzz targets' own checks
//! (`common/fuzz_checks.rs`), so `cargo test` runs them without libFuzzer or nightly flags:
//! the minimised corpora (`fuzz/corpus/<target>/`) and the inputs that once crashed or broke a
//! check (`core/tests/fuzz_regressions/<target>/`, each fixed since).
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

#[path = "common/fuzz_checks.rs"]
mod fuzz_checks;

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = files(&root.join("../fuzz/corpus").join(target));
    let found = files(&root.join("tests/fuzz_regressions").join(target));
    assert!(
        !corpus.is_empty(),
        "no corpus for fuzz target {target} in fuzz/corpus/{target} (scripts/fuzz makes it)"
    );
    for path in corpus.iter().chain(&found) {
        let data = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails its check",
            path.display()
        );
    }
    println!(
        "{target}: {} corpus inputs and {} found cases replayed",
        corpus.len(),
        found.len()
    );
}

#[test]
fn the_wav_corpus_and_found_cases_pass() {
    replay("wav", fuzz_checks::wav);
}

#[test]
fn the_manifest_corpus_and_found_cases_pass() {
    replay("manifest", fuzz_checks::manifest);
}

#[test]
fn the_profile_corpus_and_found_cases_pass() {
    replay("profile", fuzz_checks::profile);
}
