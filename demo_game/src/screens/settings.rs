//! Settings: the microphone, speech sensitivity, smoothing, whether recordings are kept, and
//! forgetting the player.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use bevy_voice_emotion::prelude::*;

use super::Screen;
use crate::GameConfig;
use crate::game::calibration::CalibrationProgress;
use crate::game::voice::VoiceClips;
use crate::theme::palette;
use crate::theme::widgets::{back_button, level_meter, root_ui};

#[derive(Default)]
struct Local {
    devices: Option<Vec<String>>,
    confirm_forget: bool,
}

fn settings_ui(
    mut contexts: EguiContexts,
    mut next: ResMut<NextState<Screen>>,
    mut settings: ResMut<VoiceEmotionSettings>,
    mic: Res<MicrophoneStatus>,
    player: Res<ActivePlayer>,
    config: Res<GameConfig>,
    mut clips: ResMut<VoiceClips>,
    mut local: bevy::prelude::Local<Local>,
    mut commands: Commands,
    mut forget: MessageWriter<ForgetPlayer>,
) -> Result {
    if local.devices.is_none() {
        local.devices = Some(CpalMicrophone::devices());
    }
    let mut root = root_ui(contexts.ctx_mut()?, "screen");
    egui::CentralPanel::default().show(&mut root, |ui| {
        back_button(ui, &mut next);
        ui.heading("Settings");
        ui.add_space(8.0);
        ui.label(format!("Voice input: {}", mic.status));
        level_meter(ui, &mic);
        ui.horizontal_wrapped(|ui| {
            if ui.button("Default microphone").clicked() {
                clips.feed = None;
                commands.queue(ChangeVoiceInput(VoiceInput::Microphone(None)));
            }
            for d in local.devices.clone().unwrap_or_default() {
                if ui.button(&d).clicked() {
                    clips.feed = None;
                    commands.queue(ChangeVoiceInput(VoiceInput::Microphone(Some(d))));
                }
            }
            if !clips.files.is_empty() && ui.button("Recorded clips").clicked() {
                let source = clips.source();
                commands.queue(ChangeVoiceInput(VoiceInput::Source(Box::new(source))));
            }
            if ui.button("↻ Look for devices").clicked() {
                local.devices = None;
            }
        });
        ui.add_space(8.0);
        ui.add(
            egui::Slider::new(&mut settings.sensitivity, 0.0..=1.0)
                .text("speech sensitivity (higher hears quieter speech)"),
        );
        ui.add(
            egui::Slider::new(&mut settings.smoothing, 0.0..=0.95)
                .text("mood smoothing (higher changes the world more slowly)"),
        );
        ui.checkbox(
            &mut settings.keep_confirmed_audio,
            "Keep the audio of the recordings I confirm (otherwise only their features are kept)",
        );
        ui.add_space(16.0);
        ui.heading("Privacy");
        ui.label(format!(
            "Your voice never leaves this computer. Profiles are in {}.",
            config.profile_dir.display()
        ));
        let id = player.id.clone().unwrap_or_default();
        if local.confirm_forget {
            ui.horizontal(|ui| {
                ui.colored_label(
                    palette::ERROR,
                    format!("Delete everything the game learnt about {id}?"),
                );
                if ui.button("Yes, forget").clicked() {
                    forget.write(ForgetPlayer { player: id.clone() });
                    CalibrationProgress::forget(&config.profile_dir, &id);
                    local.confirm_forget = false;
                }
                if ui.button("Cancel").clicked() {
                    local.confirm_forget = false;
                }
            });
        } else if ui.button(format!("Forget player {id}")).clicked() {
            local.confirm_forget = true;
        }
    });
    Ok(())
}

/// The settings screen.
pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        EguiPrimaryContextPass,
        settings_ui.run_if(in_state(Screen::Settings)),
    );
}
