//! The play screen's HUD, drawn with egui: a level meter, the eight probabilities, the current
//! emotion, a live MFCC heatmap, and notes ("toasts") when the player's model updated (with
//! the emotion it should hear next, `PlayerModelUpdated::confirm_next`).

use bevy::prelude::*;
use bevy_egui::egui;
use bevy_voice_emotion::prelude::*;

use crate::theme::palette::{self, egui_color};
use crate::theme::widgets::{level_meter, mfcc_heatmap, name, probability_bars};

/// Recent "your model updated" notes.
#[derive(Resource, Debug, Default)]
pub struct Toasts(pub Vec<(f32, String)>);

/// Turns update messages into notes shown for a few seconds.
fn collect_toasts(
    time: Res<Time>,
    mut updates: MessageReader<PlayerModelUpdated>,
    mut rejected: MessageReader<ConfirmationRejected>,
    mut toasts: ResMut<Toasts>,
) {
    let now = time.elapsed_secs();
    for u in updates.read() {
        let text = match &u.outcome {
            UpdateOutcome::Accepted => format!(
                "Your model learnt from {} samples (base {:.0}% -> yours {:.0}% on held-back ones)",
                u.samples_used,
                u.accuracy_before * 100.0,
                u.accuracy_after * 100.0
            ),
            UpdateOutcome::Refused { reason } => format!("Model kept as it was: {reason}"),
        };
        toasts.0.push((now + 5.0, text));
        if let Some(next) = u.confirm_next {
            // The emotion the player's model has fewest confirmed samples of.
            toasts.0.push((
                now + 5.0,
                format!(
                    "Your model has heard little of {} yet: try sounding {} and confirm it",
                    name(next),
                    next.name()
                ),
            ));
        }
    }
    for r in rejected.read() {
        toasts
            .0
            .push((now + 4.0, format!("Not used: {}", r.rejection)));
    }
    toasts.0.retain(|(until, _)| *until > now);
}

/// The HUD's side panel (play screen).
pub fn side_panel(
    root: &mut egui::Ui,
    mic: &MicrophoneStatus,
    state: &EmotionState,
    player: &ActivePlayer,
    toasts: &Toasts,
) {
    egui::Panel::right("hud")
        .exact_size(270.0)
        .show(root, |ui| {
            ui.heading("Voice");
            level_meter(ui, mic);
            ui.separator();
            match state.emotion() {
                Some(e) => {
                    ui.label(
                        egui::RichText::new(format!(
                            "{}  {:.0}%",
                            name(e),
                            state.confidence() * 100.0
                        ))
                        .size(26.0)
                        .color(egui_color(e)),
                    );
                }
                None => {
                    ui.label("Say something…");
                }
            }
            probability_bars(ui, &state.probabilities());
            ui.separator();
            ui.label("What the model heard (MFCC)");
            if let Some(latest) = state.latest() {
                mfcc_heatmap(ui, &latest.mfcc, egui::vec2(250.0, 110.0));
            } else {
                ui.add_space(110.0);
            }
            ui.separator();
            ui.label(format!(
                "Player {}: {} confirmed, {}",
                player.id.as_deref().unwrap_or("…"),
                player.samples,
                if player.adapted {
                    "own model"
                } else {
                    "base model"
                }
            ));
            for (_, t) in &toasts.0 {
                ui.colored_label(palette::NOTE, t);
            }
        });
}

/// The HUD's notes (headless: they are collected whether or not a window draws them).
pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Toasts>()
        .add_systems(Update, collect_toasts);
}
