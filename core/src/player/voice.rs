//! A player's **voice head**: how *this* player sounds in each emotion, learnt from the
//! utterances they confirmed, and combined with the network's judgement.
//!
//! The network hears an utterance the way it learnt from its training speakers. The voice head
//! compares it with the player's own confirmed utterances instead, the way a friend knows
//! how you sound when you are sad:
//! - Each utterance is summed up by a **descriptor** ([`describe`]): the mean of the first
//!   LSTM layer's outputs over the utterance (what the network hears, frame by frame) and the
//!   per-coefficient mean and standard deviation of its normalised MFCCs and deltas (pitch
//!   and timbre level and spread).
//! - Descriptors are **standardised with the player's own mean and spread** (over their
//!   confirmed utterances, blended with those of the training speakers while there are few),
//!   so what counts is how an utterance differs from the player's usual voice.
//! - **Intensity is projected out**: the directions along which the training speakers' strong
//!   utterances differ from their normal ones, emotion by emotion ([`DescriptorPrior::new`]),
//!   are removed before fitting. Otherwise a player who confirmed a strong "angry" and only a
//!   normal "happy" would have a strong "happy" heard as angry: loudness would stand in for
//!   the emotion.
//! - A multinomial **logistic regression without intercepts** over the emotions the player
//!   has confirmed maps the standardised descriptor to emotion probabilities
//!   ([`VoiceHead::fit`]). Each emotion counts equally in the loss whatever its number of
//!   samples, and there are no per-emotion biases: how often a player confirms an emotion is
//!   not evidence that they sound like it (the network keeps its own prior). The L2 penalty
//!   shrinks as samples accumulate (sklearn's `C`: `|W|² / (2 C n)` on the mean loss).
//! - [`fuse`] combines both as a product of experts, `w · log p_network + log p_voice`, within
//!   the emotions the player has confirmed: it redistributes the network's probability of
//!   those emotions among them and leaves the others as the network has them, so an emotion
//!   the player never confirmed is neither favoured nor suppressed.
//!
//! Everything here is plain `f32` arithmetic: the fit is a small convex problem (a few
//! hundred weights per emotion, at most a few hundred samples) that takes milliseconds.

use serde::{Deserialize, Serialize};

use crate::features::FeatureMatrix;
use crate::labels::{Emotion, Intensity};

/// Errors of fitting a voice head.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VoiceError {
    /// Fewer than two emotions among the samples: nothing to tell apart.
    #[error("samples of {found} emotion(s); a voice head needs at least 2")]
    TooFewEmotions {
        /// Distinct emotions among the samples.
        found: usize,
    },
    /// Descriptors of different widths, or as many labels as descriptors.
    #[error("descriptor of {found} values, expected {expected}")]
    Width {
        /// The width expected (the first descriptor's, or the number of descriptors).
        expected: usize,
        /// The width found.
        found: usize,
    },
    /// A descriptor holds NaN or an infinity.
    #[error("descriptor {index} holds a non-finite value")]
    NonFinite {
        /// Which descriptor.
        index: usize,
    },
}

/// The descriptor of one utterance (see the module docs): `first_layer_mean` (the mean of the
/// first LSTM layer's outputs over its steps) followed by the mean and standard deviation of
/// each of the `per_frame` coefficients of the normalised model `input` over all its frames
/// (a model step stacks `input.n_features / per_frame` frames).
#[must_use]
pub fn describe(first_layer_mean: &[f32], input: &FeatureMatrix, per_frame: usize) -> Vec<f32> {
    let per_frame = per_frame.max(1);
    let mut sum = vec![0.0f64; per_frame];
    let mut sum_sq = vec![0.0f64; per_frame];
    let mut n = 0usize;
    for frame in input.data.chunks_exact(per_frame) {
        for ((s, q), &v) in sum.iter_mut().zip(&mut sum_sq).zip(frame) {
            let v = f64::from(v);
            *s += v;
            *q += v * v;
        }
        n += 1;
    }
    describe_sums(first_layer_mean, &sum, &sum_sq, n)
}

