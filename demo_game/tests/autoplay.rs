//! The game's logic headless: an autoplay session on real RAVDESS clips calibrates, plays,
//! opens gates and trains the player's model.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed setup step should fail the test loudly"
)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::state::app::StatesPlugin;
use bevy_voice_emotion::prelude::*;
use demo_game::GameConfig;
use demo_game::dev_tools::autoplay::{Autoplay, AutoplayResult};
use demo_game::game::calibration::{CalibrationDir, CalibrationProgress};
use demo_game::game::gates::GateRun;
use demo_game::game::voice::VoiceClips;

fn ravdess_clips(actor: u8, n: usize) -> Vec<PathBuf> {
    let dir = std::env::var_os("RAVDESS_DIR").map(PathBuf::from).expect(
        "RAVDESS_DIR is not set: this test needs the RAVDESS speech set \
         (CI sets RAVDESS_DIR=../shared/data/ravdess)",
    );
    let dir = dir.join(format!("Actor_{actor:02}"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // Spread over the emotions.
    files.into_iter().step_by(7).take(n).collect()
}

/// The game's logic, headless, for `player` with profiles in `profiles`, autoplaying `files`
/// (played fast as the player's voice).
fn autoplay_app(player: &str, profiles: &std::path::Path, files: &[PathBuf]) -> App {
    let mut clips = VoiceClips {
        files: files.to_vec(),
        pace: Pace::Fast,
        ..VoiceClips::default()
    };
    let source = clips.source();
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, StatesPlugin))
        .add_plugins(
            VoiceEmotionPlugin::default()
                .with_player(PlayerId::new(player).unwrap())
                .with_profile_dir(profiles)
                .with_source(source),
        )
        .insert_resource(GameConfig {
            profile_dir: profiles.to_path_buf(),
        })
        .insert_resource(CalibrationDir(profiles.to_path_buf()))
        .add_plugins(demo_game::logic_plugin)
        .insert_resource(clips)
        .insert_resource(Autoplay::new(files, None));
    app
}

#[test]
fn an_autoplay_session_calibrates_plays_and_trains_the_player() {
    let profiles = tempfile::tempdir().unwrap();
    let files = ravdess_clips(23, 8);
    let mut app = autoplay_app("auto", profiles.path(), &files);
    let start = Instant::now();
    while app.world().resource::<AutoplayResult>().0.is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "autoplay did not finish"
        );
        app.update();
        std::thread::sleep(Duration::from_millis(2));
    }
    let lines = app.world().resource::<AutoplayResult>().0.clone().unwrap();
    for l in &lines {
        println!("{l}");
    }
    // The session ends the app with its outcome (main turns it into the exit status).
    assert_eq!(app.should_exit(), Some(AppExit::Success));
    let auto = app.world().resource::<Autoplay>();
    assert!(auto.completed && auto.reacted, "{lines:?}");
    assert_eq!(auto.detections, 4);
    assert!(auto.updates >= 1);
    assert!(auto.after.is_some_and(|(_, n)| n == 4));
    // The check: the four play clips as second takes, scored and never confirmed.
    let (base, player, total) = auto.check.expect("the check's figure");
    assert_eq!(total, 4, "{lines:?}");
    assert!(base <= 4 && player <= 4);
    let run = app.world().resource::<GateRun>();
    assert_eq!(run.heard, 4);
    let progress = app.world().resource::<CalibrationProgress>();
    assert_eq!(progress.done(), 4);
    assert_eq!(
        progress.check.map(|c| (c.base, c.player, c.total)),
        Some((base, player, total))
    );
    // The calibration is saved and comes back for this player.
    assert_eq!(CalibrationProgress::load(profiles.path(), "auto").done(), 4);
}

#[test]
fn closing_the_app_before_the_session_ends_is_an_error() {
    let profiles = tempfile::tempdir().unwrap();
    let mut app = autoplay_app("early", profiles.path(), &[]);
    app.update();
    assert_eq!(app.should_exit(), None);
    // What closing the window does.
    app.world_mut().write_message(AppExit::Success);
    app.update();
    assert!(app.should_exit().is_some_and(|e| e.is_error()));
    assert!(app.world().resource::<AutoplayResult>().0.is_none());
}
