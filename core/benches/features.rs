//! Criterion benchmark: MFCC (reference configuration) of a 3.5 s clip, one thread.
//!
//! `cargo bench -p voice_emotion --bench features`. The signal is synthetic speech-like audio
//! (harmonics plus noise): the cost does not depend on the content. `scripts/bench-features`
//! compares against librosa on real clips in one run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use voice_emotion::features::{Mfcc, MfccConfig};

fn clip(seconds: f32) -> Vec<f32> {
    let n = (seconds * 16_000.0) as usize;
    let mut state = 0x2545_f491_u32;
    (0..n)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state as f32 / u32::MAX as f32 - 0.5) * 0.02;
            let f0 = 140.0 + 20.0 * (t * 3.0).sin();
            let voiced: f32 = (1..8)
                .map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32)
                .sum();
            0.2 * voiced * (0.5 + 0.5 * (t * 4.0).sin()) + noise
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let signal = clip(3.5);
    let mut mfcc = Mfcc::new(MfccConfig::default()).expect("reference config is valid");
    let mut out = vec![0.0; mfcc.n_frames(signal.len()) * 40];
    c.bench_function("mfcc_3.5s_process_into", |b| {
        b.iter(|| {
            mfcc.process_into(black_box(&signal), &mut out)
                .expect("valid input")
        })
    });
    c.bench_function("mfcc_3.5s_process", |b| {
        b.iter(|| mfcc.process(black_box(&signal)).expect("valid input"))
    });
    c.bench_function("mfcc_new_reference_config", |b| {
        b.iter(|| Mfcc::new(black_box(MfccConfig::default())).expect("valid"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
