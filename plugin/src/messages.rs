//! Messages the plugin writes (out) and reads (in).

use std::sync::Arc;

use bevy::prelude::Message;
use voice_emotion::audio::capture::SourceStatus;
use voice_emotion::engine::{ConfirmRejection, ProfileNotice};
use voice_emotion::features::FeatureMatrix;
use voice_emotion::labels::{Emotion, EmotionFamily, Intensity};
use voice_emotion::player::PlayerId;

use crate::outcome::Outcome;

/// The player started speaking.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct SpeechStarted {
    /// The utterance's id (the same in [`SpeechEnded`] and [`EmotionDetected`]).
    pub utterance: u64,
}

/// What the player's model makes of an utterance so far, while the player is still speaking
/// (opt-in: [`VoiceEmotionPlugin::with_provisional_results`](crate::VoiceEmotionPlugin::with_provisional_results)).
/// For a face that reacts mid-sentence; the [`EmotionDetected`] at the end of the utterance
/// is the final word, and only it can be confirmed.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct EmotionProvisional {
    /// The utterance's id (the same in the [`EmotionDetected`] that ends it).
    pub utterance: u64,
    /// The player it was classified for.
    pub player: PlayerId,
    /// The most likely emotion so far.
    pub emotion: Emotion,
    /// Its probability.
    pub confidence: f32,
    /// All 8 probabilities, in the order of [`Emotion::ALL`].
    pub probabilities: [f32; Emotion::COUNT],
    /// Expected arousal, `-1..=1` (as [`EmotionDetected::arousal`]).
    pub arousal: f32,
    /// Expected valence, `-1..=1` (as [`EmotionDetected::valence`]).
    pub valence: f32,
    /// Seconds of audio the model has heard so far: of the speech (with the engine's
    /// default [`ClassifiedSpan::Speech`](voice_emotion::engine::ClassifiedSpan)), or of the
    /// utterance, its pre-roll included.
    pub heard_seconds: f64,
    /// Whether [`confidence`](Self::confidence) reaches
    /// [`VoiceEmotionSettings::sure_confidence`](crate::VoiceEmotionSettings::sure_confidence).
    pub sure: bool,
}

/// The player stopped speaking; an [`EmotionDetected`] for the same utterance follows.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct SpeechEnded {
    /// The utterance's id.
    pub utterance: u64,
    /// Its length in seconds.
    pub duration_seconds: f64,
}

