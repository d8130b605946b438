//! `bevy_voice_emotion`: the player's voice emotion as Bevy messages, with a model per player
//! that learns from the samples the player confirms.
//!
//! Add [`VoiceEmotionPlugin`], read [`EmotionDetected`] messages (or the smoothed
//! [`EmotionState`] resource), and send [`ConfirmEmotion`] when the player says what they
//! meant. Everything heavy (speech detection, features, inference, fine-tuning, saving)
//! runs on the engine's own threads; the plugin's systems only move messages.
//!
//! ```
//! use std::time::Duration;
//! use bevy::prelude::*;
//! use bevy_voice_emotion::prelude::*;
//!
//! // Headless, with recorded audio instead of a microphone and no profile on disk.
//! let tone: Vec<f32> = (0..16_000)
//!     .map(|i| 0.3 * (i as f32 * 0.07).sin() * (i as f32 * 0.0015).sin())
//!     .collect();
//! let script = ScriptedSource::new(Pace::Fast)
//!     .silence(0.5)
//!     .samples(tone, 16_000)
//!     .silence(1.0)
//!     .end();
//! let mut app = App::new();
//! app.add_plugins(MinimalPlugins).add_plugins(
//!     VoiceEmotionPlugin::default()
//!         .with_source(script)
//!         .with_profiles(ProfileLocation::Memory),
//! );
//! app.add_systems(Update, |mut heard: MessageReader<EmotionDetected>| {
//!     for d in heard.read() {
//!         info!("{:?} ({:.0}%)", d.emotion, d.confidence * 100.0);
//!     }
//! });
//! for _ in 0..2000 {
//!     app.update();
//!     if app.world().resource::<VoiceEmotionDiagnostics>().detections > 0 {
//!         break;
//!     }
//!     std::thread::sleep(Duration::from_millis(5));
//! }
//! assert_eq!(app.world().resource::<VoiceEmotionDiagnostics>().detections, 1);
//! ```
//!
//! # Threads
//! - The audio source (the cpal callback, or a script's thread) copies into a lock-free ring
//!   buffer and nothing else.
//! - The engine thread ([`voice_emotion::engine`]) segments speech, computes features,
//!   classifies, and saves profiles.
//! - Each player model fine-tunes on its own thread; new weights swap in between utterances.
//! - `PreUpdate` ([`VoiceEmotionSystems::Events`]) turns engine events into messages and
//!   resources; `PostUpdate` ([`VoiceEmotionSystems::Commands`]) sends the game's messages to
//!   the engine.
#![warn(missing_docs)]

mod messages;
mod microphone;
mod model;
mod resources;
mod systems;
pub mod testing;

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use bevy::diagnostic::{Diagnostic, RegisterDiagnostic};
use bevy::prelude::*;
use voice_emotion::capture::{AudioSink, AudioSource, SourceStatus, audio_buffer};
use voice_emotion::engine::{Engine, EngineConfig, EngineStats, ModelSource, ProfileLocation};
use voice_emotion::profile::PlayerId;

pub use cpal::SampleFormat;
pub use messages::{
    ChangeVoiceInput, ConfirmEmotion, ConfirmationRejected, EmotionDetected, EvaluatePlayer,
    ForgetPlayer, MicrophoneStatusChanged, PlayerChanged, PlayerEvaluated, PlayerForgotten,
    PlayerModelUpdated, ProfileProblem, ResetPlayer, SpeechEnded, SpeechStarted, SwitchPlayer,
    UpdateOutcome,
};
pub use microphone::{CpalMicrophone, StreamFormat};
pub use model::BASE_MODEL;
pub use resources::{
    ActivePlayer, EmotionState, MicrophoneStatus, VoiceEmotionDiagnostics, VoiceEmotionSettings,
};
pub use voice_emotion;

