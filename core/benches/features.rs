//! Criterion benchmark: MFCC (reference configuration) of a 3.5 s clip, one thread.
//!
//! `cargo bench -p voice_emotion --bench features`. The signal is synthetic speech-like audio
//! (harmonics plus noise): the cost does not depend on the content. `scripts/bench-features`
//! compares against librosa on real clips in one run.
#![expect(clippy::expect_used, reason = "tests fail loudly")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

mod common;
use voice_emotion::features::{Mfcc, MfccConfig};

fn bench(c: &mut Criterion) {
    let signal = common::speech_like(3.5);
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
