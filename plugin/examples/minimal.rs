//! The smallest game with voice emotion: logs each detected emotion.
//!
//! `cargo run --release -p bevy_voice_emotion --example minimal` listens to the default
//! microphone; with `-- CLIP.wav...` it plays the clips instead (no microphone needed) and
//! exits when they are done.

use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

fn main() {
    let clips: Vec<String> = std::env::args().skip(1).collect();
    let mut voice = VoiceEmotionPlugin::default();
    if !clips.is_empty() {
        voice = voice.with_source(ScriptedSource::new(Pace::RealTime).files(&clips, 1.0));
    }
    App::new()
        .add_plugins((MinimalPlugins, LogPlugin::default(), voice))
        .add_systems(Update, (log_emotions, exit_when_script_ends))
        .run();
}

fn log_emotions(mut heard: MessageReader<EmotionDetected>) {
    for d in heard.read() {
        info!(
            "#{}: {:?} ({:.0}%, {:?})",
            d.utterance,
            d.emotion,
            d.confidence * 100.0,
            d.intensity
        );
    }
}

fn exit_when_script_ends(
    mut status: MessageReader<MicrophoneStatusChanged>,
    mut exit: MessageWriter<AppExit>,
) {
    for s in status.read() {
        info!("voice input: {}", s.status);
        if s.status == SourceStatus::Finished {
            exit.write(AppExit::Success);
        }
    }
}
