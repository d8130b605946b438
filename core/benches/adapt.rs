//! Bench binary: one confirmation to a new voice head in use, and to the update's end (the
//! player's weight copy fine-tuned too, from 15 samples), through `PlayerModel::confirm`,
//! with the shipped model and anchor set.
//!
//! `cargo bench -p voice_emotion --bench adapt` prints, for a player with 15 samples (the
//! calibration screen's count, utterances of 2.0-3.4 s) and with 200
//! (`AdaptConfig::max_samples`, the most an update uses), the median time from a
//! confirmation until the new voice head is in use and until the update has finished, with
//! the default settings and with the weight copy off (`copy_samples` 0) as the baseline,
//! and one classification of an utterance, in the same run. Updates run on the player's
//! worker thread, on one core.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

mod common;
use voice_emotion::labels::Emotion;
use voice_emotion::model::EmotionClassifier;
use voice_emotion::model::InputExtractor;
use voice_emotion::model::default_device;
use voice_emotion::player::adapt::{
    ANCHORS_FILE, AdaptConfig, Adapter, AnchorSet, PlayerModel, PlayerState,
};
use voice_emotion::player::profile::{ConfirmedSample, QuantisedMatrix};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base");
    let classifier = EmotionClassifier::load(&dir, &default_device()).unwrap();
    let anchors = AnchorSet::read(&dir.join(ANCHORS_FILE)).unwrap();
    let adapters = [
        ("default", AdaptConfig::new()),
        ("no weight copy", AdaptConfig::new().with_copy_samples(0)),
    ]
    .map(|(name, config)| (name, Arc::new(Adapter::new(&classifier, &anchors, config))));
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
    let mut results = Vec::new();
    for ((name, adapter), n) in adapters.iter().flat_map(|a| [15usize, 200].map(|n| (a, n))) {
        let mut voice = Vec::new();
        let mut update = Vec::new();
        let mut classify = Vec::new();
        for _ in 0..runs {
            // All but the last sample are already confirmed (as when a profile is loaded).
            let state = PlayerState {
                samples: (0..n - 1)
                    .map(|k| {
                        let (mfcc, emotion) = &utterances[k % utterances.len()];
                        ConfirmedSample {
                            features: QuantisedMatrix::encode(mfcc),
                            emotion: *emotion,
                            intensity: None,
                            time_unix_ms: 0,
                            audio: None,
                        }
                    })
                    .collect(),
                ..PlayerState::default()
            };
            let player = PlayerModel::new(Arc::clone(adapter), state, None);
            let (mfcc, emotion) = &utterances[(n - 1) % utterances.len()];
            let start = Instant::now();
            player.confirm(mfcc.clone(), *emotion, None).unwrap();
            // The voice head is swapped in before the copy is fine-tuned.
            while player.voice_head().is_none() && player.pending_updates() > 0 {
                std::thread::yield_now();
            }
            voice.push(start.elapsed().as_secs_f64());
            player.wait_idle();
            update.push(start.elapsed().as_secs_f64());
            let start = Instant::now();
            let _ = player.classify(mfcc).unwrap();
            classify.push(start.elapsed().as_secs_f64());
        }
        results.push((name, n, median(voice), median(update), median(classify)));
    }
    for (name, n, v, u, c) in results {
        println!(
            "{name:<14} {n:>3} samples, median of {runs}: confirm to new voice head in use \
             {v:.4} s, to the update's end {u:.4} s; one classification (baseline) {c:.4} s; \
             ratio {:.0}x",
            u / c
        );
    }
}
