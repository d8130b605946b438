//! Resources the plugin keeps up to date for the game.

use std::path::PathBuf;
use std::sync::Arc;

use bevy::diagnostic::DiagnosticPath;
use bevy::prelude::Resource;
use voice_emotion::audio::capture::SourceStatus;
use voice_emotion::engine::{EmotionSmoother, ProfileNotice};
use voice_emotion::labels::{Emotion, EmotionFamily, Intensity};
use voice_emotion::player::PlayerId;
use voice_emotion::player::profile::UpdateRecord;

use crate::messages::EmotionDetected;
use crate::outcome::Outcome;

/// Settings that can change while the game runs.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct VoiceEmotionSettings {
    /// Speech-detection sensitivity, `0..=1` (higher hears quieter speech). Changes take
    /// effect on the next frame.
    pub sensitivity: f32,
    /// How much [`EmotionState`] holds on to earlier detections, `0..=0.99` (0: the latest
    /// only).
    pub smoothing: f32,
    /// Whether confirmed utterances keep their audio in the player's profile (otherwise only
    /// their MFCC features).
    pub keep_confirmed_audio: bool,
    /// A detection whose (calibrated) confidence is below this is [`EmotionDetected::sure`]
    /// `false`: no emotion is clear, and mechanics should not act on it (default 0.5: right
    /// about half the time or more, as the model's calibration is measured).
    pub sure_confidence: f32,
}

impl VoiceEmotionSettings {
    /// [`Self::smoothing`]'s default.
    pub const DEFAULT_SMOOTHING: f32 = 0.5;
    /// [`Self::sure_confidence`]'s default.
    pub const DEFAULT_SURE_CONFIDENCE: f32 = 0.5;
}

/// The current emotion, smoothed over detections, and the latest detection.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct EmotionState {
    smoother: EmotionSmoother,
    smoothing: f32,
    sure_confidence: f32,
    latest: Option<EmotionDetected>,
}

impl EmotionState {
    pub(crate) fn new(smoothing: f32, sure_confidence: f32) -> Self {
        Self {
            smoother: EmotionSmoother::new(smoothing),
            smoothing,
            sure_confidence,
            latest: None,
        }
    }

    /// Follows [`VoiceEmotionSettings::sure_confidence`] (the plugin calls it when the
    /// settings change).
    pub(crate) fn set_sure_confidence(&mut self, sure_confidence: f32) {
        self.sure_confidence = sure_confidence;
    }

    pub(crate) fn add(&mut self, detection: &EmotionDetected, smoothing: f32) {
        if smoothing.to_bits() != self.smoothing.to_bits() {
            self.smoothing = smoothing;
            let mut fresh = EmotionSmoother::new(smoothing);
            if let Some(current) = self.smoother.current() {
                fresh.add(&current);
            }
            self.smoother = fresh;
        }
        self.smoother
            .add(&voice_emotion::model::Prediction::from_probabilities(
                detection.probabilities,
                intensity_probabilities(detection),
            ));
        self.latest = Some(detection.clone());
    }

    pub(crate) fn clear(&mut self) {
        self.smoother.clear();
        self.latest = None;
    }

    /// The smoothed emotion (`None` before the first detection).
    #[must_use]
    pub fn emotion(&self) -> Option<Emotion> {
        self.smoother.current().map(|p| p.emotion)
    }

    /// The smoothed emotion's probability (0 before the first detection).
    #[must_use]
    pub fn confidence(&self) -> f32 {
        self.smoother.current().map_or(0.0, |p| p.confidence)
    }

    /// The smoothed probabilities of all 8 emotions, in the order of [`Emotion::ALL`]
    /// (uniform before the first detection).
    #[must_use]
    pub fn probabilities(&self) -> [f32; Emotion::COUNT] {
        self.smoother
            .current()
            .map_or([1.0 / Emotion::COUNT as f32; Emotion::COUNT], |p| {
                p.probabilities
            })
    }

    /// The smoothed `(arousal, valence)`, each in `[-1, 1]` (`(0, 0)` before the first
    /// detection): the circumplex position of the smoothed probabilities
    /// ([`Emotion::arousal_valence`]).
    #[must_use]
    pub fn arousal_valence(&self) -> (f32, f32) {
        self.smoother
            .current()
            .map_or((0.0, 0.0), |p| p.arousal_valence())
    }

