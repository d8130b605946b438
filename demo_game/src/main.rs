//! `cargo run --release -p demo_game [-- --voice-dir DIR] [--autoplay] [--screenshot PATH]`

use std::path::PathBuf;
use std::process::ExitCode;

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;
use clap::Parser;
use demo_game::GameConfig;
use demo_game::dev_tools::autoplay::Autoplay;
use demo_game::dev_tools::screenshot::StartupScreenshot;
use demo_game::game::calibration::CalibrationDir;
use demo_game::game::sound::SoundSettings;
use demo_game::game::voice::VoiceClips;

/// Moodlight: a game that hears how you say things.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Play the audio files of this directory (WAV, FLAC, Ogg Vorbis, MP3) as your voice (no
    /// microphone needed): Space or "Record" plays the next one.
    #[arg(long, value_name = "DIR")]
    voice_dir: Option<PathBuf>,
    /// Run a scripted session on the --voice-dir clips (calibrate with some, play with the
    /// others), print a summary and exit.
    #[arg(long, requires = "voice_dir")]
    autoplay: bool,
    /// Save a screenshot here (with --autoplay: of the play screen at the end, and of the
    /// title, calibration, stats, settings and players screens next to it as
    /// NAME-title.png, NAME-calibration.png, and so on).
    #[arg(long, value_name = "PATH")]
    screenshot: Option<PathBuf>,
    /// The player to start as.
    #[arg(long, default_value = "player")]
    player: PlayerId,
    /// Keep profiles here instead of the platform's data directory.
    #[arg(long, value_name = "DIR")]
    profile_dir: Option<PathBuf>,
    /// No music or sound effects (the microphone hears less of the game, too).
    #[arg(long)]
    no_sound: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let location = args.profile_dir.clone().map_or_else(
        || ProfileLocation::Default {
            app_name: "moodlight".to_owned(),
        },
        ProfileLocation::Directory,
    );
    let profile_dir = match location.folder() {
        Ok(Some(dir)) => dir,
        Ok(None) => {
            eprintln!("moodlight: profiles would be kept in memory only");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("moodlight: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut clips = VoiceClips::default();
    let mut voice = VoiceEmotionPlugin::default()
        .with_provisional_results(std::time::Duration::from_millis(400))
        .with_player(args.player.clone())
        .with_profile_dir(profile_dir.clone());
    if let Some(dir) = &args.voice_dir {
        match VoiceClips::from_dir(dir) {
            Ok(files) => clips.files = files,
            Err(e) => {
                eprintln!("moodlight: {e}");
                return ExitCode::FAILURE;
            }
        }
        voice = voice.with_source(clips.source());
    }
    let mut app = App::new();
    app.add_plugins(DefaultPlugins.set(WindowPlugin {
        primary_window: Some(Window {
            title: "Moodlight".into(),
            resolution: (1280, 720).into(),
            ..default()
        }),
        ..default()
    }))
    .add_plugins(voice)
    .insert_resource(GameConfig {
        profile_dir: profile_dir.clone(),
    })
    .insert_resource(CalibrationDir(profile_dir))
    .insert_resource(SoundSettings {
        enabled: !args.no_sound,
    })
    .add_plugins((demo_game::logic_plugin, demo_game::view_plugin));
    if args.autoplay {
        // The session prints its summary and ends the app with its outcome.
        app.insert_resource(Autoplay::new(&clips.files, args.screenshot.clone()));
    } else if let Some(path) = args.screenshot.clone() {
        app.insert_resource(StartupScreenshot(path));
    }
    app.insert_resource(clips);
    match app.run() {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(code) => ExitCode::from(code.get()),
    }
}
