//! `trainer stream`: a recording through the engine's live path, as if it were the
//! microphone. The same [`Engine`] a game runs (its speech detector, thresholds, pre-roll and
//! tail, resampling, features and classifier) hears the recording at its own sample rate, in
//! the engine's blocks, as fast as it can take them. Prints one line per utterance (where its
//! speech starts and ends, in seconds, the emotion, its confidence, the intensity, and what
//! the engine restored or removed before its model heard it: clipped peaks, a hum) and last
//! `detections: N`.
//!
//! Without `--player` the listener is a new player whose voice statistics build up over the
//! recording, as they would live, in memory only. With `--player ID` the player's saved
//! profile classifies (read from `--profiles`, or the plugin's default folder) and is never
//! changed: their statistics do not learn from the replay.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use voice_emotion::audio::capture::{
    AudioSource, Pace, ScriptedSource, SourceStatus, audio_buffer,
};
use voice_emotion::audio::read_audio;
use voice_emotion::engine::{Engine, EngineConfig, EngineEvent, ModelSource, ProfileLocation};
use voice_emotion::player::profile::PlayerId;

use super::CmdResult;

/// Arguments of `trainer stream`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recording (WAV, FLAC, Ogg Vorbis or MP3; any rate and channel count; up to 30
    /// minutes).
    pub recording: PathBuf,
    /// The base model directory.
    #[arg(long, default_value = "models/base")]
    pub model: PathBuf,
    /// Classify with this player's saved profile (never modified).
    #[arg(long)]
    pub player: Option<String>,
    /// The profile folder (default: the plugin's, for the app name `bevy_voice_emotion`).
    #[arg(long, requires = "player")]
    pub profiles: Option<PathBuf>,
    /// Speech-detection sensitivity, `0..=1` (default: the engine's, 0.5).
    #[arg(long)]
    pub sensitivity: Option<f32>,
}

/// How long the engine may stay silent after the recording ended before we stop listening.
const QUIET_AFTER_END: Duration = Duration::from_secs(2);
/// How long to wait for any event while the recording plays.
const MAX_SILENCE: Duration = Duration::from_secs(120);

/// Runs the subcommand.
pub fn run(args: &Args) -> CmdResult {
    let (audio, info) =
        read_audio(&args.recording).map_err(|e| format!("{}: {e}", args.recording.display()))?;
    let mut config = EngineConfig {
        learn_voice: args.player.is_none(),
        ..EngineConfig::default()
    };
    if let Some(s) = args.sensitivity {
        config.vad.sensitivity = s;
    }
    config.vad.validate()?;
    let (location, player) = match &args.player {
        Some(id) => (
            match &args.profiles {
                Some(dir) => ProfileLocation::Directory(dir.clone()),
                None => ProfileLocation::Default {
                    app_name: "bevy_voice_emotion".to_owned(),
                },
            },
            PlayerId::new(id)?,
        ),
        None => (ProfileLocation::Memory, PlayerId::new("replay")?),
    };
    let rate = audio.sample_rate;
    let seconds = audio.duration_seconds();
    let mut source = ScriptedSource::new(Pace::Fast)
        .named(args.recording.display().to_string())
        .with_sample_rate(rate)?
        .samples(audio.samples, rate)
        .end();
    let (sink, tap) = audio_buffer(rate as usize);
    source.start(sink)?;
    let engine = Engine::start(
        ModelSource::Directory(args.model.clone()),
        config,
        &location,
        player,
        tap,
    )?;
    println!(
        "{}: {seconds:.1} s, {} Hz, {} channel(s)",
        args.recording.display(),
        info.sample_rate,
        info.channels
    );
    println!("start s   end s  emotion    confidence  intensity  heard");
    let mut starts: HashMap<u64, f64> = HashMap::new();
    let mut ends: HashMap<u64, f64> = HashMap::new();
    let mut detections = 0usize;
    let mut finished = false;
    loop {
        let wait = if finished {
            QUIET_AFTER_END
        } else {
            MAX_SILENCE
        };
        let Some(event) = engine.event_timeout(wait) else {
            if finished {
                break;
            }
            return Err("the engine stopped reporting before the recording ended".into());
        };
        match event {
            EngineEvent::Failed { error } => return Err(error.to_string().into()),
            EngineEvent::Ready {
                notice: Some(notice),
                ..
            } => eprintln!("warning: {notice}"),
            EngineEvent::SpeechStarted {
                utterance,
                at_seconds,
            } => {
                starts.insert(utterance, at_seconds);
            }
            EngineEvent::SpeechEnded {
                utterance,
                at_seconds,
                ..
            } => {
                ends.insert(utterance, at_seconds);
            }
            EngineEvent::Detected(d) => {
                detections += 1;
                let p = &d.prediction;
                println!(
                    "{:7.2} {:7.2}  {:<9}  {:>10.2}  {:<9}  {}",
                    starts.get(&d.utterance).copied().unwrap_or(f64::NAN),
                    ends.get(&d.utterance).copied().unwrap_or(f64::NAN),
                    p.emotion.to_string(),
                    p.confidence,
                    p.intensity.to_string(),
                    heard(d.clipped, d.hum_hz)
                );
            }
            EngineEvent::DetectionFailed { utterance, error } => {
                eprintln!("utterance {utterance} could not be classified: {error}");
            }
            EngineEvent::Source(SourceStatus::Finished) => finished = true,
            _ => {}
        }
    }
    engine.shutdown();
    println!("detections: {detections}");
    Ok(())
}

/// What the engine did to an utterance before its model heard it, for the `heard` column:
/// clipped peaks restored (the share of samples held at full scale) and a hum removed.
fn heard(clipped: f32, hum_hz: Option<f32>) -> String {
    let mut notes = Vec::new();
    if clipped > 0.0 {
        notes.push(format!("clipped {:.1}%", 100.0 * clipped));
    }
    if let Some(hz) = hum_hz {
        notes.push(format!("hum {hz:.1} Hz"));
    }
    if notes.is_empty() {
        "-".to_owned()
    } else {
        notes.join(", ")
    }
}
