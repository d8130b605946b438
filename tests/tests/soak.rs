//! Soak: 30 minutes of scripted speech (RAVDESS clips and silence), faster than real time,
//! through the plugin in an app, with player switches mixed in. Memory (within 5% after the
//! first sixth) and every queue must stay flat. `SOAK_SECONDS` sets the audio length
//! (default 1800); `SOAK_CONFIRM_EVERY=N` also confirms one utterance in N (memory growth is
//! then reported, not asserted).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;
use bevy_voice_emotion::{VoiceEngine, VoiceSource};
use e2e::clips;

/// Resident memory in bytes (Linux).
/// A player switch every this many utterances.
const SWITCH_EVERY: usize = 100;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
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

#[test]
fn thirty_minutes_of_speech_leave_memory_and_queues_flat() {
    let seconds: f64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1800.0);
    // Confirm one utterance in this many (0: none).
    let confirm_every: usize = std::env::var("SOAK_CONFIRM_EVERY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let clips = [clips(21, 1), clips(22, 1), clips(23, 1)].concat();
    let dir = tempfile::tempdir().unwrap();
    let source = ScriptedSource::new(Pace::Fast);
    let feed = source.feed();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(
            VoiceEmotionPlugin::default()
                .with_profile_dir(dir.path())
                .with_player("soak-a")
                .with_source(source),
        )
        .init_resource::<Seen>()
        .add_systems(Update, count);

    let started = Instant::now();
    let (mut fed_seconds, mut fed, mut confirmed, mut switches) = (0.0, 0usize, 0usize, 0usize);
    let mut warm_rss = None;
    let mut peak_rss = 0u64;
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
        max_waiting_events =
            max_waiting_events.max(app.world().resource::<VoiceEngine>().events_waiting());
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
                player: player.into(),
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
        std::thread::sleep(Duration::from_micros(500));
    }
    let end_rss = rss_bytes();
    let warm_rss = warm_rss.unwrap();
    let engine = app.world().resource::<VoiceEngine>();
    let stats = engine.stats();
    let buffer = engine.monitor().stats();
    let diagnostics = app.world().resource::<VoiceEmotionDiagnostics>().clone();
    let seen = app.world().resource::<Seen>();
    let growth = end_rss as f64 / warm_rss as f64 - 1.0;
    println!(
        "soak: {fed_seconds:.0} s of audio ({fed} utterances) in {:.1} s; {} detections, \
         {confirmed} confirmations, {} updates ({} accepted), {switches} player switches",
        started.elapsed().as_secs_f64(),
        seen.detected.len(),
        seen.updates,
        seen.accepted
    );
    println!(
        "soak: RSS after warm-up (1/6 of the audio) {:.1} MiB, at the end {:.1} MiB ({:+.2}%), \
         peak {:.1} MiB",
        warm_rss as f64 / 1048576.0,
        end_rss as f64 / 1048576.0,
        growth * 100.0,
        peak_rss as f64 / 1048576.0
    );
    println!("soak: RSS (MiB) every twelfth of the audio: {curve:.1?}");
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
    assert_eq!(seen.detected.len(), fed, "one detection per utterance");
    assert_eq!(buffer.dropped_blocks, 0);
    assert_eq!(stats.events_dropped, 0);
    assert!(stats.recent_high_water <= 32);
    assert!(max_waiting_events < 64, "{max_waiting_events}");
    if confirm_every == 0 {
        assert!(growth < 0.05, "memory grew {:.1}%", growth * 100.0);
    } else {
        // Confirmations add the player's data and each update's working set grows with
        // the samples it trains on (up to `AdaptConfig::max_samples`): reported, not held to
        // the 5% of the detection path.
        println!("soak: with confirmations, memory growth is reported only");
    }
    drop(app.world_mut().remove_resource::<VoiceSource>());
}
