//! Screenshots of the window: asked for with a [`TakeScreenshot`] message (the autoplay
//! session's), or once, three seconds after start ([`StartupScreenshot`], `--screenshot`
//! without `--autoplay`).

use std::path::{Path, PathBuf};

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, save_to_disk};

/// A screenshot to take of the primary window, saved as PNG at this path.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct TakeScreenshot(pub PathBuf);

/// A screenshot to take three seconds after start.
#[derive(Resource, Debug, Clone, PartialEq, Eq)]
pub struct StartupScreenshot(pub PathBuf);

/// `shot.png` → `shot-<what>.png`.
#[must_use]
pub fn sibling(shot: &Path, what: &str) -> PathBuf {
    let stem = shot
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "screenshot".to_owned());
    shot.with_file_name(format!("{stem}-{what}.png"))
}

fn take_screenshots(mut shots: MessageReader<TakeScreenshot>, mut commands: Commands) {
    for TakeScreenshot(path) in shots.read() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            warn!("cannot create {}: {e}", dir.display());
        }
        info!("screenshot: {}", path.display());
        commands
            .spawn(Screenshot::primary_window())
            .observe(save_to_disk(path.clone()));
    }
}

fn startup_screenshot(
    time: Res<Time>,
    shot: Res<StartupScreenshot>,
    mut shots: MessageWriter<TakeScreenshot>,
    mut done: Local<bool>,
) {
    if !*done && time.elapsed_secs() > 3.0 {
        shots.write(TakeScreenshot(shot.0.clone()));
        *done = true;
    }
}

/// Screenshots on request.
pub(super) fn plugin(app: &mut App) {
    app.add_message::<TakeScreenshot>().add_systems(
        Update,
        (
            startup_screenshot.run_if(resource_exists::<StartupScreenshot>),
            take_screenshots,
        )
            .chain(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_sit_next_to_the_shot() {
        assert_eq!(
            sibling(Path::new("out/play.png"), "title"),
            PathBuf::from("out/play-title.png")
        );
    }
}
