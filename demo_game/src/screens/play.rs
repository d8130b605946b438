//! The play screen: the world (see `game/world.rs`), the HUD, the gate to open, and "was that
//! right?" after every detection.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use bevy_voice_emotion::prelude::*;

use super::Screen;
use crate::game::gates::{Answer, Feedback, GateRun, PendingConfirmation, answer_keys};
use crate::game::hud::{Toasts, side_panel};
use crate::game::voice::VoiceClips;
use crate::theme::palette::egui_color;
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
    if keys.just_pressed(KeyCode::Space) && clips.active() {
        clips.play_next();
    }
    Ok(())
}

/// The play screen.
pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        EguiPrimaryContextPass,
        play_ui.run_if(in_state(Screen::Play)),
    )
    .add_systems(Update, answer_keys.run_if(in_state(Screen::Play)));
}
