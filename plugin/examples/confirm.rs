//! A confirmation prompt policy: when to ask the player "was that right?", and what to do
//! with the answer. [`ConfirmationPolicy`] asks at most once an interval, and only about
//! detections the model doubts (a high [`EmotionDetected::teach_score`]): those teach the
//! player's model the most and cost their patience the least. Each answer becomes a
//! [`ConfirmEmotion`]; the [`PlayerModelUpdated`] that follows says whether the player's
//! model changed and which emotion to prompt for next (`confirm_next`).
//!
//! `cargo run --release -p bevy_voice_emotion --example confirm -- CLIP.wav...` plays the
//! clips as a microphone would; for clips with RAVDESS names (`03-01-EE-...`) the simulated
//! player answers with the emotion in the name (matched to detections in order), for others
//! the answer is read from standard input. Without clips it listens to the default microphone
//! and reads answers from standard input: `y` (yes), an emotion (`sad`: no, it was sad), or
//! anything else to skip.

mod common;

use std::io::BufRead;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, channel};

use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

/// Where the player's answers come from, and the question waiting for one.
#[derive(Resource)]
struct Player {
    /// The emotion in each clip's RAVDESS name, in play order (`None`: not a RAVDESS name).
    clip_truth: Vec<Option<Emotion>>,
    /// Detections so far (the index of the clip being answered about).
    detections: usize,
    /// Lines typed on standard input.
    typed: Mutex<Receiver<String>>,
    /// The question asked and not yet answered: the utterance and the emotion heard.
    waiting: Option<(u64, Emotion)>,
}

impl Player {
    /// The emotion in the name of the clip of the latest detection, if it has one.
    fn clip_answer(&self) -> Option<Emotion> {
        self.clip_truth
            .get(self.detections.checked_sub(1)?)
            .copied()
            .flatten()
    }

    /// A typed answer about the question waiting, if one came: `Some(None)` to skip.
    fn typed_answer(&self) -> Option<Option<Emotion>> {
        let (_, heard) = self.waiting?;
        let line = self.typed.lock().ok()?.try_recv().ok()?;
        Some(match line.trim() {
            "y" | "yes" => Some(heard),
            other => other.parse().ok(),
        })
    }
}

/// The emotion in a RAVDESS file name (`03-01-04-...wav`: the third field is the emotion).
fn ravdess_emotion(path: &str) -> Option<Emotion> {
    let name = std::path::Path::new(path).file_stem()?.to_str()?;
    let code = name.split('-').nth(2)?.parse().ok()?;
    Emotion::from_ravdess_code(code)
}

fn main() {
    let (voice, clips) = common::voice_from_args();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    App::new()
        .add_plugins((MinimalPlugins, LogPlugin::default(), voice))
        // A question at most every 8 s, about detections the model gave at most 50%.
        .insert_resource(ConfirmationPolicy::new(8.0, 0.5))
        .insert_resource(Player {
            clip_truth: clips.iter().map(|c| ravdess_emotion(c)).collect(),
            detections: 0,
            typed: Mutex::new(rx),
            waiting: None,
        })
        .add_systems(
            Update,
            (
                ask_when_worth_it,
                take_typed_answers,
                report_updates,
                common::exit_when_input_ends,
            ),
        )
        .run();
}

fn ask_when_worth_it(
    time: Res<Time<Real>>,
    mut policy: ResMut<ConfirmationPolicy>,
    mut player: ResMut<Player>,
    mut heard: MessageReader<EmotionDetected>,
    mut confirm: MessageWriter<ConfirmEmotion>,
) {
    for d in heard.read() {
        player.detections += 1;
        if !policy.should_ask(d, time.elapsed_secs_f64()) {
            info!(
                "#{}: {:?} at {:.0}%: not asking (teach score {:.2})",
                d.utterance,
                d.emotion,
                d.confidence * 100.0,
                d.teach_score
            );
            continue;
        }
        info!(
            "#{}: Did you sound {:?}? (the model is {:.0}% sure; teach score {:.2})",
            d.utterance,
            d.emotion,
            d.confidence * 100.0,
            d.teach_score
        );
        match player.clip_answer() {
            Some(emotion) => answer(&mut confirm, d.utterance, Some(emotion)),
            None => {
                info!("#{}: y / an emotion / anything else to skip?", d.utterance);
                player.waiting = Some((d.utterance, d.emotion));
            }
        }
    }
}

/// Answers typed on standard input, without ever blocking the game's frame.
fn take_typed_answers(mut player: ResMut<Player>, mut confirm: MessageWriter<ConfirmEmotion>) {
    if let (Some((utterance, _)), Some(emotion)) = (player.waiting, player.typed_answer()) {
        player.waiting = None;
        answer(&mut confirm, utterance, emotion);
    }
}

/// The player's answer becomes a training sample (`None`: they skipped).
fn answer(confirm: &mut MessageWriter<ConfirmEmotion>, utterance: u64, emotion: Option<Emotion>) {
    match emotion {
        Some(emotion) => {
            info!("#{utterance}: the player says {emotion:?}");
            confirm.write(ConfirmEmotion {
                utterance,
                emotion,
                intensity: None,
            });
        }
        None => info!("#{utterance}: the player skips"),
    }
}

fn report_updates(mut updates: MessageReader<PlayerModelUpdated>) {
    for u in updates.read() {
        info!(
            "player model: {:?} after {} samples ({:.2} -> {:.2} held back)",
            u.outcome, u.samples_used, u.accuracy_before, u.accuracy_after
        );
        if let Some(next) = u.confirm_next {
            info!("prompt next: \"try sounding {next:?}\"");
        }
    }
}
