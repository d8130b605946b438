//! The training loop learns: on a tiny real subset (two actors, four emotions) loss falls and
//! accuracy rises well above chance. A check of the loop, not of generalisation.

mod common;

use voice_emotion::labels::Emotion;
use voice_emotion::model::InputConfig;
use voice_emotion::model::{EmotionModelConfig, default_device};
use voice_emotion::training::data::examples;
use voice_emotion::training::dataset::Dataset;
use voice_emotion::training::{Normaliser, TrainingConfig, train};

#[test]
fn loss_falls_and_accuracy_beats_chance_on_a_tiny_subset() {
    let dataset = Dataset::from_ravdess_dir(common::ravdess_dir()).unwrap();
    let keep = [
        Emotion::Neutral,
        Emotion::Happy,
        Emotion::Sad,
        Emotion::Angry,
    ];
    let samples: Vec<_> = dataset
        .samples()
        .iter()
        .filter(|s| matches!(s.actor, Some(1 | 2)) && keep.contains(&s.emotion))
        .cloned()
        .collect();
    assert_eq!(samples.len(), 56);
    let input = InputConfig::default();
    let data = examples(&samples, &input, None, 2, &|_| {}).unwrap();
    let norm = Normaliser::fit(&data, input.n_features());
    let config = TrainingConfig::new(
        EmotionModelConfig::new(input.n_features())
            .with_hidden_1(32)
            .with_hidden_2(16)
            .with_dense(32)
            .with_dropout(0.0),
    )
    .with_max_epochs(15)
    .with_patience(15)
    .with_batch_size(16)
    .with_learning_rate(3e-3)
    .with_augment_copies(0);
    let outcome = train(
        &config,
        &data,
        &data,
        &norm,
        &[default_device()],
        |_, _, _| {},
        |m| {
            println!(
                "epoch {:>2}: train loss {:.3} acc {:.3}, valid acc {:.3}",
                m.epoch, m.train_loss, m.train_accuracy, m.valid_accuracy
            );
            true
        },
    );
    let first = outcome.history.first().unwrap();
    let last = outcome.history.last().unwrap();
    assert!(
        last.train_loss < 0.7 * first.train_loss,
        "loss {} -> {}",
        first.train_loss,
        last.train_loss
    );
    let best = outcome
        .history
        .iter()
        .map(|m| m.valid_accuracy)
        .fold(0.0, f64::max);
    assert!(best > 0.5, "best accuracy {best} (chance 0.25)");
}
