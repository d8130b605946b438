//! Evaluating a classifier on labelled examples.

use std::collections::BTreeMap;

use crate::features::FeatureMatrix;
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
        let (mut intensity_hits, mut intensity_total) = (0usize, 0usize);
        for (e, p) in examples.iter().zip(slots.into_iter().flatten()) {
            if let Some(i) = e.intensity {
                intensity_total += 1;
                intensity_hits += usize::from(i == p.intensity);
            }
            predictions.push(p);
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
        Evaluation {
            ece,
            confusion,
            intensity_accuracy: intensity_hits as f64 / intensity_total.max(1) as f64,
            predictions,
        }
    }
}
