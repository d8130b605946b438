//! A player's own copy of the network's upper layers: the dense layer and the emotion head,
//! fine-tuned on the player's confirmed samples ([`UpperCopy::fine_tune`]) and used in place
//! of the shipped ones for that player (`docs/adaptation.md`, "The player's own weight copy").
//!
//! The LSTM layers stay the shipped ones, so a voice head's descriptors (the first layer's
//! mean output) do not move; the copy is trained from the shipped weights on the last LSTM
//! states of the player's samples, with the anchor set (the training speakers' utterances)
//! replayed in every step so the copy keeps what the network learnt from them. Intensity
//! stays the shipped network's. The copy runs as plain `f32` arithmetic over the top
//! layer's last state, or its pooled outputs for a network with attention pooling, or both
//! side by side (the dense layer's input, [`crate::model::FastNetwork::forward_analysed`]).
//!
//! A copy speaks only for the emotions the player confirmed ([`UpperCopy::heard`]): for the
//! others [`UpperCopy::beside`] hands back the network's probability, as the voice head's
//! fusion does, so a player who never acts an emotion does not have it learnt away (the
//! cross-entropy over the player's samples pushes every emotion they never confirmed down;
//! `docs/adaptation.md`, "Emotions a player never confirms").

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::labels::Emotion;
use crate::model::{EmotionModel, FastNetworkError, LinearValues};

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
    /// Seed of the dropout masks: the same samples and seed give the same copy.
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
    /// The emotions among the samples it was fine-tuned on (every emotion for a copy not
    /// fine-tuned).
    heard: [bool; Emotion::COUNT],
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
            heard: [true; Emotion::COUNT],
        })
    }

    /// This copy fine-tuned on the player's top-layer `states` labelled `labels`, with the
    /// anchors' `anchor_states` labelled `anchor_labels` in every step: full-batch Adam (burn's
    /// defaults: 0.9, 0.999, 1e-5) on the weighted cross-entropy of the emotion head, each of
    /// the player's emotions weighing the same however often it was confirmed (as in the
    /// voice head) and the anchors [`UpperTuning::anchor_weight`] together. Dropout with
    /// probability `dropout` (the network's) on the state and on the dense layer's output, as
    /// the network trains, drawn from a generator seeded with [`UpperTuning::seed`]. Plain
    /// `f32` arithmetic: no allocation per step, nothing shared between players. The copy
    /// returned has heard the emotions among `labels` ([`UpperCopy::heard`]). Returns this
    /// copy unchanged for no samples, labels that do not match the rows, or rows of another
    /// width.
    #[must_use]
    pub fn fine_tune(
        &self,
        dropout: f64,
        (states, labels): (&[&[f32]], &[Emotion]),
        (anchor_states, anchor_labels): (&[&[f32]], &[Emotion]),
        tuning: &UpperTuning,
    ) -> UpperCopy {
        let (d, u, k) = (self.inputs, self.units, Emotion::COUNT);
        if labels.is_empty()
            || labels.len() != states.len()
            || anchor_labels.len() != anchor_states.len()
            || states.iter().chain(anchor_states).any(|r| r.len() != d)
            || !self.is_consistent()
        {
            return self.clone();
        }
        let weights = sample_weights(labels, anchor_labels.len(), tuning.anchor_weight);
        let rows: Vec<(&[f32], usize, f32)> = states
            .iter()
            .chain(anchor_states)
            .zip(labels.iter().chain(anchor_labels))
            .zip(weights)
            .map(|((r, e), w)| (*r, e.index(), w))
            .collect();
        let total: f32 = rows.iter().map(|r| r.2).sum::<f32>() + 1e-6;
        let keep = (1.0 - dropout.clamp(0.0, 1.0)) as f32;
        let mut rng = ChaCha8Rng::seed_from_u64(tuning.seed);
        // A value's factor: kept and scaled by 1 / keep, or dropped.
        let mask = |rng: &mut ChaCha8Rng| {
            if keep >= 1.0 {
                1.0
            } else if rng.random::<f32>() < keep {
                1.0 / keep
            } else {
                0.0
            }
        };
        let mut copy = self.clone();
        copy.heard = Emotion::ALL.map(|e| labels.contains(&e));
        let mut grads = [
            vec![0.0f32; d * u],
            vec![0.0f32; u],
            vec![0.0f32; u * k],
            vec![0.0f32; k],
        ];
        let mut adam = AdamState::new(&grads);
        let (mut x, mut pre, mut z, mut mask_z, mut dz) = (
            vec![0.0f32; d],
            vec![0.0f32; u],
            vec![0.0f32; u],
            vec![0.0f32; u],
            vec![0.0f32; u],
        );
        for step in 1..=tuning.steps {
            for g in &mut grads {
                g.fill(0.0);
            }
            let [gdw, gdb, gew, geb] = &mut grads;
            for &(row, target, weight) in &rows {
                for (xi, &r) in x.iter_mut().zip(row) {
                    *xi = r * mask(&mut rng);
                }
                pre.copy_from_slice(&copy.dense_bias);
                for (&xi, w) in x.iter().zip(copy.dense_weight.chunks_exact(u)) {
                    if xi != 0.0 {
                        for (p, &w) in pre.iter_mut().zip(w) {
                            *p += xi * w;
                        }
                    }
                }
                for ((zi, mi), &p) in z.iter_mut().zip(&mut mask_z).zip(&pre) {
                    *mi = mask(&mut rng);
                    *zi = p.max(0.0) * *mi;
                }
                let mut logits = [0.0f32; Emotion::COUNT];
                logits.copy_from_slice(&copy.emotion_bias);
                for (&zi, w) in z.iter().zip(copy.emotion_weight.chunks_exact(k)) {
                    for (l, &w) in logits.iter_mut().zip(w) {
                        *l += zi * w;
                    }
                }
                // d(loss)/d(logits) = weight / total * (softmax - one-hot).
                let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut g = logits.map(|l| (l - max).exp());
                let sum: f32 = g.iter().sum();
                for (c, gc) in g.iter_mut().enumerate() {
                    *gc = (*gc / sum - f32::from(u8::from(c == target))) * weight / total;
                }
                for (b, &gc) in geb.iter_mut().zip(&g) {
                    *b += gc;
                }
                for (((&zi, gw), w), dzi) in z
                    .iter()
                    .zip(gew.chunks_exact_mut(k))
                    .zip(copy.emotion_weight.chunks_exact(k))
                    .zip(&mut dz)
                {
                    for (gw, &gc) in gw.iter_mut().zip(&g) {
                        *gw += zi * gc;
                    }
                    *dzi = w.iter().zip(&g).map(|(w, g)| w * g).sum();
                }
                // Through the dropout mask and the ReLU.
                for ((dzi, &p), &m) in dz.iter_mut().zip(&pre).zip(&mask_z) {
                    *dzi = if p > 0.0 { *dzi * m } else { 0.0 };
                }
                for (b, &dzi) in gdb.iter_mut().zip(&dz) {
                    *b += dzi;
                }
                for (&xi, gw) in x.iter().zip(gdw.chunks_exact_mut(u)) {
                    if xi != 0.0 {
                        for (gw, &dzi) in gw.iter_mut().zip(&dz) {
                            *gw += xi * dzi;
                        }
                    }
                }
            }
            let params: [&mut Vec<f32>; 4] = [
                &mut copy.dense_weight,
                &mut copy.dense_bias,
                &mut copy.emotion_weight,
                &mut copy.emotion_bias,
            ];
            adam.step(step, tuning.learning_rate as f32, params, &grads);
        }
        copy
    }

    /// Values of the top LSTM layer's state it reads.
    #[must_use]
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Which emotions (in the order of [`Emotion::ALL`]) were among the samples it was
    /// fine-tuned on: those it speaks for in [`UpperCopy::beside`].
    #[must_use]
    pub fn heard(&self) -> &[bool; Emotion::COUNT] {
        &self.heard
    }

    /// Whether `other` has this copy's shape (a saved copy against the base network's).
    #[must_use]
    pub fn same_shape(&self, other: &UpperCopy) -> bool {
        self.inputs == other.inputs && self.units == other.units
    }

    /// Whether the copy's weights have the sizes its shape says.
    fn has_its_sizes(&self) -> bool {
        self.dense_weight.len() == self.inputs * self.units
            && self.dense_bias.len() == self.units
            && self.emotion_weight.len() == self.units * Emotion::COUNT
            && self.emotion_bias.len() == Emotion::COUNT
    }

    /// Whether the copy's weights have the sizes its shape says and are all finite (a
    /// damaged saved copy may not be).
    #[must_use]
    pub fn is_consistent(&self) -> bool {
        self.has_its_sizes()
            && self
                .dense_weight
                .iter()
                .chain(&self.dense_bias)
                .chain(&self.emotion_weight)
                .chain(&self.emotion_bias)
                .all(|v| v.is_finite())
    }

    /// The emotion logits for the top layer's last state `last`; `None` for a state of
    /// another width or weights of the wrong sizes (their values are checked where a copy
    /// is loaded, [`UpperCopy::is_consistent`]).
    #[must_use]
    pub fn logits(&self, last: &[f32]) -> Option<[f32; Emotion::COUNT]> {
        if last.len() != self.inputs || !self.has_its_sizes() {
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

    /// What the copy says beside the `network`'s own probabilities for the same utterance
    /// (`last` its top layer's last state): the network's share of the emotions the copy
    /// heard, split among them as the copy's probabilities are; the network's probability
    /// for every other emotion. With every emotion heard, [`UpperCopy::probabilities`].
    /// `None` as for [`UpperCopy::logits`].
    #[must_use]
    pub fn beside(
        &self,
        last: &[f32],
        network: &[f32; Emotion::COUNT],
    ) -> Option<[f32; Emotion::COUNT]> {
        let own = self.probabilities(last)?;
        if self.heard.iter().all(|&h| h) {
            return Some(own);
        }
        let heard = || (0..Emotion::COUNT).filter(|&k| self.heard[k]);
        let share: f32 = heard().map(|k| network[k]).sum();
        let mass: f32 = heard().map(|k| own[k]).sum();
        let mut out = *network;
        if mass > 0.0 {
            for k in heard() {
                out[k] = share * own[k] / mass;
            }
        }
        Some(out)
    }
}

/// The loss weight of each of the player's samples labelled `labels`, then of each of
/// `n_anchors` anchors: each emotion the player confirmed weighs the same in total, however
/// often it was confirmed (as in the voice head), and the anchors `anchor_weight` together.
pub(crate) fn sample_weights(labels: &[Emotion], n_anchors: usize, anchor_weight: f32) -> Vec<f32> {
    let mut count = [0usize; Emotion::COUNT];
    for e in labels {
        count[e.index()] += 1;
    }
    let heard = count.iter().filter(|&&c| c > 0).count().max(1) as f32;
    labels
        .iter()
        .map(|e| 1.0 / (heard * count[e.index()] as f32))
        .chain(std::iter::repeat_n(
            anchor_weight / n_anchors.max(1) as f32,
            n_anchors,
        ))
        .collect()
}

/// A weight copy as profile format 5 saved it: without [`UpperCopy::heard`]. Read to skip
/// it (the copy is fitted again from the samples at load); written only by tests.
#[derive(Serialize, Deserialize)]
pub(crate) struct UpperCopyV5 {
    inputs: usize,
    units: usize,
    dense_weight: Vec<f32>,
    dense_bias: Vec<f32>,
    emotion_weight: Vec<f32>,
    emotion_bias: Vec<f32>,
}

impl From<&UpperCopy> for UpperCopyV5 {
    fn from(c: &UpperCopy) -> Self {
        Self {
            inputs: c.inputs,
            units: c.units,
            dense_weight: c.dense_weight.clone(),
            dense_bias: c.dense_bias.clone(),
            emotion_weight: c.emotion_weight.clone(),
            emotion_bias: c.emotion_bias.clone(),
        }
    }
}

/// Adam's moments for the copy's four parameter groups.
struct AdamState {
    m: [Vec<f32>; 4],
    v: [Vec<f32>; 4],
}

impl AdamState {
    fn new(grads: &[Vec<f32>; 4]) -> Self {
        let zeros = || grads.clone().map(|g| vec![0.0; g.len()]);
        Self {
            m: zeros(),
            v: zeros(),
        }
    }

    /// One step (`step` from 1) as burn's `Adam` takes it: `p -= lr * m̂ / (sqrt(v̂) + ε)`.
    fn step(&mut self, step: usize, lr: f32, params: [&mut Vec<f32>; 4], grads: &[Vec<f32>; 4]) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        const EPS: f32 = 1e-5;
        let t = i32::try_from(step).unwrap_or(i32::MAX);
        let (c1, c2) = (1.0 - B1.powi(t), 1.0 - B2.powi(t));
        for (((p, g), m), v) in params
            .into_iter()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *m = B1 * *m + (1.0 - B1) * g;
                *v = B2 * *v + (1.0 - B2) * g * g;
                *p -= lr * (*m / c1) / ((*v / c2).sqrt() + EPS);
            }
        }
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
        let values: Vec<f32> = refs.iter().flat_map(|r| r.iter().copied()).collect();
        let states = burn::tensor::Tensor::from_data(
            burn::tensor::TensorData::new(values, [refs.len(), 6]),
            &device,
        );
        let burn: Vec<f32> = model
            .heads(states)
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
        let mut cut = copy.clone();
        cut.dense_bias.pop();
        assert!(!cut.is_consistent());
        assert_eq!(cut.logits(&state(6, 0.0)), None);
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

    #[test]
    fn fine_tuning_learns_the_players_labels_the_same_way_each_time() {
        let base = UpperCopy::from_values(
            (
                (0..6 * 5)
                    .map(|i| ((i * 7) as f32 * 0.13).sin() * 0.5)
                    .collect(),
                vec![0.1; 5],
                6,
                5,
            ),
            (
                (0..5 * Emotion::COUNT)
                    .map(|i| ((i * 3) as f32 * 0.29).cos() * 0.5)
                    .collect(),
                vec![0.0; Emotion::COUNT],
                5,
                Emotion::COUNT,
            ),
        )
        .unwrap();
        let rows: Vec<Vec<f32>> = (0..8).map(|k| state(6, k as f32 * 1.3)).collect();
        let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        let labels = vec![Emotion::Sad; 8];
        let tuning = UpperTuning {
            steps: 100,
            learning_rate: 1e-2,
            ..UpperTuning::default()
        };
        let tune = |anchor_weight: f32| {
            let anchors = [Emotion::Happy; 2];
            base.fine_tune(
                0.3,
                (&refs, &labels),
                (&refs[..2], &anchors),
                &UpperTuning {
                    anchor_weight,
                    ..tuning
                },
            )
        };
        let sad = |c: &UpperCopy| -> f32 {
            rows.iter()
                .map(|r| c.probabilities(r).unwrap()[Emotion::Sad.index()])
                .sum::<f32>()
                / 8.0
        };
        let tuned = tune(0.0);
        assert!(tuned.same_shape(&base));
        assert!(
            sad(&tuned) > sad(&base) + 0.3,
            "{} vs {}",
            sad(&tuned),
            sad(&base)
        );
        assert_eq!(tune(0.0), tuned, "the same samples and seed, the same copy");
        assert!(sad(&tune(10.0)) < sad(&tuned), "anchors hold it back");
        // No samples, labels that do not match, rows of another width: unchanged.
        assert_eq!(base.fine_tune(0.3, (&[], &[]), (&[], &[]), &tuning), base);
        assert_eq!(
            base.fine_tune(0.3, (&refs, &labels[..3]), (&[], &[]), &tuning),
            base
        );
        let short = [&rows[0][..5]];
        assert_eq!(
            base.fine_tune(0.3, (&short, &labels[..1]), (&[], &[]), &tuning),
            base
        );
    }

    #[test]
    fn a_copy_speaks_only_for_the_emotions_it_heard() {
        let base = UpperCopy::from_values(
            (
                (0..6 * 5).map(|i| ((i * 5) as f32 * 0.11).sin()).collect(),
                vec![0.1; 5],
                6,
                5,
            ),
            (
                (0..5 * Emotion::COUNT)
                    .map(|i| ((i * 3) as f32 * 0.23).cos())
                    .collect(),
                vec![0.0; Emotion::COUNT],
                5,
                Emotion::COUNT,
            ),
        )
        .unwrap();
        assert!(
            base.heard().iter().all(|&h| h),
            "an unchanged copy: every emotion"
        );
        let rows: Vec<Vec<f32>> = (0..6).map(|k| state(6, k as f32 * 0.9)).collect();
        let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        let labels = [Emotion::Sad, Emotion::Angry, Emotion::Sad];
        let anchors = [Emotion::Calm, Emotion::Happy, Emotion::Surprised];
        let tuned = base.fine_tune(
            0.0,
            (&refs[..3], &labels),
            (&refs[3..], &anchors),
            &UpperTuning::default(),
        );
        let heard: Vec<Emotion> = Emotion::ALL
            .into_iter()
            .filter(|e| tuned.heard()[e.index()])
            .collect();
        assert_eq!(
            heard,
            [Emotion::Sad, Emotion::Angry],
            "the player's, not the anchors'"
        );
        let network = [0.05, 0.1, 0.2, 0.25, 0.15, 0.1, 0.05, 0.1];
        for row in &rows {
            let own = tuned.probabilities(row).unwrap();
            let out = tuned.beside(row, &network).unwrap();
            assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            let (sad, angry) = (Emotion::Sad.index(), Emotion::Angry.index());
            for e in Emotion::ALL.map(Emotion::index) {
                if e != sad && e != angry {
                    assert_eq!(out[e], network[e], "the network's for an emotion not heard");
                }
            }
            // The network's share of the two, split as the copy splits them.
            assert!((out[sad] + out[angry] - (network[sad] + network[angry])).abs() < 1e-6);
            assert!((out[sad] / out[angry] - own[sad] / own[angry]).abs() < 1e-4);
        }
        // Every emotion heard: the copy's own probabilities.
        assert_eq!(
            base.beside(&rows[0], &network),
            base.probabilities(&rows[0])
        );
        assert_eq!(base.beside(&rows[0][..5], &network), None);
    }
}
