//! What the mechanic examples share: the voice input (the default microphone, or the clips
//! named on the command line, played as a microphone would) and leaving when the clips end.

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

/// The plugin for the clips named on the command line (`None`: the default microphone),
/// keeping profiles in memory so that an example never writes into the player's folder.
pub fn voice_from_args() -> (VoiceEmotionPlugin, Vec<String>) {
    let clips: Vec<String> = std::env::args().skip(1).collect();
    let mut voice = VoiceEmotionPlugin::default().with_profiles(ProfileLocation::Memory);
    if !clips.is_empty() {
        voice = voice.with_source(ScriptedSource::new(Pace::RealTime).files(&clips, 1.0));
    }
    (voice, clips)
}

/// Leaves when the clips are done (or the input failed: a missing file, no microphone).
pub fn exit_when_input_ends(
    mut status: MessageReader<MicrophoneStatusChanged>,
    mut exit: MessageWriter<AppExit>,
) {
    for s in status.read() {
        info!("voice input: {}", s.status);
        match s.status {
            SourceStatus::Finished => {
                exit.write(AppExit::Success);
            }
            SourceStatus::Failed { .. } => {
                exit.write(AppExit::error());
            }
            _ => {}
        }
    }
}