/// [`describe`] from the sums it accumulates: per coefficient, the sum and sum of squares of
/// the `n` frames' values (in `f64`, frame after frame), for a caller that saw the frames as
/// they came ([`super::adapt::UtteranceStream`]).
#[must_use]
pub fn describe_sums(first_layer_mean: &[f32], sum: &[f64], sum_sq: &[f64], n: usize) -> Vec<f32> {
    let n = n.max(1) as f64;
    let mut out = Vec::with_capacity(first_layer_mean.len() + 2 * sum.len());
    out.extend_from_slice(first_layer_mean);
    out.extend(sum.iter().map(|s| (s / n) as f32));
    out.extend(
        sum.iter()
            .zip(sum_sq)
            .map(|(s, q)| ((q / n - (s / n) * (s / n)).max(0.0)).sqrt() as f32),
    );
    out
}

/// What the training speakers' descriptors (the shipped anchor set) tell a player's voice
/// head: their mean and standard deviation, the prior a player's own standardisation starts
/// from, and the directions of intensity.
#[derive(Debug, Clone, PartialEq)]
pub struct DescriptorPrior {
    mean: Vec<f32>,
    std: Vec<f32>,
    /// Orthonormal directions, in standardised units, along which strong utterances differ
    /// from normal ones.
    intensity: Vec<Vec<f32>>,
}

impl DescriptorPrior {
    /// The prior of labelled descriptors (`None` when there are none or their widths differ).
    /// For each emotion with utterances of both intensities, the difference of the mean
    /// standardised descriptor of its strong and normal ones is an intensity direction; they
    /// are made orthonormal (Gram-Schmidt), leaving out those that add nothing new.
    #[must_use]
    pub fn new(descriptors: &[(Vec<f32>, Emotion, Option<Intensity>)]) -> Option<Self> {
        let d = descriptors.first()?.0.len();
        if descriptors.iter().any(|x| x.0.len() != d) {
            return None;
        }
        let (mean, var) = moments(descriptors.iter().map(|x| x.0.as_slice()), d, None);
        let std: Vec<f32> = var.iter().map(|v| v.sqrt() + 1e-3).collect();
        let standard = |x: &[f32]| -> Vec<f32> {
            x.iter()
                .zip(&mean)
                .zip(&std)
                .map(|((v, m), s)| (v - m) / s)
                .collect()
        };
        let mut intensity: Vec<Vec<f32>> = Vec::new();
        for emotion in Emotion::ALL {
            let centre = |level: Intensity| -> Option<Vec<f32>> {
                let rows: Vec<Vec<f32>> = descriptors
                    .iter()
                    .filter(|x| x.1 == emotion && x.2 == Some(level))
                    .map(|x| standard(&x.0))
                    .collect();
                let n = rows.len();
                (n > 0).then(|| {
                    (0..d)
                        .map(|j| rows.iter().map(|r| r[j]).sum::<f32>() / n as f32)
                        .collect()
                })
            };
            let (Some(strong), Some(normal)) =
                (centre(Intensity::Strong), centre(Intensity::Normal))
            else {
                continue;
            };
            let mut v: Vec<f32> = strong.iter().zip(&normal).map(|(a, b)| a - b).collect();
            let norm = dot(&v, &v).sqrt();
            for u in &intensity {
                let c = dot(&v, u);
                v.iter_mut().zip(u).for_each(|(x, y)| *x -= c * y);
            }
            let rest = dot(&v, &v).sqrt();
            if norm > 0.0 && rest > 1e-3 * norm {
                v.iter_mut().for_each(|x| *x /= rest);
                intensity.push(v);
            }
        }
        Some(Self {
            mean,
            std,
            intensity,
        })
    }

    /// How many intensity directions it found.
    #[must_use]
    pub fn intensity_directions(&self) -> usize {
        self.intensity.len()
    }

    /// Width of the descriptors.
    #[must_use]
    pub fn width(&self) -> usize {
        self.mean.len()
    }
}

