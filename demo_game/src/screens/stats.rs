//! The player's stats: accuracy over their model's updates (a chart), the calibration's
//! before and after, and their confirmed samples per emotion.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use bevy_voice_emotion::prelude::*;

use super::Screen;
use crate::game::calibration::CalibrationProgress;
use crate::theme::palette::{self, egui_color};
use crate::theme::widgets::{back_button, name, root_ui};

fn chart(ui: &mut egui::Ui, profile: &ActivePlayer) {
    let size = egui::vec2(ui.available_width().min(700.0), 220.0);
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    let p = ui.painter_at(rect);
    p.rect_filled(rect, 4.0, egui::Color32::from_gray(25));
    // Updates that measured something (not "waiting for samples").
    let h: Vec<_> = profile
        .history
        .iter()
        .filter(|u| u.accepted || u.accuracy_before > 0.0 || u.accuracy_after > 0.0)
        .collect();
    let n = h.len().max(2) as f32 - 1.0;
    let at = |i: usize, v: f64| {
        egui::pos2(
            rect.left() + 10.0 + (rect.width() - 20.0) * i as f32 / n,
            rect.bottom() - 10.0 - (rect.height() - 20.0) * v as f32,
        )
    };
    for g in [0.25, 0.5, 0.75, 1.0] {
        p.line_segment(
            [at(0, g), egui::pos2(rect.right() - 10.0, at(0, g).y)],
            egui::Stroke::new(1.0, egui::Color32::from_gray(50)),
        );
    }
    let line = |f: &dyn Fn(usize) -> f64, color| {
        let points: Vec<egui::Pos2> = (0..h.len()).map(|i| at(i, f(i))).collect();
        p.add(egui::Shape::line(
            points.clone(),
            egui::Stroke::new(2.0, color),
        ));
        for q in points {
            p.circle_filled(q, 3.0, color);
        }
    };
    line(&|i| h[i].accuracy_before, palette::BASE_MODEL);
    line(&|i| h[i].accuracy_after, palette::OWN_MODEL);
}

fn stats_ui(
    mut contexts: EguiContexts,
    mut next: ResMut<NextState<Screen>>,
    player: Res<ActivePlayer>,
    progress: Res<CalibrationProgress>,
) -> Result {
    let mut root = root_ui(contexts.ctx_mut()?, "screen");
    egui::CentralPanel::default().show(&mut root, |ui| {
        back_button(ui, &mut next);
        ui.heading(format!("Stats of {}", player.id.as_deref().unwrap_or("…")));
        if let Some(notice) = &player.notice {
            ui.colored_label(palette::ERROR, notice.to_string());
        }
        let (before, total) = progress.before();
        if total > 0 {
            ui.label(format!(
                "Calibration: the base model recognised {before} of {total} recordings{}",
                progress
                    .after
                    .map(|(a, n)| format!("; after adapting, {a} of {n}"))
                    .unwrap_or_default()
            ));
        }
        let profile = &*player;
        if profile.samples == 0 && profile.history.is_empty() {
            ui.label("No samples yet: calibrate or confirm a few detections.");
            return;
        }
        ui.label(format!(
            "{} confirmed samples, {} model updates ({} kept), {}",
            profile.samples,
            profile.history.len(),
            profile.history.iter().filter(|u| u.accepted).count(),
            if profile.adapted {
                "playing with your own model"
            } else {
                "playing with the base model"
            }
        ));
        ui.add_space(6.0);
        ui.label("Accuracy on held-back samples at each update: grey the base model, green yours");
        chart(ui, profile);
        ui.add_space(6.0);
        ui.horizontal_wrapped(|ui| {
            for e in Emotion::ALL {
                let n = profile.samples_per_emotion[e.index()];
                ui.colored_label(egui_color(e), format!("{} {n}", name(e)));
            }
        });
        ui.separator();
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (i, u) in profile.history.iter().enumerate().rev().take(20) {
                ui.label(format!(
                    "#{} {} samples: {:.0}% -> {:.0}% {} ({})",
                    i + 1,
                    u.samples_used,
                    u.accuracy_before * 100.0,
                    u.accuracy_after * 100.0,
                    if u.accepted { "kept" } else { "not kept" },
                    u.reason
                ));
            }
        });
    });
    Ok(())
}

/// The stats screen.
pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        EguiPrimaryContextPass,
        stats_ui.run_if(in_state(Screen::Stats)),
    );
}
