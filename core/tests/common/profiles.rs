//! Player profiles of realistic size, shared by `tests/profile_store.rs` and
//! `benches/profile.rs` (which includes this file by path).
#![allow(dead_code)]

use std::fs;

use voice_emotion::dataset::{Emotion, Intensity};
use voice_emotion::features::FeatureMatrix;
use voice_emotion::input::NormStats;
use voice_emotion::profile::{
    BaseModelRef, ConfirmedSample, PlayerId, PlayerProfile, ProfileStore, QuantisedMatrix,
    UpdateRecord,
};

/// Frames of an average RAVDESS utterance after silence trimming (2.5 s at 100 frames/s).
pub const FRAMES: usize = 250;
/// MFCC coefficients per frame.
pub const N_MFCC: usize = 40;
/// Confirmed samples of the "large" profile.
pub const SAMPLES: usize = 500;
/// Bytes of the large profile's fine-tuned weights.
pub const WEIGHTS_BYTES: usize = 1_000_000;

/// The base model the test profiles are made for.
pub fn base() -> BaseModelRef {
    BaseModelRef::of_bytes("base", b"stand-in for models/base/model.bpk")
}

/// Deterministic MFCC-like frames: c0 around -300, higher coefficients smaller, noisy.
pub fn mfcc_like(frames: usize, seed: u64) -> FeatureMatrix {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32 - 0.5
    };
    let data = (0..frames * N_MFCC)
        .map(|i| {
            let c = i % N_MFCC;
            let t = (i / N_MFCC) as f32;
            if c == 0 {
                -300.0 + 60.0 * (t * 0.05).sin() + 20.0 * noise()
            } else {
                (40.0 / c as f32) * ((t * 0.1 + c as f32).sin() + noise())
            }
        })
        .collect();
    FeatureMatrix {
        data,
        n_frames: frames,
        n_features: N_MFCC,
    }
}

/// A confirmed sample of `frames` frames, with 16 kHz audio when `audio` is set.
pub fn sample(seed: u64, frames: usize, audio: bool) -> ConfirmedSample {
    ConfirmedSample {
        features: QuantisedMatrix::encode(&mfcc_like(frames, seed)),
        emotion: Emotion::ALL[seed as usize % Emotion::ALL.len()],
        intensity: match seed % 3 {
            0 => None,
            1 => Some(Intensity::Normal),
            _ => Some(Intensity::Strong),
        },
        time_unix_ms: 1_700_000_000_000 + seed,
        audio: audio.then(|| {
            (0..frames * 160)
                .map(|i| (i as f32 * 0.01).sin() * 0.1)
                .collect()
        }),
    }
}

/// A profile of `id` with `n_samples` samples of `frames` frames, `weights_bytes` bytes of
/// weights (none when 0), per-player statistics and a short history.
pub fn profile(id: &str, n_samples: usize, frames: usize, weights_bytes: usize) -> PlayerProfile {
    let mut p = PlayerProfile::new(PlayerId::new(id).expect("valid test id"), base());
    p.samples = (0..n_samples as u64)
        .map(|s| sample(s, frames, false))
        .collect();
    p.weights =
        (weights_bytes > 0).then(|| (0..weights_bytes).map(|i| (i * 31 % 251) as u8).collect());
    let mut norm = NormStats::new(N_MFCC);
    norm.add(&mfcc_like(frames.max(1), 99));
    p.norm = Some(norm);
    p.history = (0..3)
        .map(|k| UpdateRecord {
            time_unix_ms: 1_700_000_100_000 + k,
            samples_used: 16 * (k as usize + 1),
            accuracy_before: 0.5,
            accuracy_after: 0.5 + 0.05 * k as f64,
            accepted: k > 0,
            reason: format!("update {k}"),
            seconds: 0.5,
        })
        .collect();
    p
}

/// The profile the size test and the benchmark measure: 500 samples of 250 x 40 frames and
/// 1,000,000 bytes of weights.
pub fn large_profile(id: &str) -> PlayerProfile {
    profile(id, SAMPLES, FRAMES, WEIGHTS_BYTES)
}

/// A store in a fresh temporary directory (deleted when the `TempDir` drops).
pub fn store() -> (tempfile::TempDir, ProfileStore) {
    let dir = tempfile::tempdir().expect("test setup");
    let store = ProfileStore::new(dir.path().join("profiles")).expect("test setup");
    (dir, store)
}

/// A valid test id.
pub fn id(s: &str) -> PlayerId {
    PlayerId::new(s).expect("test setup")
}

/// File names in the store, sorted.
pub fn names(store: &ProfileStore) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(store.root())
        .expect("test setup")
        .map(|e| {
            let name = e.expect("test setup").file_name();
            name.to_string_lossy().into_owned()
        })
        .collect();
    v.sort();
    v
}

/// The names of `player`'s profiles moved aside.
pub fn corrupt_copies(store: &ProfileStore, player: &str) -> Vec<String> {
    let prefix = format!("{player}.profile.corrupt-");
    names(store)
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect()
}
