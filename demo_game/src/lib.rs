//! Moodlight, the demo game of `bevy_voice_emotion`: a world that follows the player's voice
//! emotion, gates that open for the emotion they ask for, a calibration screen, and a model
//! per player that learns from what the player confirms.
//!
//! The game logic ([`logic_plugin`]: calibration, gates, autoplay) runs headless in tests;
//! [`view_plugin`] adds the window's drawing (egui screens, the 2D world, the HUD).
#![warn(missing_docs)]
// Bevy systems take what they use as parameters.
#![allow(clippy::too_many_arguments)]

use std::path::PathBuf;

use bevy::prelude::*;

pub mod autoplay;
pub mod calibration;
pub mod gates;
pub mod hud;
pub mod screens;
pub mod voice;
pub mod world;

/// Settings from the command line.
#[derive(Resource, Debug, Clone, PartialEq, Eq)]
pub struct GameConfig {
    /// Where profiles (and calibration progress) are kept.
    pub profile_dir: PathBuf,
}

/// Game logic without drawing: the screens' state, calibration, gates, autoplay.
pub fn logic_plugin(app: &mut App) {
    app.init_state::<screens::Screen>()
        .init_resource::<voice::VoiceClips>()
        .init_resource::<hud::Toasts>()
        .add_plugins((calibration::plugin, gates::plugin, autoplay::plugin));
}

/// Drawing and input: egui screens, the world, the HUD, dropped files.
pub fn view_plugin(app: &mut App) {
    app.add_plugins(bevy_egui::EguiPlugin::default())
        .add_plugins((screens::plugin, world::plugin))
        .add_systems(Startup, |mut commands: Commands| {
            commands.spawn(Camera2d);
        })
        .add_systems(Update, (voice::dropped_files, hud::collect_toasts));
}
