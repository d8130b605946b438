//! A player's own copy of the network's upper layers: the dense layer and the emotion head,
//! fine-tuned on the player's confirmed samples ([`UpperCopy::fine_tune`]) and used in place
//! of the shipped ones for that player (`docs/adaptation.md`, "The player's own weight copy").
//!
//! The LSTM layers stay the shipped ones, so a voice head's descriptors (the first layer's
//! mean output) do not move; the copy is trained from the shipped weights on the last LSTM
//! states of the player's samples, with the anchor set (the training speakers' utterances)
//! replayed in every step so the copy keeps what the network learnt from them. Intensity
//! stays the shipped network's. The copy runs as plain `f32` arithmetic over the top
//! layer's last state ([`crate::model::FastNetwork::forward_analysed`]).

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::labels::Emotion;
use crate::model::{EmotionModel, FastNetworkError, LinearValues, cross_entropy};

/// How a copy is fine-tuned.
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

/// `rows` (all of one width) as a `[rows, width]` tensor.
pub(crate) fn matrix(rows: &[&[f32]], device: &Device) -> Tensor<2> {
    let width = rows.first().map_or(0, |r| r.len());
    let values: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(values, [rows.len(), width]), device)
}

/// A player's copy of the dense layer and the emotion head, as plain row-major weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpperCopy {
    /// Values of the top LSTM layer's state it reads.
    inputs: usize,
    /// Units of the dense layer.
    units: usize,
    /// `[inputs][units]`.
    dense_weight: Vec<f32>,
    dense_bias: Vec<f32>,
    /// `[units][Emotion::COUNT]`.
    emotion_weight: Vec<f32>,
    emotion_bias: Vec<f32>,
}

impl UpperCopy {
    /// `model`'s own dense layer and emotion head (an unchanged copy).
    ///
    /// # Errors
    /// [`FastNetworkError`] if burn cannot hand back a weight as `f32`, or the layers'
    /// shapes do not chain (the dense layer's outputs are not the head's inputs, or the head
    /// has not one output per emotion).
    pub fn from_model(model: &EmotionModel) -> Result<Self, FastNetworkError> {
        let (dense, emotion) = model.upper_values()?;
        Self::from_values(dense, emotion)
    }

    /// A copy of the dense layer `dense` and the emotion head `emotion`, each as
    /// [`LinearValues`] (row-major weight `[inputs][outputs]`, bias, inputs, outputs).
    ///
    /// # Errors
    /// [`FastNetworkError::Shape`] when the values do not fill the shapes given, the dense
    /// layer's outputs are not the head's inputs, or the head has not one output per emotion.
    pub fn from_values(
        (dense_weight, dense_bias, inputs, units): LinearValues,
        (emotion_weight, emotion_bias, head_inputs, outputs): LinearValues,
    ) -> Result<Self, FastNetworkError> {
        for (layer, found, expected) in [
            ("dense", dense_weight.len(), inputs * units),
            ("dense", dense_bias.len(), units),
            ("emotion_head", emotion_weight.len(), head_inputs * outputs),
            ("emotion_head", emotion_bias.len(), outputs),
        ] {
            if found != expected {
                return Err(FastNetworkError::Shape {
                    layer,
                    expected,
                    found,
                });
            }
        }
        if head_inputs != units {
            return Err(FastNetworkError::Shape {
                layer: "emotion_head",
                expected: units,
                found: head_inputs,
            });
        }
        if outputs != Emotion::COUNT {
            return Err(FastNetworkError::Shape {
                layer: "emotion_head",
                expected: Emotion::COUNT,
                found: outputs,
            });
        }
        Ok(Self {
            inputs,
            units,
            dense_weight,
            dense_bias,
            emotion_weight,
            emotion_bias,
        })
    }

    /// A copy of `base`'s upper layers fine-tuned on the player's samples:
    /// [`fine_tune_upper`], then [`UpperCopy::from_model`].
    ///
    /// # Errors
    /// As [`UpperCopy::from_model`].
    pub fn fine_tune(
        base: &EmotionModel,
        samples: (&[&[f32]], &[Emotion]),
        anchors: (&[&[f32]], &[Emotion]),
        tuning: &UpperTuning,
        device: &Device,
    ) -> Result<Self, FastNetworkError> {
        Self::from_model(&fine_tune_upper(base, samples, anchors, tuning, device))
    }

