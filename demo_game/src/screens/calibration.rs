//! The calibration screen (egui): each prompt with its sentence and acting hint; record, see
//! what the model heard, confirm or record again; then the check, a second take of a few
//! prompts that the model never learns from, and its figure: the base model and the player's
//! own on those takes. Leave any time: progress is kept.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use bevy_voice_emotion::prelude::*;

use super::Screen;
use crate::game::calibration::{
    CHECK_TAKES, CalibrationAction, CalibrationProgress, Check, CurrentPrompt, Step, prompt_order,
    prompts,
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
    check: Res<Check>,
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
                for i in prompt_order() {
                    let p = prompts[i];
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
            ui.separator();
            if check.active {
                ui.label(format!(
                    "Check: take {} of {CHECK_TAKES}",
                    check.takes.len() + 1
                ));
                if !check.takes.is_empty() && ui.button("Finish the check now").clicked() {
                    actions.write(CalibrationAction::FinishCheck);
                }
            } else if progress.can_check()
                && *step != Step::Evaluating
                && ui.button("Check my model").clicked()
            {
                actions.write(CalibrationAction::StartCheck);
            }
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
        if check.active {
            ui.label(
                egui::RichText::new(format!(
                    "Check, take {} of {CHECK_TAKES}: say it once more. This take is not \
                     learnt from: it shows how well the model knows your voice.",
                    check.takes.len() + 1
                ))
                .strong(),
            );
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
                    let keep = if check.active {
                        "✔ Keep this take (Enter)".to_owned()
                    } else {
                        format!("✔ Yes, that was {} (Enter)", name(prompt.emotion))
                    };
                    confirm |= ui.button(keep).clicked();
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
    let percent = |k: usize, n: usize| 100.0 * k as f64 / n.max(1) as f64;
    match (step, progress.check) {
        (Step::Done, Some(c)) => {
            ui.heading("Your model, checked");
            ui.label(
                egui::RichText::new(format!(
                    "On {} new takes it never learnt from: the base model recognised {} \
                     ({:.0}%), yours {} ({:.0}%).",
                    c.total,
                    c.base,
                    percent(c.base, c.total),
                    c.player,
                    percent(c.player, c.total)
                ))
                .size(22.0),
            );
        }
        _ => {
            ui.heading("Checking your model…");
        }
    }
    let (before, total) = progress.before();
    ui.label(format!(
        "On the {total} recordings it learnt from: {before} recognised before adapting \
         ({:.0}%){}.",
        percent(before, total),
        progress
            .after
            .map(|(a, n)| format!(", {a} of {n} after ({:.0}%)", percent(a, n)))
            .unwrap_or_default()
    ));
    ui.label(
        "Play to see it at work, and confirm its guesses to keep teaching it; record any \
         prompt again from the list on the left.",
    );
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