/// Everything a game usually needs.
pub mod prelude {
    pub use crate::{
        ActivePlayer, ChangeVoiceInput, ConfirmEmotion, ConfirmationRejected, CpalMicrophone,
        EmotionDetected, EmotionState, EvaluatePlayer, ForgetPlayer, MicrophoneStatus,
        MicrophoneStatusChanged, PlayerChanged, PlayerEvaluated, PlayerForgotten,
        PlayerModelUpdated, ProfileProblem, ResetPlayer, SpeechEnded, SpeechStarted, SwitchPlayer,
        UpdateOutcome, VoiceEmotionDiagnostics, VoiceEmotionPlugin, VoiceEmotionSettings,
        VoiceEmotionSystems, VoiceInput,
    };
    pub use voice_emotion::capture::{Pace, ScriptFeed, ScriptedSource, SourceStatus};
    pub use voice_emotion::dataset::{Emotion, Intensity};
    pub use voice_emotion::engine::ProfileLocation;
}

/// The plugin's system sets, for ordering game systems around them.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VoiceEmotionSystems {
    /// `PreUpdate`: engine events become messages; resources are updated. Systems in
    /// `Update` see this frame's detections.
    Events,
    /// `PostUpdate`: the game's [`ConfirmEmotion`], [`SwitchPlayer`], [`ForgetPlayer`] and
    /// [`ResetPlayer`] messages (and changed [`VoiceEmotionSettings`]) go to the engine.
    Commands,
}

/// Where voice input comes from.
pub enum VoiceInput {
    /// A cpal input device: the default one (`None`) or one by name.
    Microphone(Option<String>),
    /// Any source: a [`voice_emotion::capture::ScriptedSource`], a configured
    /// [`CpalMicrophone`], or the game's own.
    Source(Box<dyn AudioSource>),
    /// No input (voice off); messages in still work.
    None,
}

impl std::fmt::Debug for VoiceInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Microphone(d) => f.debug_tuple("Microphone").field(d).finish(),
            Self::Source(s) => f.debug_tuple("Source").field(&s.name()).finish(),
            Self::None => f.write_str("None"),
        }
    }
}

/// Adds voice emotion to a game. See the [crate docs](crate) for an example.
///
/// Defaults: the shipped base model ([`BASE_MODEL`], compiled in), player `player`, profiles
/// in the platform's data directory under `bevy_voice_emotion`, the default microphone,
/// sensitivity 0.5, smoothing 0.5, confirmed audio not kept (features only).
#[derive(Debug)]
pub struct VoiceEmotionPlugin {
    model: ModelSource,
    player: String,
    profiles: ProfileLocation,
    input: Mutex<Option<VoiceInput>>,
    settings: VoiceEmotionSettings,
    engine: EngineConfig,
    buffer_samples: usize,
}

impl Default for VoiceEmotionPlugin {
    fn default() -> Self {
        Self {
            model: ModelSource::Embedded(BASE_MODEL),
            player: "player".to_owned(),
            profiles: ProfileLocation::Default {
                app_name: "bevy_voice_emotion".to_owned(),
            },
            input: Mutex::new(Some(VoiceInput::Microphone(None))),
            settings: VoiceEmotionSettings {
                sensitivity: 0.5,
                smoothing: 0.5,
                keep_confirmed_audio: false,
            },
            engine: EngineConfig::default(),
            buffer_samples: voice_emotion::capture::DEFAULT_BUFFER_SAMPLES,
        }
    }
}