/// An utterance's emotion.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct EmotionDetected {
    /// The utterance's id: send it back in [`ConfirmEmotion`].
    pub utterance: u64,
    /// The player it was classified for.
    pub player: PlayerId,
    /// The most likely emotion.
    pub emotion: Emotion,
    /// Its probability.
    pub confidence: f32,
    /// All 8 probabilities, in the order of [`Emotion::ALL`].
    pub probabilities: [f32; Emotion::COUNT],
    /// The more likely intensity.
    pub intensity: Intensity,
    /// Its probability.
    pub intensity_confidence: f32,
    /// The utterance's length in seconds.
    pub duration_seconds: f64,
    /// Whether the player's own weights (their voice head) made it.
    pub adapted: bool,
    /// The share of the utterance's samples held at full scale by the microphone (`0..=1`),
    /// restored before the model heard them (`EngineConfig::declip`). Any share above 0 means
    /// peaks are being flattened (sentences driven 3, 6 and 12 dB past full scale read about
    /// 0.07%, 0.6% and 4%): a game can ask the player to lower the input gain.
    pub clipped: f32,
    /// The fundamental (Hz) of a steady hum removed from the utterance before the model heard
    /// it (`EngineConfig::dehum`; mains hum, a ground loop, a power supply), `None` when there
    /// was none: a game can tell the player their microphone picks up a hum.
    pub hum_hz: Option<f32>,
    /// The utterance's MFCC frames (silence trimmed, `n_frames x 40`, 10 ms apart): what the
    /// model heard, e.g. for a live heatmap.
    pub mfcc: Arc<FeatureMatrix>,
    /// Milliseconds from the end of the utterance (as speech detection reported it) to this
    /// message being written.
    pub latency_ms: f64,
    /// Expected arousal over the probabilities, `-1..=1` (calm, sad low; angry, fearful,
    /// surprised high): see [`Emotion::arousal_valence`].
    pub arousal: f32,
    /// Expected valence over the probabilities, `-1..=1` (happy high; sad, angry, fearful,
    /// disgust low).
    pub valence: f32,
    /// The most likely [`EmotionFamily`] (e.g. angry and disgust are both `Tense`): for
    /// mechanics that need reliability more than nuance.
    pub family: EmotionFamily,
    /// Its probability (the sum of its members').
    pub family_confidence: f32,
    /// Whether [`confidence`](Self::confidence) reaches
    /// [`VoiceEmotionSettings::sure_confidence`](crate::VoiceEmotionSettings::sure_confidence):
    /// when `false`, no emotion is clear ("not sure"). See [`outcome`](Self::outcome).
    pub sure: bool,
    /// Whether [`family_confidence`](Self::family_confidence) reaches the same threshold.
    /// See [`family_outcome`](Self::family_outcome).
    pub family_sure: bool,
    /// How much confirming this utterance would teach the player's model, `0..=1`: its doubt,
    /// `1 - confidence`. [`ConfirmationPolicy`](crate::ConfirmationPolicy) asks only when it is
    /// high enough.
    pub teach_score: f32,
}

impl EmotionDetected {
    /// The emotion when the engine is [`sure`](Self::sure) of it, otherwise
    /// [`Outcome::Uncertain`].
    #[must_use]
    pub fn outcome(&self) -> Outcome<Emotion> {
        Outcome::new(self.emotion, self.sure)
    }

    /// The emotion family when the engine is sure of it ([`family_sure`](Self::family_sure)),
    /// otherwise [`Outcome::Uncertain`]. A family is sure more often than its members: "tense"
    /// can be clear while angry and disgust are not.
    #[must_use]
    pub fn family_outcome(&self) -> Outcome<EmotionFamily> {
        Outcome::new(self.family, self.family_sure)
    }
}

/// What became of a player-model update.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOutcome {
    /// The new voice head replaced the old.
    Accepted,
    /// The old voice head (or none) stays; the reason says why.
    Refused {
        /// Why.
        reason: String,
    },
}

/// A player-model update finished (after a [`ConfirmEmotion`]).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct PlayerModelUpdated {
    /// The player.
    pub player: PlayerId,
    /// Whether the new voice head was kept.
    pub outcome: UpdateOutcome,
    /// Accuracy of the base network on the player's samples (the guard's baseline).
    pub accuracy_before: f64,
    /// Accuracy on the same samples with voice heads fitted on the others (each sample held
    /// back from the fit that classifies it).
    pub accuracy_after: f64,
    /// Confirmed samples it trained on.
    pub samples_used: usize,
    /// Seconds it took (on a background thread).
    pub seconds: f64,
    /// The emotion the player should confirm next, while some emotion has fewer than two
    /// confirmed samples (the fewest first): what to prompt for, e.g. "try sounding sad".
    pub confirm_next: Option<Emotion>,
}

/// A [`ConfirmEmotion`] could not be used (unknown or too old utterance).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct ConfirmationRejected {
    /// The utterance.
    pub utterance: u64,
    /// Why ([`ConfirmRejection::NotRecent`] for an unknown, too old or already confirmed
    /// utterance); its `Display` says it in words.
    pub rejection: ConfirmRejection,
}

/// The microphone's (or script's) status changed.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct MicrophoneStatusChanged {
    /// The new status.
    pub status: SourceStatus,
}

