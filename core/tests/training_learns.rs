//! The training loop learns: on a tiny real subset (two actors, four emotions) loss falls and
//! accuracy rises well above chance. A check of the loop, not of generalisation.

mod common;

use voice_emotion::labels::Emotion;
use voice_emotion::model::InputConfig;
use voice_emotion::model::{EmotionModelConfig, Selection, SpecAugmentConfig, default_device};
use voice_emotion::training::data::examples;
use voice_emotion::training::dataset::Dataset;
use voice_emotion::training::{Normaliser, TrainingConfig, train};

/// Two actors' clips of four emotions, as examples, with their normaliser.
fn tiny_subset() -> (
    Vec<voice_emotion::training::Example>,
    Normaliser,
    InputConfig,
) {
    let dataset =
        Dataset::from_ravdess_dir(common::ravdess_dir()).unwrap_or_else(|e| panic!("RAVDESS: {e}"));
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
    let data =
        examples(&samples, &input, None, 2, &|_| {}).unwrap_or_else(|e| panic!("features: {e}"));
    let norm = Normaliser::fit(&data, input.n_features());
    (data, norm, input)
}

fn tiny_config(input: &InputConfig) -> TrainingConfig {
    TrainingConfig::new(
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
    .with_augment_copies(0)
}

#[test]
fn loss_falls_and_accuracy_beats_chance_on_a_tiny_subset() {
    let (data, norm, input) = tiny_subset();
    let config = tiny_config(&input);
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

/// The second-generation recipe's options (SpecAugment masks, label smoothing, a moving
/// average of the weights, selection by validation loss) train too, and the kept epoch is the one of lowest validation loss.
#[test]
fn masked_smoothed_training_learns_and_keeps_the_epoch_of_lowest_validation_loss() {
    let (data, norm, input) = tiny_subset();
    let mut config = tiny_config(&input).with_max_epochs(12).with_patience(12);
    config.spec_augment = Some(SpecAugmentConfig::new().with_coefficients(input.mfcc.n_mfcc));
    config.label_smoothing = Some(0.1);
    config.selection = Some(Selection::Loss);
    config.weight_average = Some(0.9);
    let outcome = train(
        &config,
        &data,
        &data,
        &norm,
        &[default_device()],
        |_, _, _| {},
        |_| true,
    );
    let first = outcome.history.first().unwrap();
    let last = outcome.history.last().unwrap();
    assert!(
        last.train_loss < 0.8 * first.train_loss,
        "loss {} -> {}",
        first.train_loss,
        last.train_loss
    );
    let lowest = outcome
        .history
        .iter()
        .min_by(|a, b| a.valid_loss.total_cmp(&b.valid_loss))
        .unwrap();
    assert_eq!(outcome.best_epoch, lowest.epoch);
    assert!(lowest.valid_accuracy > 0.5, "{lowest:?} (chance 0.25)");
}
