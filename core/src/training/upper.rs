//! What `trainer adapt-eval --fine-tune` needs beside the player's own copy of the upper
//! layers ([`crate::player::copy`], re-exported here): the last LSTM states through burn and
//! the heads' probabilities of a fine-tuned model.

use burn::prelude::*;

use crate::features::FeatureMatrix;
use crate::labels::Emotion;
use crate::model::{EmotionModel, pad};
use crate::player::copy::matrix;
pub use crate::player::copy::{UpperTuning, fine_tune_upper};

/// The last LSTM states (the dense layer's input), one row of `hidden_2` values per input, of
/// already-normalised model inputs, without autodiff.
#[must_use]
pub fn last_states(
    model: &EmotionModel,
    inputs: &[&FeatureMatrix],
    device: &Device,
) -> Vec<Vec<f32>> {
    if inputs.is_empty() {
        return Vec::new();
    }
    let padded = pad(inputs, device);
    let first = model.first_layer(padded.inputs);
    let states = model.embedding_from_first_layer(first, padded.mask);
    let [n, width] = states.dims();
    let values: Vec<f32> = states.into_data().try_to_vec::<f32>().unwrap_or_default();
    if values.len() != n * width || width == 0 {
        return Vec::new();
    }
    values.chunks_exact(width).map(<[f32]>::to_vec).collect()
}

/// Emotion probabilities (softmax) of `model`'s heads on last LSTM `states`.
#[must_use]
pub fn head_probabilities(
    model: &EmotionModel,
    states: &[&[f32]],
    device: &Device,
) -> Vec<[f32; Emotion::COUNT]> {
    if states.is_empty() {
        return Vec::new();
    }
    let logits = model.valid().heads(matrix(states, device)).emotion;
    let p = burn::tensor::activation::softmax(logits, 1);
    let values: Vec<f32> = p.into_data().try_to_vec::<f32>().unwrap_or_default();
    values
        .chunks_exact(Emotion::COUNT)
        .map(|c| {
            let mut row = [0.0; Emotion::COUNT];
            row.copy_from_slice(c);
            row
        })
        .collect()
}

// Its test, `core/tests/upper_tuning.rs`, runs in a process of its own: it checks that the same
// seed gives the same copy, and burn's random generator is shared by every test of a process.