/// The active player changed (start-up, switch, forget, reset), or their profile had a
/// problem.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct PlayerChanged {
    /// The active player.
    pub player: PlayerId,
    /// Whether they have their own weights.
    pub adapted: bool,
    /// Their confirmed samples.
    pub samples: usize,
    /// A problem with their profile (corrupt and moved aside, locked by another process, made
    /// for another model, could not be saved...); its `Display` says it in words.
    pub notice: Option<ProfileNotice>,
}

/// In: the player confirms (or corrects) what an utterance's emotion was. It becomes a
/// training sample for the active player and an update follows ([`PlayerModelUpdated`]).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct ConfirmEmotion {
    /// The utterance's id from [`EmotionDetected`].
    pub utterance: u64,
    /// The true emotion.
    pub emotion: Emotion,
    /// The true intensity, when the player said.
    pub intensity: Option<Intensity>,
}

/// In: make another player active (their profile is loaded, the current one saved).
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct SwitchPlayer {
    /// The player.
    pub player: PlayerId,
}

/// In: delete a player's saved profile. If they are active they start again from the base
/// model.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct ForgetPlayer {
    /// The player's id.
    pub player: PlayerId,
}

/// In: put the active player back on the base model.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct ResetPlayer {
    /// Keep their confirmed samples (the next confirmation retrains on them).
    pub keep_samples: bool,
}

/// In: classify the active player's confirmed samples with their current weights (after any
/// queued update); a [`PlayerEvaluated`] answers. For a calibration screen's "before and
/// after" figure.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EvaluatePlayer;

/// The answer to [`EvaluatePlayer`]. The weights were trained on these samples: this shows
/// what adaptation learnt from them, not how well it does on new speech.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct PlayerEvaluated {
    /// The player.
    pub player: PlayerId,
    /// Confirmed samples classified as confirmed.
    pub correct: usize,
    /// Confirmed samples.
    pub total: usize,
}

/// In: score utterances the player did not confirm, each with the emotion it was meant to
/// have, with the base network and with the active player's model (after queued updates); a
/// [`HeldOutEvaluated`] answers. For a calibration screen's honest "before and after": the
/// player records a second take of a few prompts, which are never confirmed, so the player's
/// model never trained on them. The utterances must be recent (the engine keeps the last 32).
#[derive(Message, Debug, Clone, PartialEq, Eq, Default)]
pub struct EvaluateHeldOut {
    /// Each utterance's id (from [`EmotionDetected`]) and the emotion it was meant to have.
    pub takes: Vec<(u64, Emotion)>,
}

/// The answer to [`EvaluateHeldOut`].
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct HeldOutEvaluated {
    /// The player.
    pub player: PlayerId,
    /// Takes the base network (cold: no voice head, the training set's statistics)
    /// classified as meant: "before".
    pub base_correct: usize,
    /// Takes the player's model classified as meant: "after".
    pub player_correct: usize,
    /// Takes scored.
    pub total: usize,
    /// Takes no longer kept by the engine (too old): not scored.
    pub missing: Vec<u64>,
}

/// A player's profile was deleted ([`ForgetPlayer`]), whether or not they were active: the
/// game's confirmation that everything stored for them is gone. (If they were active, a
/// [`PlayerChanged`] follows: they start again from the base model.)
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct PlayerForgotten {
    /// The player.
    pub player: PlayerId,
}

/// A profile could not be loaded, saved or deleted (a locked or damaged file, a full disk,
/// a failed [`ForgetPlayer`]); the game runs on. For the active player the same problem is
/// [`ActivePlayer`](crate::ActivePlayer)'s notice. A failed save is retried at the next
/// update or autosave: the player's samples stay in memory meanwhile.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct ProfileProblem {
    /// The player.
    pub player: PlayerId,
    /// What happened ([`ProfileNotice::SaveFailed`], [`ProfileNotice::ForgetFailed`]); its
    /// `Display` says it in words.
    pub problem: ProfileNotice,
}
