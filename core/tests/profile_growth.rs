//! A year of play stays small on disk: a player who confirms ten utterances a day for a year,
//! with their recordings kept (the game opted in), has a profile under 8 MB, and still has
//! the newest samples of every emotion they confirmed.

mod common;

use common::Lcg;
use voice_emotion::features::FeatureMatrix;
use voice_emotion::labels::Emotion;
use voice_emotion::player::adapt::{
    MAX_KEPT_AUDIO, MAX_KEPT_RECORDS, MAX_KEPT_SAMPLES, PlayerState,
};
use voice_emotion::player::profile::{
    BaseModelRef, ConfirmedSample, PlayerId, PlayerProfile, QuantisedMatrix, RecordKind,
    UpdateRecord, encode_profile,
};

/// What a player confirms most: neutral half the time, disgust never.
fn emotion(rng: &mut Lcg) -> Emotion {
    let weights = [
        (Emotion::Neutral, 50),
        (Emotion::Happy, 20),
        (Emotion::Sad, 10),
        (Emotion::Angry, 10),
        (Emotion::Calm, 5),
        (Emotion::Fearful, 3),
        (Emotion::Surprised, 2),
    ];
    let mut pick = rng.next() % 100;
    for (e, w) in weights {
        if pick < w {
            return e;
        }
        pick -= w;
    }
    Emotion::Neutral
}

#[test]
fn a_year_of_play_with_recordings_kept_stays_under_8_mb() {
    let mut rng = Lcg(11);
    let mut state = PlayerState::default();
    let mut newest = std::collections::BTreeMap::new();
    let days = 365;
    for day in 0..days {
        for k in 0..10u64 {
            // A 2.5 s utterance: 250 MFCC frames, and 3 s of audio with its pre-roll and tail.
            let frames = 250;
            let data: Vec<f32> = (0..frames * 40).map(|_| rng.unit() * 40.0 - 20.0).collect();
            let mfcc = FeatureMatrix {
                data,
                n_frames: frames,
                n_features: 40,
            };
            let e = emotion(&mut rng);
            let time_unix_ms = (day * 10 + k) * 60_000;
            newest.insert(e, time_unix_ms);
            state.add_sample(ConfirmedSample {
                features: QuantisedMatrix::encode(&mfcc),
                emotion: e,
                intensity: None,
                time_unix_ms,
                audio: Some(vec![0.01; 48_000]),
            });
            state.add_record(UpdateRecord {
                time_unix_ms,
                samples_used: 200,
                accuracy_before: 0.55,
                accuracy_after: 0.7,
                accepted: true,
                reason: "0.70 on 200 samples, each held back from a fit on the others (base \
                         network 0.55)"
                    .to_owned(),
                seconds: 0.5,
                kind: RecordKind::Update,
            });
        }
    }
    assert_eq!(state.samples.len(), MAX_KEPT_SAMPLES);
    assert_eq!(state.history.len(), MAX_KEPT_RECORDS);
    let with_audio: Vec<&ConfirmedSample> =
        state.samples.iter().filter(|s| s.audio.is_some()).collect();
    assert_eq!(with_audio.len(), MAX_KEPT_AUDIO);
    assert!(
        state.samples[state.samples.len() - MAX_KEPT_AUDIO..]
            .iter()
            .all(|s| s.audio.is_some()),
        "the newest keep their audio"
    );
    // Every emotion the player confirmed is still there, with its newest sample.
    for (e, t) in &newest {
        let kept: Vec<&ConfirmedSample> =
            state.samples.iter().filter(|s| s.emotion == *e).collect();
        assert!(kept.len() >= 30, "{e}: {} samples kept", kept.len());
        assert!(
            kept.iter().any(|s| s.time_unix_ms == *t),
            "{e}: the newest was dropped"
        );
    }
    assert!(
        state
            .samples
            .windows(2)
            .all(|w| w[0].time_unix_ms <= w[1].time_unix_ms)
    );

    let mut profile = PlayerProfile::new(
        PlayerId::new("year").unwrap(),
        BaseModelRef {
            name: "base".to_owned(),
            hash: "0123456789abcdef".to_owned(),
        },
    );
    profile.samples = state.samples;
    profile.history = state.history;
    let bytes = encode_profile(&profile).expect("encodes");
    println!(
        "a year of play: {} samples ({} with audio), {} records, {:.2} MB",
        profile.samples.len(),
        MAX_KEPT_AUDIO,
        profile.history.len(),
        bytes.len() as f64 / 1e6
    );
    assert!(bytes.len() < 8_000_000, "{} bytes", bytes.len());
}
