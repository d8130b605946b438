//! The HUD's pieces, drawn with egui: a level meter, the eight probabilities, the current
//! emotion, a live MFCC heatmap, and a note when the player's model updated.

use bevy::prelude::*;
use bevy_egui::egui;
use bevy_voice_emotion::prelude::*;
use bevy_voice_emotion::voice_emotion::features::FeatureMatrix;

use crate::world::emotion_color;

/// An emotion's colour for egui.
#[must_use]
pub fn egui_color(e: Emotion) -> egui::Color32 {
    let c = emotion_color(e).to_srgba();
    egui::Color32::from_rgb(
        (c.red * 255.0) as u8,
        (c.green * 255.0) as u8,
        (c.blue * 255.0) as u8,
    )
}

/// An emotion's name, capitalised.
#[must_use]
pub fn name(e: Emotion) -> String {
    let n = e.name();
    let mut c = n.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The microphone level as a bar (-60 dBFS to 0), with the status when not listening.
pub fn level_meter(ui: &mut egui::Ui, mic: &MicrophoneStatus) {
    let level = ((mic.level_dbfs() + 60.0) / 60.0).clamp(0.0, 1.0);
    let color = if mic.speaking {
        egui::Color32::from_rgb(90, 200, 90)
    } else {
        egui::Color32::from_rgb(110, 110, 120)
    };
    ui.add(
        egui::ProgressBar::new(level)
            .fill(color)
            .desired_width(220.0)
            .text(format!(
                "mic {:.0} dB{}",
                mic.level_dbfs(),
                if mic.speaking { "  speaking" } else { "" }
            )),
    );
    if !mic.status.is_active() {
        ui.colored_label(
            egui::Color32::from_rgb(240, 180, 60),
            mic.status.to_string(),
        );
    }
}

/// The eight probabilities as labelled bars.
pub fn probability_bars(ui: &mut egui::Ui, probabilities: &[f32; Emotion::COUNT]) {
    for e in Emotion::ALL {
        let p = probabilities[e.index()];
        ui.horizontal(|ui| {
            ui.add_sized([72.0, 14.0], egui::Label::new(name(e)));
            ui.add(
                egui::ProgressBar::new(p)
                    .fill(egui_color(e))
                    .desired_width(150.0)
                    .text(format!("{:.0}%", p * 100.0)),
            );
        });
    }
}

/// An MFCC matrix as a heatmap: time left to right, coefficient 0 at the bottom.
pub fn mfcc_heatmap(ui: &mut egui::Ui, mfcc: &FeatureMatrix, size: egui::Vec2) {
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, egui::Color32::from_gray(20));
    let (frames, coeffs) = (mfcc.n_frames, mfcc.n_features);
    if frames == 0 || coeffs == 0 {
        return;
    }
    // Coefficient 0 (loudness) dwarfs the rest: show 1.. scaled per coefficient.
    let shown = 1..coeffs;
    let columns = frames.min(160);
    let cw = rect.width() / columns as f32;
    let ch = rect.height() / shown.len() as f32;
    for (row, c) in shown.clone().enumerate() {
        let values = (0..frames).map(|t| mfcc.data[t * coeffs + c]);
        let (lo, hi) = values.fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(v), h.max(v)));
        let span = (hi - lo).max(1e-3);
        for col in 0..columns {
            let t = col * frames / columns;
            let v = (mfcc.data[t * coeffs + c] - lo) / span;
            let color = egui::Color32::from_rgb(
                (255.0 * v) as u8,
                (255.0 * (1.0 - (2.0 * v - 1.0).abs())) as u8,
                (255.0 * (1.0 - v)) as u8,
            );
            let x = rect.left() + col as f32 * cw;
            let y = rect.bottom() - (row + 1) as f32 * ch;
            painter.rect_filled(
                egui::Rect::from_min_size(egui::pos2(x, y), egui::vec2(cw + 0.5, ch + 0.5)),
                0.0,
                color,
            );
        }
    }
}

/// Recent "your model updated" notes.
#[derive(Resource, Debug, Default)]
pub struct Toasts(pub Vec<(f32, String)>);

/// Turns update messages into notes shown for a few seconds.
pub fn collect_toasts(
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
    }
    for r in rejected.read() {
        toasts
            .0
            .push((now + 4.0, format!("Not used: {}", r.reason)));
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
                ui.colored_label(egui::Color32::from_rgb(120, 220, 140), t);
            }
        });
}