impl VoiceEmotionPlugin {
    /// Uses a model directory written by `trainer train` and `trainer anchors` instead of the
    /// compiled-in base model.
    #[must_use]
    pub fn with_model_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.model = ModelSource::Directory(dir.into());
        self
    }

    /// Uses this model.
    #[must_use]
    pub fn with_model(mut self, model: ModelSource) -> Self {
        self.model = model;
        self
    }

    /// The player active at start (default `player`; 1 to 64 letters, digits, `-`, `_`).
    #[must_use]
    pub fn with_player(mut self, player: impl Into<String>) -> Self {
        self.player = player.into();
        self
    }

    /// Keeps player profiles in `dir`.
    #[must_use]
    pub fn with_profile_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.profiles = ProfileLocation::Directory(dir.into());
        self
    }

    /// Where player profiles live (a directory, the platform default for an app name, or
    /// memory only).
    #[must_use]
    pub fn with_profiles(mut self, location: ProfileLocation) -> Self {
        self.profiles = location;
        self
    }

    /// Captures from the input device with this name (see [`CpalMicrophone::devices`]).
    #[must_use]
    pub fn with_microphone(self, device: impl Into<String>) -> Self {
        self.with_input(VoiceInput::Microphone(Some(device.into())))
    }

    /// Captures from the system's default input device (the default).
    #[must_use]
    pub fn with_default_microphone(self) -> Self {
        self.with_input(VoiceInput::Microphone(None))
    }

    /// Takes voice input from `source` (a script of recorded clips, a configured
    /// microphone, the game's own source).
    #[must_use]
    pub fn with_source(self, source: impl AudioSource) -> Self {
        self.with_input(VoiceInput::Source(Box::new(source)))
    }

    /// Sets the voice input.
    #[must_use]
    pub fn with_input(self, input: VoiceInput) -> Self {
        *self.input.lock().unwrap_or_else(PoisonError::into_inner) = Some(input);
        self
    }

    /// Speech-detection sensitivity, `0..=1` (default 0.5; higher hears quieter speech).
    /// Also changeable at run time through [`VoiceEmotionSettings`].
    #[must_use]
    pub fn with_sensitivity(mut self, sensitivity: f32) -> Self {
        self.settings.sensitivity = sensitivity;
        self.engine.vad.sensitivity = sensitivity;
        self
    }

    /// How much [`EmotionState`] holds on to earlier detections, `0..=0.99` (default 0.5).
    #[must_use]
    pub fn with_smoothing(mut self, smoothing: f32) -> Self {
        self.settings.smoothing = smoothing;
        self
    }

    /// Whether confirmed utterances keep their audio in the player's profile (default
    /// `false`: only their MFCC features are kept). Ask the player first.
    #[must_use]
    pub fn keep_confirmed_audio(mut self, keep: bool) -> Self {
        self.engine.keep_audio = keep;
        self.settings.keep_confirmed_audio = keep;
        self
    }

    /// The engine's settings in full (speech detection, fine-tuning, buffers).
    #[must_use]
    pub fn with_engine_config(mut self, config: EngineConfig) -> Self {
        self.engine = config;
        self.settings.sensitivity = self.engine.vad.sensitivity;
        self.settings.keep_confirmed_audio = self.engine.keep_audio;
        self
    }

    /// Size of the audio buffer between the source and the engine, in samples (default two
    /// seconds at 48 kHz).
    #[must_use]
    pub fn with_buffer_samples(mut self, samples: usize) -> Self {
        self.buffer_samples = samples;
        self
    }
}

/// The running engine (absent when it could not start; the game runs on without voice).
#[derive(Resource, Debug)]
pub struct VoiceEngine {
    engine: Engine,
}

impl VoiceEngine {
    /// The engine's counters (for soak tests and debug overlays).
    #[must_use]
    pub fn stats(&self) -> EngineStats {
        self.engine.stats()
    }

    /// The audio buffer's counters and the source's status.
    #[must_use]
    pub fn monitor(&self) -> &voice_emotion::capture::AudioMonitor {
        self.engine.monitor()
    }

    /// Events waiting for the next `PreUpdate`.
    #[must_use]
    pub fn events_waiting(&self) -> usize {
        self.engine.events_waiting()
    }

    /// Sends a command directly (the messages in are usually simpler).
    pub fn send(&self, command: voice_emotion::engine::Command) {
        self.engine.send(command);
    }
}

impl VoiceInput {
    fn into_source(self) -> Option<Box<dyn AudioSource>> {
        match self {
            Self::Microphone(device) => Some(Box::new(CpalMicrophone::new(device))),
            Self::Source(source) => Some(source),
            Self::None => None,
        }
    }
}

/// Starts `source` into `sink`; a source that cannot start is a warning and a status.
fn start_source(source: Option<Box<dyn AudioSource>>, sink: &AudioSink) -> Option<VoiceSource> {
    let Some(mut source) = source else {
        sink.set_status(SourceStatus::Stopped);
        return None;
    };
    match source.start(sink.clone()) {
        Ok(()) => Some(VoiceSource {
            source: Mutex::new(source),
        }),
        Err(e) => {
            warn!("voice input {}: {e}", source.name());
            sink.set_status(SourceStatus::Failed {
                reason: e.to_string(),
            });
            None
        }
    }
}

