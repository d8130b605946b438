//! The game's screens (a `Screen` state), one plugin per file, drawn with egui with the
//! widgets of `theme`.

use bevy::prelude::*;
use bevy_egui::EguiPrimaryContextPass;

mod calibration;
mod play;
mod players;
mod settings;
mod stats;
mod title;

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

/// `Esc` goes back to the title from any screen.
fn escape(keys: Res<ButtonInput<KeyCode>>, mut next: ResMut<NextState<Screen>>) {
    if keys.just_pressed(KeyCode::Escape) {
        next.set(Screen::Title);
    }
}

/// The screens' drawing.
pub(super) fn plugin(app: &mut App) {
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
