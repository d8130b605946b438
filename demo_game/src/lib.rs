//! Moodlight, the demo game of `bevy_voice_emotion`: a world that follows the player's voice
//! emotion, gates that open for the emotion they ask for, a calibration screen, and a model
//! per player that learns from what the player confirms.
//!
//! Laid out like a Bevy game (the template `bevy_new_2d`): [`game`] (calibration, gates,
//! the world, the companion, the weather, the HUD), [`screens`] (one per file), [`theme`]
//! (colours and widgets) and [`dev_tools`] (autoplay, screenshots). The screens learn about
//! players and their history from the plugin's resources (`KnownPlayers`, `ActivePlayer`)
//! and never open the profile files. [`logic_plugin`] runs headless in tests;
//! [`view_plugin`] adds the window's drawing (egui screens, the 2D world).
#![warn(missing_docs)]
#![expect(
    clippy::too_many_arguments,
    reason = "Bevy systems take what they use as parameters"
)]

use std::path::PathBuf;

use bevy::prelude::*;

pub mod dev_tools;
pub mod game;
pub mod screens;
pub mod theme;

/// Settings from the command line.
#[derive(Resource, Debug, Clone, PartialEq, Eq)]
pub struct GameConfig {
    /// Where profiles (and calibration progress) are kept.
    pub profile_dir: PathBuf,
}

/// Game logic without drawing: the screens' state, calibration, gates, the voice clips,
/// the HUD's notes, autoplay and screenshots on request.
pub fn logic_plugin(app: &mut App) {
    app.init_state::<screens::Screen>()
        .add_plugins((game::plugin, dev_tools::plugin));
}

/// Drawing and input: egui screens and the play screen's world.
pub fn view_plugin(app: &mut App) {
    app.add_plugins(bevy_egui::EguiPlugin::default())
        .add_plugins((screens::plugin, game::view_plugin))
        .add_systems(Startup, |mut commands: Commands| {
            commands.spawn(Camera2d);
        });
}
