//! What the game and the engine say to each other: settings, commands, events, counters.

use super::*;

/// Errors starting the engine. Each names the file or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The model could not be loaded.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The anchor set could not be loaded.
    #[error(transparent)]
    Adapt(#[from] AdaptError),
    /// The speech-detection settings are invalid.
    #[error("speech detection: {0}")]
    Vad(#[from] VadError),
    /// The model directory's weights could not be read to identify the base model.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// No thread could be started.
    #[error("cannot start the voice engine thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Where player profiles live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileLocation {
    /// The platform's data directory for this app name ([`ProfileStore::default_location`]).
    Default {
        /// The game's name.
        app_name: String,
    },
    /// A directory of the game's choosing.
    Directory(PathBuf),
    /// Nowhere: players adapt for this session only.
    Memory,
}

impl ProfileLocation {
    /// The store at this location, its folder created if missing (`None` for
    /// [`ProfileLocation::Memory`]).
    ///
    /// # Errors
    /// [`ProfileError::NoDataDirectory`] without a home directory for
    /// [`ProfileLocation::Default`], [`ProfileError::Io`] when the folder cannot be created.
    pub fn open(&self) -> Result<Option<ProfileStore>, ProfileError> {
        match self {
            Self::Default { app_name } => ProfileStore::default_location(app_name).map(Some),
            Self::Directory(dir) => ProfileStore::new(dir.clone()).map(Some),
            Self::Memory => Ok(None),
        }
    }

    /// The folder of [`ProfileLocation::open`]'s store: where a game can keep its own files
    /// next to the profiles.
    ///
    /// # Errors
    /// As [`ProfileLocation::open`].
    pub fn folder(&self) -> Result<Option<PathBuf>, ProfileError> {
        Ok(self.open()?.map(|s| s.root().to_path_buf()))
    }
}

/// The engine's default absolute floor for speech detection, in dBFS
/// ([`VadConfig::absolute_floor_dbfs`], at sensitivity 0.5): frames quieter than this are
/// never speech. Lower than [`VadConfig`]'s −60 dBFS, which left about a quarter of the
/// utterances of a microphone 26 dB quieter than RAVDESS's undetected (`trainer segment-eval
/// --quiet-mic -26`, `docs/training.md`); at −66 dBFS the detector took quiet music under the
/// microphone's own hiss for speech on the validation actors, and this keeps 3 dB from there.
pub const ENGINE_FLOOR_DBFS: f32 = -63.0;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Speech detection. The default hears frames down to [`ENGINE_FLOOR_DBFS`] (−63 dBFS,
    /// where [`VadConfig`]'s own default stays at −60 dBFS for silence trimming), so a quiet
    /// microphone is still heard, and keeps 800 ms of pre-roll and 500 ms of tail around each
    /// utterance: room for the boundary net to move the speech start back over a soft onset,
    /// and, with [`ClassifiedSpan::Utterance`], enough context for the classifier's own
    /// silence trimming (40 dB below the loudest frame, as in training) to find in a live
    /// utterance exactly the audio it finds in the whole recorded clip
    /// (`tests/tests/ravdess_through_plugin.rs`).
    pub vad: VadConfig,
    /// The network of [`Detector::Learned`](crate::speech::Detector::Learned) (default
    /// [`DetectorNet::builtin`], trained on RAVDESS: a studio may train its own with `trainer
    /// train-detector` and load it with [`DetectorNet::from_json`]).
    pub speech_detector: Arc<DetectorNet>,
    /// The net that places each utterance's speech start and end, having heard 150 ms past
    /// the frame it judges (default [`DetectorNet::builtin_boundary`]; `None`: the speech
    /// detector's own logits place them). Trained like the detector
    /// (`trainer train-detector --delay 15`). It moves boundaries only: every event comes
    /// when it would without it.
    pub boundary_detector: Option<Arc<DetectorNet>>,
    /// Fine-tuning settings.
    pub adapt: AdaptConfig,
    /// Whether confirmed utterances keep their 16 kHz audio in the profile (default `false`:
    /// features only).
    pub keep_audio: bool,
    /// Whether every utterance (not only confirmed ones) updates the player's voice
    /// statistics (default `true`).
    pub learn_voice: bool,
    /// Utterances remembered for a later confirmation (default 32).
    pub recent_utterances: usize,
    /// Events buffered for the game before new ones are dropped (default 1024).
    pub event_capacity: usize,
    /// Voice statistics are saved at most this often when nothing else triggers a save
    /// (default 60 s).
    pub autosave_every: Duration,
    /// Run the player's model while they speak (default `true`): features and network
    /// steps are computed as the audio arrives, so the result follows the end of speech
    /// after a fixed, small amount of work whatever the utterance's length, and is the same,
    /// value for value, as classifying the whole utterance. `false` classifies the whole
    /// utterance when it ends.
    pub streaming: bool,
    /// Restore clipped samples (runs held at full scale, a microphone's gain too high)
    /// before the model hears an utterance (default `true`; [`crate::audio::Declipper`], at
    /// the source's rate). Audio without such runs is heard unchanged.
    pub declip: bool,
    /// Remove a steady hum (mains hum, a ground loop, a power supply: a tone between 45 and
    /// 130 Hz and its overtones) before the model hears an utterance (default `true`;
    /// [`crate::audio::HumCanceller`], at the model's rate, learnt from the utterance's first
    /// half second: the room before the player speaks). Audio without a hum is heard
    /// unchanged.
    pub dehum: bool,
    /// Report [`EngineEvent::Provisional`] every this many seconds of speech while the player
    /// speaks (default `None`: never). Needs `streaming`.
    pub provisional_every: Option<Duration>,
    /// What of each utterance the player's model classifies (default
    /// [`ClassifiedSpan::Speech`]).
    pub classified_span: ClassifiedSpan,
}

/// What of a detected utterance the player's model hears.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ClassifiedSpan {
    /// The detected speech alone ([`Utterance::speech`](crate::speech::Utterance::speech)):
    /// the room's noise in the pre-roll and tail stays out of the model's input. In a noisy
    /// room it is what gets the emotions right: on validation actors 19-20 (`trainer
    /// segment-eval --classify speech|utterance`, five noises, seeds 1-3) 0.41 against 0.33 at
    /// 10 dB SNR, 0.52 against 0.46 at 20 dB, and the same on clean speech (0.58); on unseen
    /// actors 21-24, 0.38 against 0.31 at 10 dB for a new player, 0.45 against 0.39 as the
    /// player model learns each actor's voice statistics in the noise (`docs/training.md`).
    #[default]
    Speech,
    /// The whole utterance, pre-roll and tail included (the model's own silence trimming,
    /// 40 dB below the loudest frame, then finds in a live utterance what it finds in the
    /// whole recorded clip; in noise it keeps the noise).
    Utterance,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            vad: VadConfig {
                pre_roll_ms: 800.0,
                tail_ms: 500.0,
                absolute_floor_dbfs: ENGINE_FLOOR_DBFS,
                ..VadConfig::default()
            },
            speech_detector: DetectorNet::builtin(),
            boundary_detector: Some(DetectorNet::builtin_boundary()),
            adapt: AdaptConfig::new(),
            keep_audio: false,
            learn_voice: true,
            recent_utterances: 32,
            event_capacity: 1024,
            autosave_every: Duration::from_secs(60),
            streaming: true,
            declip: true,
            dehum: true,
            provisional_every: None,
            classified_span: ClassifiedSpan::Speech,
        }
    }
}

