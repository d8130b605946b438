//! The egui widgets the screens share: the screen's root `Ui`, the back button, an emotion's
//! name, the level meter, the probability bars and the MFCC heatmap.

use bevy::prelude::*;
use bevy_egui::egui;
use bevy_voice_emotion::prelude::*;
use bevy_voice_emotion::voice_emotion::features::FeatureMatrix;

use super::palette;
use crate::screens::Screen;

/// A `Ui` covering the window, for a screen's panels (egui 0.36 shows panels inside a
/// `Ui`).
#[must_use]
pub fn root_ui(ctx: &egui::Context, id: &str) -> egui::Ui {
    egui::Ui::new(
        ctx.clone(),
        egui::Id::new(id),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    )
}

/// A "back to the title" button.
pub fn back_button(ui: &mut egui::Ui, next: &mut NextState<Screen>) {
    if ui.button("⬅ Back").clicked() {
        next.set(Screen::Title);
    }
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
        palette::SPEAKING
    } else {
        palette::SILENT
    };
    // The text beside the bar, not on it: on the bar it sat over the level's marker.
    ui.horizontal(|ui| {
        ui.add(
            egui::ProgressBar::new(level)
                .fill(color)
                .desired_width(160.0),
        );
        ui.label(
            egui::RichText::new(format!(
                "mic {:>4.0} dB{}",
                mic.level_dbfs(),
                if mic.speaking { "  speaking" } else { "" }
            ))
            .monospace(),
        );
    });
    if !mic.status.is_active() {
        ui.colored_label(palette::WARNING, mic.status.to_string());
    }
}

/// A probability as the percentage shown beside its bar: `"  7%"`, `"100%"`.
#[must_use]
pub fn percent(p: f32) -> String {
    format!("{:>3.0}%", (p * 100.0).clamp(0.0, 100.0))
}

/// The eight probabilities as bars: the name, the bar, and the percentage in a column of
/// its own to the right (readable whatever the bar's length and colour).
pub fn probability_bars(ui: &mut egui::Ui, probabilities: &[f32; Emotion::COUNT]) {
    for e in Emotion::ALL {
        let p = probabilities[e.index()];
        ui.horizontal(|ui| {
            ui.add_sized([72.0, 14.0], egui::Label::new(name(e)));
            ui.add(
                egui::ProgressBar::new(p)
                    .fill(palette::egui_color(e))
                    .desired_width(120.0),
            );
            ui.add_sized(
                [36.0, 14.0],
                egui::Label::new(egui::RichText::new(percent(p)).monospace()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_keep_one_width_for_the_column() {
        assert_eq!(percent(0.07), "  7%");
        assert_eq!(percent(0.456), " 46%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(1.2), "100%");
    }

    #[test]
    fn names_are_capitalised() {
        assert_eq!(name(Emotion::Surprised), "Surprised");
    }
}
