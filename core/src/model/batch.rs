//! Padding normalised inputs into batches, and running the network over them.

use super::*;
use crate::features::FeatureMatrix;

/// Normalised feature matrices padded to the longest, on a device.
#[derive(Debug, Clone)]
pub struct Padded {
    /// `[batch, steps, n_features]`.
    pub inputs: Tensor<3>,
    /// `[batch, steps, 1]`, 1.0 on valid steps.
    pub mask: Tensor<3>,
}

/// Pads already-normalised feature matrices (all of the same width) into one batch; an empty
/// list gives a batch of zero rows of one step.
#[must_use]
pub fn pad(inputs: &[&FeatureMatrix], device: &Device) -> Padded {
    let b = inputs.len();
    let steps = inputs.iter().map(|m| m.n_frames).max().unwrap_or(1).max(1);
    let d = inputs.first().map_or(1, |m| m.n_features);
    let mut x = vec![0.0f32; b * steps * d];
    let mut mask = vec![0.0f32; b * steps];
    for (k, m) in inputs.iter().enumerate() {
        let n = m.n_frames.min(steps);
        x[k * steps * d..k * steps * d + n * d].copy_from_slice(&m.data[..n * d]);
        mask[k * steps..k * steps + n].fill(1.0);
    }
    Padded {
        inputs: Tensor::from_data(TensorData::new(x, [b, steps, d]), device),
        mask: Tensor::from_data(TensorData::new(mask, [b, steps, 1]), device),
    }
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
        let batch = pad(chunk, device);
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

/// Normalised copy of `m`.
#[must_use]
pub fn normalised(m: &FeatureMatrix, stats: &NormStats) -> FeatureMatrix {
    let mut m = m.clone();
    stats.apply(&mut m);
    m
}

/// Emotion probabilities recalibrated at softmax temperature `t`: `softmax(ln p / t)`, the
/// same as dividing the logits by `t` (a temperature above 1 softens over-confident
/// predictions; the ranking never changes). `t` that is not finite and positive leaves `p` as
/// it is.
#[must_use]
pub fn with_temperature<const N: usize>(p: [f32; N], t: f64) -> [f32; N] {
    if !(t.is_finite() && t > 0.0) || (t - 1.0).abs() < 1e-12 {
        return p;
    }
    let logits = p.map(|v| f64::from(v.max(1e-30)).ln() / t);
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp = logits.map(|l| (l - max).exp());
    let sum: f64 = exp.iter().sum();
    exp.map(|e| (e / sum) as f32)
}
