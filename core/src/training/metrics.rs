//! Classification metrics: confusion matrix, per-class precision/recall/F1, accuracy,
//! unweighted accuracy and macro-F1, and the seed's text report.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::labels::Emotion;

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Of the clips predicted as this class, the fraction that were.
    pub precision: f64,
    /// Of the clips of this class, the fraction found.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Clips of this class.
    pub support: usize,
}

/// A confusion matrix over the 8 emotions: `counts[actual][predicted]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// `counts[actual][predicted]`.
    pub counts: [[usize; Emotion::COUNT]; Emotion::COUNT],
}

impl Confusion {
    /// Builds the matrix from (actual, predicted) pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (Emotion, Emotion)>) -> Self {
        let mut c = Self::default();
        for (a, p) in pairs {
            c.counts[a.index()][p.index()] += 1;
        }
        c
    }

    /// All clips.
    #[must_use]
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// Fraction correct.
    #[must_use]
    pub fn accuracy(&self) -> f64 {
        let correct: usize = (0..Emotion::COUNT).map(|k| self.counts[k][k]).sum();
        correct as f64 / self.total().max(1) as f64
    }

    /// Scores of each class.
    #[must_use]
    pub fn class_scores(&self) -> [ClassScores; Emotion::COUNT] {
        std::array::from_fn(|k| {
            let tp = self.counts[k][k] as f64;
            let support: usize = self.counts[k].iter().sum();
            let predicted: usize = (0..Emotion::COUNT).map(|a| self.counts[a][k]).sum();
            let precision = if predicted > 0 {
                tp / predicted as f64
            } else {
                0.0
            };
            let recall = if support > 0 {
                tp / support as f64
            } else {
                0.0
            };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassScores {
                precision,
                recall,
                f1,
                support,
            }
        })
    }

    /// Mean of `score` over the classes present (support > 0).
    fn mean_over_present(&self, score: fn(&ClassScores) -> f64) -> f64 {
        let present: Vec<f64> = self
            .class_scores()
            .iter()
            .filter(|c| c.support > 0)
            .map(score)
            .collect();
        present.iter().sum::<f64>() / present.len().max(1) as f64
    }

    /// Mean recall over the classes present (unweighted accuracy).
    #[must_use]
    pub fn unweighted_accuracy(&self) -> f64 {
        self.mean_over_present(|c| c.recall)
    }

    /// Mean F1 over the classes present.
    #[must_use]
    pub fn macro_f1(&self) -> f64 {
        self.mean_over_present(|c| c.f1)
    }

    /// The most predicted class and its share of all predictions (a collapsed model puts
    /// most utterances in one or two classes; a balanced test set gives 1/8 each).
    #[must_use]
    pub fn largest_share(&self) -> (Emotion, f64) {
        let predicted = |k: usize| {
            (0..Emotion::COUNT)
                .map(|a| self.counts[a][k])
                .sum::<usize>()
        };
        let k = (0..Emotion::COUNT)
            .max_by_key(|&k| predicted(k))
            .unwrap_or_default();
        (
            Emotion::ALL[k],
            predicted(k) as f64 / self.total().max(1) as f64,
        )
    }

    /// The seed-style report (as scikit-learn's `classification_report`), then the matrix.
    #[must_use]
    pub fn report(&self) -> String {
        let scores = self.class_scores();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>12} {:>9} {:>9} {:>9} {:>9}",
            "", "precision", "recall", "f1-score", "support"
        );
        let _ = writeln!(out);
        for (e, s) in Emotion::ALL.iter().zip(&scores) {
            let _ = writeln!(
                out,
                "{:>12} {:>9.2} {:>9.2} {:>9.2} {:>9}",
                e.name(),
                s.precision,
                s.recall,
                s.f1,
                s.support
            );
        }
        let total = self.total();
        let present: Vec<&ClassScores> = scores.iter().filter(|s| s.support > 0).collect();
        let n = present.len().max(1) as f64;
        let mean = |f: fn(&ClassScores) -> f64| present.iter().map(|s| f(s)).sum::<f64>() / n;
        let weighted = |f: fn(&ClassScores) -> f64| {
            present.iter().map(|s| f(s) * s.support as f64).sum::<f64>() / total.max(1) as f64
        };
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:>12} {:>9} {:>9} {:>9.2} {:>9}",
            "accuracy",
            "",
            "",
            self.accuracy(),
            total
        );
        let _ = writeln!(
            out,
            "{:>12} {:>9.2} {:>9.2} {:>9.2} {:>9}",
            "macro avg",
            mean(|s| s.precision),
            mean(|s| s.recall),
            mean(|s| s.f1),
            total
        );
        let _ = writeln!(
            out,
            "{:>12} {:>9.2} {:>9.2} {:>9.2} {:>9}",
            "weighted avg",
            weighted(|s| s.precision),
            weighted(|s| s.recall),
            weighted(|s| s.f1),
            total
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "confusion matrix (rows: actual, columns: predicted)");
        let _ = write!(out, "{:>12}", "");
        for e in Emotion::ALL {
            let _ = write!(out, " {:>5}", &e.name()[..5.min(e.name().len())]);
        }
        let _ = writeln!(out);
        for (e, row) in Emotion::ALL.iter().zip(&self.counts) {
            let _ = write!(out, "{:>12}", e.name());
            for v in row {
                let _ = write!(out, " {v:>5}");
            }
            let _ = writeln!(out);
        }
        out
    }
}