/// What a game asks of the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// The player says utterance `utterance` was `emotion` (confirming or correcting the
    /// detection): it becomes a training sample.
    Confirm {
        /// The utterance id from [`EngineEvent::Detected`].
        utterance: u64,
        /// The true emotion.
        emotion: Emotion,
        /// The true intensity, when known.
        intensity: Option<Intensity>,
    },
    /// Make another player active (saving the current one).
    SwitchPlayer(PlayerId),
    /// Delete a player's profile; the active player starts again from the base model.
    ForgetPlayer(PlayerId),
    /// Back to the base weights for the active player; drops their confirmed samples unless
    /// `keep_samples`.
    ResetPlayer {
        /// Keep the confirmed samples (they train the next update).
        keep_samples: bool,
    },
    /// Speech-detection sensitivity, `0..=1`.
    SetSensitivity(f32),
    /// Save the active player now.
    Save,
    /// Whether confirmed utterances keep their audio from now on.
    SetKeepAudio(bool),
    /// Classify the active player's confirmed samples with their current weights
    /// ([`EngineEvent::Evaluated`]).
    Evaluate,
    /// Score recent utterances the player never confirmed, each with the emotion it was meant
    /// to have, with the base network and with the active player's model (after any queued
    /// update): a calibration screen's held-out "before and after"
    /// ([`EngineEvent::HeldOutEvaluated`]). The utterances must be among the last
    /// [`EngineConfig::recent_utterances`] and are not confirmed by this.
    EvaluateHeldOut(Vec<(u64, Emotion)>),
    /// List the players with a saved profile ([`EngineEvent::PlayersListed`]). The engine
    /// also lists them at start, after a switch or a forget, and after a save that created a
    /// profile.
    ListPlayers,
}

