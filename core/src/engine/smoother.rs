//! [`EmotionSmoother`]: a running emotion state over detections, for games that want one.

use super::*;

/// Exponential smoothing of detections for a steady "current emotion": each detection moves
/// the state `1 - smoothing` of the way to its probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct EmotionSmoother {
    pub(super) smoothing: f32,
    pub(super) probabilities: [f32; Emotion::COUNT],
    pub(super) intensity: [f32; Intensity::COUNT],
    pub(super) detections: u64,
}

impl EmotionSmoother {
    /// A smoother; `smoothing` is clamped to `0..=0.99` (0: the latest detection only).
    #[must_use]
    pub fn new(smoothing: f32) -> Self {
        let smoothing = if smoothing.is_finite() {
            smoothing.clamp(0.0, 0.99)
        } else {
            0.0
        };
        Self {
            smoothing,
            probabilities: [1.0 / Emotion::COUNT as f32; Emotion::COUNT],
            intensity: [0.5; Intensity::COUNT],
            detections: 0,
        }
    }

    /// Takes a detection in.
    pub fn add(&mut self, p: &Prediction) {
        // The first detection replaces the uniform start.
        let keep = if self.detections == 0 {
            0.0
        } else {
            self.smoothing
        };
        for (s, x) in self.probabilities.iter_mut().zip(p.probabilities) {
            *s = keep * *s + (1.0 - keep) * x;
        }
        for (s, x) in self.intensity.iter_mut().zip(p.intensity_probabilities) {
            *s = keep * *s + (1.0 - keep) * x;
        }
        self.detections += 1;
    }

    /// The smoothed state as a prediction (`None` before the first detection).
    #[must_use]
    pub fn current(&self) -> Option<Prediction> {
        (self.detections > 0)
            .then(|| Prediction::from_probabilities(self.probabilities, self.intensity))
    }

    /// Back to no detections.
    pub fn clear(&mut self) {
        *self = Self::new(self.smoothing);
    }
}
