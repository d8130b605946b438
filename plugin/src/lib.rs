//! `bevy_voice_emotion`: the player's voice emotion as Bevy messages, with a model per player
//! that learns from the samples the player confirms.
//!
//! Add [`VoiceEmotionPlugin`], read [`EmotionDetected`] messages (or the smoothed
//! [`EmotionState`] resource), and send [`ConfirmEmotion`] when the player says what they
//! meant. Everything heavy (speech detection, features, inference, fitting the player's
//! voice head, saving) runs on the engine's own threads; the plugin's systems only move
//! messages.
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
//! - The audio source (the cpal callback, or a script's thread) copies into a bounded ring
//!   buffer ([`voice_emotion::audio::capture`]) and nothing else.
//! - The engine thread ([`voice_emotion::engine`]) segments speech, computes features,
//!   classifies, and saves profiles.
//! - Each player's voice head is fitted on its own thread and swaps in between utterances.
//! - The source and the engine start in `PreStartup` (the first `app.update()`), not while
//!   the plugin is built.
//! - `PreUpdate` ([`VoiceEmotionSystems::Events`]) turns engine events into messages and
//!   resources; `PostUpdate` ([`VoiceEmotionSystems::Commands`]) sends the game's messages to
//!   the engine.
//!
//! # Layout
//! `plugin.rs` holds the builder and only wires; `input.rs` the voice input (sources, the
//! [`ChangeVoiceInput`] command); `convert.rs` turns engine events into messages (plain
//! functions, tested without an `App`); `systems.rs` the few-line systems; `microphone.rs`
//! the cpal microphone (cargo feature `microphone`, on by default).
#![warn(missing_docs)]

mod convert;
mod engine;
mod input;
mod messages;
#[cfg(feature = "microphone")]
mod microphone;
mod model;
mod outcome;
mod plugin;
mod policy;
mod resources;
mod systems;
pub mod testing;

use bevy::prelude::*;

pub use engine::VoiceEngine;
pub use input::{ChangeVoiceInput, VoiceInput, VoiceSource};
pub use messages::{
    ConfirmEmotion, ConfirmationRejected, EmotionDetected, EmotionProvisional, EvaluateHeldOut,
    EvaluatePlayer, ForgetPlayer, HeldOutEvaluated, MicrophoneStatusChanged, PlayerChanged,
    PlayerEvaluated, PlayerForgotten, PlayerModelUpdated, ProfileProblem, ResetPlayer, SpeechEnded,
    SpeechStarted, SwitchPlayer, UpdateOutcome,
};
#[cfg(feature = "microphone")]
pub use microphone::{CpalMicrophone, SampleFormat, StreamFormat};
pub use model::BASE_MODEL;
pub use outcome::Outcome;
pub use plugin::VoiceEmotionPlugin;
pub use policy::ConfirmationPolicy;
pub use resources::{
    ActivePlayer, EmotionState, KnownPlayers, MicrophoneStatus, ProfileFolder,
    VoiceEmotionDiagnostics, VoiceEmotionSettings,
};
pub use voice_emotion;

/// Everything a game usually needs.
pub mod prelude {
    #[cfg(feature = "microphone")]
    pub use crate::CpalMicrophone;
    pub use crate::{
        ActivePlayer, ChangeVoiceInput, ConfirmEmotion, ConfirmationPolicy, ConfirmationRejected,
        EmotionDetected, EmotionProvisional, EmotionState, EvaluateHeldOut, EvaluatePlayer,
        ForgetPlayer, HeldOutEvaluated, KnownPlayers, MicrophoneStatus, MicrophoneStatusChanged,
        Outcome, PlayerChanged, PlayerEvaluated, PlayerForgotten, PlayerModelUpdated,
        ProfileFolder, ProfileProblem, ResetPlayer, SpeechEnded, SpeechStarted, SwitchPlayer,
        UpdateOutcome, VoiceEmotionDiagnostics, VoiceEmotionPlugin, VoiceEmotionSettings,
        VoiceEmotionSystems, VoiceInput,
    };
    pub use voice_emotion::audio::capture::{Pace, ScriptFeed, ScriptedSource, SourceStatus};
    pub use voice_emotion::engine::{ConfirmRejection, ProfileLocation, ProfileNotice};
    pub use voice_emotion::labels::{Emotion, EmotionFamily, Intensity};
    pub use voice_emotion::player::PlayerId;
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
