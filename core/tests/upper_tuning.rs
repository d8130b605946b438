//! A player's fine-tuned copy of the upper layers (`voice_emotion::player::copy`). In a
//! test binary of its own: it checks that the same samples and seed give the same copy, and
//! burn's random generator is shared by every test running in one process (another test
//! drawing from it between the seed and the dropout masks made it fail now and then).

use voice_emotion::features::FeatureMatrix;
use voice_emotion::labels::Emotion;
use voice_emotion::model::{EmotionModel, EmotionModelConfig, default_device};
use voice_emotion::player::UpperCopy;
use voice_emotion::training::upper::{
    UpperTuning, fine_tune_upper, head_probabilities, last_states,
};

/// Fine-tuning moves the copy's predictions towards the player's labels (here every
/// sample labelled Sad), leaves the LSTM layers as they were, and the anchors hold it back.
#[test]
fn the_copy_learns_the_player_and_keeps_the_lstm() {
    let device = default_device();
    device.seed(3);
    let base = EmotionModelConfig::new(6).with_dropout(0.3).init(&device);
    let inputs: Vec<FeatureMatrix> = (0..6)
        .map(|k| FeatureMatrix {
            data: (0..5 * 6)
                .map(|i| ((i * 7 + k * 3) as f32 * 0.31).sin())
                .collect(),
            n_frames: 5,
            n_features: 6,
        })
        .collect();
    let refs: Vec<&FeatureMatrix> = inputs.iter().collect();
    let all = last_states(&base, &refs, &device);
    let rows: Vec<&[f32]> = all.iter().map(Vec::as_slice).collect();
    let (states, anchors) = rows.split_at(4);
    let labels = [Emotion::Sad; 4];
    let anchor_labels = [Emotion::Happy, Emotion::Angry];
    let tuning = UpperTuning {
        steps: 40,
        learning_rate: 1e-2,
        anchor_weight: 0.0,
        seed: 5,
    };
    let sad = |m: &EmotionModel| -> f32 {
        head_probabilities(m, states, &device)
            .iter()
            .map(|p| p[Emotion::Sad.index()])
            .sum::<f32>()
            / 4.0
    };
    let anchors_in = (anchors, &anchor_labels[..]);
    let tune = |weight: f32| {
        let tuning = UpperTuning {
            anchor_weight: weight,
            ..tuning
        };
        fine_tune_upper(&base, (states, &labels), anchors_in, &tuning, &device)
    };
    // (Reading the base initialises its lazily created weights, which draws from the
    // generator the seed resets.)
    let base_sad = sad(&base);
    let free = tune(0.0);
    // The same samples and seed give the same copy (dropout is on).
    assert_eq!(
        head_probabilities(&free, states, &device),
        head_probabilities(&tune(0.0), states, &device)
    );
    assert!(sad(&free) > base_sad + 0.3, "{} vs {base_sad}", sad(&free),);
    // The LSTM layers are the base's: the same last states.
    assert_eq!(last_states(&free, &refs, &device), all);
    // Anchors weighing ten times the player's samples pull towards their labels.
    let held = tune(10.0);
    assert!(sad(&held) < sad(&free), "{} vs {}", sad(&held), sad(&free));
    // No samples, or labels that do not match the rows: the base.
    for same in [
        fine_tune_upper(&base, (&[], &[]), anchors_in, &tuning, &device),
        fine_tune_upper(&base, (states, &labels[..3]), anchors_in, &tuning, &device),
    ] {
        assert_eq!(sad(&same), base_sad);
    }
    // The engine fine-tunes in plain `f32` (`UpperCopy::fine_tune`): without dropout it
    // follows burn's loop step for step.
    let still = EmotionModelConfig::new(6).with_dropout(0.0).init(&device);
    let both = UpperTuning {
        anchor_weight: 0.5,
        ..tuning
    };
    let reference = fine_tune_upper(&still, (states, &labels), anchors_in, &both, &device);
    let ours = UpperCopy::from_model(&still).unwrap().fine_tune(
        still.dropout_probability(),
        (states, &labels),
        anchors_in,
        &both,
    );
    for (row, p) in states
        .iter()
        .chain(anchors)
        .zip(head_probabilities(&reference, &rows, &device))
    {
        let mine = ours.probabilities(row).unwrap();
        for (a, b) in mine.iter().zip(&p) {
            assert!((a - b).abs() < 1e-4, "{mine:?} vs {p:?}");
        }
    }
}
