//! The fast inference path ([`FastNetwork`]) against burn, the reference implementation: the
//! shipped model on every clip of RAVDESS actors 21–24 (cold and with each speaker's own
//! statistics), and randomly initialised models of every shape the configuration allows, at
//! every SIMD level this CPU runs ([`SimdLevel::available`]). Probabilities must agree within
//! 1e-4.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod common;

use std::path::Path;

use burn::prelude::*;
use voice_emotion::features::FeatureMatrix;
use voice_emotion::labels::{Emotion, Intensity};
use voice_emotion::model::{
    EmotionClassifier, EmotionModel, EmotionModelConfig, FastNetwork, FastScratch, FastState,
    Logits, Pooling, SimdLevel, default_device, normalised, pad, predict, with_temperature,
};
use voice_emotion::training::Normaliser;
use voice_emotion::training::data::examples;

/// Largest difference allowed between the two paths' probabilities.
const TOLERANCE: f32 = 1e-4;

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Probabilities and the first layer's mean output from burn, one utterance per batch.
fn burn_reference(model: &EmotionModel, input: &FeatureMatrix) -> (Vec<f32>, Vec<f32>) {
    let device = default_device();
    let batch = pad(&[input], &device);
    let (out, mean) = model.forward_described(batch.inputs, batch.mask);
    let softmax = burn::tensor::activation::softmax;
    let mut p: Vec<f32> = softmax(out.emotion, 1).into_data().try_into_vec().unwrap();
    p.extend(
        softmax(out.intensity, 1)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap(),
    );
    (p, mean.into_data().try_into_vec().unwrap())
}

fn fast_probabilities(logits: &Logits) -> Vec<f32> {
    let (e, i) = logits.probabilities(1.0);
    e.iter().chain(&i).copied().collect()
}

#[test]
fn fast_path_matches_burn_on_every_clip_of_actors_21_to_24() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base");
    let mut classifier = EmotionClassifier::load(&dir, &default_device()).unwrap();
    let test = common::actors_21_to_24();
    let data = examples(&test, classifier.input_config(), None, 2, &|_| {}).unwrap();
    let n_features = classifier.training_config().model.n_features;
    let speakers = Normaliser::fit(&data, n_features).speakers;
    // The classifier's own network runs the widest level; the others are built beside it.
    assert_eq!(classifier.fast_network().simd_level(), SimdLevel::detect());
    let levels = SimdLevel::available();
    let nets: Vec<FastNetwork> = levels
        .iter()
        .map(|&l| FastNetwork::from_model_with(classifier.model(), l).unwrap())
        .collect();
    let mut scratch = FastScratch::default();
    let mut worst = vec![(0.0f32, 0.0f32); levels.len()];
    let (mut compared, mut steps) = (0, Vec::new());
    for example in &data {
        steps.push(example.features.n_frames);
        let own = &speakers[&example.speaker];
        for stats in [classifier.global_stats(), own] {
            let input = normalised(&example.features, stats);
            let (reference, reference_mean) = burn_reference(classifier.model(), &input);
            for (fast, (worst_p, worst_mean)) in nets.iter().zip(&mut worst) {
                let logits = fast.forward_into(&input.data, &mut scratch);
                let (described, mean) = fast.forward_described(&input);
                assert_eq!(described, logits);
                *worst_p =
                    worst_p.max(largest_difference(&fast_probabilities(&logits), &reference));
                *worst_mean = worst_mean.max(largest_difference(&mean, &reference_mean));
            }
            compared += 1;
        }
    }
    steps.sort_unstable();
    assert_eq!(compared, 480);
    for (level, (worst_p, worst_mean)) in levels.iter().zip(worst) {
        println!(
            "{level}: {compared} inputs of {}..={} steps: largest |Δp| {worst_p:.2e}, largest |Δ mean of the first layer| {worst_mean:.2e}",
            steps[0],
            steps[steps.len() - 1]
        );
        assert!(
            worst_p <= TOLERANCE,
            "{level}: probabilities differ by {worst_p}"
        );
        assert!(
            worst_mean <= TOLERANCE,
            "{level}: first-layer means differ by {worst_mean}"
        );
    }

    // classify_features: the fast path, normalised in place, with the fitted temperature
    // applied to the emotion logits before their softmax.
    for temperature in [None, Some(1.7)] {
        if let Some(t) = temperature {
            classifier.set_temperature(t);
        }
        let t = classifier.temperature();
        let inputs: Vec<&FeatureMatrix> = data.iter().take(24).map(|e| &e.features).collect();
        let got = classifier.classify_features(&inputs, None);
        let normed: Vec<FeatureMatrix> = inputs
            .iter()
            .map(|m| normalised(m, classifier.global_stats()))
            .collect();
        let refs: Vec<&FeatureMatrix> = normed.iter().collect();
        let reference = predict(classifier.model(), &refs, 8, &default_device());
        for (k, p) in got.iter().enumerate() {
            let e = with_temperature(reference.emotion[k], t);
            let d = largest_difference(&p.probabilities, &e).max(largest_difference(
                &p.intensity_probabilities,
                &reference.intensity[k],
            ));
            assert!(d <= TOLERANCE, "temperature {t}: clip {k} differs by {d}");
        }
    }
}

