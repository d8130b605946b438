//! The engine's clock: `SpeechStarted::at_seconds` is the time in the stream where the player
//! started speaking, at any microphone rate, however long the engine took to start. A
//! microphone announces its rate and starts pushing audio before the engine has loaded its
//! model (and `trainer stream` replays a recording the same way): none of that audio may be
//! lost, or every later time is off by it.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use voice_emotion::audio::capture::{AudioSource, Pace, ScriptedSource, audio_buffer};
use voice_emotion::audio::{SAMPLE_RATE, load_clip, resample};
use voice_emotion::engine::{Engine, EngineConfig, EngineEvent, ModelSource, ProfileLocation};
use voice_emotion::player::PlayerId;
use voice_emotion::speech::{VadConfig, trim_silence};

const WAIT: Duration = Duration::from_secs(120);
const LEAD_S: f64 = 1.5;
const GAP_S: f64 = 1.0;

/// The speech starts the engine reports for `clips` played at `rate`, the source started
/// before the engine, as fast as the engine reads.
fn speech_starts(clips: &[Vec<f32>], rate: u32) -> Vec<f64> {
    let mut script = ScriptedSource::new(Pace::Fast)
        .with_sample_rate(rate)
        .unwrap()
        .silence(LEAD_S);
    for c in clips {
        script = script
            .samples(resample(c, SAMPLE_RATE, rate).unwrap(), rate)
            .silence(GAP_S);
    }
    let mut script = script.end();
    let (sink, tap) = audio_buffer(rate as usize);
    script.start(sink).unwrap();
    let engine = Engine::start(
        ModelSource::Directory(Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base")),
        EngineConfig::default(),
        &ProfileLocation::Memory,
        PlayerId::new("clock").unwrap(),
        tap,
    )
    .unwrap();
    let deadline = Instant::now() + WAIT;
    let (mut starts, mut detected) = (Vec::new(), 0);
    while detected < clips.len() {
        assert!(
            Instant::now() < deadline,
            "{rate} Hz: timed out: {starts:?}"
        );
        match engine.event_timeout(Duration::from_millis(100)) {
            Some(EngineEvent::SpeechStarted { at_seconds, .. }) => starts.push(at_seconds),
            Some(EngineEvent::Detected(_)) => detected += 1,
            Some(EngineEvent::Failed { error }) => panic!("{error}"),
            _ => {}
        }
    }
    engine.shutdown();
    starts
}

#[test]
fn speech_starts_are_stream_times_at_any_rate() {
    // Each clip cut to its speech (from its first to its last 10 ms frame within 40 dB of its
    // loudest: `segment-eval`'s truth), so the speech starts where the clip does.
    let clips: Vec<Vec<f32>> = ["03-01-05-02-01-01-22.wav", "03-01-04-01-02-02-23.wav"]
        .iter()
        .map(|name| {
            let c = load_clip(common::ravdess_clip(name)).unwrap();
            c[trim_silence(&c, SAMPLE_RATE, &VadConfig::default())].to_vec()
        })
        .collect();
    let mut offset = LEAD_S;
    let mut truth = Vec::new();
    for c in &clips {
        truth.push(offset);
        offset += c.len() as f64 / f64::from(SAMPLE_RATE) + GAP_S;
    }
    let at_16k = speech_starts(&clips, 16_000);
    let at_48k = speech_starts(&clips, 48_000);
    println!("truth {truth:.3?}, 16 kHz {at_16k:.3?}, 48 kHz {at_48k:.3?}");
    for starts in [&at_16k, &at_48k] {
        assert_eq!(starts.len(), clips.len(), "{starts:?}");
        for (got, want) in starts.iter().zip(&truth) {
            assert!(
                (got - want).abs() < 0.25,
                "started at {got:.3} s, speech at {want:.3} s"
            );
        }
    }
    for (a, b) in at_16k.iter().zip(&at_48k) {
        assert!((a - b).abs() < 0.05, "16 kHz {a:.3} s, 48 kHz {b:.3} s");
    }
}