/// Per-feature mean and variance of `rows` (each `d` wide), blended with `prior` counted as
/// `weight` rows.
fn moments<'a>(
    rows: impl Iterator<Item = &'a [f32]> + Clone,
    d: usize,
    prior: Option<(&DescriptorPrior, f32)>,
) -> (Vec<f32>, Vec<f32>) {
    let mut sum = vec![0.0f64; d];
    let mut n = 0.0f64;
    for r in rows.clone() {
        for (s, &v) in sum.iter_mut().zip(r) {
            *s += f64::from(v);
        }
        n += 1.0;
    }
    let (w, prior) = match prior {
        Some((p, w)) if p.width() == d && w > 0.0 => (f64::from(w), Some(p)),
        _ => (0.0, None),
    };
    let total = (n + w).max(1.0);
    let mean: Vec<f64> = match prior {
        Some(p) => sum
            .iter()
            .zip(&p.mean)
            .map(|(s, &m)| (s + w * f64::from(m)) / total)
            .collect(),
        None => sum.iter().map(|s| s / total).collect(),
    };
    let mut sq = vec![0.0f64; d];
    for r in rows {
        for ((q, &v), &m) in sq.iter_mut().zip(r).zip(&mean) {
            *q += (f64::from(v) - m).powi(2);
        }
    }
    if let Some(p) = prior {
        for (q, &s) in sq.iter_mut().zip(&p.std) {
            *q += w * f64::from(s).powi(2);
        }
    }
    (
        mean.iter().map(|&m| m as f32).collect(),
        sq.iter().map(|q| (q / total) as f32).collect(),
    )
}

/// How a voice head is fitted (part of [`crate::player::adapt::AdaptConfig`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoiceFit {
    /// Inverse regularisation strength, as sklearn's `C`: the L2 penalty on the mean loss is
    /// `|W|² / (2 C n)` for `n` samples.
    pub c: f32,
    /// Full-batch Adam steps.
    pub steps: usize,
    /// Adam learning rate.
    pub learning_rate: f32,
    /// How many utterances the training speakers' descriptor statistics count as in the
    /// player's standardisation.
    pub prior_weight: f32,
    /// Samples from which the head speaks at full strength; with fewer, its logits are
    /// scaled by `n / ramp` (0: always full).
    pub ramp: f32,
}

impl Default for VoiceFit {
    /// The fit of [`AdaptConfig`](crate::player::adapt::AdaptConfig)'s defaults.
    fn default() -> Self {
        crate::player::adapt::AdaptConfig::new().voice_fit()
    }
}

/// What a voice head makes of one utterance: log-probabilities among the emotions the player
/// confirmed (`heard`); the entries of the others are 0 and mean nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoiceOpinion {
    /// Log-probabilities, in the order of [`Emotion::ALL`], normalised over `heard`.
    pub log_probs: [f32; Emotion::COUNT],
    /// Which emotions the voice head knows.
    pub heard: [bool; Emotion::COUNT],
}

/// A player's voice head (see the module docs). Saved in the player's profile.
///
/// Deserialising checks that the parts fit together and are finite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "VoiceHeadParts")]
pub struct VoiceHead {
    /// The emotions the player confirmed, ascending; the rows of `weights`.
    classes: Vec<Emotion>,
    /// Standardisation: `z = (x - mean) * inv_std`.
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    /// `classes.len() x width`, row-major, acting on `z` (the intensity directions are
    /// already projected out of each row).
    weights: Vec<f32>,
}

/// The serialised fields of [`VoiceHead`], checked before they become one.
#[derive(Deserialize)]
struct VoiceHeadParts {
    classes: Vec<Emotion>,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    weights: Vec<f32>,
}

impl TryFrom<VoiceHeadParts> for VoiceHead {
    type Error = String;

    fn try_from(p: VoiceHeadParts) -> Result<Self, Self::Error> {
        let (k, d) = (p.classes.len(), p.mean.len());
        if !(2..=Emotion::COUNT).contains(&k) || !p.classes.is_sorted_by(|a, b| a < b) {
            return Err(format!(
                "voice head over {k} emotions, not 2 to 8 distinct ones in order"
            ));
        }
        if p.inv_std.len() != d || p.weights.len() != k * d {
            return Err(format!(
                "voice head parts do not fit: {d} means, {} scales, {} weights for {k} emotions",
                p.inv_std.len(),
                p.weights.len(),
            ));
        }
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        if !(finite(&p.mean) && finite(&p.inv_std) && finite(&p.weights)) {
            return Err("non-finite value in a voice head".to_owned());
        }
        Ok(Self {
            classes: p.classes,
            mean: p.mean,
            inv_std: p.inv_std,
            weights: p.weights,
        })
    }
}

