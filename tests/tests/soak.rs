//! Soak: scripted speech (RAVDESS clips and silence), faster than real time, through the
//! plugin in an app, with confirmations and player switches mixed in.
//!
//! - `an_hour_of_speech_with_confirmations_and_switches_stays_flat` (ignored by default;
//!   `scripts/soak` runs it, and CI runs the script): one hour of audio, one utterance in ten
//!   confirmed, a player switch every 100 utterances. Resident memory must stay below 5% over
//!   its value after the warm-up (the first sixth of the audio), at the end and at every point
//!   in between, and no audio block or event may be dropped. `SOAK_SECONDS` and `SOAK_CONFIRM_EVERY` change the length and the
//!   share confirmed.
//! - `ten_minutes_of_speech_with_confirmations_drop_nothing`: the same for ten minutes, run by
//!   `cargo test` (queues and counts checked, memory only reported).
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;
use bevy_voice_emotion::{VoiceEngine, VoiceSource};
use e2e::clips;

/// A player switch every this many utterances.
const SWITCH_EVERY: usize = 100;

/// Resident memory in bytes (Linux).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Anonymous resident memory in KiB (Linux 4.14+; `None` where the kernel lacks the file).
fn anonymous_kib() -> Option<u64> {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Anonymous:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[derive(Resource, Default)]
struct Seen {
    detected: Vec<(u64, Emotion)>,
    updates: usize,
    accepted: usize,
}

fn count(
    mut seen: ResMut<Seen>,
    mut detected: MessageReader<EmotionDetected>,
    mut updated: MessageReader<PlayerModelUpdated>,
) {
    for d in detected.read() {
        seen.detected.push((d.utterance, d.emotion));
    }
    for u in updated.read() {
        seen.updates += 1;
        seen.accepted += usize::from(u.outcome == UpdateOutcome::Accepted);
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// What a soak run measured.
struct Report {
    fed: usize,
    detections: usize,
    confirmed: usize,
    updates: usize,
    /// RSS after warm-up, its highest value after that, and at the end.
    warm_rss: u64,
    peak_after_warm: u64,
    end_rss: u64,
    dropped_blocks: u64,
    events_dropped: u64,
    recent_high_water: u64,
    max_waiting_events: usize,
}

impl Report {
    fn growth(&self) -> f64 {
        self.end_rss as f64 / self.warm_rss as f64 - 1.0
    }

    fn peak_growth(&self) -> f64 {
        self.peak_after_warm as f64 / self.warm_rss as f64 - 1.0
    }
}

/// Streams `seconds` of speech and silence through the plugin, confirming one utterance in
/// `confirm_every` (0: none) and switching players every [`SWITCH_EVERY`] utterances.
fn soak(seconds: f64, confirm_every: usize) -> Report {
    let mib = |b: u64| b as f64 / 1_048_576.0;
    let start_rss = rss_bytes();
    let clips = [clips(21, 1), clips(22, 1), clips(23, 1)].concat();
    let dir = tempfile::tempdir().unwrap();
    let source = ScriptedSource::new(Pace::Fast);
    let feed = source.feed();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(
            VoiceEmotionPlugin::default()
                .with_profile_dir(dir.path())
                .with_player(PlayerId::new("soak-a").unwrap())
                .with_source(source),
        )
        .init_resource::<Seen>()
        .add_systems(Update, count);

    let started = Instant::now();
    let (mut fed_seconds, mut fed, mut confirmed, mut switches) = (0.0, 0usize, 0usize, 0usize);
    let mut warm_rss = None;
    let mut peak_rss = 0u64;
    let mut peak_after_warm = 0u64;
    let mut max_waiting_events = 0usize;
    let mut curve = Vec::new();
    while fed_seconds < seconds || app.world().resource::<Seen>().detected.len() < fed {
        assert!(
            started.elapsed() < Duration::from_secs(1200),
            "soak too slow: {fed_seconds:.0} s of audio fed"
        );
        // Keep a few utterances queued ahead of the engine, no more.
        let done = app.world().resource::<Seen>().detected.len();
        while fed_seconds < seconds && fed < done + 3 {
            let clip = &clips[fed % clips.len()];
            feed.samples(clip.samples.to_vec(), 16_000);
            let gap = 1.0 + (fed % 3) as f64 * 0.5;
            feed.silence(gap);
            fed_seconds += clip.samples.len() as f64 / 16_000.0 + gap;
            fed += 1;
        }
        // The engine starts in the first update's `PreStartup`.
        let waiting = app
            .world()
            .get_resource::<VoiceEngine>()
            .map_or(0, VoiceEngine::events_waiting);
        max_waiting_events = max_waiting_events.max(waiting);
        app.update();
        // Confirm one utterance in ten (its true label); switch players every 100.
        let detected = app.world().resource::<Seen>().detected.clone();
        while confirm_every > 0 && (confirmed + 1) * confirm_every <= detected.len() {
            let index = (confirmed + 1) * confirm_every - 1;
            let (utterance, _) = detected[index];
            let clip = &clips[index % clips.len()];
            app.world_mut().write_message(ConfirmEmotion {
                utterance,
                emotion: clip.name.emotion,
                intensity: Some(clip.name.intensity),
            });
            confirmed += 1;
        }
        if detected.len() / SWITCH_EVERY > switches {
            switches += 1;
            let player = if switches % 2 == 1 {
                "soak-b"
            } else {
                "soak-a"
            };
            app.world_mut().write_message(SwitchPlayer {
                player: PlayerId::new(player).unwrap(),
            });
        }
        let rss = rss_bytes();
        peak_rss = peak_rss.max(rss);
        if fed_seconds >= (curve.len() + 1) as f64 * seconds / 12.0 {
            curve.push(rss as f64 / 1_048_576.0);
        }
        if warm_rss.is_none() && fed_seconds >= seconds / 6.0 {
            warm_rss = Some(rss);
        }
        if warm_rss.is_some() {
            peak_after_warm = peak_after_warm.max(rss);
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let end_rss = rss_bytes();
    let warm_rss = warm_rss.unwrap();
    let engine = app.world().resource::<VoiceEngine>();
    let stats = engine.stats();
    let buffer = engine.monitor().stats();
    let diagnostics = app.world().resource::<VoiceEmotionDiagnostics>().clone();
    let seen = app.world().resource::<Seen>();
    let report = Report {
        fed,
        detections: seen.detected.len(),
        confirmed,
        updates: seen.updates,
        warm_rss,
        peak_after_warm,
        end_rss,
        dropped_blocks: buffer.dropped_blocks,
        events_dropped: stats.events_dropped,
        recent_high_water: stats.recent_high_water,
        max_waiting_events,
    };
    println!(
        "soak: {fed_seconds:.0} s of audio ({fed} utterances) in {:.1} s; {} detections, \
         {confirmed} confirmations, {} updates ({} accepted), {switches} player switches",
        started.elapsed().as_secs_f64(),
        seen.detected.len(),
        seen.updates,
        seen.accepted
    );
    println!(
        "soak: RSS at start {:.1} MiB, after warm-up (1/6 of the audio) {:.1} MiB, at the end \
         {:.1} MiB ({:+.2}%), highest after warm-up {:.1} MiB ({:+.2}%), peak {:.1} MiB",
        mib(start_rss),
        mib(warm_rss),
        mib(end_rss),
        report.growth() * 100.0,
        mib(peak_after_warm),
        report.peak_growth() * 100.0,
        mib(peak_rss)
    );
    println!("soak: RSS (MiB) every twelfth of the audio: {curve:.1?}");
    if let Some(anonymous) = anonymous_kib() {
        println!(
            "soak: at the end {:.1} MiB anonymous, {:.1} MiB mapped files (mostly this debug test \
             binary's image; `cargo bench -p voice_emotion --bench memory` measures the engine \
             alone in an optimised program)",
            anonymous as f64 / 1024.0,
            mib(end_rss) - anonymous as f64 / 1024.0
        );
    }
    println!(
        "soak: audio buffer high-water {} of {} samples, dropped blocks {}; events waiting at \
         most {max_waiting_events} (engine high-water {}, dropped {}); utterances kept for \
         confirmation at most {}; profile saves {}; last inference {:.2} ms, last update {:.0} ms",
        buffer.high_water,
        buffer.capacity,
        buffer.dropped_blocks,
        stats.events_high_water,
        stats.events_dropped,
        stats.recent_high_water,
        stats.saves,
        diagnostics.last_inference_ms,
        diagnostics.last_update_ms
    );
    drop(app.world_mut().remove_resource::<VoiceSource>());
    report
}

/// The invariants of every soak run: one detection per utterance, nothing dropped, queues
/// bounded, an update for the confirmations.
fn assert_clean(r: &Report) {
    assert_eq!(r.detections, r.fed, "one detection per utterance");
    assert_eq!(r.dropped_blocks, 0);
    assert_eq!(r.events_dropped, 0);
    assert!(r.recent_high_water <= 32);
    assert!(r.max_waiting_events < 64, "{}", r.max_waiting_events);
    if r.confirmed >= 4 {
        assert!(r.updates > 0, "{} confirmations, no update", r.confirmed);
    }
}

#[test]
#[ignore = "an hour of audio (a few minutes of CPU): scripts/soak runs it"]
fn an_hour_of_speech_with_confirmations_and_switches_stays_flat() {
    let r = soak(
        env_or("SOAK_SECONDS", 3600.0),
        env_or("SOAK_CONFIRM_EVERY", 10),
    );
    assert_clean(&r);
    assert!(
        r.peak_growth() < 0.05 && r.growth() < 0.05,
        "memory grew after warm-up: {:+.1}% at the end, {:+.1}% at its highest",
        r.growth() * 100.0,
        r.peak_growth() * 100.0
    );
}

#[test]
fn ten_minutes_of_speech_with_confirmations_drop_nothing() {
    let r = soak(600.0, 10);
    assert_clean(&r);
}
