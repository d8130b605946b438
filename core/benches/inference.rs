//! Criterion benchmark: one 3.5 s clip through features + the shipped model, one thread.
//!
//! `cargo bench -p voice_emotion --bench inference`. Figures: the input pipeline alone (trim,
//! MFCC, deltas, stacking); the model alone on those inputs (normalisation, network,
//! probabilities) through burn, the reference, and through the fast path that
//! `EmotionClassifier` runs; both together (`features_and_model_3.5s`, the fast path).
//! A last table times each again in the same run and prints the fast path's speed-up over
//! burn. With `BENCH_BASELINE_MODEL=DIR` (e.g. a previous model's folder, from git) the
//! table also times that model's fast path on the same clip and prints the shipped model's
//! cost against it. The table also times the input pipeline with the front end's opt-in noise
//! suppression, its estimate from 0.8 s of the room before the clip (as the engine hands it
//! over), and with its opt-in pitch features, against the plain pipeline.
#![expect(clippy::expect_used, reason = "benches fail loudly")]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;

mod common;
use voice_emotion::features::{FeatureMatrix, NoiseSuppression};
use voice_emotion::model::{
    EmotionClassifier, FastNetwork, FastScratch, InputConfig, InputExtractor, Prediction,
    SimdLevel, default_device, normalised, predict, with_temperature,
};

/// The model through burn, as `EmotionClassifier::classify_features` ran it before the fast
/// path: normalise a copy, pad a batch of one, forward, softmax, temperature.
fn classify_with_burn(classifier: &EmotionClassifier, features: &FeatureMatrix) -> Prediction {
    let input = normalised(features, classifier.global_stats());
    let p = predict(classifier.model(), &[&input], 64, classifier.device());
    Prediction::from_probabilities(
        with_temperature(p.emotion[0], classifier.temperature()),
        p.intensity[0],
    )
}

/// Median time of `f` over `runs` calls after a few to warm up.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..runs / 10 + 1 {
        f();
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[runs / 2]
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base");
    let mut classifier =
        EmotionClassifier::load(&dir, &default_device()).expect("models/base loads");
    let signal = common::speech_like(3.5);
    let features = classifier.features(&signal).expect("valid clip");
    let room = common::speech_like(0.8);
    let mut suppressed = InputExtractor::new(InputConfig {
        noise_suppression: Some(NoiseSuppression::default()),
        ..classifier.input_config().clone()
    })
    .expect("the model's pipeline with noise suppression is valid");
    let mut with_pitch = InputExtractor::new(InputConfig {
        pitch: true,
        ..classifier.input_config().clone()
    })
    .expect("the model's pipeline with pitch features is valid");
    let mut c = Criterion::default().configure_from_args();
    c.bench_function("input_pipeline_3.5s", |b| {
        b.iter(|| classifier.features(black_box(&signal)).expect("valid clip"))
    });
    c.bench_function("input_pipeline_noise_suppression_3.5s", |b| {
        b.iter(|| {
            suppressed
                .extract_in_room(black_box(&signal), &room)
                .expect("valid clip")
        })
    });
    c.bench_function("input_pipeline_pitch_3.5s", |b| {
        b.iter(|| with_pitch.extract(black_box(&signal)).expect("valid clip"))
    });
    c.bench_function("model_burn_3.5s", |b| {
        b.iter(|| classify_with_burn(&classifier, black_box(&features)))
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
    c.final_summary();
    // `cargo test --bench inference` runs each benchmark once to check it; the table is for
    // `cargo bench`, which passes `--bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let front = median(500, || {
        black_box(classifier.features(&signal).expect("valid clip"));
    });
    let front_suppressed = median(500, || {
        black_box(
            suppressed
                .extract_in_room(&signal, &room)
                .expect("valid clip"),
        );
    });
    let front_pitch = median(200, || {
        black_box(with_pitch.extract(&signal).expect("valid clip"));
    });
    let burn = median(200, || {
        black_box(classify_with_burn(&classifier, &features));
    });
    let fast = median(1000, || {
        black_box(classifier.classify_features(&[&features], None));
    });
    let both = median(1000, || {
        black_box(classifier.classify(&signal, None).expect("valid clip"));
    });
    println!(
        "\none 3.5 s clip ({} steps of {} inputs), one thread, median in this run:",
        features.n_frames, features.n_features
    );
    println!("  front end                 {:.3} ms", ms(front));
    println!(
        "  front end, noise suppression (opt-in, 0.8 s room)  {:.3} ms  ({:.2}x the front end)",
        ms(front_suppressed),
        ms(front_suppressed) / ms(front)
    );
    println!(
        "  front end, pitch features (opt-in)  {:.3} ms  ({:.2}x the front end)",
        ms(front_pitch),
        ms(front_pitch) / ms(front)
    );
    println!("  model, burn (reference)   {:.3} ms", ms(burn));
    println!(
        "  model, fast path          {:.3} ms  ({:.1}x faster than burn; target <= 0.5 ms)",
        ms(fast),
        ms(burn) / ms(fast)
    );
    println!(
        "  front end + model (fast)  {:.3} ms  (target <= 0.7 ms)",
        ms(both)
    );
    if let Some(dir) = std::env::var_os("BENCH_BASELINE_MODEL") {
        let baseline =
            EmotionClassifier::load(Path::new(&dir), &default_device()).expect("baseline loads");
        let base_fast = median(1000, || {
            black_box(baseline.classify_features(&[&features], None));
        });
        let fast_again = median(1000, || {
            black_box(classifier.classify_features(&[&features], None));
        });
        println!(
            "baseline {} ({} parameters): model, fast path {:.3} ms; models/base ({} parameters) {:.3} ms, {:.2}x the baseline's time",
            Path::new(&dir).display(),
            baseline.model().parameter_count(),
            ms(base_fast),
            classifier.model().parameter_count(),
            ms(fast_again),
            ms(fast_again) / ms(base_fast)
        );
    }
    // The network alone at each SIMD level this CPU runs (`classify_features` above runs
    // the widest, `SimdLevel::detect`).
    let input = normalised(&features, classifier.global_stats());
    println!("network alone by SIMD level:");
    for level in SimdLevel::available() {
        let net = FastNetwork::from_model_with(classifier.model(), level).expect("available");
        let mut scratch = FastScratch::default();
        let t = median(1000, || {
            black_box(net.forward_into(black_box(&input.data), &mut scratch));
        });
        let chosen = if level == SimdLevel::detect() {
            "  (detected)"
        } else {
            ""
        };
        println!("  {:<9} {:.3} ms{chosen}", level.to_string(), ms(t));
    }
}
