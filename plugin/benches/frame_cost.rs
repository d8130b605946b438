//! What the plugin costs the game: main-thread time per frame while speech is being
//! processed (against the same app without the plugin, frames interleaved in one run), and
//! the time from the end of an utterance to its `EmotionDetected` message.
//!
//! `cargo bench -p bevy_voice_emotion --bench frame_cost`

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

/// A vowel-like buzz: harmonics of a gliding pitch under a syllable envelope.
fn buzz(seconds: f64, seed: f32) -> Vec<f32> {
    let n = (seconds * 16_000.0) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            let f0 = 120.0 + 20.0 * seed + 30.0 * (t * 3.0).sin();
            let env = (std::f32::consts::PI * t * 4.0).sin().abs();
            (1..6)
                .map(|h| (std::f32::consts::TAU * f0 * h as f32 * t).sin() / h as f32)
                .sum::<f32>()
                * 0.2
                * env
        })
        .collect()
}

fn voice_app(pace: Pace) -> (App, ScriptFeed) {
    let source = ScriptedSource::new(pace);
    let feed = source.feed();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins).add_plugins(
        VoiceEmotionPlugin::default()
            .with_profiles(ProfileLocation::Memory)
            .with_source(source),
    );
    (app, feed)
}

fn feed_speech(feed: &ScriptFeed, utterances: usize) {
    for i in 0..utterances {
        feed.samples(buzz(1.5 + (i % 3) as f64 * 0.5, (i % 5) as f32), 16_000);
        feed.silence(0.8);
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // Frame cost: the engine is kept busy (speech faster than real time) while both apps
    // update in turn on this thread.
    let (mut voice, feed) = voice_app(Pace::Fast);
    let mut plain = App::new();
    plain.add_plugins(MinimalPlugins);
    while voice.world().resource::<ActivePlayer>().id.is_none() {
        voice.update();
        std::thread::sleep(Duration::from_millis(1));
    }
    feed_speech(&feed, 400);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let frames = 4000;
    for _ in 0..frames {
        let t = Instant::now();
        plain.update();
        without.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        voice.update();
        with.push(t.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_micros(200));
    }
    let d = voice.world().resource::<VoiceEmotionDiagnostics>().clone();
    println!(
        "frame cost over {frames} frames while {} utterances were processed:",
        d.detections
    );
    println!(
        "  MinimalPlugins only:        mean {:.4} ms, p99 {:.4} ms",
        mean(&without),
        percentile(&without, 0.99)
    );
    println!(
        "  with VoiceEmotionPlugin:    mean {:.4} ms, p99 {:.4} ms",
        mean(&with),
        percentile(&with, 0.99)
    );
    println!(
        "  added by the plugin:        mean {:.4} ms per frame (target < 0.1 ms)",
        mean(&with) - mean(&without)
    );
    drop(voice);

    // Latency: speech at real-time pace, the app updating every millisecond.
    let (mut voice, feed) = voice_app(Pace::RealTime);
    while voice.world().resource::<ActivePlayer>().id.is_none() {
        voice.update();
        std::thread::sleep(Duration::from_millis(1));
    }
    feed_speech(&feed, 12);
    let mut latency = Vec::new();
    let mut processing = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = 0;
    while latency.len() < 12 && Instant::now() < deadline {
        voice.update();
        let d = voice.world().resource::<VoiceEmotionDiagnostics>();
        if d.detections > seen {
            seen = d.detections;
            latency.push(d.last_latency_ms);
            processing.push(d.last_inference_ms);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "end of utterance to EmotionDetected ({} utterances, real-time input, 1 ms frames):",
        latency.len()
    );
    println!(
        "  engine processing (resample, MFCC, inference): mean {:.2} ms, max {:.2} ms",
        mean(&processing),
        processing.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "  to the message:                                mean {:.2} ms, max {:.2} ms (target < 50 ms)",
        mean(&latency),
        latency.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "  (speech detection reports the end after its hangover, 500 ms of silence by default; \
         a game at 60 fps adds up to one frame, 16.7 ms)"
    );
}
