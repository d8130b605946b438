//! The calibration screen (egui): each prompt with its sentence and acting hint; record, see
//! what the model heard, confirm or record again; at the end, the player's accuracy on their
//! own clips before and after adaptation. Leave any time: progress is kept.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use bevy_voice_emotion::prelude::*;

use super::Screen;
use crate::game::calibration::{
    CalibrationAction, CalibrationProgress, CurrentPrompt, Step, prompts,
};
use crate::game::voice::VoiceClips;
use crate::theme::palette::egui_color;
use crate::theme::widgets::{back_button, level_meter, name, probability_bars, root_ui};

fn calibration(
    mut contexts: EguiContexts,
    mut next: ResMut<NextState<Screen>>,
    step: Res<Step>,
    current: Res<CurrentPrompt>,
    progress: Res<CalibrationProgress>,
    mic: Res<MicrophoneStatus>,
    mut clips: ResMut<VoiceClips>,
    mut actions: MessageWriter<CalibrationAction>,
    keys: Res<ButtonInput<KeyCode>>,
) -> Result {
    let prompts = prompts();
    let prompt = prompts[current.0.min(prompts.len() - 1)];
    let mut record = keys.just_pressed(KeyCode::KeyR) || keys.just_pressed(KeyCode::Space);
    let mut confirm = keys.just_pressed(KeyCode::Enter);
    let mut root = root_ui(contexts.ctx_mut()?, "screen");
    egui::Panel::left("prompts")
        .exact_size(230.0)
        .show(&mut root, |ui| {
            back_button(ui, &mut next);
            ui.heading("Prompts");
            ui.add(
                egui::ProgressBar::new(progress.done() as f32 / prompts.len() as f32)
                    .text(format!("{} / {}", progress.done(), prompts.len())),
            );
            egui::ScrollArea::vertical().show(ui, |ui| {
                for (i, p) in prompts.iter().enumerate() {
                    let done = progress.heard.iter().any(|h| h.prompt == i);
                    let label = format!(
                        "{} {} ({})",
                        if done { "✔" } else { "·" },
                        name(p.emotion),
                        p.intensity.name()
                    );
                    if ui.selectable_label(i == current.0, label).clicked() {
                        actions.write(CalibrationAction::Select(i));
                    }
                }
            });
        });
    egui::CentralPanel::default().show(&mut root, |ui| {
        ui.heading("Calibrate your voice");
        ui.label(
            "Say each sentence the way the prompt asks. Your confirmed recordings train \
             your own copy of the model, on this machine only.",
        );
        ui.add_space(12.0);
        if matches!(*step, Step::Done | Step::Evaluating) {
            done_panel(ui, &step, &progress, &mut next);
            return;
        }
        ui.label(
            egui::RichText::new(format!(
                "{} — {}",
                name(prompt.emotion),
                prompt.intensity.name()
            ))
            .size(30.0)
            .color(egui_color(prompt.emotion)),
        );
        ui.label(egui::RichText::new(format!("“{}”", prompt.sentence)).size(26.0));
        ui.label(egui::RichText::new(prompt.hint).italics().size(18.0));
        ui.add_space(12.0);
        level_meter(ui, &mic);
        ui.add_space(8.0);
        match &*step {
            Step::Ready => {
                record |= ui.button("Record (R)").clicked();
            }
            Step::Listening => {
                ui.label(egui::RichText::new("Listening… speak now").size(20.0));
                if clips.active() {
                    ui.label("(a recorded clip is playing)");
                }
            }
            Step::Heard(d) => {
                ui.label(
                    egui::RichText::new(format!(
                        "The model heard: {} ({:.0}%)",
                        name(d.emotion),
                        d.confidence * 100.0
                    ))
                    .size(20.0)
                    .color(egui_color(d.emotion)),
                );
                probability_bars(ui, &d.probabilities);
                ui.horizontal(|ui| {
                    confirm |= ui
                        .button(format!("✔ Yes, that was {} (Enter)", name(prompt.emotion)))
                        .clicked();
                    if ui.button("↺ Record again (R)").clicked() {
                        actions.write(CalibrationAction::Retry);
                        if clips.active() {
                            clips.play_next();
                        }
                    }
                });
            }
            Step::Evaluating | Step::Done => {}
        }
    });
    if record && matches!(*step, Step::Ready | Step::Heard(_)) {
        actions.write(CalibrationAction::Record);
        if clips.active() {
            clips.play_next();
        }
    } else if confirm && matches!(*step, Step::Heard(_)) {
        actions.write(CalibrationAction::Confirm);
    }
    Ok(())
}

fn done_panel(
    ui: &mut egui::Ui,
    step: &Step,
    progress: &CalibrationProgress,
    next: &mut NextState<Screen>,
) {
    let (before, total) = progress.before();
    ui.heading("All prompts recorded");
    ui.label(format!(
        "Before adapting, the model recognised {before} of your {total} recordings ({:.0}%).",
        100.0 * before as f64 / total.max(1) as f64
    ));
    match (step, progress.after) {
        (_, Some((after, n))) => {
            ui.label(
                egui::RichText::new(format!(
                    "After adapting to you: {after} of {n} ({:.0}%).",
                    100.0 * after as f64 / n.max(1) as f64
                ))
                .size(22.0),
            );
            ui.label(
                "(Measured on the same recordings it learnt from; play to see how it does \
                 on new ones, and confirm its guesses to keep teaching it.)",
            );
        }
        _ => {
            ui.label("Adapting your model…");
        }
    }
    if ui.button("Play").clicked() {
        next.set(Screen::Play);
    }
}

/// The calibration screen.
pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        EguiPrimaryContextPass,
        calibration.run_if(in_state(Screen::Calibration)),
    );
}
