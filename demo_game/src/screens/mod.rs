//! The game's screens (a `Screen` state), one plugin per file, drawn with egui.

use bevy::prelude::*;
use bevy_egui::{EguiPrimaryContextPass, egui};

pub mod calibration;
pub mod play;
pub mod players;
pub mod settings;
pub mod stats;
pub mod title;

/// Which screen is showing.
#[derive(States, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Screen {
    /// Title and menu.
    #[default]
    Title,
    /// Choose or create a player.
    Players,
    /// The guided calibration.
    Calibration,
    /// The game.
    Play,
    /// Microphone, sensitivity, privacy.
    Settings,
    /// The player's accuracy and adaptation history.
    Stats,
}

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

/// `Esc` goes back to the title from any screen.
fn escape(keys: Res<ButtonInput<KeyCode>>, mut next: ResMut<NextState<Screen>>) {
    if keys.just_pressed(KeyCode::Escape) {
        next.set(Screen::Title);
    }
}

/// The screens' drawing.
pub fn plugin(app: &mut App) {
    app.add_plugins((
        title::plugin,
        players::plugin,
        calibration::plugin,
        play::plugin,
        settings::plugin,
        stats::plugin,
    ))
    .add_systems(EguiPrimaryContextPass, escape);
}