    /// The smoothed emotion family and its probability (`None` before the first detection).
    #[must_use]
    pub fn family(&self) -> Option<(EmotionFamily, f32)> {
        self.smoother.current().map(|p| p.family())
    }

    /// Whether the smoothed emotion's probability reaches
    /// [`VoiceEmotionSettings::sure_confidence`] (`false` before the first detection).
    #[must_use]
    pub fn sure(&self) -> bool {
        self.smoother
            .current()
            .is_some_and(|p| p.confidence >= self.sure_confidence)
    }

    /// The smoothed emotion when the engine is [`sure`](Self::sure) of it, otherwise
    /// [`Outcome::Uncertain`] (also before the first detection): what a mechanic that follows
    /// the player's mood over several utterances should act on.
    #[must_use]
    pub fn outcome(&self) -> Outcome<Emotion> {
        self.emotion()
            .map_or(Outcome::Uncertain, |e| Outcome::new(e, self.sure()))
    }

    /// The smoothed family when its probability reaches
    /// [`VoiceEmotionSettings::sure_confidence`], otherwise [`Outcome::Uncertain`].
    #[must_use]
    pub fn family_outcome(&self) -> Outcome<EmotionFamily> {
        self.family().map_or(Outcome::Uncertain, |(family, p)| {
            Outcome::new(family, p >= self.sure_confidence)
        })
    }

    /// The smoothed intensity (`None` before the first detection).
    #[must_use]
    pub fn intensity(&self) -> Option<Intensity> {
        self.smoother.current().map(|p| p.intensity)
    }

    /// The latest detection, unsmoothed.
    #[must_use]
    pub fn latest(&self) -> Option<&EmotionDetected> {
        self.latest.as_ref()
    }
}

fn intensity_probabilities(d: &EmotionDetected) -> [f32; Intensity::COUNT] {
    match d.intensity {
        Intensity::Normal => [d.intensity_confidence, 1.0 - d.intensity_confidence],
        Intensity::Strong => [1.0 - d.intensity_confidence, d.intensity_confidence],
    }
}

/// The active player.
#[derive(Resource, Debug, Clone, PartialEq, Default)]
pub struct ActivePlayer {
    /// Their id (`None` until the engine has loaded the model and their profile).
    pub id: Option<PlayerId>,
    /// Whether they have their own weights.
    pub adapted: bool,
    /// Their confirmed samples.
    pub samples: usize,
    /// Updates finished this session (accepted or not).
    pub updates: usize,
    /// The latest problem with their profile.
    pub notice: Option<ProfileNotice>,
    /// Their confirmed samples per emotion, in the order of [`Emotion::ALL`].
    pub samples_per_emotion: [usize; Emotion::COUNT],
    /// Their model's updates, oldest first (all saved ones, not only this session's).
    pub history: Arc<[UpdateRecord]>,
}

/// The players with a saved profile, sorted; kept up to date by the engine (listed at start,
/// after a switch or a forget, and after a save that created a profile). Empty when profiles
/// are kept in memory.
#[derive(Resource, Debug, Clone, PartialEq, Default)]
pub struct KnownPlayers {
    /// The players.
    pub players: Vec<PlayerId>,
    /// Why the folder could not be listed ([`ProfileNotice::ListFailed`]), if it could not.
    pub problem: Option<ProfileNotice>,
}

/// The folder the plugin keeps profiles in, for a game's own files next to them (`None`:
/// profiles are kept in memory, asked for or because the folder could not be used).
#[derive(Resource, Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileFolder(pub Option<PathBuf>);

/// The voice input's status and level, for a status line and a level meter.
#[derive(Resource, Debug, Clone, PartialEq, Default)]
pub struct MicrophoneStatus {
    /// What the source is doing.
    pub status: SourceStatus,
    /// RMS of the latest audio block (`0..=1`).
    pub rms: f32,
    /// Peak of the latest audio block (`0..=1`).
    pub peak: f32,
    /// Whether the player is speaking now.
    pub speaking: bool,
}

impl MicrophoneStatus {
    /// The RMS level in dBFS, floored at -100 (for a meter).
    #[must_use]
    pub fn level_dbfs(&self) -> f32 {
        (20.0 * self.rms.max(1e-5).log10()).max(-100.0)
    }
}

