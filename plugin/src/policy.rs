//! [`ConfirmationPolicy`]: when to ask the player "was that right?".

use bevy::prelude::Resource;

use crate::EmotionDetected;

/// When a game should ask the player to confirm a detection: at most one question every
/// [`min_interval_s`](Self::min_interval_s), and only for detections whose
/// [`EmotionDetected::teach_score`] (the model's doubt, `1 - confidence`) is at least
/// [`min_teach_score`](Self::min_teach_score): a confirmation of what the model already
/// knows teaches little and costs the player's patience.
///
/// The plugin inserts the default; change it or call [`should_ask`](Self::should_ask) from
/// the system that reads [`EmotionDetected`]:
///
/// ```
/// # use bevy::prelude::*;
/// # use bevy_voice_emotion::{ConfirmationPolicy, EmotionDetected};
/// fn maybe_ask(
///     time: Res<Time>,
///     mut policy: ResMut<ConfirmationPolicy>,
///     mut detected: MessageReader<EmotionDetected>,
/// ) {
///     for d in detected.read() {
///         if policy.should_ask(d, time.elapsed_secs_f64()) {
///             // show "Did you sound <d.emotion>?" and send ConfirmEmotion with the answer
///         }
///     }
/// }
/// ```
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct ConfirmationPolicy {
    /// Seconds between two questions at least (default 60).
    pub min_interval_s: f64,
    /// Ask only when the detection's teach score is at least this (default 0.5: the model
    /// gave its best guess at most 50%).
    pub min_teach_score: f32,
    /// When the last question was asked (seconds, the game's clock), if ever.
    pub last_asked_s: Option<f64>,
}

impl Default for ConfirmationPolicy {
    fn default() -> Self {
        Self {
            min_interval_s: 60.0,
            min_teach_score: 0.5,
            last_asked_s: None,
        }
    }
}

impl ConfirmationPolicy {
    /// A policy asking at most every `min_interval_s` seconds, when the teach score is at
    /// least `min_teach_score`.
    #[must_use]
    pub fn new(min_interval_s: f64, min_teach_score: f32) -> Self {
        Self {
            min_interval_s,
            min_teach_score,
            last_asked_s: None,
        }
    }

    /// Whether to ask about `detection` at `now_s` (seconds on the game's clock); a `true`
    /// counts as asked.
    pub fn should_ask(&mut self, detection: &EmotionDetected, now_s: f64) -> bool {
        let rested = self
            .last_asked_s
            .is_none_or(|last| now_s - last >= self.min_interval_s);
        let worth_it = detection.teach_score >= self.min_teach_score;
        if rested && worth_it {
            self.last_asked_s = Some(now_s);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use voice_emotion::features::FeatureMatrix;
    use voice_emotion::labels::{Emotion, Intensity};
    use voice_emotion::player::PlayerId;

    fn detection(confidence: f32) -> EmotionDetected {
        EmotionDetected {
            utterance: 1,
            player: PlayerId::default(),
            emotion: Emotion::Sad,
            confidence,
            probabilities: [0.0; Emotion::COUNT],
            intensity: Intensity::Normal,
            intensity_confidence: 1.0,
            duration_seconds: 1.0,
            adapted: false,
            clipped: 0.0,
            hum_hz: None,
            mfcc: Arc::new(FeatureMatrix::default()),
            latency_ms: 0.0,
            teach_score: 1.0 - confidence,
            arousal: 0.0,
            valence: 0.0,
            family: Emotion::Sad.family(),
            family_confidence: confidence,
            sure: confidence >= 0.5,
            family_sure: confidence >= 0.5,
        }
    }

    #[test]
    fn asks_only_about_doubtful_detections_and_at_most_once_an_interval() {
        let mut policy = ConfirmationPolicy::default();
        assert!(
            !policy.should_ask(&detection(0.9), 0.0),
            "sure: nothing to learn"
        );
        assert!(policy.should_ask(&detection(0.3), 1.0));
        assert!(!policy.should_ask(&detection(0.2), 30.0), "too soon");
        assert!(policy.should_ask(&detection(0.2), 61.0));
        assert_eq!(policy.last_asked_s, Some(61.0));
        let mut eager = ConfirmationPolicy::new(0.0, 0.0);
        assert!(eager.should_ask(&detection(0.99), 0.0) && eager.should_ask(&detection(1.0), 0.0));
    }
}
