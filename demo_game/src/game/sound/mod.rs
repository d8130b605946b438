//! Sound: an ambient pad whose harmony and pulse follow the smoothed arousal and valence,
//! cues when a gate opens or is missed, when no emotion is sure and when the player confirms,
//! and the ambience ducked while the player speaks (less of the game in the microphone).
//!
//! Everything is synthesised at startup ([`synth`]) and played on the default output device
//! through cpal ([`output`]), the crate the plugin's microphone uses: Bevy's own audio would
//! bring a second major version of cpal (bevy_audio 0.19 → rodio 0.22 → cpal 0.17; the plugin
//! is on 0.18). No output device, or `--no-sound`, is a `warn!` and a silent game.

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

use crate::game::gates::{Feedback, GateRun};

pub mod output;
pub mod synth;

pub use output::{OutputError, SoundOutput};
pub use synth::{Cue, SoundCommand};

/// Whether the game opens the sound output (set before startup; `--no-sound` clears it).
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoundSettings {
    /// Open the default output device at startup.
    pub enabled: bool,
}

impl Default for SoundSettings {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// The ambience is unducked this long after speech started even if no end was reported (a
/// discarded utterance has none); the engine cuts utterances at 10 s.
const DUCK_AT_MOST_SECONDS: f64 = 11.0;

fn open_output(settings: Res<SoundSettings>, mut commands: Commands) {
    if !settings.enabled {
        info!("sound: off (--no-sound)");
        return;
    }
    match SoundOutput::open() {
        Ok(output) => {
            info!("sound: playing on '{}'", output.device());
            commands.insert_resource(output);
        }
        Err(e) => warn!("sound: none ({e}); the game plays silently"),
    }
}

/// A cue for each gate outcome, once per detection heard.
pub fn cue_gates(run: Res<GateRun>, mut last_heard: Local<u32>, output: Res<SoundOutput>) {
    if run.heard == *last_heard {
        return;
    }
    *last_heard = run.heard;
    let Some(feedback) = &run.feedback else {
        return;
    };
    output.send(SoundCommand::Play(match feedback {
        Feedback::Opened { .. } => Cue::GateOpened,
        Feedback::Missed { .. } => Cue::GateMissed,
        Feedback::NotSure { .. } => Cue::NotSure,
    }));
}

/// A chime for every confirmation the game sends (play screen and calibration).
pub fn cue_confirmations(
    mut confirmations: MessageReader<ConfirmEmotion>,
    output: Res<SoundOutput>,
) {
    if confirmations.read().count() > 0 {
        output.send(SoundCommand::Play(Cue::Confirmed));
    }
}

/// The ambience follows the smoothed arousal and valence.
pub fn follow_mood(state: Res<EmotionState>, output: Res<SoundOutput>) {
    if (state.is_changed() || output.is_added()) && state.emotion().is_some() {
        let (arousal, valence) = state.arousal_valence();
        output.send(SoundCommand::Mood { arousal, valence });
    }
}

/// Quieter ambience while the player speaks.
pub fn duck_while_speaking(
    time: Res<Time>,
    mut started: MessageReader<SpeechStarted>,
    mut ended: MessageReader<SpeechEnded>,
    mut since: Local<Option<f64>>,
    output: Res<SoundOutput>,
) {
    let now = time.elapsed_secs_f64();
    let start = started.read().count() > 0;
    let end = ended.read().count() > 0;
    if start && !end {
        *since = Some(now);
        output.send(SoundCommand::Duck(true));
    } else if since.is_some_and(|s| end || now - s > DUCK_AT_MOST_SECONDS) {
        *since = None;
        output.send(SoundCommand::Duck(false));
    }
}

/// The systems that feed the output; they run only while there is one.
fn feed(app: &mut App) {
    app.add_systems(
        Update,
        (
            cue_gates,
            cue_confirmations,
            follow_mood,
            duck_while_speaking,
        )
            .run_if(resource_exists::<SoundOutput>),
    );
}

/// Sound: the output at startup, and the systems that feed it.
pub(super) fn plugin(app: &mut App) {
    app.init_resource::<SoundSettings>()
        .add_systems(Startup, open_output)
        .add_plugins(feed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::Receiver;

    /// A headless app with the voice plugin (on an empty script) and the gate run.
    fn headless() -> App {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .add_plugins(
                bevy_voice_emotion::VoiceEmotionPlugin::default()
                    .with_source(ScriptedSource::new(Pace::Fast)),
            )
            .init_resource::<GateRun>();
        app
    }

    /// The systems over an output whose commands the test reads.
    fn app() -> (App, Receiver<SoundCommand>) {
        let (output, commands) = SoundOutput::to_channel();
        let mut app = headless();
        app.insert_resource(output).add_plugins(feed);
        app.update();
        (app, commands)
    }

    #[test]
    fn gates_confirmations_and_speech_send_their_sounds() {
        let (mut app, commands) = app();
        assert_eq!(commands.try_iter().count(), 0, "nothing happened yet");

        let wanted = app.world().resource::<GateRun>().wanted();
        app.world_mut().resource_mut::<GateRun>().hear(wanted, 0.9);
        app.update();
        assert_eq!(
            commands.try_iter().collect::<Vec<_>>(),
            [SoundCommand::Play(Cue::GateOpened)]
        );
        let other = Emotion::ALL
            .into_iter()
            .find(|e| *e != app.world().resource::<GateRun>().wanted())
            .unwrap();
        app.world_mut().resource_mut::<GateRun>().hear(other, 0.9);
        app.world_mut().resource_mut::<GateRun>().not_sure(other);
        app.update();
        // Two detections in one frame: the latest outcome sounds, once.
        assert_eq!(
            commands.try_iter().collect::<Vec<_>>(),
            [SoundCommand::Play(Cue::NotSure)]
        );
        app.update();
        assert_eq!(commands.try_iter().count(), 0, "no detection, no cue");

        app.world_mut().write_message(ConfirmEmotion {
            utterance: 1,
            emotion: Emotion::Happy,
            intensity: None,
        });
        app.update();
        assert_eq!(
            commands.try_iter().collect::<Vec<_>>(),
            [SoundCommand::Play(Cue::Confirmed)]
        );

        app.world_mut()
            .write_message(SpeechStarted { utterance: 2 });
        app.update();
        assert_eq!(
            commands.try_iter().collect::<Vec<_>>(),
            [SoundCommand::Duck(true)]
        );
        app.world_mut().write_message(SpeechEnded {
            utterance: 2,
            duration_seconds: 1.0,
        });
        app.update();
        assert_eq!(
            commands.try_iter().collect::<Vec<_>>(),
            [SoundCommand::Duck(false)]
        );
    }

    #[test]
    fn without_an_output_the_systems_do_nothing() {
        let mut app = headless();
        app.insert_resource(SoundSettings { enabled: false })
            .add_plugins(plugin);
        app.update();
        let wanted = app.world().resource::<GateRun>().wanted();
        app.world_mut().resource_mut::<GateRun>().hear(wanted, 0.9);
        app.update();
        assert!(app.world().get_resource::<SoundOutput>().is_none());
    }

    /// On a machine with an output device (CI has none). Without speakers, ALSA can write what
    /// is played to a file: `pcm.!default { type file slave.pcm "null" file "/tmp/out.raw"
    /// format "raw" }` in `~/.asoundrc` (here: interleaved f32 stereo, the same sample on
    /// both channels, the pad at about 0.06 RMS and cues peaking near 0.3):
    /// `cargo test --workspace --lib -- --ignored plays_on_the_default_output`.
    #[test]
    #[ignore = "needs an audio output device"]
    fn plays_on_the_default_output() {
        let output = SoundOutput::open().unwrap();
        println!("playing on '{}'", output.device());
        for cue in Cue::ALL {
            assert!(output.send(SoundCommand::Play(cue)));
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        assert!(output.send(SoundCommand::Mood {
            arousal: 1.0,
            valence: 1.0
        }));
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(output);
    }
}
