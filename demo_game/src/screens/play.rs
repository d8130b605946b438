//! The play screen: the world (see `game/world.rs`), the HUD, the gate to open, "was that
//! right?" when the confirmation policy asks, a "how to play" card until the player is first
//! heard, and a line when they are not heard (`game/listening.rs`).

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use bevy_voice_emotion::prelude::*;

use super::Screen;
use crate::game::gates::{Answer, Feedback, GateRun, PendingConfirmation, answer_keys};
use crate::game::hud::{Toasts, side_panel};
use crate::game::listening::Listening;
use crate::game::voice::VoiceClips;
use crate::theme::palette::{self, egui_color};
use crate::theme::widgets::{name, root_ui};

fn play_ui(
    mut contexts: EguiContexts,
    mut next: ResMut<NextState<Screen>>,
    mic: Res<MicrophoneStatus>,
    state: Res<EmotionState>,
    player: Res<ActivePlayer>,
    toasts: Res<Toasts>,
    run: Res<GateRun>,
    pending: Res<PendingConfirmation>,
    mut clips: ResMut<VoiceClips>,
    mut answers: MessageWriter<Answer>,
    keys: Res<ButtonInput<KeyCode>>,
    time: Res<Time>,
    mut listening: ResMut<Listening>,
) -> Result {
    let mut root = root_ui(contexts.ctx_mut()?, "screen");
    side_panel(&mut root, &mic, &state, &player, &toasts);
    egui::Panel::top("gate").show(&mut root, |ui| {
        ui.horizontal(|ui| {
            if ui.button("⬅ Menu").clicked() {
                next.set(Screen::Title);
            }
            let wanted = run.wanted();
            ui.label(egui::RichText::new("Gate ahead wants:").size(20.0));
            ui.label(
                egui::RichText::new(name(wanted))
                    .size(26.0)
                    .strong()
                    .color(egui_color(wanted)),
            );
            ui.separator();
            ui.label(
                egui::RichText::new(format!(
                    "Score {}   gates {}   streak {}",
                    run.score, run.opened, run.streak
                ))
                .size(18.0),
            );
        });
        if let Some(hint) = listening.hint(time.elapsed_secs_f64(), &mic, clips.active()) {
            ui.colored_label(palette::NOTE, hint);
        }
        match &run.feedback {
            Some(Feedback::Opened { emotion, points }) => {
                ui.colored_label(
                    egui_color(*emotion),
                    format!("The gate heard {} and opened: +{points}", name(*emotion)),
                );
            }
            Some(Feedback::Missed { wanted, heard }) => {
                ui.label(format!(
                    "That sounded {}; the gate wants {}.",
                    name(*heard),
                    name(*wanted)
                ));
            }
            Some(Feedback::NotSure { heard }) => {
                ui.label(format!(
                    "Not sure: maybe {}? Say it again, with feeling.",
                    name(*heard)
                ));
            }
            None => {
                ui.label("Speak with the gate's emotion to open it.");
            }
        }
        if clips.active() {
            ui.label("Space: play the next recorded clip as your voice.");
        }
    });
    if let Some((_, heard)) = pending.0 {
        egui::Panel::bottom("confirm").show(&mut root, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label(egui::RichText::new(format!("Was that {}?", name(heard))).size(20.0));
                if ui.button("Yes (Y)").clicked() {
                    answers.write(Answer::Right);
                }
                ui.label("No, it was:");
                for (i, e) in Emotion::ALL.into_iter().enumerate() {
                    if ui
                        .button(
                            egui::RichText::new(format!("{} {}", i + 1, name(e)))
                                .color(egui_color(e)),
                        )
                        .clicked()
                    {
                        answers.write(Answer::Actually(e));
                    }
                }
                if ui.button("Skip (N)").clicked() {
                    answers.write(Answer::Dismiss);
                }
            });
        });
    }
    if listening.how_to_play {
        let close = how_to_play(root.ctx(), clips.active());
        if close || keys.just_pressed(KeyCode::Enter) {
            listening.how_to_play = false;
        }
    }
    if keys.just_pressed(KeyCode::Space) && clips.active() {
        clips.play_next();
    }
    Ok(())
}

/// The first-minute card: what to do, in four lines; `true` when "Got it" was clicked.
fn how_to_play(ctx: &egui::Context, clips: bool) -> bool {
    let speak = if clips {
        "Press Space to play a recorded clip as your voice."
    } else {
        "Say anything (a line, a word) in the emotion the gate wants."
    };
    let mut close = false;
    egui::Window::new("How to play")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::vec2(-135.0, 0.0))
        .show(ctx, |ui| {
            ui.label("1. The gate ahead wants an emotion: its name is at the top.");
            ui.label(format!("2. {speak}"));
            ui.label("3. Sure of your emotion's family (calm and neutral, angry and disgust), it opens; not sure, it asks you to say it again.");
            ui.label("4. Asked \"was that right?\": Y for yes, 1-8 for what you meant. It teaches your own model.");
            close = ui.button("Got it (Enter)").clicked();
        });
    close
}

/// The play screen.
pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        EguiPrimaryContextPass,
        play_ui.run_if(in_state(Screen::Play)),
    )
    .add_systems(Update, answer_keys.run_if(in_state(Screen::Play)));
}
