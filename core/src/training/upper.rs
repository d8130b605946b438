//! A player's own copy of the network's upper layers, fine-tuned on their confirmed samples:
//! what `trainer adapt-eval --fine-tune` measures on top of the voice head
//! (`docs/adaptation.md`, "The player's own weight copy"). The engine does not use it.
//!
//! The LSTM layers stay the shipped ones, so a voice head's descriptors (the first layer's
//! mean output) do not move; the copy is the dense layer and both heads, trained from the
//! shipped weights on the last LSTM states of the player's samples, with the anchor set (the
//! training speakers' utterances) replayed in every step so the copy keeps what the network
//! learnt from them.

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;

use crate::features::FeatureMatrix;
use crate::labels::Emotion;
use crate::model::{EmotionModel, pad};
use crate::training::cross_entropy;

/// How the copy is fine-tuned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpperTuning {
    /// Full-batch Adam steps.
    pub steps: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Total weight of the anchors in the loss, relative to the player's samples (which
    /// weigh 1 together, each emotion equally).
    pub anchor_weight: f32,
    /// Seed of the dropout masks: the device's random generator is seeded with it before
    /// fine-tuning, so the same samples give the same copy.
    pub seed: u64,
}

impl Default for UpperTuning {
    fn default() -> Self {
        Self {
            steps: 60,
            learning_rate: 1e-3,
            anchor_weight: 1.0,
            seed: 1,
        }
    }
}

/// The last LSTM states (the dense layer's input), one row of `hidden_2` values per input, of
/// already-normalised model inputs, without autodiff.
#[must_use]
pub fn last_states(
    model: &EmotionModel,
    inputs: &[&FeatureMatrix],
    device: &Device,
) -> Vec<Vec<f32>> {
    if inputs.is_empty() {
        return Vec::new();
    }
    let padded = pad(inputs, device);
    let first = model.first_layer(padded.inputs);
    let states = model.embedding_from_first_layer(first, padded.mask);
    let [n, width] = states.dims();
    let values: Vec<f32> = states.into_data().try_to_vec::<f32>().unwrap_or_default();
    if values.len() != n * width || width == 0 {
        return Vec::new();
    }
    values.chunks_exact(width).map(<[f32]>::to_vec).collect()
}

fn matrix(rows: &[&[f32]], device: &Device) -> Tensor<2> {
    let width = rows.first().map_or(0, |r| r.len());
    let values: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(values, [rows.len(), width]), device)
}

/// A copy of `base` whose dense layer and heads are fine-tuned on the player's last LSTM
/// `states` (from [`last_states`]) labelled `labels`, with the anchors' `anchor_states`
/// labelled `anchor_labels` in every step. Each of the player's emotions weighs the same in
/// the loss however often it was confirmed (as in the voice head). Dropout stays on while
/// fine-tuning (seeded by [`UpperTuning::seed`]). Returns `base` unchanged for no samples, labels that do not match the rows,
/// or rows of differing widths.
#[must_use]
pub fn fine_tune_upper(
    base: &EmotionModel,
    (states, labels): (&[&[f32]], &[Emotion]),
    (anchor_states, anchor_labels): (&[&[f32]], &[Emotion]),
    tuning: &UpperTuning,
    device: &Device,
) -> EmotionModel {
    let width = states.first().map_or(0, |r| r.len());
    if labels.is_empty()
        || labels.len() != states.len()
        || anchor_labels.len() != anchor_states.len()
        || states.iter().chain(anchor_states).any(|r| r.len() != width)
    {
        return base.clone();
    }
    let autodiff = device.clone().autodiff();
    autodiff.seed(tuning.seed);
    let mut count = [0usize; Emotion::COUNT];
    for e in labels {
        count[e.index()] += 1;
    }
    let heard = count.iter().filter(|&&c| c > 0).count().max(1) as f32;
    let mut weights: Vec<f32> = labels
        .iter()
        .map(|e| 1.0 / (heard * count[e.index()] as f32))
        .collect();
    let n_anchors = anchor_labels.len();
    weights.extend(std::iter::repeat_n(
        tuning.anchor_weight / n_anchors.max(1) as f32,
        n_anchors,
    ));
    let targets: Vec<i64> = labels
        .iter()
        .chain(anchor_labels)
        .map(|e| e.index() as i64)
        .collect();
    let n = targets.len();
    let rows: Vec<&[f32]> = states.iter().chain(anchor_states).copied().collect();
    let x = matrix(&rows, &autodiff);
    let targets: Tensor<1, Int> = Tensor::from_data(TensorData::new(targets, [n]), &autodiff);
    let weights: Tensor<1> = Tensor::from_data(TensorData::new(weights, [n]), &autodiff);
    let mut model = base.clone().fork(&autodiff).train();
    let mut optim = AdamConfig::new().init();
    for _ in 0..tuning.steps {
        let out = model.heads(x.clone());
        let loss = cross_entropy(out.emotion, targets.clone(), Some(weights.clone()));
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(tuning.learning_rate, model, grads);
    }
    model.valid().to_device(device)
}

