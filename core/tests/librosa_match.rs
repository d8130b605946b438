//! The MFCC front end against fixtures made by librosa 0.11 (`scripts/make-mfcc-fixtures.py`):
//! max absolute difference <= 0.05 on every coefficient of every frame.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod common;

use std::path::Path;

use voice_emotion::audio::load_clip;
use voice_emotion::features::{Mfcc, MfccConfig};

const TOLERANCE: f32 = 0.05;

fn fixture(name: &str) -> (usize, Vec<Vec<f32>>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mfcc")
        .join(format!("{name}.csv"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let n = lines.next().unwrap().split(',').count();
    let rows = lines
        .map(|l| l.split(',').map(|v| v.parse::<f32>().unwrap()).collect())
        .collect();
    (n, rows)
}

/// Compares our MFCC of `signal` with the librosa fixture; returns the max abs difference.
fn max_diff(name: &str, signal: &[f32]) -> f32 {
    let (n_mfcc, expected) = fixture(name);
    let mut mfcc = Mfcc::new(MfccConfig::default()).unwrap();
    let got = mfcc.process(signal).unwrap();
    assert_eq!(got.n_features, n_mfcc, "{name}");
    assert_eq!(got.n_frames, expected.len(), "{name}: frame count");
    let mut worst = (0.0f32, 0, 0);
    for (t, (row, exp)) in got.frames().zip(&expected).enumerate() {
        for (k, (a, b)) in row.iter().zip(exp).enumerate() {
            let d = (a - b).abs();
            if d > worst.0 {
                worst = (d, t, k);
            }
        }
    }
    println!(
        "{name}: {} frames, max |diff| = {:.5} (frame {}, c{})",
        expected.len(),
        worst.0,
        worst.1,
        worst.2
    );
    worst.0
}

#[test]
fn real_ravdess_clips_match_librosa() {
    for name in [
        "03-01-01-01-01-01-01",
        "03-01-06-01-02-01-12",
        "03-01-05-02-01-01-22",
        "03-01-04-01-02-02-05",
    ] {
        let signal = load_clip(common::ravdess_clip(&format!("{name}.wav"))).unwrap();
        let d = max_diff(name, &signal);
        assert!(d <= TOLERANCE, "{name}: max diff {d} > {TOLERANCE}");
    }
}

#[test]
fn sine_matches_librosa() {
    // Same definition as scripts/make-mfcc-fixtures.py: 1.5 s of 440 Hz at half scale, int16.
    let signal: Vec<f32> = (0..24_000)
        .map(|i| {
            let t = f64::from(i) / 16_000.0;
            let q = (0.5 * 32767.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()).round();
            q as f32 / 32768.0
        })
        .collect();
    let d = max_diff("sine440", &signal);
    assert!(d <= TOLERANCE, "sine: max diff {d}");
}

#[test]
fn silence_matches_librosa() {
    let d = max_diff("silence", &[0.0; 16_000]);
    assert!(d <= TOLERANCE, "silence: max diff {d}");
}