impl VoiceHead {
    /// Fits a voice head to `descriptors` (all of one width) labelled `labels`, standardised
    /// with their own statistics blended with `prior` (see [`VoiceFit::prior_weight`]), with
    /// the prior's intensity directions projected out.
    ///
    /// # Errors
    /// [`VoiceError::TooFewEmotions`] with fewer than two distinct labels;
    /// [`VoiceError::Width`] for descriptors of different widths (or of another width than
    /// the prior's), or a label count that differs from the descriptor count;
    /// [`VoiceError::NonFinite`].
    pub fn fit(
        descriptors: &[&[f32]],
        labels: &[Emotion],
        prior: Option<&DescriptorPrior>,
        settings: &VoiceFit,
    ) -> Result<Self, VoiceError> {
        if labels.len() != descriptors.len() {
            return Err(VoiceError::Width {
                expected: descriptors.len(),
                found: labels.len(),
            });
        }
        let d = prior.map_or_else(|| descriptors.first().map_or(0, |x| x.len()), |p| p.width());
        for (index, x) in descriptors.iter().enumerate() {
            if x.len() != d {
                return Err(VoiceError::Width {
                    expected: d,
                    found: x.len(),
                });
            }
            if !x.iter().all(|v| v.is_finite()) {
                return Err(VoiceError::NonFinite { index });
            }
        }
        let mut classes: Vec<Emotion> = labels.to_vec();
        classes.sort();
        classes.dedup();
        if classes.len() < 2 {
            return Err(VoiceError::TooFewEmotions {
                found: classes.len(),
            });
        }
        let (mean, var) = moments(
            descriptors.iter().copied(),
            d,
            prior.map(|p| (p, settings.prior_weight)),
        );
        let inv_std: Vec<f32> = var.iter().map(|v| 1.0 / (v.sqrt() + 1e-3)).collect();
        let directions: &[Vec<f32>] = prior.map_or(&[], |p| &p.intensity);
        // Standardised inputs without their intensity components, `n x d`.
        let mut z = Vec::with_capacity(descriptors.len() * d);
        for x in descriptors {
            let mut row: Vec<f32> = x
                .iter()
                .zip(&mean)
                .zip(&inv_std)
                .map(|((v, m), s)| (v - m) * s)
                .collect();
            project_out(&mut row, directions);
            z.extend(row);
        }
        let target: Vec<usize> = labels
            .iter()
            .map(|e| classes.binary_search(e).unwrap_or(0))
            .collect();
        let mut head = Self {
            weights: vec![0.0; classes.len() * d],
            classes,
            mean,
            inv_std,
        };
        head.minimise(&z, &target, settings);
        // The rows learnt on projected inputs act on raw `z` once projected themselves
        // (the projection is symmetric): nothing else needs to be stored.
        for row in head.weights.chunks_exact_mut(d.max(1)) {
            project_out(row, directions);
        }
        if settings.ramp > 0.0 {
            let scale = (labels.len() as f32 / settings.ramp).min(1.0);
            head.weights.iter_mut().for_each(|w| *w *= scale);
        }
        Ok(head)
    }

    /// Full-batch Adam on the class-balanced mean cross-entropy plus `|W|² / (2 C n)`.
    fn minimise(&mut self, z: &[f32], target: &[usize], settings: &VoiceFit) {
        let (k, d, n) = (self.classes.len(), self.mean.len(), target.len());
        if n == 0 || d == 0 {
            return;
        }
        // Each emotion weighs as much as any other in the loss: weight n / (k * count).
        let mut count = vec![0usize; k];
        for &t in target {
            count[t] += 1;
        }
        let sample_weight: Vec<f32> = target
            .iter()
            .map(|&t| n as f32 / (k * count[t].max(1)) as f32 / n as f32)
            .collect();
        let lambda = 1.0 / (2.0 * settings.c.max(1e-6) * n as f32);
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let mut grad = vec![0.0f32; k * d];
        let (mut m, mut v) = (vec![0.0f32; k * d], vec![0.0f32; k * d]);
        let mut logits = vec![0.0f32; k];
        for step in 1..=settings.steps {
            grad.iter_mut().for_each(|g| *g = 0.0);
            for ((row, &t), &w) in z.chunks_exact(d).zip(target).zip(&sample_weight) {
                self.logits_into(row, &mut logits);
                softmax_in_place(&mut logits);
                logits[t] -= 1.0;
                // d(loss)/d logits = w * (p - onehot)
                for (c, &g) in logits.iter().enumerate() {
                    let g = g * w;
                    for (gw, &x) in grad[c * d..(c + 1) * d].iter_mut().zip(row) {
                        *gw += g * x;
                    }
                }
            }
            let (c1, c2) = (1.0 - b1.powi(step as i32), 1.0 - b2.powi(step as i32));
            let lr = settings.learning_rate;
            for (((p, &g), m), v) in self
                .weights
                .iter_mut()
                .zip(&grad)
                .zip(m.iter_mut())
                .zip(v.iter_mut())
            {
                let g = g + 2.0 * lambda * *p;
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
            }
        }
    }

