//! Evaluating a classifier on labelled examples.

use std::collections::BTreeMap;

use crate::features::FeatureMatrix;
use crate::labels::{Emotion, Intensity};
use crate::model::{EmotionClassifier, NormStats, Prediction};
use crate::training::Example;
use crate::training::metrics::{Confusion, ECE_BINS, expected_calibration_error};

/// Results of [`EmotionClassifier::evaluate`].
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Emotion confusion matrix.
    pub confusion: Confusion,
    /// Fraction of examples with a known intensity whose intensity was right.
    pub intensity_accuracy: f64,
    /// One prediction per example, in order.
    pub predictions: Vec<Prediction>,
    /// Expected calibration error of the emotion confidences ([`ECE_BINS`] bins).
    pub ece: f64,
}

impl EmotionClassifier {
    /// Classifies labelled examples, each normalised with its speaker's statistics from
    /// `speakers` when given (and known), else cold with the training set's.
    #[must_use]
    pub fn evaluate(
        &self,
        examples: &[Example],
        speakers: Option<&BTreeMap<String, NormStats>>,
    ) -> Evaluation {
        let mut predictions = Vec::with_capacity(examples.len());
        // Batch the examples of one normalisation together.
        let mut by_stats: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
        for (i, e) in examples.iter().enumerate() {
            let key = speakers
                .and_then(|s| s.get_key_value(&e.speaker))
                .map(|(k, _)| k.as_str());
            by_stats.entry(key).or_default().push(i);
        }
        let mut slots: Vec<Option<Prediction>> = vec![None; examples.len()];
        for (key, idx) in by_stats {
            let stats = key.and_then(|k| speakers.and_then(|s| s.get(k)));
            let inputs: Vec<&FeatureMatrix> = idx.iter().map(|&i| &examples[i].features).collect();
            for (i, p) in idx.iter().zip(self.classify_features(&inputs, stats)) {
                slots[*i] = Some(p);
            }
        }
        predictions.extend(slots.into_iter().flatten());
        Evaluation::of(examples, predictions)
    }
}

impl Evaluation {
    /// Scores `predictions` (one per example, in order) against `examples`' labels.
    #[must_use]
    pub fn of(examples: &[Example], predictions: Vec<Prediction>) -> Self {
        let (mut intensity_hits, mut intensity_total) = (0usize, 0usize);
        for (e, p) in examples.iter().zip(&predictions) {
            if let Some(i) = e.intensity {
                intensity_total += 1;
                intensity_hits += usize::from(i == p.intensity);
            }
        }
        let confusion = Confusion::from_pairs(
            examples
                .iter()
                .zip(&predictions)
                .map(|(e, p)| (e.emotion, p.emotion)),
        );
        let ece = expected_calibration_error(
            examples
                .iter()
                .zip(&predictions)
                .map(|(e, p)| (f64::from(p.confidence), p.emotion == e.emotion)),
            ECE_BINS,
        );
        Self {
            ece,
            confusion,
            intensity_accuracy: intensity_hits as f64 / intensity_total.max(1) as f64,
            predictions,
        }
    }
}

/// The ensemble of several models' predictions of the same clips: for each clip, the mean of
/// the models' emotion and intensity probabilities (each model's own temperature applied).
/// `runs` holds one prediction per clip for each model; clips past the shortest run are left
/// out. No run gives an empty list.
#[must_use]
pub fn ensemble(runs: &[Vec<Prediction>]) -> Vec<Prediction> {
    let clips = runs.iter().map(Vec::len).min().unwrap_or(0);
    let n = runs.len().max(1) as f32;
    (0..clips)
        .map(|c| {
            let mut emotion = [0.0f32; Emotion::COUNT];
            let mut intensity = [0.0f32; Intensity::COUNT];
            for run in runs {
                let p = &run[c];
                for (sum, v) in emotion.iter_mut().zip(p.probabilities) {
                    *sum += v / n;
                }
                for (sum, v) in intensity.iter_mut().zip(p.intensity_probabilities) {
                    *sum += v / n;
                }
            }
            Prediction::from_probabilities(emotion, intensity)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ensemble_averages_probabilities_and_takes_the_most_likely() {
        let a =
            Prediction::from_probabilities([0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.0, 0.0], [0.9, 0.1]);
        let b =
            Prediction::from_probabilities([0.1, 0.7, 0.0, 0.0, 0.0, 0.0, 0.1, 0.1], [0.3, 0.7]);
        let c =
            Prediction::from_probabilities([0.0, 0.8, 0.0, 0.0, 0.0, 0.0, 0.1, 0.1], [0.4, 0.6]);
        let alone = ensemble(&[vec![b.clone()]]);
        let mean = ensemble(&[vec![a.clone(), a], vec![b.clone(), c]]);
        assert_eq!(mean.len(), 2);
        // Clip 0: (0.5 + 0.1) / 2 = 0.3 for neutral, (0.1 + 0.7) / 2 = 0.4 for calm.
        assert_eq!(mean[0].emotion, Emotion::Calm);
        assert!((mean[0].confidence - 0.4).abs() < 1e-6);
        assert!((mean[0].probabilities[0] - 0.3).abs() < 1e-6);
        assert!((mean[0].intensity_probabilities[1] - 0.4).abs() < 1e-6);
        assert_eq!(mean[0].intensity, Intensity::Normal);
        assert_eq!(mean[1].emotion, Emotion::Calm);
        assert!((mean[1].confidence - 0.45).abs() < 1e-6);
        // One run is itself; no run is nothing.
        assert_eq!(alone.len(), 1);
        assert_eq!(alone[0].probabilities, b.probabilities);
        assert_eq!(alone[0].intensity_probabilities, b.intensity_probabilities);
        assert_eq!(alone[0].emotion, b.emotion);
        assert!(ensemble(&[]).is_empty());
    }
}
