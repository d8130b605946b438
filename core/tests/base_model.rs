//! The shipped model, `models/base`, re-evaluated on RAVDESS actors 21-24 as its model card
//! reports it: fails if accuracy drops more than one point below the card, if its calibration
//! error grows more than two points above it, or if, clipped, through a telephone band or over
//! mains hum (a condition training never imitates), heard as the engine hears them (clipped
//! samples restored, the hum removed), accuracy falls more than two points below the card or
//! one class takes more than five points more of the predictions. (The weights before these
//! gave 92% of their cold telephone-band predictions to one class, so that check could not
//! fail then; these give 23%. Before the engine removed a hum, the cold model gave 59% of its
//! predictions under hum to one class; the check below fails if the canceller stops working.)

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use voice_emotion::model::{EmotionClassifier, NormStats, default_device};
use voice_emotion::training::data::{Listening, examples, examples_in};
use voice_emotion::training::degrade::{BabblePool, Condition};
use voice_emotion::training::{Example, Normaliser};

/// The card's figures: (accuracy, ECE) with speaker statistics, then cold.
const CARD_CLEAN: [(f64, f64); 2] = [(0.6958, 0.0682), (0.7083, 0.0972)];
/// The card's robustness table: (condition, accuracy, largest class share) with speaker
/// statistics, then cold.
const CARD_CONDITIONS: [(Condition, [(f64, f64); 2]); 3] = [
    (Condition::Clipping, [(0.6167, 0.2042), (0.2500, 0.5917)]),
    (Condition::Telephone, [(0.6750, 0.1833), (0.6375, 0.2333)]),
    (Condition::Hum, [(0.6958, 0.1833), (0.7000, 0.1708)]),
];

/// Each speaker's statistics from their own clips (labels unused), and cold.
fn normalisations(
    classifier: &EmotionClassifier,
    data: &[Example],
) -> [Option<BTreeMap<String, NormStats>>; 2] {
    let input = classifier.training_config().model.n_features;
    [Some(Normaliser::fit(data, input).speakers), None]
}

#[test]
fn base_model_holds_its_model_card_on_actors_21_to_24() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base");
    let classifier = EmotionClassifier::load(&dir, &default_device()).unwrap();
    let test = common::actors_21_to_24();
    let data = examples(&test, classifier.input_config(), None, 2, &|_| {}).unwrap();
    for (stats, (card_accuracy, card_ece)) in
        normalisations(&classifier, &data).iter().zip(CARD_CLEAN)
    {
        let e = classifier.evaluate(&data, stats.as_ref());
        let (accuracy, name) = (
            e.confusion.accuracy(),
            if stats.is_some() {
                "speaker statistics"
            } else {
                "cold"
            },
        );
        println!("clean, {name}: accuracy {accuracy:.4}, ECE {:.3}", e.ece);
        assert!(accuracy >= card_accuracy - 0.01, "{name}: {accuracy}");
        assert!(e.ece <= card_ece + 0.02, "{name}: ECE {}", e.ece);
    }
    let pool = BabblePool::new();
    for (condition, card) in CARD_CONDITIONS {
        let listening = Listening {
            condition,
            pool: &pool,
            seed: 7,
            speech: None,
        };
        let data = examples_in(
            &test,
            classifier.input_config(),
            None,
            Some(listening),
            2,
            &|_| {},
        )
        .unwrap();
        for (stats, (card_accuracy, card_share)) in
            normalisations(&classifier, &data).iter().zip(card)
        {
            let e = classifier.evaluate(&data, stats.as_ref());
            let accuracy = e.confusion.accuracy();
            let (class, share) = e.confusion.largest_share();
            let name = if stats.is_some() {
                "speaker statistics"
            } else {
                "cold"
            };
            println!("{condition}, {name}: accuracy {accuracy:.4}, {class} takes {share:.2}");
            assert!(
                accuracy >= card_accuracy - 0.02,
                "{condition}, {name}: {accuracy}"
            );
            assert!(
                share <= card_share + 0.05,
                "{condition}, {name}: {class} {share}"
            );
        }
    }
}