/// Counters of the voice pipeline, also published through Bevy's diagnostics (see
/// [`VoiceEmotionDiagnostics::UTTERANCES`] and the other paths).
#[derive(Resource, Debug, Clone, PartialEq, Default)]
pub struct VoiceEmotionDiagnostics {
    /// Utterances heard.
    pub utterances: u64,
    /// Detections delivered.
    pub detections: u64,
    /// Audio blocks dropped because the engine fell behind.
    pub dropped_blocks: u64,
    /// Most audio samples ever waiting in the buffer.
    pub buffer_high_water: u64,
    /// Engine events dropped because the game did not read them.
    pub events_dropped: u64,
    /// Player-model updates finished.
    pub updates: u64,
    /// The latest detection's processing time (resampling, features, inference), in ms.
    pub last_inference_ms: f64,
    /// The latest update's time, in ms.
    pub last_update_ms: f64,
    /// The latest end-of-utterance to message time, in ms.
    pub last_latency_ms: f64,
}

impl VoiceEmotionDiagnostics {
    /// Counts a delivered detection and its timings.
    pub(crate) fn count_detection(&mut self, inference_ms: f64, latency_ms: f64) {
        self.detections += 1;
        self.last_inference_ms = inference_ms;
        self.last_latency_ms = latency_ms;
    }

    /// Counts a finished player-model update.
    pub(crate) fn count_update(&mut self, update_ms: f64) {
        self.updates += 1;
        self.last_update_ms = update_ms;
    }

    /// Utterances heard (a count).
    pub const UTTERANCES: DiagnosticPath = DiagnosticPath::const_new("voice_emotion/utterances");
    /// Audio blocks dropped (a count).
    pub const DROPPED_BLOCKS: DiagnosticPath =
        DiagnosticPath::const_new("voice_emotion/dropped_blocks");
    /// Processing time of a detection, in ms.
    pub const INFERENCE_MS: DiagnosticPath =
        DiagnosticPath::const_new("voice_emotion/inference_ms");
    /// Time of a player-model update, in ms.
    pub const UPDATE_MS: DiagnosticPath = DiagnosticPath::const_new("voice_emotion/update_ms");
    /// End of an utterance to its message, in ms.
    pub const LATENCY_MS: DiagnosticPath = DiagnosticPath::const_new("voice_emotion/latency_ms");
}

#[cfg(test)]
mod tests {
    use super::*;
    use voice_emotion::engine::Detection;
    use voice_emotion::model::Prediction;

    fn detected(emotion: Emotion, p: f32, sure_confidence: f32) -> EmotionDetected {
        let mut probabilities = [(1.0 - p) / 7.0; Emotion::COUNT];
        probabilities[emotion.index()] = p;
        let d = Detection {
            utterance: 1,
            player: PlayerId::default(),
            prediction: Prediction::from_probabilities(probabilities, [0.5, 0.5]),
            duration_seconds: 1.0,
            ended_at: std::time::Instant::now(),
            processing: std::time::Duration::ZERO,
            adapted: false,
            clipped: 0.0,
            hum_hz: None,
            mfcc: Arc::default(),
        };
        EmotionDetected::new(d, sure_confidence)
    }

    #[test]
    fn the_smoothed_state_is_uncertain_until_one_emotion_is_clear() {
        let mut state = EmotionState::new(0.5, 0.5);
        assert_eq!(state.outcome(), Outcome::Uncertain, "nothing heard yet");
        assert_eq!(state.family_outcome(), Outcome::Uncertain);
        assert!(!state.sure());

        state.add(&detected(Emotion::Happy, 0.9, 0.5), 0.5);
        assert_eq!(state.outcome(), Outcome::Sure(Emotion::Happy));
        assert_eq!(state.family_outcome(), Outcome::Sure(EmotionFamily::Happy));

        // A sure sad after a sure happy: halfway between (smoothing 0.5), neither is clear.
        state.add(&detected(Emotion::Sad, 0.9, 0.5), 0.5);
        assert!(state.confidence() < 0.5, "{}", state.confidence());
        assert_eq!(state.outcome(), Outcome::Uncertain);
        state.add(&detected(Emotion::Sad, 0.9, 0.5), 0.5);
        assert_eq!(state.outcome(), Outcome::Sure(Emotion::Sad));

        // The threshold follows the settings.
        state.set_sure_confidence(0.95);
        assert_eq!(state.outcome(), Outcome::Uncertain);
        state.clear();
        assert_eq!(state.outcome(), Outcome::Uncertain);
    }
}