/// Bins of [`expected_calibration_error`] in reports (the usual 15).
pub const ECE_BINS: usize = 15;

/// Expected calibration error: predictions binned by confidence (the top probability) into
/// `bins` equal-width bins; the mean over bins of |accuracy − mean confidence|, weighted by
/// the bin's share of predictions. 0 is perfectly calibrated.
#[must_use]
pub fn expected_calibration_error(
    predictions: impl IntoIterator<Item = (f64, bool)>,
    bins: usize,
) -> f64 {
    let bins = reliability(predictions, bins);
    let total: usize = bins.iter().map(|b| b.count).sum();
    bins.iter()
        .filter(|b| b.count > 0)
        .map(|b| (b.count as f64 / total as f64) * (b.accuracy - b.mean_confidence).abs())
        .sum()
}

/// One confidence bin of a reliability diagram ([`reliability`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReliabilityBin {
    /// Predictions in the bin.
    pub count: usize,
    /// Their mean confidence (0 when empty).
    pub mean_confidence: f64,
    /// The share of them that were right (0 when empty).
    pub accuracy: f64,
}

/// A reliability diagram: `(confidence, right)` predictions in `bins` equal-width confidence
/// bins (as [`expected_calibration_error`] bins them), each bin's mean confidence against
/// its accuracy. A calibrated model has the two equal in every bin; a single temperature
/// moves every bin's confidence the same way, so it cannot fix a model that is
/// underconfident in some bins and overconfident in others.
#[must_use]
pub fn reliability(
    predictions: impl IntoIterator<Item = (f64, bool)>,
    bins: usize,
) -> Vec<ReliabilityBin> {
    let bins = bins.max(1);
    let mut out = vec![ReliabilityBin::default(); bins];
    for (c, ok) in predictions {
        let c = c.clamp(0.0, 1.0);
        let b = ((c * bins as f64).ceil() as usize).clamp(1, bins) - 1;
        out[b].count += 1;
        out[b].mean_confidence += c;
        out[b].accuracy += f64::from(u8::from(ok));
    }
    for b in &mut out {
        if b.count > 0 {
            b.mean_confidence /= b.count as f64;
            b.accuracy /= b.count as f64;
        }
    }
    out
}

/// What [`expected_calibration_error`] reads for a perfectly calibrated model with these
/// `confidences`: each prediction drawn right with probability equal to its confidence,
/// `draws` times (seeded, so the same every run). Returns the mean and the 90th percentile
/// over the draws. ECE is a mean of absolute differences, so on a few hundred predictions
/// it is well above 0 even for a perfect model: this is the floor a measured figure should be
/// read against.
#[must_use]
pub fn calibrated_ece_floor(
    confidences: &[f64],
    bins: usize,
    draws: usize,
    seed: u64,
) -> (f64, f64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut eces: Vec<f64> = (0..draws.max(1))
        .map(|_| {
            let drawn: Vec<(f64, bool)> = confidences
                .iter()
                .map(|&c| {
                    let c = c.clamp(0.0, 1.0);
                    (c, rng.random::<f64>() < c)
                })
                .collect();
            expected_calibration_error(drawn, bins)
        })
        .collect();
    eces.sort_by(f64::total_cmp);
    let mean = eces.iter().sum::<f64>() / eces.len() as f64;
    let p90 = eces[(eces.len() * 9 / 10).min(eces.len() - 1)];
    (mean, p90)
}

/// Mean negative log-likelihood of `labels` under `probabilities` recalibrated at
/// temperature `t` ([`crate::model::with_temperature`]).
#[must_use]
pub fn nll_at_temperature(
    probabilities: &[[f32; Emotion::COUNT]],
    labels: &[Emotion],
    t: f64,
) -> f64 {
    let n = probabilities.len().min(labels.len()).max(1) as f64;
    probabilities
        .iter()
        .zip(labels)
        .map(|(p, l)| {
            let q = crate::model::with_temperature(*p, t);
            -f64::from(q[l.index()].max(1e-12)).ln()
        })
        .sum::<f64>()
        / n
}

