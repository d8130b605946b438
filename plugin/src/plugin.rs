//! [`VoiceEmotionPlugin`]: the builder, and the wiring of messages, resources and systems.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use bevy::diagnostic::{Diagnostic, RegisterDiagnostic};
use bevy::prelude::*;
use voice_emotion::audio::capture::{AudioSource, DEFAULT_BUFFER_SAMPLES, audio_buffer};
use voice_emotion::engine::{Engine, EngineConfig, ModelSource, ProfileLocation};
use voice_emotion::player::PlayerId;

use crate::engine::VoiceEngine;
use crate::input::{VoiceInput, VoiceSink};
use crate::messages::{
    ConfirmEmotion, ConfirmationRejected, EmotionDetected, EmotionProvisional, EvaluateHeldOut,
    EvaluatePlayer, ForgetPlayer, HeldOutEvaluated, MicrophoneStatusChanged, PlayerChanged,
    PlayerEvaluated, PlayerForgotten, PlayerModelUpdated, ProfileProblem, ResetPlayer, SpeechEnded,
    SpeechStarted, SwitchPlayer,
};
use crate::model::BASE_MODEL;
use crate::resources::{
    ActivePlayer, EmotionState, KnownPlayers, MicrophoneStatus, ProfileFolder,
    VoiceEmotionDiagnostics, VoiceEmotionSettings,
};
use crate::{ConfirmationPolicy, VoiceEmotionSystems, systems};

/// Adds voice emotion to a game. See the [crate docs](crate) for an example.
///
/// Defaults: the shipped base model ([`BASE_MODEL`], compiled in), player `player`, profiles
/// in the platform's data directory under `bevy_voice_emotion`, the default microphone (with
/// the `microphone` feature), the engine's default speech detection ([`EngineConfig`]),
/// smoothing 0.5, confirmed audio not kept (features only).
#[derive(Debug)]
pub struct VoiceEmotionPlugin {
    model: ModelSource,
    player: PlayerId,
    profiles: ProfileLocation,
    /// Taken once, when the plugin is built (a source is not `Clone`; `build` has `&self`).
    input: Mutex<Option<VoiceInput>>,
    smoothing: f32,
    sure_confidence: f32,
    engine: EngineConfig,
    buffer_samples: usize,
}

