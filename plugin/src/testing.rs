//! Helpers for headless tests of games that use the plugin (and of the plugin itself): a
//! log of every message the plugin wrote, and a loop that updates an app until a condition
//! holds.

use std::time::{Duration, Instant};

use bevy::prelude::*;

use crate::VoiceEmotionSystems;
use crate::messages::{
    ConfirmationRejected, EmotionDetected, EmotionProvisional, HeldOutEvaluated,
    MicrophoneStatusChanged, PlayerChanged, PlayerEvaluated, PlayerModelUpdated, SpeechEnded,
    SpeechStarted,
};

/// Every message the plugin wrote since the app started (add [`MessageLogPlugin`]).
#[derive(Resource, Debug, Default, Clone)]
pub struct MessageLog {
    /// [`SpeechStarted`] messages.
    pub started: Vec<SpeechStarted>,
    /// [`SpeechEnded`] messages.
    pub ended: Vec<SpeechEnded>,
    /// [`EmotionDetected`] messages.
    pub detected: Vec<EmotionDetected>,
    /// [`EmotionProvisional`] messages.
    pub provisional: Vec<EmotionProvisional>,
    /// [`PlayerModelUpdated`] messages.
    pub updated: Vec<PlayerModelUpdated>,
    /// [`ConfirmationRejected`] messages.
    pub rejected: Vec<ConfirmationRejected>,
    /// [`MicrophoneStatusChanged`] messages.
    pub microphone: Vec<MicrophoneStatusChanged>,
    /// [`PlayerChanged`] messages.
    pub players: Vec<PlayerChanged>,
    /// [`PlayerEvaluated`] messages.
    pub evaluated: Vec<PlayerEvaluated>,
    /// [`HeldOutEvaluated`] messages.
    pub held_out: Vec<HeldOutEvaluated>,
}

/// Records the plugin's messages into [`MessageLog`] (after [`VoiceEmotionSystems::Events`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct MessageLogPlugin;

impl Plugin for MessageLogPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<MessageLog>()
            .add_systems(PreUpdate, record.after(VoiceEmotionSystems::Events));
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "Bevy systems take what they use as parameters"
)]
fn record(
    mut log: ResMut<MessageLog>,
    mut started: MessageReader<SpeechStarted>,
    mut ended: MessageReader<SpeechEnded>,
    mut detected: MessageReader<EmotionDetected>,
    mut provisional: MessageReader<EmotionProvisional>,
    mut updated: MessageReader<PlayerModelUpdated>,
    mut rejected: MessageReader<ConfirmationRejected>,
    mut microphone: MessageReader<MicrophoneStatusChanged>,
    mut players: MessageReader<PlayerChanged>,
    mut evaluated: MessageReader<PlayerEvaluated>,
    mut held_out: MessageReader<HeldOutEvaluated>,
) {
    log.started.extend(started.read().cloned());
    log.ended.extend(ended.read().cloned());
    log.detected.extend(detected.read().cloned());
    log.provisional.extend(provisional.read().cloned());
    log.updated.extend(updated.read().cloned());
    log.rejected.extend(rejected.read().cloned());
    log.microphone.extend(microphone.read().cloned());
    log.players.extend(players.read().cloned());
    log.evaluated.extend(evaluated.read().cloned());
    log.held_out.extend(held_out.read().cloned());
}

/// Updates `app` (sleeping `1 ms` between frames) until `done` holds or `timeout` passes;
/// returns whether `done` held.
pub fn update_until(
    app: &mut App,
    timeout: Duration,
    mut done: impl FnMut(&World) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        app.update();
        if done(app.world()) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The [`MessageLog`] of `world`.
///
/// # Panics
/// When [`MessageLogPlugin`] was not added.
#[must_use]
pub fn log(world: &World) -> &MessageLog {
    world.resource::<MessageLog>()
}
