//! The player's own copy of the upper layers through burn: what `trainer adapt-eval
//! --fine-tune` measured before the copy shipped, and the reference the engine's plain `f32`
//! fine-tuning ([`crate::player::copy::UpperCopy::fine_tune`]) is checked against.

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;

use crate::features::FeatureMatrix;
use crate::labels::Emotion;
use crate::model::{EmotionModel, cross_entropy, pad};
pub use crate::player::copy::UpperTuning;
use crate::player::copy::sample_weights;

/// The last LSTM states, or their attention pooling, or both (the dense layer's input), one row per input, of
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

/// A copy of `base` whose dense layer and heads are fine-tuned on the player's last LSTM
/// `states` (the dense layer's inputs) labelled `labels`, with the anchors' `anchor_states`
/// labelled `anchor_labels` in every step. Each of the player's emotions weighs the same in
/// the loss however often it was confirmed (as in the voice head). Dropout stays on while
/// fine-tuning (seeded by [`UpperTuning::seed`]). Returns `base` unchanged for no samples,
/// labels that do not match the rows, or rows of differing widths.
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
    let weights = sample_weights(labels, anchor_labels.len(), tuning.anchor_weight);
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

/// `rows` (all of one width) as a `[rows, width]` tensor.
pub(crate) fn matrix(rows: &[&[f32]], device: &Device) -> Tensor<2> {
    let width = rows.first().map_or(0, |r| r.len());
    let values: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(values, [rows.len(), width]), device)
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

// Its test, `core/tests/upper_tuning.rs`, runs in a process of its own: it checks that the same
// seed gives the same copy, and burn's random generator is shared by every test of a process.
