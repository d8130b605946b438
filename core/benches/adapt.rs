//! Bench binary: one confirmation to new weights in use, through `PlayerModel::confirm`, with
//! the shipped model and anchor set and the default adaptation settings.
//!
//! `cargo bench -p voice_emotion --bench adapt` prints the median time from the 15th confirm
//! (of 15 utterances of 2.5 s each, the calibration screen's count) until its update has
//! finished, and one classification of an utterance as the baseline, in the same run.
//! Updates run on the player's worker thread; burn's flex backend runs them on one core.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

mod common;
use voice_emotion::adapt::{
    ANCHORS_FILE, AdaptConfig, Adapter, AnchorSet, PlayerModel, PlayerState,
};
use voice_emotion::dataset::Emotion;
use voice_emotion::inference::EmotionClassifier;
use voice_emotion::input::InputExtractor;
use voice_emotion::model::default_device;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base");
    let classifier = EmotionClassifier::load(&dir, &default_device()).unwrap();
    let anchors = AnchorSet::read(&dir.join(ANCHORS_FILE)).unwrap();
    let adapter = Arc::new(Adapter::new(&classifier, &anchors, AdaptConfig::new()));
    let mut extractor = InputExtractor::new(classifier.input_config().clone()).unwrap();
    // Fifteen different utterances: the same speech-like signal at different gains and
    // lengths, labelled round the eight emotions.
    let utterances: Vec<_> = (0..15)
        .map(|k| {
            let mut s = common::speech_like(2.0 + 0.1 * k as f32);
            let gain = 0.5 + 0.05 * k as f32;
            s.iter_mut().for_each(|x| *x *= gain);
            (
                extractor.mfcc(&s).unwrap(),
                Emotion::ALL[k % Emotion::COUNT],
            )
        })
        .collect();
    let runs = 7;
    let mut update = Vec::new();
    let mut classify = Vec::new();
    for _ in 0..runs {
        let player = PlayerModel::new(Arc::clone(&adapter), PlayerState::default(), None);
        for (mfcc, emotion) in &utterances[..14] {
            player.confirm(mfcc.clone(), *emotion, None).unwrap();
            player.wait_idle();
        }
        let (mfcc, emotion) = &utterances[14];
        let start = Instant::now();
        player.confirm(mfcc.clone(), *emotion, None).unwrap();
        player.wait_idle();
        update.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let _ = player.classify(mfcc).unwrap();
        classify.push(start.elapsed().as_secs_f64());
    }
    let (u, c) = (median(update), median(classify));
    println!("confirm to new weights in use (15 samples, 64 anchors), median of {runs}: {u:.4} s");
    println!("one classification of a 3.4 s utterance (baseline):          {c:.4} s");
    println!("ratio: {:.0}x", u / c);
}