/// Deterministic inputs in about [-2, 2].
fn input(steps: usize, n_features: usize, seed: f32) -> FeatureMatrix {
    FeatureMatrix {
        data: (0..steps * n_features)
            .map(|i| 2.0 * (i as f32 * 0.731 + seed).sin() * (i as f32 * 0.017).cos())
            .collect(),
        n_frames: steps,
        n_features,
    }
}

fn check_shape(config: &EmotionModelConfig, seed: f32) -> f32 {
    let device = default_device();
    let model = config.init(&device).valid();
    let mut worst = 0.0f32;
    for level in SimdLevel::available() {
        let fast = FastNetwork::from_model_with(&model, level).unwrap();
        assert_eq!(fast.n_features(), config.n_features);
        assert_eq!(fast.first_layer_units(), config.hidden_1);
        worst = worst.max(check_shape_at(&model, &fast, config, seed));
    }
    worst
}

fn check_shape_at(
    model: &EmotionModel,
    fast: &FastNetwork,
    config: &EmotionModelConfig,
    seed: f32,
) -> f32 {
    let level = fast.simd_level();
    let mut scratch = FastScratch::default();
    let mut worst = 0.0f32;
    // 0 to 13 steps: every remainder of the register tiles (4 steps with AVX2, 6 with
    // AVX-512), and the empty input (one step of zeros, as burn pads it).
    for steps in [0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 13] {
        let x = input(steps, config.n_features, seed + steps as f32);
        let (reference, reference_mean) = burn_reference(model, &x);
        let logits = fast.forward_into(&x.data, &mut scratch);
        let fast_p = fast_probabilities(&logits);
        let d = largest_difference(&fast_p, &reference);
        assert!(
            d <= TOLERANCE,
            "{level}, {config:?}, {steps} steps: |Δp| {d}"
        );
        let (_, mean) = fast.forward_described(&x);
        let dm = largest_difference(&mean, &reference_mean);
        assert!(
            dm <= TOLERANCE,
            "{level}, {config:?}, {steps} steps: |Δ mean| {dm}"
        );
        // The logits themselves (the probabilities could hide a shared offset).
        let device = default_device();
        let batch = pad(&[&x], &device);
        let out = model.forward(batch.inputs, batch.mask);
        let mut l: Vec<f32> = out.emotion.into_data().try_into_vec().unwrap();
        l.extend(out.intensity.into_data().try_into_vec::<f32>().unwrap());
        let ours: Vec<f32> = logits
            .emotion
            .iter()
            .chain(&logits.intensity)
            .copied()
            .collect();
        let dl = largest_difference(&ours, &l);
        assert!(
            dl <= 1e-4 * (1.0 + l.iter().fold(0.0f32, |m, v| m.max(v.abs()))),
            "{level}, {config:?}, {steps} steps: logits differ by {dl}"
        );
        worst = worst.max(d).max(dm);
    }
    worst
}

/// The configuration fixes two LSTM layers and both heads (8 emotions, 2 intensities); what it
/// lets vary is the input width, both layers' units, the dense layer's and the pooling
/// (dropout does nothing at inference). Each is tried at 1, below, at and above a multiple of the 16-value
/// padding, and at the shipped size.
#[test]
fn fast_path_matches_burn_for_every_shape_the_config_allows() {
    assert_eq!((Emotion::COUNT, Intensity::COUNT), (8, 2));
    let mut shapes = vec![(240, 128, 64, 128)];
    for n_features in [1, 7, 16, 40, 241] {
        shapes.push((n_features, 20, 9, 12));
    }
    for hidden_1 in [1, 3, 15, 16, 17, 33, 130] {
        shapes.push((24, hidden_1, 10, 8));
    }
    for hidden_2 in [1, 2, 16, 31, 64, 65] {
        shapes.push((24, 18, hidden_2, 8));
    }
    for dense in [1, 5, 16, 47, 128, 200] {
        shapes.push((24, 18, 10, dense));
    }
    shapes.push((1, 1, 1, 1));
    let mut worst = 0.0f32;
    for (k, &(n_features, hidden_1, hidden_2, dense)) in shapes.iter().enumerate() {
        for pooling in [Pooling::Last, Pooling::Attention, Pooling::LastAndAttention] {
            let config = EmotionModelConfig::new(n_features)
                .with_hidden_1(hidden_1)
                .with_hidden_2(hidden_2)
                .with_dense(dense)
                .with_dropout(if k % 2 == 0 { 0.3 } else { 0.0 })
                .with_pooling(Some(pooling));
            worst = worst.max(check_shape(&config, k as f32));
        }
    }
    println!(
        "{} shapes, each pooling: largest difference {worst:.2e}",
        shapes.len()
    );
}