/// Temperature scaling (Guo et al. 2017): the softmax temperature in 0.05..=20 that
/// minimises the negative log-likelihood of `labels` (held-out speakers, never the test
/// set), by golden-section search on its logarithm. 1 when there is nothing to fit on.
#[must_use]
pub fn fit_temperature(probabilities: &[[f32; Emotion::COUNT]], labels: &[Emotion]) -> f64 {
    if probabilities.is_empty() || labels.is_empty() {
        return 1.0;
    }
    let f = |log_t: f64| nll_at_temperature(probabilities, labels, log_t.exp());
    let (mut a, mut b) = (0.05f64.ln(), 20f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..60 {
        if fc < fd {
            (b, d, fd) = (d, c, fc);
            c = b - g * (b - a);
            fc = f(c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    ((a + b) / 2.0).exp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Emotion::*;

    #[test]
    fn scores_match_a_hand_count() {
        let c = Confusion::from_pairs([
            (Happy, Happy),
            (Happy, Sad),
            (Sad, Sad),
            (Sad, Sad),
            (Angry, Happy),
        ]);
        assert_eq!(c.total(), 5);
        assert!((c.accuracy() - 0.6).abs() < 1e-12);
        let s = c.class_scores();
        assert!((s[Happy.index()].precision - 0.5).abs() < 1e-12);
        assert!((s[Happy.index()].recall - 0.5).abs() < 1e-12);
        assert!((s[Sad.index()].precision - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s[Angry.index()].f1, 0.0);
        // UA over the 3 present classes: (0.5 + 1 + 0) / 3.
        assert!((c.unweighted_accuracy() - 0.5).abs() < 1e-12);
        let r = c.report();
        assert!(r.contains("accuracy") && r.contains("macro avg") && r.contains("weighted avg"));
        assert_eq!(c.largest_share(), (Sad, 0.6));
    }

    #[test]
    fn ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident() {
        // 10 predictions at 0.7 confidence, 7 right: calibrated.
        let calibrated = (0..10).map(|k| (0.7, k < 7));
        assert!(expected_calibration_error(calibrated, ECE_BINS) < 1e-12);
        // 10 at 0.98, half right: ECE 0.48.
        let over = (0..10).map(|k| (0.98, k % 2 == 0));
        assert!((expected_calibration_error(over, ECE_BINS) - 0.48).abs() < 1e-9);
        assert_eq!(
            expected_calibration_error(std::iter::empty(), ECE_BINS),
            0.0
        );
    }

    #[test]
    fn reliability_bins_mean_confidence_against_accuracy() {
        // 0.25 (1 of 4 right), 0.95 (2 of 2 right), nothing in between.
        let predictions = [
            (0.25, true),
            (0.25, false),
            (0.25, false),
            (0.25, false),
            (0.9, true),
            (1.0, true),
        ];
        let bins = reliability(predictions, 10);
        assert_eq!(bins.len(), 10);
        assert_eq!(bins[2].count, 4);
        assert!((bins[2].mean_confidence - 0.25).abs() < 1e-12);
        assert!((bins[2].accuracy - 0.25).abs() < 1e-12);
        // 0.9 falls in the bin (0.8, 0.9], 1.0 in (0.9, 1.0], as the ECE bins them.
        assert_eq!((bins[8].count, bins[9].count), (1, 1));
        assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), 6);
        assert_eq!(bins[5], ReliabilityBin::default());
        // Weighted by count, |confidence - accuracy| is the ECE at the same bins.
        let ece: f64 = bins
            .iter()
            .map(|b| b.count as f64 / 6.0 * (b.mean_confidence - b.accuracy).abs())
            .sum();
        assert!((ece - expected_calibration_error(predictions, 10)).abs() < 1e-12);
    }

    #[test]
    fn the_calibrated_floor_shrinks_with_more_predictions_and_sits_under_a_miscalibrated_ece() {
        // Confidences spread over 0.2..0.95.
        let confidences =
            |n: usize| -> Vec<f64> { (0..n).map(|k| 0.2 + 0.75 * (k as f64 / n as f64)).collect() };
        let (small, small_p90) = calibrated_ece_floor(&confidences(240), ECE_BINS, 200, 1);
        let (large, _) = calibrated_ece_floor(&confidences(24_000), ECE_BINS, 50, 1);
        assert!(small > 0.02 && small < 0.08, "240 predictions: {small}");
        assert!(small_p90 >= small);
        assert!(
            large < small / 5.0,
            "24000 predictions: {large} against {small}"
        );
        // Seeded: the same figures every run.
        assert_eq!(
            calibrated_ece_floor(&confidences(240), ECE_BINS, 200, 1),
            (small, small_p90)
        );
        // A model right only half as often as it claims reads far above the floor.
        let c = confidences(240);
        let over = expected_calibration_error(
            c.iter().enumerate().map(|(k, &c)| (c, k % 4 == 0)),
            ECE_BINS,
        );
        assert!(over > small_p90 * 3.0, "{over} against {small_p90}");
    }

    #[test]
    fn temperature_scaling_softens_an_overconfident_model() {
        // Always 0.9 on its choice, right half the time: the fitted temperature raises the
        // entropy until the top probability is about 0.5.
        let mut p = Vec::new();
        let mut labels = Vec::new();
        for k in 0..200 {
            let mut row = [0.1f32 / 7.0; Emotion::COUNT];
            row[0] = 0.9;
            p.push(row);
            labels.push(if k % 2 == 0 { Neutral } else { Calm });
        }
        let t = fit_temperature(&p, &labels);
        assert!(t > 1.5, "{t}");
        let top = crate::model::with_temperature(p[0], t)[0];
        assert!((top - 0.5).abs() < 0.02, "{top}");
        assert!(nll_at_temperature(&p, &labels, t) < nll_at_temperature(&p, &labels, 1.0));
        assert_eq!(fit_temperature(&[], &[]), 1.0);
    }
}
