//! Helpers shared by the core's integration tests.
#![allow(
    dead_code,
    reason = "shared by several test binaries, each using a part"
)]

use std::path::PathBuf;

/// The RAVDESS folder from `RAVDESS_DIR`. Panics loudly when it is unset or missing: a test
/// that needs the data never passes silently without it.
pub fn ravdess_dir() -> PathBuf {
    voice_emotion::training::dataset::ravdess_dir_from_env().unwrap_or_else(|e| panic!("{e}"))
}

/// The path of a RAVDESS clip by its file name (`03-01-06-01-02-01-12.wav`).
pub fn ravdess_clip(name: &str) -> PathBuf {
    let actor = &name[18..20];
    ravdess_dir().join(format!("Actor_{actor}")).join(name)
}

/// The 240 clips of RAVDESS actors 21-24, the held-out test speakers (fails loudly if the set
/// is incomplete).
pub fn actors_21_to_24() -> Vec<voice_emotion::training::dataset::Sample> {
    let dataset = voice_emotion::training::dataset::Dataset::from_ravdess_dir(ravdess_dir())
        .unwrap_or_else(|e| panic!("{e}"));
    let test: Vec<_> = dataset
        .samples()
        .iter()
        .filter(|s| matches!(s.actor, Some(21..=24)))
        .cloned()
        .collect();
    assert_eq!(test.len(), 240, "RAVDESS actors 21-24 are incomplete");
    test
}

/// A deterministic generator (Knuth's MMIX LCG) for test data.
pub struct Lcg(pub u64);

impl Lcg {
    /// The next value (31 bits).
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A value in `[0, 1)`, in steps of 1e-4.
    pub fn unit(&mut self) -> f32 {
        (self.next() % 10_000) as f32 / 10_000.0
    }

    /// `n` samples of white noise in `[-amplitude, amplitude]`.
    pub fn noise(&mut self, n: usize, amplitude: f32) -> Vec<f32> {
        (0..n)
            .map(|_| (self.next() % 2001) as f32 / 1000.0 - 1.0)
            .map(|x| x * amplitude)
            .collect()
    }
}
