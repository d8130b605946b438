//! Training examples, normalisation choices and labelled batches.

use std::collections::BTreeMap;

use burn::prelude::*;
use rand::seq::SliceRandom;

use crate::features::FeatureMatrix;
use crate::labels::{Emotion, Intensity};
use crate::model::{NormStats, Padded, pad};
use crate::training::dataset::EmotionSet;

/// What is added to the logit of an emotion a clip's corpus never labels before the
/// cross-entropy ([`Batch::emotion_penalty`]): its probability underflows to exactly 0, so
/// it neither adds to the loss nor receives a gradient.
pub const MASKED_LOGIT: f32 = -1.0e9;

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
    /// The emotions the example's corpus labels (always including `emotion`); the loss
    /// leaves the others out ([`Batch::emotion_penalty`]).
    pub classes: EmotionSet,
    /// What teacher models make of this example, for distillation
    /// ([`crate::model::DistillationConfig`]); `None`: no teachers.
    pub teacher: Option<TeacherTargets>,
}

/// Teachers' mean emotion probabilities for one training example, under each of the two
/// normalisations training draws between, so the target matches the input the network sees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TeacherTargets {
    /// With the speaker's own statistics.
    pub speaker: [f32; Emotion::COUNT],
    /// With the training set's (cold).
    pub cold: [f32; Emotion::COUNT],
}

impl TeacherTargets {
    /// The targets for one normalisation.
    #[must_use]
    pub fn for_normalisation(&self, per_speaker: bool) -> [f32; Emotion::COUNT] {
        if per_speaker { self.speaker } else { self.cold }
    }
}

/// Teacher probabilities `p` softened by `temperature` for the classes in `classes`:
/// `p^(1/T)`, renormalised to sum to 1 over those classes, 0 elsewhere. Probabilities that are
/// all 0 on `classes` (or not finite) give all 0: no target.
#[must_use]
pub fn softened(
    p: &[f32; Emotion::COUNT],
    classes: EmotionSet,
    temperature: f32,
) -> [f32; Emotion::COUNT] {
    let mut out = [0.0f32; Emotion::COUNT];
    let power = 1.0 / f64::from(temperature.max(1e-3));
    for e in classes.iter() {
        let v = f64::from(p[e.index()]);
        if v.is_finite() && v > 0.0 {
            out[e.index()] = v.powf(power) as f32;
        }
    }
    let total: f32 = out.iter().sum();
    if total > 0.0 && total.is_finite() {
        out.iter_mut().for_each(|v| *v /= total);
    } else {
        out = [0.0; Emotion::COUNT];
    }
    out
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
    /// Added to the emotion logits before the loss, `[batch, 8]`: 0 for the emotions each
    /// example's corpus labels, [`MASKED_LOGIT`] for the others. `None` when every example's
    /// corpus labels all eight (RAVDESS), so the loss is computed exactly as without masks.
    pub emotion_penalty: Option<Tensor<2>>,
}

/// A batch's labels on a device ([`Batch`] without its inputs).
#[derive(Debug, Clone)]
pub struct BatchLabels {
    /// Emotion indices, `[batch]`.
    pub emotions: Tensor<1, Int>,
    /// Intensity indices, `[batch]` (0 where unknown).
    pub intensities: Tensor<1, Int>,
    /// 1.0 where the intensity is known, `[batch]`.
    pub intensity_known: Tensor<1>,
    /// As [`Batch::emotion_penalty`].
    pub emotion_penalty: Option<Tensor<2>>,
}

/// Pads already-normalised feature matrices into a labelled batch: each item is its
/// features, emotion, intensity (if known) and the emotions its corpus labels.
#[must_use]
pub fn make_batch(
    items: &[(&FeatureMatrix, Emotion, Option<Intensity>, EmotionSet)],
    device: &Device,
) -> Batch {
    let inputs: Vec<&FeatureMatrix> = items.iter().map(|i| i.0).collect();
    let Padded { inputs, mask } = pad(&inputs, device);
    let BatchLabels {
        emotions,
        intensities,
        intensity_known,
        emotion_penalty,
    } = make_labels(items, device);
    Batch {
        inputs,
        mask,
        emotions,
        intensities,
        intensity_known,
        emotion_penalty,
    }
}

/// The labels of [`make_batch`]'s batch, without padding the inputs.
#[must_use]
pub fn make_labels(
    items: &[(&FeatureMatrix, Emotion, Option<Intensity>, EmotionSet)],
    device: &Device,
) -> BatchLabels {
    let b = items.len();
    let emotions: Vec<i64> = items.iter().map(|i| i.1.index() as i64).collect();
    let intensities: Vec<i64> = items
        .iter()
        .map(|i| i.2.map_or(0, |v| v.index() as i64))
        .collect();
    let known: Vec<f32> = items
        .iter()
        .map(|i| if i.2.is_some() { 1.0 } else { 0.0 })
        .collect();
    let emotion_penalty = items.iter().any(|i| !i.3.with(i.1).is_all()).then(|| {
        let penalty: Vec<f32> = items
            .iter()
            .flat_map(|i| {
                let classes = i.3.with(i.1);
                Emotion::ALL.map(|e| {
                    if classes.contains(e) {
                        0.0
                    } else {
                        MASKED_LOGIT
                    }
                })
            })
            .collect();
        Tensor::from_data(TensorData::new(penalty, [b, Emotion::COUNT]), device)
    });
    BatchLabels {
        emotion_penalty,
        emotions: Tensor::from_data(TensorData::new(emotions, [b]), device),
        intensities: Tensor::from_data(TensorData::new(intensities, [b]), device),
        intensity_known: Tensor::from_data(TensorData::new(known, [b]), device),
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