/// One detection.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The utterance's id (for [`Command::Confirm`]).
    pub utterance: u64,
    /// The player it was classified for.
    pub player: PlayerId,
    /// The result.
    pub prediction: Prediction,
    /// The utterance's length in seconds (pre-roll and tail included).
    pub duration_seconds: f64,
    /// When the segmenter reported the end of the utterance.
    pub ended_at: Instant,
    /// The engine's work from the end of speech to this result: with
    /// [`EngineConfig::streaming`] the last steps (most of the work was done while the
    /// player spoke), otherwise resampling, features and inference of the whole utterance.
    pub processing: Duration,
    /// Whether the player's own weights made it.
    pub adapted: bool,
    /// The share of the utterance's samples held at full scale (`0..=1`;
    /// [`crate::audio::clipped_samples`]), restored before the model heard them when
    /// [`EngineConfig::declip`]. Any share above 0 means peaks are being flattened: RAVDESS
    /// sentences whose peaks a microphone drove 3, 6 and 12 dB past full scale read about
    /// 0.07%, 0.6% and 4% (medians). Worth telling the player to lower the input gain.
    pub clipped: f32,
    /// The fundamental (Hz) of the hum removed from the utterance ([`EngineConfig::dehum`]),
    /// `None` when there was none. A hum is worth telling the player about: a ground loop or
    /// a cable near a power supply.
    pub hum_hz: Option<f32>,
    /// The utterance's MFCC frames (silence trimmed), what the model heard: for a live
    /// heatmap, or to check the engine against the core.
    pub mfcc: Arc<FeatureMatrix>,
}

