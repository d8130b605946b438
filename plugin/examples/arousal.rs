//! A mechanic that reacts to arousal and valence: a campfire whose flame follows how
//! energetic the player sounds (arousal) and whose colour follows how pleasant (valence),
//! with the music's tempo tied to the flame.
//!
//! Arousal and valence are continuous, so the mechanic needs no "sure" gate: the smoothed
//! [`EmotionState::arousal_valence`] moves gently, and a detection the model is unsure of
//! moves it less (its probabilities are spread over emotions that pull different ways).
//!
//! `cargo run --release -p bevy_voice_emotion --example arousal -- CLIP.wav...` plays the
//! clips as a microphone would and exits when they are done; without clips it listens to the
//! default microphone.

mod common;

use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

/// The campfire: what the game would draw and play.
#[derive(Resource, Debug, Default)]
struct Campfire {
    /// Flame height, `0..=1`.
    flame: f32,
    /// Music tempo in beats per minute.
    tempo_bpm: f32,
    /// Flame colour: `-1` cold blue (unpleasant) to `1` warm gold (pleasant).
    warmth: f32,
}

impl Campfire {
    /// The fire for a smoothed arousal and valence, each in `-1..=1`.
    fn follow(&mut self, arousal: f32, valence: f32) {
        self.flame = (0.5 + 0.5 * arousal).clamp(0.0, 1.0);
        self.tempo_bpm = 90.0 + 50.0 * arousal;
        self.warmth = valence;
    }
}

fn main() {
    let (voice, _clips) = common::voice_from_args();
    App::new()
        .add_plugins((MinimalPlugins, LogPlugin::default(), voice))
        .init_resource::<Campfire>()
        .add_systems(Update, (tend_the_fire, common::exit_when_input_ends))
        .run();
}

/// After each detection, the fire follows the smoothed state (the plugin has already added
/// the detection to it: its systems run in `PreUpdate`).
fn tend_the_fire(
    mut heard: MessageReader<EmotionDetected>,
    state: Res<EmotionState>,
    mut fire: ResMut<Campfire>,
) {
    for d in heard.read() {
        let (arousal, valence) = state.arousal_valence();
        fire.follow(arousal, valence);
        let bar = "#".repeat((fire.flame * 20.0).round() as usize);
        info!(
            "#{} {:?} (arousal {:+.2}, valence {:+.2}); smoothed arousal {arousal:+.2}, \
             valence {valence:+.2}: flame {bar:<20} tempo {:.0} bpm, {}",
            d.utterance,
            d.emotion,
            d.arousal,
            d.valence,
            fire.tempo_bpm,
            if fire.warmth >= 0.0 { "warm" } else { "cold" },
        );
    }
}
