//! Bench binary: the engine's work between the end of speech and the result, with the
//! player's model run while the player speaks (`UtteranceStream`, what the engine does by
//! default) against classifying the whole utterance when it ends, for utterances of several
//! lengths, in one run. Audio arrives at 48 kHz in 100 ms blocks, with 0.8 s of pre-roll and
//! 0.5 s of tail around the speech (the engine's defaults); the stream has been fed all but
//! the last 30 ms (a speech end extended by three frames), as the engine feeds it.
//!
//! `cargo bench -p voice_emotion --bench streaming`. Prints, per length, the median time
//! of each path and the ratio; the target is a streamed end within 1 ms whatever
//! the length.
#![expect(clippy::expect_used, reason = "benches fail loudly")]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use voice_emotion::audio::{StreamResampler, resample};
use voice_emotion::model::{EmotionClassifier, InputExtractor, default_device};
use voice_emotion::player::adapt::{
    ANCHORS_FILE, AdaptConfig, Adapter, AnchorSet, PlayerModel, PlayerState,
};

/// Median of `runs` timings of `timed` (after three more to warm up).
fn median(runs: usize, mut timed: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs + 3)
        .map(|_| {
            let start = Instant::now();
            timed();
            start.elapsed()
        })
        .skip(3)
        .collect();
    times.sort_unstable();
    times[runs / 2]
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base");
    let classifier = EmotionClassifier::load(&dir, &default_device()).expect("models/base");
    let anchors = AnchorSet::read(&dir.join(ANCHORS_FILE)).expect("anchors");
    let adapter = Arc::new(Adapter::new(&classifier, &anchors, AdaptConfig::new()));
    let player = PlayerModel::new(adapter, PlayerState::default(), None);
    let mut extractor = InputExtractor::new(classifier.input_config().clone()).expect("input");
    let mut stream = player.stream().expect("stream");
    let mut resampler = StreamResampler::new(48_000, 16_000).expect("resampler");
    const BLOCK: usize = 4800;
    const REST: usize = 1440;
    println!("utterance  whole (ms)  streamed end (ms)  ratio");
    for seconds in [1.0f32, 3.5, 6.0, 12.0] {
        let speech16 = common::speech_like(seconds);
        let speech = resample(&speech16, 16_000, 48_000).expect("upsample");
        let quiet = |n: usize| (0..n).map(|i| ((i * 7919) % 200) as f32 * 1e-6 - 1e-4);
        let mut x: Vec<f32> = quiet(38_400).collect();
        x.extend_from_slice(&speech);
        x.extend(quiet(24_000));
        let runs = if seconds > 6.0 { 41 } else { 101 };
        let whole = median(runs, || {
            let audio = resample(&x, 48_000, 16_000).expect("resample");
            let mfcc = extractor.mfcc(&audio).expect("features");
            std::hint::black_box(player.classify(&mfcc).expect("classify"));
        });
        let (head, rest) = x.split_at(x.len() - REST);
        let mut block = Vec::new();
        let mut times: Vec<Duration> = (0..runs + 3)
            .map(|_| {
                stream.restart(&player);
                resampler.reset();
                for b in head.chunks(BLOCK) {
                    block.clear();
                    resampler.push(b, &mut block).expect("resample");
                    stream.push(&block);
                }
                let start = Instant::now();
                block.clear();
                resampler.push(rest, &mut block).expect("resample");
                resampler.finish(&mut block).expect("resample");
                stream.push(&block);
                std::hint::black_box(stream.finish(&player).expect("finish"));
                start.elapsed()
            })
            .skip(3)
            .collect();
        times.sort_unstable();
        let streamed = times[runs / 2];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:>6.1} s   {:>9.3}   {:>16.3}   {:>5.1}x",
            seconds + 1.3,
            ms(whole),
            ms(streamed),
            ms(whole) / ms(streamed)
        );
    }
}
