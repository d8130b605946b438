//! Player profiles of realistic size, shared by `tests/profile_store.rs` and
//! `benches/profile.rs` (which includes this file by path).
#![allow(
    dead_code,
    reason = "shared by several test binaries, each using a part"
)]

use std::fs;

use voice_emotion::features::FeatureMatrix;
use voice_emotion::labels::{Emotion, Intensity};
use voice_emotion::model::NormStats;
use voice_emotion::player::profile::{
    BaseModelRef, ConfirmedSample, PlayerId, PlayerProfile, ProfileStore, QuantisedMatrix,
    RecordKind, UpdateRecord,
};
use voice_emotion::player::voice::{VoiceFit, VoiceHead};

/// Frames of an average RAVDESS utterance after silence trimming (2.5 s at 100 frames/s).
pub const FRAMES: usize = 250;
/// MFCC coefficients per frame.
pub const N_MFCC: usize = 40;
/// Confirmed samples of the "large" profile.
pub const SAMPLES: usize = 500;
/// Values in a descriptor of the shipped model (128 first-layer units, 2 x 80 coefficient
/// means and spreads): the width of a real voice head.
pub const DESCRIPTOR: usize = 288;

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

/// A voice head over all 8 emotions and descriptors of `width` values (the largest a player
/// can have), fitted to deterministic descriptors.
pub fn voice_head(width: usize, seed: u64) -> VoiceHead {
    let descriptors: Vec<Vec<f32>> = (0..16u64)
        .map(|k| {
            (0..width)
                .map(|j| ((k * 7 + j as u64 * 13 + seed) % 23) as f32 / 23.0 - 0.5)
                .collect()
        })
        .collect();
    let refs: Vec<&[f32]> = descriptors.iter().map(Vec::as_slice).collect();
    let labels: Vec<Emotion> = (0..16).map(|k| Emotion::ALL[k % 8]).collect();
    VoiceHead::fit(&refs, &labels, None, &VoiceFit::default()).expect("test setup")
}

/// A profile of `id` with `n_samples` samples of `frames` frames, a voice head when `voice`,
/// per-player statistics and a short history.
pub fn profile(id: &str, n_samples: usize, frames: usize, voice: bool) -> PlayerProfile {
    let mut p = PlayerProfile::new(PlayerId::new(id).expect("valid test id"), base());
    p.samples = (0..n_samples as u64)
        .map(|s| sample(s, frames, false))
        .collect();
    p.voice = voice.then(|| voice_head(DESCRIPTOR, n_samples as u64));
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
            kind: RecordKind::Update,
        })
        .collect();
    p
}

/// The profile the size test and the benchmark measure: 500 samples of 250 x 40 frames and
/// a voice head over all 8 emotions.
pub fn large_profile(id: &str) -> PlayerProfile {
    profile(id, SAMPLES, FRAMES, true)
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
