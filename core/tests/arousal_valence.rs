//! Arousal, valence and emotion families from the shipped model's predictions on unseen
//! RAVDESS actors 21-24 (cold, as a new player's first utterances are heard): the mean
//! predicted arousal and valence of each true emotion order the classes as the circumplex
//! literature does, and the family accuracy is above the 8-class accuracy.

mod common;

use std::path::Path;

use voice_emotion::audio::load_clip;
use voice_emotion::labels::Emotion;
use voice_emotion::model::{EmotionClassifier, default_device};

#[test]
fn predicted_arousal_and_valence_order_the_emotions_of_unseen_actors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base");
    let mut classifier = EmotionClassifier::load(&dir, &default_device()).unwrap();
    let mut sums = [(0.0f64, 0.0f64, 0usize); Emotion::COUNT];
    let (mut right, mut family_right, mut total) = (0usize, 0usize, 0usize);
    for s in common::actors_21_to_24() {
        let p = classifier
            .classify(&load_clip(&s.path).unwrap(), None)
            .unwrap();
        let (a, v) = p.arousal_valence();
        let slot = &mut sums[s.emotion.index()];
        slot.0 += f64::from(a);
        slot.1 += f64::from(v);
        slot.2 += 1;
        total += 1;
        right += usize::from(p.emotion == s.emotion);
        family_right += usize::from(p.family().0 == s.emotion.family());
    }
    let mean = |e: Emotion| {
        let (a, v, n) = sums[e.index()];
        (a / n as f64, v / n as f64)
    };
    for e in Emotion::ALL {
        let (a, v) = mean(e);
        println!("{e:<9} arousal {a:+.2} valence {v:+.2}");
    }
    for high in [Emotion::Angry, Emotion::Fearful, Emotion::Surprised] {
        for low in [Emotion::Sad, Emotion::Calm] {
            assert!(mean(high).0 > mean(low).0, "{high} above {low} in arousal");
        }
    }
    for unpleasant in [
        Emotion::Sad,
        Emotion::Angry,
        Emotion::Fearful,
        Emotion::Disgust,
    ] {
        assert!(
            mean(Emotion::Happy).1 > mean(unpleasant).1,
            "happy more pleasant than {unpleasant}"
        );
        assert!(mean(unpleasant).1 < 0.0, "{unpleasant} heard as unpleasant");
    }
    let (accuracy, family) = (
        right as f64 / total as f64,
        family_right as f64 / total as f64,
    );
    println!("accuracy {accuracy:.4}, family accuracy {family:.4} ({total} clips)");
    assert!(
        family > accuracy,
        "families are easier: {family} vs {accuracy}"
    );
}
