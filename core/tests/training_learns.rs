//! The training loop learns: on a tiny real subset (two actors, four emotions) loss falls and
//! accuracy rises well above chance. A check of the loop, not of generalisation.

mod common;

use voice_emotion::labels::Emotion;
use voice_emotion::model::InputConfig;
use voice_emotion::model::{
    EmotionModelConfig, LrSchedule, LstmPass, Selection, SpecAugmentConfig, default_device,
};
use voice_emotion::training::data::examples;
use voice_emotion::training::dataset::Dataset;
use voice_emotion::training::{Example, Normaliser, TrainOutcome, TrainingConfig, train};

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

/// Trains `config` on the subset, validating on the same clips, printing each epoch.
fn train_on(config: &TrainingConfig, data: &[Example], norm: &Normaliser) -> TrainOutcome {
    train_on_devices(config, data, norm, &[default_device()])
}

fn train_on_devices(
    config: &TrainingConfig,
    data: &[Example],
    norm: &Normaliser,
    devices: &[burn::prelude::Device],
) -> TrainOutcome {
    train(
        config,
        data,
        data,
        norm,
        devices,
        |_, _, _| {},
        |m| {
            println!(
                "epoch {:>2}: train loss {:.3} acc {:.3}, valid loss {:.3} acc {:.3}",
                m.epoch, m.train_loss, m.train_accuracy, m.valid_loss, m.valid_accuracy
            );
            true
        },
    )
    .unwrap_or_else(|e| panic!("training: {e}"))
}

/// The last epoch's training loss is below `factor` times the first's.
fn assert_loss_falls(outcome: &TrainOutcome, factor: f64) {
    let (Some(first), Some(last)) = (outcome.history.first(), outcome.history.last()) else {
        panic!("no epoch trained");
    };
    assert!(
        last.train_loss < factor * first.train_loss,
        "loss {} -> {}",
        first.train_loss,
        last.train_loss
    );
}

/// Some epoch's validation accuracy is well above chance (0.25).
fn assert_beats_chance(outcome: &TrainOutcome) {
    let best = outcome
        .history
        .iter()
        .map(|m| m.valid_accuracy)
        .fold(0.0, f64::max);
    assert!(best > 0.5, "best accuracy {best} (chance 0.25)");
}

#[test]
fn loss_falls_and_accuracy_beats_chance_on_a_tiny_subset() {
    let (data, norm, input) = tiny_subset();
    let outcome = train_on(&tiny_config(&input), &data, &norm);
    assert_loss_falls(&outcome, 0.7);
    assert_beats_chance(&outcome);
}

/// The second-generation recipe's options (SpecAugment masks, label smoothing, a moving
/// average of the weights, selection by validation loss) train too, and the kept epoch is the
/// one of lowest validation loss.
#[test]
fn masked_smoothed_training_learns_and_keeps_the_epoch_of_lowest_validation_loss() {
    let (data, norm, input) = tiny_subset();
    let mut config = tiny_config(&input).with_max_epochs(12).with_patience(12);
    config.spec_augment = Some(SpecAugmentConfig::new().with_coefficients(input.mfcc.n_mfcc));
    config.label_smoothing = Some(0.1);
    config.selection = Some(Selection::Loss);
    config.weight_average = Some(0.9);
    let outcome = train_on(&config, &data, &norm);
    assert_loss_falls(&outcome, 0.8);
    let lowest = outcome
        .history
        .iter()
        .min_by(|a, b| a.valid_loss.total_cmp(&b.valid_loss))
        .unwrap();
    assert_eq!(outcome.best_epoch, lowest.epoch);
    assert!(lowest.valid_accuracy > 0.5, "{lowest:?} (chance 0.25)");
}

/// The fast LSTM pass (`LstmPass::Fast`, two threads, with dropout between the layers) learns
/// as burn's does, here over a planned run (cosine decay, the last epoch kept).
#[test]
fn the_fast_lstm_pass_learns_on_two_threads() {
    let (data, norm, input) = tiny_subset();
    let mut config = tiny_config(&input).with_max_epochs(20);
    config.model.dropout = 0.2;
    config.lstm_pass = Some(LstmPass::Fast);
    // A planned run: the rate decays to 0 over the 20 epochs and the last one is kept.
    config.lr_schedule = Some(LrSchedule::Cosine);
    config.selection = Some(Selection::Last);
    let outcome = train_on_devices(&config, &data, &norm, &[default_device(), default_device()]);
    assert_eq!(outcome.history.len(), 20);
    assert_eq!(outcome.best_epoch, 20);
    assert_loss_falls(&outcome, 0.7);
    assert_beats_chance(&outcome);
}
