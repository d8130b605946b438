//! Bench binary: one training step (forward, backward, Adam) of the emotion model: through
//! burn's autodiff (`LstmPass::Burn`), with the fast LSTM pass (`LstmPass::Fast`) on one
//! and on two threads, and the same network built from burn's stock `nn::Lstm`, in the same
//! run.
//!
//! `cargo bench -p voice_emotion --bench training` prints the median seconds per batch-32 step
//! at 100 and at 200 input steps for each, and the ratios against the burn pass. burn runs on
//! one thread (flex without rayon). The network has the shipped model's shape (the `model`
//! of `models/base/config.json`), with the default training settings (no augmentation).

use std::path::Path;
use std::time::Instant;

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, Lstm, LstmConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::relu;
use voice_emotion::features::FeatureMatrix;
use voice_emotion::labels::{Emotion, Intensity};
use voice_emotion::model::{EmotionModel, EmotionModelConfig, FastLstmTrainer, default_device};
use voice_emotion::training::dataset::EmotionSet;
use voice_emotion::training::{BatchItem, StepTargets, TrainingConfig, cross_entropy, fast_step};

const BATCH: usize = 32;

/// The shipped network's shape, from `models/base/config.json`.
fn shipped_shape() -> EmotionModelConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base/config.json");
    match TrainingConfig::load(&path) {
        Ok(config) => config.model,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            std::process::exit(1);
        }
    }
}

/// The same shape (two LSTM layers, dense, 8 + 2 outputs) on `burn::nn::Lstm`.
#[derive(Module, Debug)]
struct StockModel {
    lstm_1: Lstm,
    lstm_2: Lstm,
    dropout: Dropout,
    dense: Linear,
    emotion: Linear,
    intensity: Linear,
}

impl StockModel {
    fn new(shape: &EmotionModelConfig, device: &Device) -> Self {
        Self {
            lstm_1: LstmConfig::new(shape.n_features, shape.hidden_1, true).init(device),
            lstm_2: LstmConfig::new(shape.hidden_1, shape.hidden_2, true).init(device),
            dropout: DropoutConfig::new(shape.dropout).init(),
            dense: LinearConfig::new(shape.hidden_2, shape.dense).init(device),
            emotion: LinearConfig::new(shape.dense, 8).init(device),
            intensity: LinearConfig::new(shape.dense, 2).init(device),
        }
    }

    fn forward(&self, x: Tensor<3>) -> (Tensor<2>, Tensor<2>) {
        let (out, _) = self.lstm_1.forward(x, None);
        let (_, state) = self.lstm_2.forward(self.dropout.forward(out), None);
        let z = self.dropout.forward(relu(self.dense.forward(state.hidden)));
        (self.emotion.forward(z.clone()), self.intensity.forward(z))
    }
}

fn batch(steps: usize, features: usize, device: &Device) -> (Tensor<3>, Tensor<3>, Tensor<1, Int>) {
    let x: Vec<f32> = (0..BATCH * steps * features)
        .map(|i| (i as f32 * 0.013).sin())
        .collect();
    let labels: Vec<i64> = (0..BATCH as i64).map(|i| i % 8).collect();
    (
        Tensor::from_data(TensorData::new(x, [BATCH, steps, features]), device),
        Tensor::ones([BATCH, steps, 1], device),
        Tensor::from_data(TensorData::new(labels, [BATCH]), device),
    )
}

fn median_seconds(runs: usize, mut step: impl FnMut()) -> f64 {
    step();
    step();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn ours(shape: &EmotionModelConfig, steps: usize, device: &Device) -> f64 {
    let mut model: EmotionModel = shape.init(device);
    let mut optim = AdamConfig::new().init();
    let (x, mask, labels) = batch(steps, shape.n_features, device);
    median_seconds(7, || {
        let out = model.forward(x.clone(), mask.clone());
        let loss = cross_entropy(out.emotion, labels.clone(), None)
            + cross_entropy(out.intensity, labels.clone().remainder_scalar(2), None);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model.clone(), grads);
    })
}

/// [`fast_step`] on `threads` threads over the same batch as [`ours`].
fn fast(shape: &EmotionModelConfig, steps: usize, threads: usize, device: &Device) -> f64 {
    let features = shape.n_features;
    let config = TrainingConfig::new(shape.clone());
    let mut model = config.model.init(device);
    let mut optim = AdamConfig::new().init();
    let mut trainer = FastLstmTrainer::new(threads, 1);
    let inputs: Vec<FeatureMatrix> = (0..BATCH)
        .map(|b| FeatureMatrix {
            data: (0..steps * features)
                .map(|k| ((b * steps * features + k) as f32 * 0.013).sin())
                .collect(),
            n_frames: steps,
            n_features: features,
        })
        .collect();
    let items: Vec<BatchItem<'_>> = inputs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let intensity = Intensity::ALL[i % 2];
            (m, Emotion::ALL[i % 8], Some(intensity), EmotionSet::ALL)
        })
        .collect();
    median_seconds(7, || {
        match fast_step(
            model.clone(),
            &mut optim,
            &mut trainer,
            &items,
            StepTargets::default(),
            device,
            &config,
        ) {
            Ok((stepped, _, _)) => model = stepped,
            Err(e) => {
                eprintln!("the fast LSTM pass failed: {e}");
                std::process::exit(1);
            }
        }
    })
}

fn stock(shape: &EmotionModelConfig, steps: usize, device: &Device) -> f64 {
    let mut model = StockModel::new(shape, device);
    let mut optim = AdamConfig::new().init();
    let (x, _, labels) = batch(steps, shape.n_features, device);
    median_seconds(7, || {
        let (emotion, intensity) = model.forward(x.clone());
        let loss = cross_entropy(emotion, labels.clone(), None)
            + cross_entropy(intensity, labels.clone().remainder_scalar(2), None);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model.clone(), grads);
    })
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let device = default_device().autodiff();
    let shape = shipped_shape();
    let (features, h1, h2, dense) = (
        shape.n_features,
        shape.hidden_1,
        shape.hidden_2,
        shape.dense,
    );
    println!(
        "one training step, batch {BATCH}, {features} features, LSTM {h1} then {h2}, dense \
         {dense}, median of 7 (seconds)"
    );
    println!(
        "{:>6} {:>10} {:>16} {:>16} {:>22}",
        "steps", "burn pass", "fast, 1 thread", "fast, 2 threads", "burn nn::Lstm (ratio)"
    );
    let mut figures = Vec::new();
    for steps in [100, 200] {
        let a = ours(&shape, steps, &device);
        let f1 = fast(&shape, steps, 1, &device);
        let f2 = fast(&shape, steps, 2, &device);
        figures.push((steps, a, f1, f2));
        let b = stock(&shape, steps, &device);
        println!(
            "{steps:>6} {a:>10.4} {f1:>9.4} ({:>4.1}x) {f2:>9.4} ({:>4.1}x) {b:>14.4} ({:>4.1}x)",
            a / f1,
            a / f2,
            a / b
        );
    }
    println!("(ratios: the burn pass's time over each column's; above 1 is faster)");
    for (steps, a, f1, f2) in figures {
        // Read by scripts/bench_vs_pytorch.py --training, which builds the same shape.
        println!(
            "ours, {steps} steps: burn_pass={a:.5} fast_1_thread={f1:.5} fast_2_threads={f2:.5} \
             features={features} hidden_1={h1} hidden_2={h2} dense={dense} dropout={}",
            shape.dropout
        );
    }
}