    /// Values of the top LSTM layer's state it reads.
    #[must_use]
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Whether `other` has this copy's shape (a saved copy against the base network's).
    #[must_use]
    pub fn same_shape(&self, other: &UpperCopy) -> bool {
        self.inputs == other.inputs && self.units == other.units
    }

    /// Whether the copy's weights have the sizes its shape says (a damaged saved copy does
    /// not).
    #[must_use]
    pub fn is_consistent(&self) -> bool {
        self.dense_weight.len() == self.inputs * self.units
            && self.dense_bias.len() == self.units
            && self.emotion_weight.len() == self.units * Emotion::COUNT
            && self.emotion_bias.len() == Emotion::COUNT
            && self
                .dense_weight
                .iter()
                .chain(&self.dense_bias)
                .chain(&self.emotion_weight)
                .chain(&self.emotion_bias)
                .all(|v| v.is_finite())
    }

    /// The emotion logits for the top layer's last state `last`; `None` for a state of
    /// another width or an inconsistent copy.
    #[must_use]
    pub fn logits(&self, last: &[f32]) -> Option<[f32; Emotion::COUNT]> {
        if last.len() != self.inputs || !self.is_consistent() {
            return None;
        }
        let mut hidden = self.dense_bias.clone();
        for (&x, row) in last.iter().zip(self.dense_weight.chunks_exact(self.units)) {
            for (h, &w) in hidden.iter_mut().zip(row) {
                *h += x * w;
            }
        }
        let mut logits = [0.0f32; Emotion::COUNT];
        logits.copy_from_slice(&self.emotion_bias);
        for (&h, row) in hidden
            .iter()
            .zip(self.emotion_weight.chunks_exact(Emotion::COUNT))
        {
            let h = h.max(0.0);
            for (l, &w) in logits.iter_mut().zip(row) {
                *l += h * w;
            }
        }
        Some(logits)
    }

    /// The emotion probabilities (plain softmax of [`UpperCopy::logits`]).
    #[must_use]
    pub fn probabilities(&self, last: &[f32]) -> Option<[f32; Emotion::COUNT]> {
        let logits = self.logits(last)?;
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp = logits.map(|l| f64::from(l - max).exp());
        let sum: f64 = exp.iter().sum();
        Some(exp.map(|e| (e / sum) as f32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EmotionModelConfig, default_device};

    fn state(width: usize, seed: f32) -> Vec<f32> {
        (0..width).map(|i| (i as f32 * 0.7 + seed).sin()).collect()
    }

    #[test]
    fn an_unchanged_copy_gives_the_networks_own_emotion_logits() {
        let device = default_device();
        let model = EmotionModelConfig::new(12)
            .with_hidden_1(8)
            .with_hidden_2(6)
            .with_dense(5)
            .init(&device);
        let copy = UpperCopy::from_model(&model).unwrap();
        assert_eq!(copy.inputs(), 6);
        let rows: Vec<Vec<f32>> = (0..3).map(|k| state(6, k as f32)).collect();
        let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        let burn: Vec<f32> = model
            .heads(matrix(&refs, &device))
            .emotion
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (row, expected) in rows.iter().zip(burn.chunks_exact(Emotion::COUNT)) {
            let ours = copy.logits(row).unwrap();
            for (a, b) in ours.iter().zip(expected) {
                assert!((a - b).abs() < 1e-5, "{ours:?} vs {expected:?}");
            }
            let p = copy.probabilities(row).unwrap();
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        // A state of another width, or damaged weights: no opinion.
        assert_eq!(copy.logits(&state(5, 0.0)), None);
        let mut damaged = copy.clone();
        damaged.dense_bias[0] = f32::NAN;
        assert!(!damaged.is_consistent());
        assert_eq!(damaged.logits(&state(6, 0.0)), None);
    }

    #[test]
    fn values_that_do_not_fill_their_shapes_are_refused() {
        let head = (vec![0.0; 2 * Emotion::COUNT], vec![0.0; Emotion::COUNT]);
        let ok = UpperCopy::from_values(
            (vec![0.0; 6], vec![0.0; 2], 3, 2),
            (head.0.clone(), head.1.clone(), 2, Emotion::COUNT),
        );
        assert!(ok.is_ok());
        for (dense, emotion) in [
            (
                (vec![0.0; 5], vec![0.0; 2], 3, 2),
                (head.0.clone(), head.1.clone(), 2, Emotion::COUNT),
            ),
            (
                (vec![0.0; 6], vec![0.0; 2], 3, 2),
                (
                    vec![0.0; 3 * Emotion::COUNT],
                    head.1.clone(),
                    3,
                    Emotion::COUNT,
                ),
            ),
            (
                (vec![0.0; 6], vec![0.0; 2], 3, 2),
                (vec![0.0; 14], vec![0.0; 7], 2, 7),
            ),
        ] {
            assert!(matches!(
                UpperCopy::from_values(dense, emotion),
                Err(FastNetworkError::Shape { .. })
            ));
        }
    }
}
