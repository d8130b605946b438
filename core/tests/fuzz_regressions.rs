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

thread_local! {
    /// Panics on this thread so far, caught or not.
    static PANICS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts every panic, as libFuzzer's hook aborts on every panic: a panic the library catches
/// (the decoder's guard around symphonia) still stops the fuzzer, so it fails here too.
fn count_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|p| p.set(p.get() + 1));
            default(info);
        }));
    });
}

fn replay(target: &str, check: fn(&[u8])) {
    count_panics();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = files(&root.join("../fuzz/corpus").join(target));
    let found = files(&root.join("tests/fuzz_regressions").join(target));
    assert!(
        !corpus.is_empty(),
        "no corpus for fuzz target {target} in fuzz/corpus/{target} (scripts/fuzz makes it)"
    );
    for path in corpus.iter().chain(&found) {
        let data = std::fs::read(path).unwrap();
        let before = PANICS.with(std::cell::Cell::get);
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails its check",
            path.display()
        );
        assert_eq!(
            PANICS.with(std::cell::Cell::get),
            before,
            "{target}: {} panicked inside the library (caught there, but the fuzzer aborts on it)",
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
