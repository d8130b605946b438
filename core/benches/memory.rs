//! Bench binary: the engine's resident memory with the shipped model loaded, in an optimised
//! program that is nothing but the engine (what a game adds by running it), against the same
//! program before the engine starts, in one run.
//!
//! `RAVDESS_DIR=... cargo bench -p voice_emotion --bench memory`. A 48 kHz scripted
//! microphone plays RAVDESS clips of actors 21-24 (`MEMORY_SECONDS` of audio, default 600,
//! as fast as the engine takes it), 1.5 s of silence after each, and one detection in ten is
//! confirmed, so the player's voice head is refitted and saved. Prints the resident set
//! (`/proc/self/smaps_rollup`: anonymous memory, the heap and stacks, apart from the
//! program's own mapped code and data) at the start, with the model loaded, and at the end.
//! The soak (`scripts/soak`) measures the same engine inside a debug test binary, whose own
//! image is most of its figure. Linux only.
#![expect(clippy::expect_used, reason = "benches fail loudly")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use voice_emotion::audio::capture::{
    AudioSource, Pace, ScriptedSource, SourceStatus, audio_buffer,
};
use voice_emotion::engine::{
    Command, Engine, EngineConfig, EngineEvent, ModelSource, ProfileLocation,
};
use voice_emotion::player::profile::PlayerId;
use voice_emotion::training::dataset::RavdessName;

/// The memory figures of `/proc/self/smaps_rollup`, in KiB.
#[derive(Debug, Clone, Copy)]
struct Resident {
    rss: u64,
    anonymous: u64,
}

impl Resident {
    fn now() -> Self {
        let text = std::fs::read_to_string("/proc/self/smaps_rollup")
            .expect("/proc/self/smaps_rollup (this bench runs on Linux)");
        let field = |name: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in smaps_rollup"))
        };
        Self {
            rss: field("Rss:"),
            anonymous: field("Anonymous:"),
        }
    }

    fn row(self, what: &str, start: Resident) {
        let mib = |k: u64| k as f64 / 1024.0;
        println!(
            "{what:<34} {:>8.1} {:>10.1} {:>11.1} {:>16.1}",
            mib(self.rss),
            mib(self.anonymous),
            mib(self.rss - self.anonymous),
            mib(self.rss.saturating_sub(start.rss)),
        );
    }
}

fn ravdess_clips() -> Vec<PathBuf> {
    let Some(root) = std::env::var_os("RAVDESS_DIR") else {
        panic!("RAVDESS_DIR is not set: this bench plays RAVDESS clips through the engine");
    };
    let mut clips = Vec::new();
    for actor in 21..=24 {
        let dir = Path::new(&root).join(format!("Actor_{actor:02}"));
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "wav"))
            .collect();
        paths.sort();
        clips.extend(paths);
    }
    assert!(
        !clips.is_empty(),
        "no clips of actors 21-24 under RAVDESS_DIR"
    );
    clips
}

fn main() {
    let start = Resident::now();
    let seconds: f64 = std::env::var("MEMORY_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600.0);
    let clips = ravdess_clips();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base");
    let profiles = tempfile::tempdir().expect("a temporary folder");

    // About 3.7 s a clip and 1.5 s of silence after it.
    let count = ((seconds / 5.2).ceil() as usize).max(1);
    let played: Vec<&PathBuf> = clips.iter().cycle().take(count).collect();
    let mut source = ScriptedSource::new(Pace::Fast)
        .with_sample_rate(48_000)
        .expect("48 kHz")
        .files(played.iter().copied(), 1.5);
    let (sink, tap) = audio_buffer(48_000);
    let engine = Engine::start(
        ModelSource::Directory(model),
        EngineConfig::default(),
        &ProfileLocation::Directory(profiles.path().to_path_buf()),
        PlayerId::new("memory").expect("player id"),
        tap,
    )
    .expect("engine");
    let mut loaded = None;
    let (mut detections, mut confirmations, mut updates) = (0usize, 0usize, 0usize);
    let begun = Instant::now();
    let mut started = false;
    loop {
        let Some(event) = engine.event_timeout(Duration::from_secs(30)) else {
            panic!("the engine went quiet for 30 s");
        };
        match event {
            EngineEvent::Ready { .. } if loaded.is_none() => {
                loaded = Some(Resident::now());
                if !started {
                    source.start(sink.clone()).expect("scripted source");
                    started = true;
                }
            }
            EngineEvent::Failed { error } => panic!("engine failed: {error}"),
            EngineEvent::Detected(d) => {
                detections += 1;
                if detections % 10 == 0 {
                    // The clip played in that place (a rare merge or split shifts the label,
                    // which changes nothing measured here).
                    let clip = played[(detections - 1) % played.len()];
                    let name = RavdessName::parse(clip).expect("a RAVDESS file name");
                    engine.send(Command::Confirm {
                        utterance: d.utterance,
                        emotion: name.emotion,
                        intensity: Some(name.intensity),
                    });
                    confirmations += 1;
                }
            }
            EngineEvent::ModelUpdated { .. } => updates += 1,
            EngineEvent::Source(SourceStatus::Finished) => break,
            _ => {}
        }
    }
    // Let the last detections and updates arrive.
    while let Some(event) = engine.event_timeout(Duration::from_secs(3)) {
        if matches!(event, EngineEvent::ModelUpdated { .. }) {
            updates += 1;
        }
    }
    let end = Resident::now();
    engine.shutdown();
    let loaded = loaded.expect("the engine never said Ready");

    println!(
        "{count} clips, {seconds:.0} s of 48 kHz audio in {:.1} s: {detections} detections, {confirmations} confirmations, {updates} updates",
        begun.elapsed().as_secs_f64()
    );
    println!(
        "{:<34} {:>8} {:>10} {:>11} {:>16}",
        "MiB", "resident", "anonymous", "file-backed", "over the start"
    );
    start.row("the program, before the engine", start);
    loaded.row("engine started, model loaded", start);
    end.row("after the audio", start);
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "the engine's resident memory (at the end, over the program at the start): {:.1} MiB; target 40 MB ({:.1} MiB); the process in all {:.1} MiB",
        mib(end.rss.saturating_sub(start.rss)),
        40e6 / 1_048_576.0,
        mib(end.rss)
    );
}
