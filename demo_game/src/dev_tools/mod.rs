//! Tools for tests, CI and demos: the scripted session of `--autoplay` ([`autoplay`]) and
//! screenshots ([`screenshot`]). Headless: without a window, screenshots are never asked for.

use bevy::prelude::*;

pub mod autoplay;
pub mod screenshot;

/// The dev tools (idle until an [`autoplay::Autoplay`] or a
/// [`screenshot::StartupScreenshot`] is inserted).
pub(super) fn plugin(app: &mut App) {
    app.add_plugins((autoplay::plugin, screenshot::plugin));
}
