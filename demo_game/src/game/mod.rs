//! The game: calibration, the road of gates, the voice clips, the HUD's notes and whether
//! the player is heard (logic, headless), and the world the play screen shows (the ground, the
//! sky, the companion, the weather).

use bevy::prelude::*;

pub mod calibration;
mod companion;
mod gate_view;
pub mod gates;
pub mod hud;
pub mod listening;
pub mod mood;
mod sky;
pub mod sound;
pub mod voice;
mod weather;
mod world;

/// The game's logic: no window, no drawing (tests run it with `MinimalPlugins`).
pub(super) fn plugin(app: &mut App) {
    app.add_plugins((
        calibration::plugin,
        gates::plugin,
        voice::plugin,
        hud::plugin,
        listening::plugin,
    ));
}

/// The play screen's 2D world (needs the renderer's assets), and the sound (needs an output
/// device; none is a warning).
pub(super) fn view_plugin(app: &mut App) {
    app.add_plugins((
        world::plugin,
        sky::plugin,
        gate_view::plugin,
        companion::plugin,
        weather::plugin,
        sound::plugin,
    ));
}
