//! A dialogue choice unlocked by an emotion family: a guard blocks the bridge, and how the
//! player sounds opens a way past. Sounding tense (angry or disgusted) unlocks "intimidate",
//! sad or afraid unlocks "plead", happy unlocks "charm".
//!
//! Families are what the model tells apart reliably (angry from disgust it often does not),
//! and the mechanic acts only on a [`Outcome::Sure`] family: when no family is clear the guard
//! asks the player to say it again instead of guessing.
//!
//! `cargo run --release -p bevy_voice_emotion --example dialogue -- CLIP.wav...` plays the
//! clips as a microphone would and exits when they are done; without clips it listens to the
//! default microphone.

mod common;

use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

/// A dialogue choice and the family of voice that unlocks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Intimidate,
    Plead,
    Charm,
}

impl Choice {
    /// The choice a sure family unlocks (calm and surprised unlock none).
    fn unlocked_by(family: EmotionFamily) -> Option<Self> {
        match family {
            EmotionFamily::Tense => Some(Self::Intimidate),
            EmotionFamily::Sad | EmotionFamily::Afraid => Some(Self::Plead),
            EmotionFamily::Happy => Some(Self::Charm),
            EmotionFamily::Calm | EmotionFamily::Surprised => None,
        }
    }

    fn line(self) -> &'static str {
        match self {
            Self::Intimidate => "[Intimidate] \"Step aside. Now.\"",
            Self::Plead => "[Plead] \"Please, my family is across the river.\"",
            Self::Charm => "[Charm] \"Lovely evening for a stroll, isn't it?\"",
        }
    }
}

/// The choices unlocked so far, in order.
#[derive(Resource, Debug, Default)]
struct Unlocked(Vec<Choice>);

fn main() {
    let (voice, _clips) = common::voice_from_args();
    App::new()
        .add_plugins((MinimalPlugins, LogPlugin::default(), voice))
        .init_resource::<Unlocked>()
        .add_systems(Startup, || info!("Guard: \"Nobody crosses tonight.\""))
        .add_systems(Update, (unlock_choices, common::exit_when_input_ends))
        .add_systems(Last, list_choices_on_exit)
        .run();
}

fn unlock_choices(mut heard: MessageReader<EmotionDetected>, mut unlocked: ResMut<Unlocked>) {
    for d in heard.read() {
        match d.family_outcome() {
            Outcome::Uncertain => info!(
                "#{}: Guard squints: \"What was that?\" (not sure: {:?} at {:.0}%)",
                d.utterance,
                d.family,
                d.family_confidence * 100.0
            ),
            Outcome::Sure(family) => match Choice::unlocked_by(family) {
                Some(choice) if !unlocked.0.contains(&choice) => {
                    info!(
                        "#{}: you sound {family:?} ({:.0}%): unlocked {}",
                        d.utterance,
                        d.family_confidence * 100.0,
                        choice.line()
                    );
                    unlocked.0.push(choice);
                }
                Some(_) => info!("#{}: you sound {family:?} again", d.utterance),
                None => info!("#{}: Guard shrugs at your {family:?} voice", d.utterance),
            },
        }
    }
}

fn list_choices_on_exit(mut exits: MessageReader<AppExit>, unlocked: Res<Unlocked>) {
    if exits.read().next().is_some() {
        info!("choices unlocked: {:?}", unlocked.0);
    }
}
