//! Training the emotion model: examples, batches, the loop (Adam, cross-entropy on both heads,
//! early stopping on validation accuracy), seeded and reproducible.

use std::collections::BTreeMap;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::dataset::{Emotion, Intensity};
use crate::features::FeatureMatrix;
use crate::input::NormStats;
use crate::model::{EmotionModel, EmotionModelConfig};

/// Settings of a training run. Saved as `config.json` next to the weights.
#[derive(Config, Debug)]
pub struct TrainingConfig {
    /// The model's shape.
    pub model: EmotionModelConfig,
    /// Examples per optimisation step.
    #[config(default = 32)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Most epochs.
    #[config(default = 100)]
    pub max_epochs: usize,
    /// Stop after this many epochs without a better validation accuracy.
    #[config(default = 5)]
    pub patience: usize,
    /// Seed of initialisation, shuffling and augmentation.
    #[config(default = 42)]
    pub seed: u64,
    /// Weight of the intensity head's loss.
    #[config(default = 0.5)]
    pub intensity_weight: f32,
    /// Augmented copies of each training clip (noise, pitch, stretch, gain), never of
    /// validation or test clips.
    #[config(default = 1)]
    pub augment_copies: usize,
    /// Probability that a training example is normalised with its speaker's own statistics
    /// rather than the training set's, so the model works both cold and once it knows the
    /// speaker.
    #[config(default = 0.5)]
    pub speaker_norm_probability: f64,
    /// Batches drawn from one pool of shuffled examples sorted by length, so a batch holds
    /// utterances of similar length and little padding (1: plain shuffled batches, the
    /// default; 8 pads less, so epochs are faster: 9.3 s an epoch in one run here, against
    /// 17 to 18 s with 1 measured while other builds ran).
    #[config(default = 1)]
    pub length_pool: usize,
}

/// One utterance ready for the model (features not yet normalised).
#[derive(Debug, Clone)]
pub struct Example {
    /// Model input, `steps x n_features`.
    pub features: FeatureMatrix,
    /// Emotion label.
    pub emotion: Emotion,
    /// Intensity label, when known.
    pub intensity: Option<Intensity>,
    /// Speaker id (for per-speaker normalisation).
    pub speaker: String,
}

/// How inputs are normalised.
#[derive(Debug, Clone)]
pub struct Normaliser {
    /// Statistics of the training set (the cold-start normalisation).
    pub global: NormStats,
    /// Statistics of each speaker's own (unlabelled) speech.
    pub speakers: BTreeMap<String, NormStats>,
}

impl Normaliser {
    /// Global statistics over `examples` and per-speaker statistics of each speaker in them.
    #[must_use]
    pub fn fit<'a>(examples: impl IntoIterator<Item = &'a Example>, n_features: usize) -> Self {
        let mut global = NormStats::new(n_features);
        let mut speakers: BTreeMap<String, NormStats> = BTreeMap::new();
        for e in examples {
            global.add(&e.features);
            speakers
                .entry(e.speaker.clone())
                .or_insert_with(|| NormStats::new(n_features))
                .add(&e.features);
        }
        Self { global, speakers }
    }

    /// The statistics for `speaker`: their own when `per_speaker` and known, else global.
    #[must_use]
    pub fn stats(&self, speaker: &str, per_speaker: bool) -> &NormStats {
        if per_speaker && let Some(s) = self.speakers.get(speaker) {
            return s;
        }
        &self.global
    }
}

/// A padded batch on a device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[batch, steps, n_features]`.
    pub inputs: Tensor<3>,
    /// `[batch, steps, 1]`, 1.0 on valid steps.
    pub mask: Tensor<3>,
    /// Emotion indices, `[batch]`.
    pub emotions: Tensor<1, Int>,
    /// Intensity indices, `[batch]` (0 where unknown).
    pub intensities: Tensor<1, Int>,
    /// 1.0 where the intensity is known, `[batch]`.
    pub intensity_known: Tensor<1>,
}

/// Pads already-normalised feature matrices into a batch.
#[must_use]
pub fn make_batch(
    items: &[(&FeatureMatrix, Emotion, Option<Intensity>)],
    device: &Device,
) -> Batch {
    let b = items.len();
    let steps = items.iter().map(|i| i.0.n_frames).max().unwrap_or(1).max(1);
    let d = items.first().map_or(1, |i| i.0.n_features);
    let mut x = vec![0.0f32; b * steps * d];
    let mut mask = vec![0.0f32; b * steps];
    for (k, (m, _, _)) in items.iter().enumerate() {
        let n = m.n_frames.min(steps);
        x[k * steps * d..k * steps * d + n * d].copy_from_slice(&m.data[..n * d]);
        mask[k * steps..k * steps + n].fill(1.0);
    }
    let emotions: Vec<i64> = items.iter().map(|i| i.1.index() as i64).collect();
    let intensities: Vec<i64> = items
        .iter()
        .map(|i| i.2.map_or(0, |v| v.index() as i64))
        .collect();
    let known: Vec<f32> = items
        .iter()
        .map(|i| if i.2.is_some() { 1.0 } else { 0.0 })
        .collect();
    Batch {
        inputs: Tensor::from_data(TensorData::new(x, [b, steps, d]), device),
        mask: Tensor::from_data(TensorData::new(mask, [b, steps, 1]), device),
        emotions: Tensor::from_data(TensorData::new(emotions, [b]), device),
        intensities: Tensor::from_data(TensorData::new(intensities, [b]), device),
        intensity_known: Tensor::from_data(TensorData::new(known, [b]), device),
    }
}

