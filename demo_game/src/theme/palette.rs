//! The game's colours: one per emotion (gates, bars, companion, labels), in Bevy's and in
//! egui's form, and the few colours of the interface's notes.

use bevy::prelude::*;
use bevy_egui::egui;
use bevy_voice_emotion::prelude::*;

/// The colour of an emotion (gates, bars, companion).
#[must_use]
pub fn emotion_color(e: Emotion) -> Color {
    match e {
        Emotion::Neutral => Color::srgb(0.62, 0.62, 0.66),
        Emotion::Calm => Color::srgb(0.30, 0.75, 0.70),
        Emotion::Happy => Color::srgb(1.00, 0.82, 0.20),
        Emotion::Sad => Color::srgb(0.25, 0.42, 0.85),
        Emotion::Angry => Color::srgb(0.90, 0.20, 0.15),
        Emotion::Fearful => Color::srgb(0.55, 0.30, 0.75),
        Emotion::Disgust => Color::srgb(0.45, 0.65, 0.20),
        Emotion::Surprised => Color::srgb(1.00, 0.55, 0.15),
    }
}

/// An emotion's colour for egui (the same as [`emotion_color`]).
#[must_use]
pub fn egui_color(e: Emotion) -> egui::Color32 {
    let c = emotion_color(e).to_srgba();
    egui::Color32::from_rgb(
        (c.red * 255.0) as u8,
        (c.green * 255.0) as u8,
        (c.blue * 255.0) as u8,
    )
}

/// Errors and irreversible choices (a rejected name, "forget this player?").
pub const ERROR: egui::Color32 = egui::Color32::from_rgb(240, 120, 100);

/// Warnings (no microphone).
pub const WARNING: egui::Color32 = egui::Color32::from_rgb(240, 180, 60);

/// Good news ("your model learnt").
pub const NOTE: egui::Color32 = egui::Color32::from_rgb(120, 220, 140);

/// The level meter while the player speaks.
pub const SPEAKING: egui::Color32 = egui::Color32::from_rgb(90, 200, 90);

/// The level meter in silence.
pub const SILENT: egui::Color32 = egui::Color32::from_rgb(110, 110, 120);

/// The base model's line in the stats chart.
pub const BASE_MODEL: egui::Color32 = egui::Color32::from_rgb(150, 150, 160);

/// The player's own model's line in the stats chart.
pub const OWN_MODEL: egui::Color32 = egui::Color32::from_rgb(110, 220, 130);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_emotion_has_its_own_colour_and_egui_shows_the_same_one() {
        let colours: Vec<_> = Emotion::ALL.into_iter().map(egui_color).collect();
        for (i, a) in colours.iter().enumerate() {
            assert!(colours[i + 1..].iter().all(|b| b != a), "{i}: {a:?}");
        }
        let happy = emotion_color(Emotion::Happy).to_srgba();
        assert_eq!(
            egui_color(Emotion::Happy),
            egui::Color32::from_rgb(255, (happy.green * 255.0) as u8, (happy.blue * 255.0) as u8)
        );
    }
}