    /// Logits over [`VoiceHead::classes`] of one standardised descriptor.
    fn logits_into(&self, z: &[f32], out: &mut [f32]) {
        let d = self.mean.len();
        for (c, o) in out.iter_mut().enumerate() {
            *o = dot(&self.weights[c * d..(c + 1) * d], z);
        }
    }

    /// The emotions the player confirmed.
    #[must_use]
    pub fn classes(&self) -> &[Emotion] {
        &self.classes
    }

    /// Width of the descriptors it takes.
    #[must_use]
    pub fn width(&self) -> usize {
        self.mean.len()
    }

    /// What the head makes of a descriptor; `None` for a descriptor of another width.
    #[must_use]
    pub fn opinion(&self, descriptor: &[f32]) -> Option<VoiceOpinion> {
        if descriptor.len() != self.width() {
            return None;
        }
        let z: Vec<f32> = descriptor
            .iter()
            .zip(&self.mean)
            .zip(&self.inv_std)
            .map(|((v, m), s)| (v - m) * s)
            .collect();
        let mut logits = vec![0.0f32; self.classes.len()];
        self.logits_into(&z, &mut logits);
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let lse = max + logits.iter().map(|l| (l - max).exp()).sum::<f32>().ln();
        let mut out = VoiceOpinion {
            log_probs: [0.0; Emotion::COUNT],
            heard: [false; Emotion::COUNT],
        };
        for (e, l) in self.classes.iter().zip(&logits) {
            out.log_probs[e.index()] = l - lse;
            out.heard[e.index()] = true;
        }
        Some(out)
    }
}