/// What the engine reports.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// The model is loaded and the player's profile opened.
    Ready {
        /// The active player.
        player: PlayerId,
        /// Whether they have their own weights.
        adapted: bool,
        /// Their confirmed samples.
        samples: usize,
        /// A problem with their profile (corrupt, locked, for another model) or with the
        /// profile folder.
        notice: Option<ProfileNotice>,
    },
    /// The engine could not start (the model failed to load); it has stopped.
    Failed {
        /// Why.
        error: EngineFailure,
    },
    /// Speech began.
    SpeechStarted {
        /// The utterance's id.
        utterance: u64,
        /// Where, in seconds since the stream started (or last changed its sample rate, as a
        /// microphone reopened at another rate does).
        at_seconds: f64,
    },
    /// Speech ended; a [`EngineEvent::Detected`] (or [`EngineEvent::DetectionFailed`])
    /// follows.
    SpeechEnded {
        /// The utterance's id.
        utterance: u64,
        /// Its length in seconds (pre-roll and tail included).
        duration_seconds: f64,
        /// Where its speech ended (tail excluded), in seconds since the stream started (or last
        /// changed its sample rate).
        at_seconds: f64,
    },
    /// What the player's model makes of an utterance so far, while the player is still
    /// speaking ([`EngineConfig::provisional_every`]); the [`EngineEvent::Detected`] at its end
    /// is the final word.
    Provisional {
        /// The utterance's id.
        utterance: u64,
        /// The player it was classified for.
        player: PlayerId,
        /// The opinion so far.
        prediction: Prediction,
        /// Seconds of audio the model has heard of the utterance (of its speech, or with
        /// [`ClassifiedSpan::Utterance`] of the utterance, pre-roll included).
        heard_seconds: f64,
    },
    /// A started utterance was too short and is dropped.
    SpeechDiscarded {
        /// The utterance's id.
        utterance: u64,
    },
    /// An utterance was classified.
    Detected(Detection),
    /// An utterance could not be classified.
    DetectionFailed {
        /// The utterance's id.
        utterance: u64,
        /// Why.
        error: DetectionFailure,
    },
    /// A confirmation was taken as a training sample; an update follows.
    Confirmed {
        /// The utterance's id.
        utterance: u64,
        /// The emotion confirmed.
        emotion: Emotion,
    },
    /// A confirmation could not be used.
    ConfirmRejected {
        /// The utterance's id.
        utterance: u64,
        /// Why.
        rejection: ConfirmRejection,
    },
    /// A player model update finished (its record says whether the new weights were kept).
    ModelUpdated {
        /// The player.
        player: PlayerId,
        /// What happened.
        record: UpdateRecord,
        /// The emotion the player should confirm next
        /// ([`confirm_next`](crate::player::adapt::confirm_next)), if any is short.
        confirm_next: Option<Emotion>,
    },
    /// Another player is active.
    PlayerSwitched {
        /// The new player.
        player: PlayerId,
        /// Whether they have their own weights.
        adapted: bool,
        /// Their confirmed samples.
        samples: usize,
        /// A problem with their profile.
        notice: Option<ProfileNotice>,
    },
    /// A player's profile was deleted.
    PlayerForgotten {
        /// The player.
        player: PlayerId,
    },
    /// The active player is back on the base weights.
    PlayerReset {
        /// The player.
        player: PlayerId,
        /// The confirmed samples they kept.
        samples: usize,
    },
    /// The active player's profile was saved.
    ProfileSaved {
        /// The player.
        player: PlayerId,
    },
    /// A profile could not be loaded, saved or deleted; the game runs on.
    ProfileProblem {
        /// The player.
        player: PlayerId,
        /// What happened ([`ProfileNotice::SaveFailed`] or [`ProfileNotice::ForgetFailed`]).
        problem: ProfileNotice,
    },
    /// The audio source's status changed.
    Source(SourceStatus),
    /// The players with a saved profile, sorted (empty when profiles are kept in memory).
    PlayersListed {
        /// The players.
        players: Vec<PlayerId>,
        /// Why the list is empty or out of date ([`ProfileNotice::ListFailed`]).
        problem: Option<ProfileNotice>,
    },
    /// The active player's confirmed samples and update history, sent after
    /// [`EngineEvent::Ready`], [`EngineEvent::PlayerSwitched`], [`EngineEvent::Confirmed`],
    /// [`EngineEvent::ModelUpdated`], [`EngineEvent::PlayerReset`] and a forget of the active
    /// player.
    PlayerHistory {
        /// The player.
        player: PlayerId,
        /// Confirmed samples per emotion, in the order of [`Emotion::ALL`].
        samples_per_emotion: [usize; Emotion::COUNT],
        /// Their model's updates, oldest first.
        history: Arc<[UpdateRecord]>,
    },
    /// The answer to [`Command::EvaluateHeldOut`].
    HeldOutEvaluated {
        /// The player.
        player: PlayerId,
        /// The scores, over the utterances found.
        score: HeldOutScore,
        /// Utterances asked for that are no longer kept (or never were): not scored.
        missing: Vec<u64>,
    },
    /// The answer to [`Command::Evaluate`].
    Evaluated {
        /// The player.
        player: PlayerId,
        /// Confirmed samples classified as confirmed.
        correct: usize,
        /// Confirmed samples.
        total: usize,
    },
}

/// Counters of a running engine (read without locking).
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) utterances: AtomicU64,
    pub(super) detections: AtomicU64,
    pub(super) events_dropped: AtomicU64,
    pub(super) events_high_water: AtomicU64,
    pub(super) recent_high_water: AtomicU64,
    pub(super) last_processing_us: AtomicU64,
    pub(super) last_update_ms: AtomicU64,
    pub(super) updates: AtomicU64,
    pub(super) saves: AtomicU64,
}

/// A snapshot of an engine's counters, for diagnostics and soak tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    /// Utterances segmented.
    pub utterances: u64,
    /// Detections reported.
    pub detections: u64,
    /// Events dropped because the game did not read them.
    pub events_dropped: u64,
    /// Most events ever waiting for the game.
    pub events_high_water: u64,
    /// Most utterances ever remembered for confirmation.
    pub recent_high_water: u64,
    /// The latest detection's processing time, in microseconds.
    pub last_processing_us: u64,
    /// The latest update's time, in milliseconds.
    pub last_update_ms: u64,
    /// Updates finished.
    pub updates: u64,
    /// Profile saves.
    pub saves: u64,
}
