//! [`VoiceEngine`]: the running engine as a resource.

use bevy::prelude::*;
use voice_emotion::audio::capture::AudioMonitor;
use voice_emotion::engine::{Command, Engine, EngineStats};

/// The running engine (absent when it could not start; the game runs on without voice).
#[derive(Resource, Debug)]
pub struct VoiceEngine {
    pub(crate) engine: Engine,
}

impl VoiceEngine {
    /// The engine's counters (for soak tests and debug overlays).
    #[must_use]
    pub fn stats(&self) -> EngineStats {
        self.engine.stats()
    }

    /// The audio buffer's counters and the source's status.
    #[must_use]
    pub fn monitor(&self) -> &AudioMonitor {
        self.engine.monitor()
    }

    /// Events waiting for the next `PreUpdate`.
    #[must_use]
    pub fn events_waiting(&self) -> usize {
        self.engine.events_waiting()
    }

    /// Sends a command directly (the messages in are usually simpler).
    pub fn send(&self, command: Command) {
        self.engine.send(command);
    }
}