/// The writing end of the engine's audio buffer, for sources started later.
#[derive(Resource, Debug, Clone)]
pub(crate) struct VoiceSink(pub(crate) AudioSink);

/// The running audio source; dropping it stops the input.
#[derive(Resource)]
pub struct VoiceSource {
    source: Mutex<Box<dyn AudioSource>>,
}

impl std::fmt::Debug for VoiceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self
            .source
            .lock()
            .map(|s| s.name())
            .unwrap_or_else(|_| "?".to_owned());
        f.debug_struct("VoiceSource").field("name", &name).finish()
    }
}

impl VoiceSource {
    /// Stops the source (idempotent).
    pub fn stop(&mut self) {
        self.source
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .stop();
    }
}

impl Drop for VoiceSource {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Plugin for VoiceEmotionPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<SpeechStarted>()
            .add_message::<SpeechEnded>()
            .add_message::<EmotionDetected>()
            .add_message::<PlayerModelUpdated>()
            .add_message::<ConfirmationRejected>()
            .add_message::<MicrophoneStatusChanged>()
            .add_message::<PlayerChanged>()
            .add_message::<ConfirmEmotion>()
            .add_message::<SwitchPlayer>()
            .add_message::<ForgetPlayer>()
            .add_message::<ResetPlayer>()
            .add_message::<EvaluatePlayer>()
            .add_message::<PlayerEvaluated>()
            .add_message::<PlayerForgotten>()
            .add_message::<ProfileProblem>()
            .add_message::<ChangeVoiceInput>();
        app.insert_resource(self.settings.clone())
            .insert_resource(EmotionState::new(self.settings.smoothing))
            .init_resource::<ActivePlayer>()
            .init_resource::<MicrophoneStatus>()
            .init_resource::<VoiceEmotionDiagnostics>();
        for (path, suffix) in [
            (VoiceEmotionDiagnostics::UTTERANCES, ""),
            (VoiceEmotionDiagnostics::DROPPED_BLOCKS, ""),
            (VoiceEmotionDiagnostics::INFERENCE_MS, "ms"),
            (VoiceEmotionDiagnostics::UPDATE_MS, "ms"),
            (VoiceEmotionDiagnostics::LATENCY_MS, "ms"),
        ] {
            app.register_diagnostic(Diagnostic::new(path).with_suffix(suffix));
        }
        app.configure_sets(PreUpdate, VoiceEmotionSystems::Events)
            .configure_sets(PostUpdate, VoiceEmotionSystems::Commands)
            .add_systems(
                PreUpdate,
                systems::receive_events.in_set(VoiceEmotionSystems::Events),
            )
            .add_systems(
                PostUpdate,
                (systems::send_commands, systems::change_input)
                    .in_set(VoiceEmotionSystems::Commands),
            )
            .add_systems(Last, systems::shutdown_on_exit);

        let (sink, tap) = audio_buffer(self.buffer_samples);
        let input = self
            .input
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let source = match input {
            Some(input) => input.into_source(),
            None => {
                warn!("VoiceEmotionPlugin built twice: the second copy has no voice input");
                None
            }
        };
        if let Some(source) = start_source(source, &sink) {
            app.insert_resource(source);
        }
        app.insert_resource(VoiceSink(sink));

        let player = PlayerId::new(&self.player).unwrap_or_else(|e| {
            error!("voice emotion: {e}; using player `player`");
            PlayerId::new("player").unwrap_or_else(|_| unreachable!("a valid id"))
        });
        match Engine::start(
            self.model.clone(),
            self.engine.clone(),
            &self.profiles,
            player,
            tap,
        ) {
            Ok(engine) => {
                app.insert_resource(VoiceEngine { engine });
            }
            Err(e) => error!("voice emotion is off: {e}"),
        }
    }
}