impl Default for VoiceEmotionPlugin {
    fn default() -> Self {
        Self {
            model: ModelSource::Embedded(BASE_MODEL),
            player: PlayerId::default(),
            profiles: ProfileLocation::Default {
                app_name: "bevy_voice_emotion".to_owned(),
            },
            input: Mutex::new(Some(VoiceInput::default())),
            smoothing: VoiceEmotionSettings::DEFAULT_SMOOTHING,
            sure_confidence: VoiceEmotionSettings::DEFAULT_SURE_CONFIDENCE,
            engine: EngineConfig::default(),
            buffer_samples: DEFAULT_BUFFER_SAMPLES,
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

    /// The player active at start (default `player`).
    #[must_use]
    pub fn with_player(mut self, player: PlayerId) -> Self {
        self.player = player;
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

    /// Captures from the input device with this name (see
    /// [`CpalMicrophone::devices`](crate::CpalMicrophone::devices)).
    #[cfg(feature = "microphone")]
    #[must_use]
    pub fn with_microphone(self, device: impl Into<String>) -> Self {
        self.with_input(VoiceInput::Microphone(Some(device.into())))
    }

    /// Captures from the system's default input device (the default).
    #[cfg(feature = "microphone")]
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

    /// Speech-detection sensitivity, `0..=1` (higher hears quieter speech; the default is
    /// [`VadConfig`](voice_emotion::speech::VadConfig)'s). Also changeable at run time
    /// through [`VoiceEmotionSettings`].
    #[must_use]
    pub fn with_sensitivity(mut self, sensitivity: f32) -> Self {
        self.engine.vad.sensitivity = sensitivity;
        self
    }

    /// The confidence below which a detection is not [`EmotionDetected::sure`] (default 0.5;
    /// also changeable at run time through [`VoiceEmotionSettings`]).
    #[must_use]
    pub fn with_sure_confidence(mut self, confidence: f32) -> Self {
        self.sure_confidence = confidence;
        self
    }

    /// How much [`EmotionState`] holds on to earlier detections, `0..=0.99` (default 0.5).
    #[must_use]
    pub fn with_smoothing(mut self, smoothing: f32) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// Whether confirmed utterances keep their audio in the player's profile (default
    /// `false`: only their MFCC features are kept). Ask the player first.
    #[must_use]
    pub fn keep_confirmed_audio(mut self, keep: bool) -> Self {
        self.engine.keep_audio = keep;
        self
    }

    /// Writes an [`EmotionProvisional`] every `every` of speech while the player speaks (off
    /// by default): what the player's model makes of the utterance so far.
    #[must_use]
    pub fn with_provisional_results(mut self, every: std::time::Duration) -> Self {
        self.engine.provisional_every = Some(every);
        self
    }

    /// The engine's settings in full (speech detection, adaptation, buffers, streaming).
    #[must_use]
    pub fn with_engine_config(mut self, config: EngineConfig) -> Self {
        self.engine = config;
        self
    }

    /// Size of the audio buffer between the source and the engine, in samples (default two
    /// seconds at 48 kHz).
    #[must_use]
    pub fn with_buffer_samples(mut self, samples: usize) -> Self {
        self.buffer_samples = samples;
        self
    }

    /// The settings resource these builder choices give.
    fn settings(&self) -> VoiceEmotionSettings {
        VoiceEmotionSettings {
            sensitivity: self.engine.vad.sensitivity,
            smoothing: self.smoothing,
            keep_confirmed_audio: self.engine.keep_audio,
            sure_confidence: self.sure_confidence,
        }
    }
}

/// What `PreStartup` needs to start the voice input and the engine.
#[derive(Resource)]
struct VoiceStartup {
    model: ModelSource,
    player: PlayerId,
    profiles: ProfileLocation,
    input: Mutex<Option<VoiceInput>>,
    engine: EngineConfig,
    buffer_samples: usize,
}

/// Starts the audio source and the engine's threads (`PreStartup`, once).
fn start_voice(world: &mut World) {
    let Some(startup) = world.remove_resource::<VoiceStartup>() else {
        return;
    };
    let (sink, tap) = audio_buffer(startup.buffer_samples);
    let input = startup
        .input
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(source) = input.and_then(|input| input.start(&sink)) {
        world.insert_resource(source);
    }
    world.insert_resource(VoiceSink(sink));
    match Engine::start(
        startup.model,
        startup.engine,
        &startup.profiles,
        startup.player,
        tap,
    ) {
        Ok(engine) => {
            let folder = engine.profile_folder().map(std::path::Path::to_path_buf);
            world.insert_resource(ProfileFolder(folder));
            world.insert_resource(VoiceEngine { engine });
        }
        Err(e) => error!("voice emotion is off: {e}"),
    }
}

impl Plugin for VoiceEmotionPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<SpeechStarted>()
            .add_message::<SpeechEnded>()
            .add_message::<EmotionDetected>()
            .add_message::<EmotionProvisional>()
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
            .add_message::<EvaluateHeldOut>()
            .add_message::<HeldOutEvaluated>()
            .add_message::<PlayerForgotten>()
            .add_message::<ProfileProblem>();
        let settings = self.settings();
        app.insert_resource(EmotionState::new(
            settings.smoothing,
            settings.sure_confidence,
        ))
        .insert_resource(settings)
        .init_resource::<ActivePlayer>()
        .init_resource::<KnownPlayers>()
        .init_resource::<ProfileFolder>()
        .init_resource::<MicrophoneStatus>()
        .init_resource::<VoiceEmotionDiagnostics>()
        .init_resource::<ConfirmationPolicy>();
        for (path, suffix) in [
            (VoiceEmotionDiagnostics::UTTERANCES, ""),
            (VoiceEmotionDiagnostics::DROPPED_BLOCKS, ""),
            (VoiceEmotionDiagnostics::INFERENCE_MS, "ms"),
            (VoiceEmotionDiagnostics::UPDATE_MS, "ms"),
            (VoiceEmotionDiagnostics::LATENCY_MS, "ms"),
        ] {
            app.register_diagnostic(Diagnostic::new(path).with_suffix(suffix));
        }
        let has_engine = resource_exists::<VoiceEngine>;
        app.configure_sets(PreUpdate, VoiceEmotionSystems::Events)
            .configure_sets(PostUpdate, VoiceEmotionSystems::Commands)
            .add_systems(PreStartup, start_voice)
            .add_systems(
                PreUpdate,
                systems::receive_events
                    .run_if(has_engine)
                    .in_set(VoiceEmotionSystems::Events),
            )
            .add_systems(
                PostUpdate,
                systems::send_commands
                    .run_if(has_engine)
                    .in_set(VoiceEmotionSystems::Commands),
            )
            .add_systems(Last, systems::shutdown_on_exit);

        let input = self
            .input
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if input.is_none() {
            warn!("VoiceEmotionPlugin built twice: the second copy has no voice input");
        }
        app.insert_resource(VoiceStartup {
            model: self.model.clone(),
            player: self.player.clone(),
            profiles: self.profiles.clone(),
            input: Mutex::new(input),
            engine: self.engine.clone(),
            buffer_samples: self.buffer_samples,
        });
    }
}
