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
    }
}