/// The fast network copies weights from whichever backend the model lives on.
#[test]
fn fast_network_reads_weights_from_the_ndarray_backend_too() {
    let flex = voice_emotion::model::DeviceSpec::Cpu.device().unwrap();
    let nd = voice_emotion::model::DeviceSpec::NdArray.device().unwrap();
    let model = EmotionModelConfig::new(12).init(&flex).valid();
    let on_nd = model.clone().to_device(&nd);
    let x = input(6, 12, 0.5);
    let a = FastNetwork::from_model(&model).unwrap().forward(&x);
    let b = FastNetwork::from_model(&on_nd).unwrap().forward(&x);
    assert_eq!(a, b);
}

/// Reusing a scratch across lengths, or a fresh one per call, gives the same logits.
#[test]
fn scratch_reuse_does_not_change_results() {
    let model = EmotionModelConfig::new(30).init(&default_device()).valid();
    let fast = FastNetwork::from_model(&model).unwrap();
    let mut scratch = FastScratch::default();
    for (steps, seed) in [(40, 1.0), (3, 2.0), (17, 3.0), (40, 1.0)] {
        let x = input(steps, 30, seed);
        let reused = fast.forward_into(&x.data, &mut scratch);
        let fresh = fast.forward_into(&x.data, &mut FastScratch::default());
        assert_eq!(reused, fresh, "{steps} steps");
        assert_eq!(fast.clone().forward(&x), fresh);
    }
}

/// Every level: the network advanced over an utterance in pieces gives what one pass over
/// all of it gives, value for value; and a level this CPU lacks is refused by name.
#[test]
fn every_simd_level_streams_like_a_whole_pass() {
    let x = input(29, 24, 0.25);
    for pooling in [Pooling::Last, Pooling::Attention, Pooling::LastAndAttention] {
        let model = EmotionModelConfig::new(24)
            .with_hidden_1(33)
            .with_hidden_2(17)
            .with_pooling(Some(pooling))
            .init(&default_device())
            .valid();
        for level in SimdLevel::available() {
            let fast = FastNetwork::from_model_with(&model, level).unwrap();
            let (logits, mean, top) = fast.forward_analysed(&x);
            let mut state = FastState::default();
            fast.start(&mut state);
            for piece in x.data.chunks(24 * 5) {
                fast.advance(&mut state, piece);
            }
            assert_eq!(
                fast.state_logits(&mut state),
                Some((logits, mean)),
                "{level}, {pooling:?}"
            );
            assert_eq!(fast.state_top(&state), Some(top), "{level}, {pooling:?}");
        }
    }
    let model = EmotionModelConfig::new(24).init(&default_device()).valid();
    for level in [SimdLevel::Avx2, SimdLevel::Avx512] {
        if !level.is_available() {
            let err = FastNetwork::from_model_with(&model, level).unwrap_err();
            assert!(err.to_string().contains(&level.to_string()), "{err}");
        }
    }
}

/// A model with attention pooling (alone, or beside the last state) is saved with its score
/// weights and loads back as the same network; a `config.json` written before the field
/// existed loads as the last state.
#[test]
fn attention_pooling_survives_a_save_and_load() {
    use voice_emotion::model::{InputConfig, NormStats, TrainingConfig};
    let device = default_device();
    let input = InputConfig::default();
    let n = input.n_features();
    let dir = std::env::temp_dir().join(format!("attention-{}", std::process::id()));
    for pooling in [Pooling::LastAndAttention, Pooling::Attention] {
        let config = EmotionModelConfig::new(n)
            .with_hidden_1(20)
            .with_hidden_2(9)
            .with_pooling(Some(pooling));
        let model = config.init(&device);
        assert_eq!(model.dense_inputs(), pooling.width(9));
        let mut norm = NormStats::new(n);
        norm.add(&self::input(7, n, 0.1));
        let classifier = EmotionClassifier::new(
            model,
            TrainingConfig::new(config),
            input.clone(),
            norm,
            device.clone(),
        )
        .unwrap();
        classifier.save(&dir).unwrap();
        let loaded = EmotionClassifier::load(&dir, &device).unwrap();
        let x = self::input(11, n, 0.3);
        assert_eq!(loaded.model().pooling(), pooling);
        assert_eq!(
            loaded.fast_network().forward(&x),
            classifier.fast_network().forward(&x)
        );
    }
    // The same config without the field (as every model before it was written).
    let path = dir.join("config.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["model"]["pooling"], "attention");
    let old = json["model"].as_object_mut().unwrap();
    old.remove("pooling");
    let old: EmotionModelConfig = serde_json::from_value(json["model"].clone()).unwrap();
    assert_eq!(old.pooling, None);
    assert_eq!(old.init(&device).pooling(), Pooling::Last);
    std::fs::remove_dir_all(&dir).unwrap();
}
