//! Criterion benchmark: one 3.5 s clip through features + the shipped model, one thread.
//!
//! `cargo bench -p voice_emotion --bench inference`. Three figures: the input pipeline alone
//! (trim, MFCC, deltas, stacking), the model alone on those inputs, and both together.
#![expect(clippy::expect_used, reason = "tests fail loudly")]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};

mod common;
use voice_emotion::model::EmotionClassifier;
use voice_emotion::model::default_device;

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base");
    let mut classifier =
        EmotionClassifier::load(&dir, &default_device()).expect("models/base loads");
    let signal = common::speech_like(3.5);
    let features = classifier.features(&signal).expect("valid clip");
    c.bench_function("input_pipeline_3.5s", |b| {
        b.iter(|| classifier.features(black_box(&signal)).expect("valid clip"))
    });
    c.bench_function("model_3.5s", |b| {
        b.iter(|| classifier.classify_features(&[black_box(&features)], None))
    });
    c.bench_function("features_and_model_3.5s", |b| {
        b.iter(|| {
            classifier
                .classify(black_box(&signal), None)
                .expect("valid clip")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