/// Mean cross-entropy of `logits` `[batch, classes]` against `targets`, each example weighted
/// by `weights` (`None`: all 1); the mean is over the total weight.
pub fn cross_entropy(
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    weights: Option<Tensor<1>>,
) -> Tensor<1> {
    let [b, _] = logits.dims();
    let picked: Tensor<1> = log_softmax(logits, 1)
        .gather(1, targets.reshape([b, 1]))
        .reshape([b]);
    match weights {
        Some(w) => {
            let total = w.clone().sum().add_scalar(1e-6);
            (picked * w).sum().neg() / total
        }
        None => picked.mean().neg(),
    }
}

/// Per-epoch figures.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training emotion accuracy (with dropout, on augmented data).
    pub train_accuracy: f64,
    /// Validation loss.
    pub valid_loss: f64,
    /// Validation emotion accuracy.
    pub valid_accuracy: f64,
}

/// Predictions of the model on examples: emotion probabilities and intensity probabilities.
#[derive(Debug, Clone)]
pub struct Predictions {
    /// `[n][8]` emotion probabilities.
    pub emotion: Vec<[f32; Emotion::COUNT]>,
    /// `[n][2]` intensity probabilities.
    pub intensity: Vec<[f32; Intensity::COUNT]>,
}

/// Runs `model` (inference mode) over normalised inputs in batches.
#[must_use]
pub fn predict(
    model: &EmotionModel,
    inputs: &[&FeatureMatrix],
    batch_size: usize,
    device: &Device,
) -> Predictions {
    let mut out = Predictions {
        emotion: Vec::with_capacity(inputs.len()),
        intensity: Vec::with_capacity(inputs.len()),
    };
    for chunk in inputs.chunks(batch_size.max(1)) {
        let items: Vec<_> = chunk.iter().map(|m| (*m, Emotion::Neutral, None)).collect();
        let batch = make_batch(&items, device);
        let o = model.forward(batch.inputs, batch.mask);
        let e = burn::tensor::activation::softmax(o.emotion, 1).into_data();
        let i = burn::tensor::activation::softmax(o.intensity, 1).into_data();
        let e: Vec<f32> = e.try_to_vec::<f32>().unwrap_or_default();
        let i: Vec<f32> = i.try_to_vec::<f32>().unwrap_or_default();
        for row in e.chunks_exact(Emotion::COUNT) {
            let mut a = [0.0; Emotion::COUNT];
            a.copy_from_slice(row);
            out.emotion.push(a);
        }
        for row in i.chunks_exact(Intensity::COUNT) {
            let mut a = [0.0; Intensity::COUNT];
            a.copy_from_slice(row);
            out.intensity.push(a);
        }
    }
    out
}

/// What a training run produced.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The best model by validation accuracy (inference mode).
    pub model: EmotionModel,
    /// Every epoch's figures.
    pub history: Vec<EpochMetrics>,
    /// Epoch of the kept model.
    pub best_epoch: usize,
    /// Whether the run was stopped from outside.
    pub interrupted: bool,
}

