//! Title screen: the menu, the active player, and what to do without a microphone.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use bevy_voice_emotion::prelude::*;

use super::Screen;
use crate::game::voice::VoiceClips;
use crate::theme::palette;
use crate::theme::widgets::root_ui;

fn title(
    mut contexts: EguiContexts,
    mut next: ResMut<NextState<Screen>>,
    player: Res<ActivePlayer>,
    mic: Res<MicrophoneStatus>,
    clips: Res<VoiceClips>,
    mut exit: MessageWriter<AppExit>,
) -> Result {
    let mut root = root_ui(contexts.ctx_mut()?, "screen");
    egui::CentralPanel::default().show(&mut root, |ui| {
        ui.vertical_centered(|ui| {
            ui.add_space(60.0);
            ui.label(egui::RichText::new("Moodlight").size(56.0).strong());
            ui.label(egui::RichText::new("Your voice sets the mood.").size(20.0));
            ui.add_space(20.0);
            ui.label(format!(
                "Player: {}",
                player.id.as_deref().unwrap_or("loading…")
            ));
            ui.add_space(20.0);
            let big = |t: &str| egui::Button::new(egui::RichText::new(t).size(22.0));
            for (label, screen) in [
                ("Play", Screen::Play),
                ("Calibrate my voice", Screen::Calibration),
                ("Players", Screen::Players),
                ("My stats", Screen::Stats),
                ("Settings", Screen::Settings),
            ] {
                if ui.add_sized([280.0, 40.0], big(label)).clicked() {
                    next.set(screen);
                }
            }
            if ui.add_sized([280.0, 40.0], big("Quit")).clicked() {
                exit.write(AppExit::Success);
            }
            ui.add_space(20.0);
            if clips.active() {
                ui.label(format!(
                    "Voice input: {} recorded clips (Space plays the next one).",
                    clips.files.len()
                ));
            } else if !mic.status.is_active() {
                ui.colored_label(
                    palette::WARNING,
                    format!(
                        "{}.\nNo microphone? Start with --voice-dir DIR, or drop audio files \
                         onto this window: they are played as your voice.",
                        mic.status
                    ),
                );
            }
        });
    });
    Ok(())
}

/// The title screen.
pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        EguiPrimaryContextPass,
        title.run_if(in_state(Screen::Title)),
    );
}