/// Emotion probabilities (softmax) of `model`'s heads on last LSTM `states`.
#[must_use]
pub fn head_probabilities(
    model: &EmotionModel,
    states: &[&[f32]],
    device: &Device,
) -> Vec<[f32; Emotion::COUNT]> {
    if states.is_empty() {
        return Vec::new();
    }
    let logits = model.valid().heads(matrix(states, device)).emotion;
    let p = burn::tensor::activation::softmax(logits, 1);
    let values: Vec<f32> = p.into_data().try_to_vec::<f32>().unwrap_or_default();
    values
        .chunks_exact(Emotion::COUNT)
        .map(|c| {
            let mut row = [0.0; Emotion::COUNT];
            row.copy_from_slice(c);
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EmotionModelConfig, default_device};

    /// Fine-tuning moves the copy's predictions towards the player's labels (here every
    /// sample labelled Sad), leaves the LSTM layers as they were, and the anchors hold it back.
    #[test]
    fn the_copy_learns_the_player_and_keeps_the_lstm() {
        let device = default_device();
        device.seed(3);
        let base = EmotionModelConfig::new(6).with_dropout(0.3).init(&device);
        let inputs: Vec<FeatureMatrix> = (0..6)
            .map(|k| FeatureMatrix {
                data: (0..5 * 6)
                    .map(|i| ((i * 7 + k * 3) as f32 * 0.31).sin())
                    .collect(),
                n_frames: 5,
                n_features: 6,
            })
            .collect();
        let refs: Vec<&FeatureMatrix> = inputs.iter().collect();
        let all = last_states(&base, &refs, &device);
        let rows: Vec<&[f32]> = all.iter().map(Vec::as_slice).collect();
        let (states, anchors) = rows.split_at(4);
        let labels = [Emotion::Sad; 4];
        let anchor_labels = [Emotion::Happy, Emotion::Angry];
        let tuning = UpperTuning {
            steps: 40,
            learning_rate: 1e-2,
            anchor_weight: 0.0,
            seed: 5,
        };
        let sad = |m: &EmotionModel| -> f32 {
            head_probabilities(m, states, &device)
                .iter()
                .map(|p| p[Emotion::Sad.index()])
                .sum::<f32>()
                / 4.0
        };
        let anchors_in = (anchors, &anchor_labels[..]);
        let tune = |weight: f32| {
            let tuning = UpperTuning {
                anchor_weight: weight,
                ..tuning
            };
            fine_tune_upper(&base, (states, &labels), anchors_in, &tuning, &device)
        };
        // (Reading the base initialises its lazily created weights, which draws from the
        // generator the seed resets.)
        let base_sad = sad(&base);
        let free = tune(0.0);
        // The same samples and seed give the same copy (dropout is on).
        assert_eq!(
            head_probabilities(&free, states, &device),
            head_probabilities(&tune(0.0), states, &device)
        );
        assert!(sad(&free) > base_sad + 0.3, "{} vs {base_sad}", sad(&free),);
        // The LSTM layers are the base's: the same last states.
        assert_eq!(last_states(&free, &refs, &device), all);
        // Anchors weighing ten times the player's samples pull towards their labels.
        let held = tune(10.0);
        assert!(sad(&held) < sad(&free), "{} vs {}", sad(&held), sad(&free));
        // No samples, or labels that do not match the rows: the base.
        for same in [
            fine_tune_upper(&base, (&[], &[]), anchors_in, &tuning, &device),
            fine_tune_upper(&base, (states, &labels[..3]), anchors_in, &tuning, &device),
        ] {
            assert_eq!(sad(&same), base_sad);
        }
    }
}
