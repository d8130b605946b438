//! The voice input: where audio comes from, the running source, and [`ChangeVoiceInput`].

use std::sync::{Mutex, PoisonError};

use bevy::prelude::*;
use voice_emotion::audio::capture::{AudioSink, AudioSource, SourceStatus};

/// Where voice input comes from.
pub enum VoiceInput {
    /// A cpal input device: the default one (`None`) or one by name.
    #[cfg(feature = "microphone")]
    Microphone(Option<String>),
    /// Any source: a [`voice_emotion::audio::capture::ScriptedSource`], a configured
    /// microphone, or the game's own.
    Source(Box<dyn AudioSource>),
    /// No input (voice off); messages in still work.
    None,
}

impl Default for VoiceInput {
    /// The default microphone with the `microphone` feature, else no input.
    fn default() -> Self {
        #[cfg(feature = "microphone")]
        return Self::Microphone(None);
        #[cfg(not(feature = "microphone"))]
        return Self::None;
    }
}

impl std::fmt::Debug for VoiceInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            #[cfg(feature = "microphone")]
            Self::Microphone(d) => f.debug_tuple("Microphone").field(d).finish(),
            Self::Source(s) => f.debug_tuple("Source").field(&s.name()).finish(),
            Self::None => f.write_str("None"),
        }
    }
}

impl VoiceInput {
    fn into_source(self) -> Option<Box<dyn AudioSource>> {
        match self {
            #[cfg(feature = "microphone")]
            Self::Microphone(device) => Some(Box::new(crate::CpalMicrophone::new(device))),
            Self::Source(source) => Some(source),
            Self::None => None,
        }
    }

    /// Starts this input into `sink`; a source that cannot start is a warning and a status.
    pub(crate) fn start(self, sink: &AudioSink) -> Option<VoiceSource> {
        let Some(mut source) = self.into_source() else {
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

/// A command that replaces the voice input while the game runs (a settings screen's
/// microphone choice, recorded clips): the running source stops, the new one starts into the
/// same buffer. `commands.queue(ChangeVoiceInput(VoiceInput::Source(Box::new(script))))`.
#[derive(Debug)]
pub struct ChangeVoiceInput(pub VoiceInput);

impl Command for ChangeVoiceInput {
    type Out = ();

    fn apply(self, world: &mut World) {
        let Some(sink) = world.get_resource::<VoiceSink>().cloned() else {
            warn!("voice input changed before the voice engine started: ignored");
            return;
        };
        if let Some(mut running) = world.remove_resource::<VoiceSource>() {
            running.stop();
        }
        if let Some(started) = self.0.start(&sink.0) {
            world.insert_resource(started);
        }
    }
}