/// Removes from `v` its components along the orthonormal `directions`.
fn project_out(v: &mut [f32], directions: &[Vec<f32>]) {
    for u in directions {
        let c = dot(v, u);
        v.iter_mut().zip(u).for_each(|(x, y)| *x -= c * y);
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn softmax_in_place(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        total += *x;
    }
    for x in v.iter_mut() {
        *x /= total;
    }
}

/// Emotion probabilities of the network and a voice head together (see the module docs):
/// among the emotions the voice head heard, the network's share is split in proportion to
/// `p_network^network_weight · p_voice`; the other emotions keep the network's probability.
/// `voice` `None` gives the network's own probabilities.
#[must_use]
pub fn fuse(
    network: &[f32; Emotion::COUNT],
    voice: Option<&VoiceOpinion>,
    network_weight: f32,
) -> [f32; Emotion::COUNT] {
    let Some(voice) = voice else {
        return *network;
    };
    let share: f32 = (0..Emotion::COUNT)
        .filter(|&k| voice.heard[k])
        .map(|k| network[k])
        .sum();
    let mut score = [f32::NEG_INFINITY; Emotion::COUNT];
    for k in (0..Emotion::COUNT).filter(|&k| voice.heard[k]) {
        score[k] = network_weight * network[k].max(1e-30).ln() + voice.log_probs[k];
    }
    let max = score.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let total: f32 = score.iter().map(|s| (s - max).exp()).sum();
    let mut out = *network;
    for k in (0..Emotion::COUNT).filter(|&k| voice.heard[k]) {
        out[k] = share * (score[k] - max).exp() / total;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((*seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    }

    /// `per` noisy samples per emotion around distinct centres (emotion `i` high in feature
    /// `i`).
    fn clusters(emotions: &[Emotion], per: usize, d: usize) -> (Vec<Vec<f32>>, Vec<Emotion>) {
        let mut seed = 7;
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for (i, &e) in emotions.iter().enumerate() {
            for _ in 0..per {
                x.push(
                    (0..d)
                        .map(|j| if j == i { 3.0 } else { 0.0 } + lcg(&mut seed))
                        .collect(),
                );
                y.push(e);
            }
        }
        (x, y)
    }

    fn best(p: &[f32]) -> usize {
        (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap()
    }

    #[test]
    fn learns_separable_emotions_and_knows_which_it_heard() {
        let seen = [Emotion::Happy, Emotion::Sad, Emotion::Angry];
        let (x, y) = clusters(&seen, 5, 6);
        let refs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
        let head = VoiceHead::fit(&refs, &y, None, &VoiceFit::default()).unwrap();
        assert_eq!(head.classes(), &seen);
        for (xi, yi) in x.iter().zip(&y) {
            let o = head.opinion(xi).unwrap();
            let heard: Vec<usize> = (0..8).filter(|&k| o.heard[k]).collect();
            assert_eq!(heard, seen.map(Emotion::index));
            let top = heard
                .iter()
                .copied()
                .max_by(|&a, &b| o.log_probs[a].total_cmp(&o.log_probs[b]))
                .unwrap();
            assert_eq!(top, yi.index(), "{o:?}");
            let total: f32 = heard.iter().map(|&k| o.log_probs[k].exp()).sum();
            assert!((total - 1.0).abs() < 1e-4);
        }
        assert!(head.opinion(&[0.0; 5]).is_none());
    }

    #[test]
    fn the_fit_reaches_the_minimum_of_its_loss() {
        // Nudging any weight of a converged fit does not lower the class-balanced loss.
        let seen = [Emotion::Neutral, Emotion::Fearful, Emotion::Calm];
        let (mut x, mut y) = clusters(&seen, 4, 3);
        // Unbalanced: one more neutral sample.
        x.push(vec![2.5, 0.2, -0.1]);
        y.push(Emotion::Neutral);
        let refs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
        let fit = VoiceFit {
            steps: 4000,
            learning_rate: 0.01,
            ..VoiceFit::default()
        };
        let head = VoiceHead::fit(&refs, &y, None, &fit).unwrap();
        let loss = |h: &VoiceHead| -> f64 {
            let n = x.len() as f64;
            let count = |e: Emotion| y.iter().filter(|&&v| v == e).count() as f64;
            let ce: f64 = x
                .iter()
                .zip(&y)
                .map(|(xi, yi)| {
                    let w = n / (3.0 * count(*yi));
                    -w * f64::from(h.opinion(xi).unwrap().log_probs[yi.index()])
                })
                .sum::<f64>()
                / n;
            let l2: f64 = h.weights.iter().map(|w| f64::from(*w).powi(2)).sum();
            ce + l2 / (2.0 * f64::from(fit.c) * n)
        };
        let at = loss(&head);
        for i in 0..head.weights.len() {
            for delta in [-0.02f32, 0.02] {
                let mut h = head.clone();
                h.weights[i] += delta;
                assert!(
                    loss(&h) >= at - 1e-6,
                    "weight {i} {delta}: {} < {at}",
                    loss(&h)
                );
            }
        }
    }

    #[test]
    fn a_head_fitted_on_few_samples_speaks_softly() {
        let seen = [Emotion::Happy, Emotion::Sad];
        let fit = |per: usize, ramp: f32| {
            let (x, y) = clusters(&seen, per, 4);
            let refs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
            let settings = VoiceFit {
                ramp,
                ..VoiceFit::default()
            };
            (VoiceHead::fit(&refs, &y, None, &settings).unwrap(), x, y)
        };
        // Six samples of a ramp of 12: the same head at half strength.
        let (full, x, y) = fit(3, 0.0);
        let (soft, _, _) = fit(3, 12.0);
        for (f, s) in full.weights.iter().zip(&soft.weights) {
            assert!((s - 0.5 * f).abs() < 1e-6, "{s} {f}");
        }
        let top = |o: &VoiceOpinion| {
            let p = [o.log_probs[seen[0].index()], o.log_probs[seen[1].index()]];
            (best(&p), p[best(&p)].exp())
        };
        for (xi, yi) in x.iter().zip(&y) {
            let (f, s) = (
                top(&full.opinion(xi).unwrap()),
                top(&soft.opinion(xi).unwrap()),
            );
            assert_eq!(seen[f.0], *yi);
            assert_eq!(f.0, s.0);
            assert!(s.1 < f.1, "{s:?} {f:?}");
        }
        // From `ramp` samples on, full strength.
        let (full, _, _) = fit(6, 0.0);
        let (ramped, _, _) = fit(6, 12.0);
        assert_eq!(full, ramped);
    }

    #[test]
    fn how_often_an_emotion_was_confirmed_is_not_a_prior() {
        // Nine "sad" confirmations and one "happy", all of the same sound: the head has no
        // intercepts and weighs both emotions alike, so that sound stays undecided.
        let same = vec![0.5f32, -0.25, 1.0];
        let x: Vec<&[f32]> = (0..10).map(|_| same.as_slice()).collect();
        let mut y = vec![Emotion::Sad; 9];
        y.push(Emotion::Happy);
        let head = VoiceHead::fit(&x, &y, None, &VoiceFit::default()).unwrap();
        let o = head.opinion(&same).unwrap();
        let (sad, happy) = (
            o.log_probs[Emotion::Sad.index()],
            o.log_probs[Emotion::Happy.index()],
        );
        assert!((sad - happy).abs() < 1e-3, "sad {sad}, happy {happy}");
    }

    #[test]
    fn bad_input_is_an_error() {
        let a = [1.0f32, 2.0];
        let b = [1.0f32];
        let nan = [f32::NAN, 0.0];
        let fit = VoiceFit::default();
        assert_eq!(
            VoiceHead::fit(&[&a, &a], &[Emotion::Sad, Emotion::Sad], None, &fit),
            Err(VoiceError::TooFewEmotions { found: 1 })
        );
        assert!(matches!(
            VoiceHead::fit(&[&a, &b], &[Emotion::Sad, Emotion::Calm], None, &fit),
            Err(VoiceError::Width { .. })
        ));
        assert!(matches!(
            VoiceHead::fit(&[&a], &[Emotion::Sad, Emotion::Calm], None, &fit),
            Err(VoiceError::Width { .. })
        ));
        assert_eq!(
            VoiceHead::fit(&[&a, &nan], &[Emotion::Sad, Emotion::Calm], None, &fit),
            Err(VoiceError::NonFinite { index: 1 })
        );
        let prior = DescriptorPrior::new(&[(vec![0.0; 3], Emotion::Sad, None)]).unwrap();
        assert_eq!(
            VoiceHead::fit(
                &[&a, &a],
                &[Emotion::Sad, Emotion::Calm],
                Some(&prior),
                &fit
            ),
            Err(VoiceError::Width {
                expected: 3,
                found: 2
            })
        );
    }

    #[test]
    fn the_prior_steadies_a_few_samples() {
        let prior = DescriptorPrior::new(&[
            (vec![0.0, 0.0], Emotion::Sad, None),
            (vec![2.0, 4.0], Emotion::Happy, None),
        ])
        .unwrap();
        // One sample per emotion: alone their spread is zero in the second feature.
        let (a, b) = ([1.0f32, 5.0], [3.0f32, 5.0]);
        let labels = [Emotion::Sad, Emotion::Happy];
        let fit = VoiceFit::default();
        let with = VoiceHead::fit(&[&a, &b], &labels, Some(&prior), &fit).unwrap();
        let without = VoiceHead::fit(&[&a, &b], &labels, None, &fit).unwrap();
        assert!(with.inv_std[1] < 2.0, "{:?}", with.inv_std);
        assert!(without.inv_std[1] > 100.0, "{:?}", without.inv_std);
    }

    #[test]
    fn intensity_directions_are_projected_out() {
        // Training speakers: strong utterances are high in feature 0, whatever the emotion.
        let mut anchors = Vec::new();
        for (k, e) in [Emotion::Happy, Emotion::Angry, Emotion::Sad]
            .into_iter()
            .enumerate()
        {
            for (level, shift) in [(Intensity::Normal, 0.0), (Intensity::Strong, 4.0)] {
                for j in 0..3 {
                    let mut v = vec![shift, 0.0, 0.0, 0.0];
                    v[k + 1] = 2.0 + 0.1 * j as f32;
                    anchors.push((v, e, Some(level)));
                }
            }
        }
        let prior = DescriptorPrior::new(&anchors).unwrap();
        assert_eq!(prior.intensity_directions(), 1);
        // A player who confirmed a strong "angry" and a normal "happy": feature 0 is all that
        // tells them apart, and it is intensity, so the head learns nothing from it. (At full
        // strength: the ramp would only soften both heads.)
        let angry = [4.0f32, 0.0, 0.0, 0.0];
        let happy = [0.0f32, 0.0, 0.0, 0.0];
        let fit = VoiceFit {
            ramp: 0.0,
            ..VoiceFit::default()
        };
        let head = VoiceHead::fit(
            &[&angry, &happy],
            &[Emotion::Angry, Emotion::Happy],
            Some(&prior),
            &fit,
        )
        .unwrap();
        let strong_happy = head.opinion(&angry).unwrap();
        let gap = strong_happy.log_probs[Emotion::Angry.index()]
            - strong_happy.log_probs[Emotion::Happy.index()];
        assert!(gap.abs() < 0.05, "intensity leaked into the head: {gap}");
        // Without the prior the same head would call any loud utterance angry.
        let naive = VoiceHead::fit(
            &[&angry, &happy],
            &[Emotion::Angry, Emotion::Happy],
            None,
            &fit,
        )
        .unwrap()
        .opinion(&angry)
        .unwrap();
        assert!(
            naive.log_probs[Emotion::Angry.index()] > naive.log_probs[Emotion::Happy.index()] + 0.5
        );
    }

    #[test]
    fn fusion_refines_only_among_the_emotions_heard() {
        let mut net = [0.05f32; 8];
        net[Emotion::Sad.index()] = 0.4;
        net[Emotion::Calm.index()] = 0.25;
        net[Emotion::Happy.index()] = 0.1;
        assert_eq!(fuse(&net, None, 0.5), net);
        let mut voice = VoiceOpinion {
            log_probs: [0.0; 8],
            heard: [false; 8],
        };
        for (e, p) in [(Emotion::Calm, 0.9f32), (Emotion::Happy, 0.1)] {
            voice.log_probs[e.index()] = p.ln();
            voice.heard[e.index()] = true;
        }
        let p = fuse(&net, Some(&voice), 0.5);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{p:?}");
        // Calm and happy share the network's 0.35 between them; the rest is untouched.
        let calm_happy = p[Emotion::Calm.index()] + p[Emotion::Happy.index()];
        assert!((calm_happy - 0.35).abs() < 1e-5, "{p:?}");
        assert!(p[Emotion::Calm.index()] > 0.32, "{p:?}");
        assert_eq!(p[Emotion::Sad.index()], 0.4);
        assert_eq!(best(&p), Emotion::Sad.index());
        // All eight heard: a plain product of experts.
        voice.heard = [true; 8];
        voice.log_probs = [(0.1f32).ln(); 8];
        voice.log_probs[Emotion::Calm.index()] = (0.3f32).ln();
        let p = fuse(&net, Some(&voice), 0.5);
        assert_eq!(best(&p), Emotion::Calm.index(), "{p:?}");
    }

    #[test]
    fn a_damaged_head_is_refused_when_read() {
        let (x, y) = clusters(&[Emotion::Happy, Emotion::Sad], 3, 4);
        let refs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
        let head = VoiceHead::fit(&refs, &y, None, &VoiceFit::default()).unwrap();
        let json = serde_json::to_string(&head).unwrap();
        let back: VoiceHead = serde_json::from_str(&json).unwrap();
        assert_eq!(back, head);
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["weights"] = serde_json::json!([0.0]);
        assert!(serde_json::from_value::<VoiceHead>(v.clone()).is_err());
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["classes"] = serde_json::json!(["sad", "happy"]);
        assert!(serde_json::from_value::<VoiceHead>(v).is_err());
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["mean"][0] = serde_json::json!(1e39);
        assert!(serde_json::from_value::<VoiceHead>(v).is_err());
    }

    #[test]
    fn describe_takes_frame_means_and_spreads() {
        // Two steps of two stacked frames of 2 coefficients.
        let input = FeatureMatrix {
            data: vec![1.0, 10.0, 3.0, 10.0, 1.0, 20.0, 3.0, 20.0],
            n_frames: 2,
            n_features: 4,
        };
        let d = describe(&[0.5, -0.5], &input, 2);
        assert_eq!(d, vec![0.5, -0.5, 2.0, 15.0, 1.0, 5.0]);
    }
}