/// Trains on `train` (already augmented; unnormalised), selecting on `valid`.
///
/// Each training example is normalised with its speaker's statistics with probability
/// `speaker_norm_probability`, else with the global ones; validation uses per-speaker
/// statistics. `on_epoch` sees each epoch's metrics and returns `false` to stop (Ctrl-C);
/// `on_step` is called after each optimisation step with the running loss.
pub fn train(
    config: &TrainingConfig,
    train: &[Example],
    valid: &[Example],
    norm: &Normaliser,
    device: &Device,
    mut on_step: impl FnMut(usize, usize, f64),
    mut on_epoch: impl FnMut(&EpochMetrics) -> bool,
) -> TrainOutcome {
    let ad_device = device.clone().autodiff();
    ad_device.seed(config.seed);
    let mut model = config.model.init(&ad_device);
    let mut optim = AdamConfig::new().init();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let valid_norm: Vec<FeatureMatrix> = valid
        .iter()
        .map(|e| normalised(&e.features, norm.stats(&e.speaker, true)))
        .collect();
    let mut best: Option<(f64, f64, usize, EmotionModel)> = None;
    let mut history = Vec::new();
    let lengths: Vec<usize> = train.iter().map(|e| e.features.n_frames).collect();
    let mut interrupted = false;
    let steps_per_epoch = train.len().div_ceil(config.batch_size.max(1));
    for epoch in 1..=config.max_epochs {
        let batches = length_batches(&lengths, config.batch_size, config.length_pool, &mut rng);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (step, chunk) in batches.iter().enumerate() {
            let normed: Vec<FeatureMatrix> = chunk
                .iter()
                .map(|&i| {
                    let e = &train[i];
                    let per_speaker = rand::Rng::random_bool(
                        &mut rng,
                        config.speaker_norm_probability.clamp(0.0, 1.0),
                    );
                    normalised(&e.features, norm.stats(&e.speaker, per_speaker))
                })
                .collect();
            let items: Vec<_> = normed
                .iter()
                .zip(chunk)
                .map(|(m, &i)| (m, train[i].emotion, train[i].intensity))
                .collect();
            let batch = make_batch(&items, &ad_device);
            let out = model.forward(batch.inputs, batch.mask);
            let predicted = out.emotion.clone().argmax(1).reshape([chunk.len()]);
            let hits: Vec<i64> = predicted
                .equal(batch.emotions.clone())
                .int()
                .into_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .unwrap_or_default();
            correct += hits.iter().filter(|&&h| h != 0).count();
            seen += chunk.len();
            let loss = cross_entropy(out.emotion, batch.emotions, None)
                + cross_entropy(
                    out.intensity,
                    batch.intensities,
                    Some(batch.intensity_known),
                )
                .mul_scalar(config.intensity_weight);
            let value = f64::from(loss.clone().into_scalar::<f32>());
            loss_sum += value * chunk.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.learning_rate, model, grads);
            on_step(step + 1, steps_per_epoch, loss_sum / seen as f64);
        }
        let inference = model.valid();
        let (valid_loss, valid_accuracy) =
            evaluate_loss(&inference, &valid_norm, valid, config, &device.clone());
        let metrics = EpochMetrics {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            valid_loss,
            valid_accuracy,
        };
        history.push(metrics);
        let better = match &best {
            None => true,
            Some((acc, loss, _, _)) => {
                valid_accuracy > *acc || (valid_accuracy == *acc && valid_loss < *loss)
            }
        };
        if better {
            best = Some((valid_accuracy, valid_loss, epoch, inference));
        }
        if !on_epoch(&metrics) {
            interrupted = true;
            break;
        }
        if let Some((_, _, best_epoch, _)) = &best
            && epoch - best_epoch >= config.patience
        {
            break;
        }
    }
    let (model, best_epoch) = match best {
        Some((_, _, epoch, m)) => (m, epoch),
        None => (model.valid(), 0),
    };
    TrainOutcome {
        model,
        history,
        best_epoch,
        interrupted,
    }
}

/// One epoch's batches of indices into `lengths`: the indices shuffled, cut into pools of
/// `pool` batches, each pool sorted by length and cut into batches of `batch_size`, and the
/// batches shuffled. Every index appears exactly once.
pub fn length_batches(
    lengths: &[usize],
    batch_size: usize,
    pool: usize,
    rng: &mut impl rand::Rng,
) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.shuffle(rng);
    let mut batches: Vec<Vec<usize>> = Vec::with_capacity(order.len().div_ceil(batch_size));
    for group in order.chunks_mut(batch_size * pool.max(1)) {
        group.sort_by_key(|&i| lengths[i]);
        batches.extend(group.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    batches
}

/// Normalised copy of `m`.
#[must_use]
pub fn normalised(m: &FeatureMatrix, stats: &NormStats) -> FeatureMatrix {
    let mut m = m.clone();
    stats.apply(&mut m);
    m
}

fn evaluate_loss(
    model: &EmotionModel,
    inputs: &[FeatureMatrix],
    examples: &[Example],
    config: &TrainingConfig,
    device: &Device,
) -> (f64, f64) {
    if inputs.is_empty() {
        return (0.0, 0.0);
    }
    let refs: Vec<&FeatureMatrix> = inputs.iter().collect();
    let p = predict(model, &refs, config.batch_size.max(1) * 2, device);
    let mut loss = 0.0f64;
    let mut correct = 0usize;
    for (probs, e) in p.emotion.iter().zip(examples) {
        let k = e.emotion.index();
        loss -= f64::from(probs[k].max(1e-7)).ln();
        let best = (0..Emotion::COUNT)
            .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
            .unwrap_or(0);
        correct += usize::from(best == k);
    }
    (
        loss / examples.len() as f64,
        correct as f64 / examples.len() as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_batches_cover_every_example_once_and_group_lengths() {
        let lengths: Vec<usize> = (0..1000).map(|i| (i * 7919) % 200 + 1).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let batches = length_batches(&lengths, 32, 8, &mut rng);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 32));
        // Padding: steps run (the longest in each batch) against a plain shuffle's.
        let padded = |bs: &[Vec<usize>]| -> usize {
            bs.iter()
                .map(|b| b.iter().map(|&i| lengths[i]).max().unwrap_or(0) * b.len())
                .sum()
        };
        let plain = length_batches(&lengths, 32, 1, &mut rng);
        let (grouped, plain) = (padded(&batches), padded(&plain));
        assert!(
            grouped * 10 < plain * 7,
            "grouped {grouped} vs plain {plain}"
        );
        // Reproducible for a seed.
        let again = length_batches(&lengths, 32, 8, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(again, batches);
    }
}
