//! The emotion model: a stacked LSTM over normalised feature sequences, with two heads
//! (8 emotions, 2 intensities). burn 0.22; the backend is chosen by the [`Device`].
//!
//! The LSTM is written here rather than taken from `burn::nn::Lstm`, which runs eight small
//! matrix products per time step: [`FusedLstm`] computes all four gates with one input and one
//! recurrent product per step, and at inference projects the inputs of every time step in one
//! product before the recurrence. Variable lengths: the LSTM is causal, so its outputs at valid
//! steps never depend on the padding after them; the heads read each sequence's output at its
//! last valid step (or, with [`Pooling::Attention`], its outputs over the valid steps weighted
//! by a learnt score's softmax; or both, [`Pooling::LastAndAttention`]), so padding is never
//! read as speech.
//!
//! At inference the same network runs as [`FastNetwork`] (`fast/`): plain `f32` arithmetic
//! over the loaded weights, one utterance at a time, about four times faster than through
//! burn; burn stays the reference implementation and trains the heads (the LSTM layers' training
//! pass can run on the same kernels, [`FastLstmTrainer`]). It also runs step by step
//! ([`FastNetwork::advance`]) over the input [`InputStream`] computes while an utterance's
//! audio arrives (`stream.rs`), with the whole utterance's result value for value.
//!
//! Files: `network.rs` (the layers), `input.rs` (features to model input, normalisation
//! statistics), `batch.rs` (padding, batched prediction), `config.rs` (a model directory's
//! `config.json`), `device.rs` (devices named on a command line, GPU backends included), `fast/` (the fast inference path: `mod.rs` the network and its passes, `kernels.rs` the SIMD kernels, `state.rs` the step-by-step pass, `training/` the LSTM layers' training pass, [`FastLstmTrainer`]), `stream.rs` (the input computed while audio
//! arrives), `inference.rs` (model directories and
//! [`EmotionClassifier`]). May import
//! [`crate::labels`], [`crate::features`] and [`crate::speech`]; never the player, the engine
//! or training.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use crate::labels::{Emotion, Intensity};

mod batch;
mod config;
mod device;
mod fast;
mod inference;
mod input;
mod loss;
mod network;
mod stream;
pub use batch::*;
pub use config::*;
pub use device::{DeviceSpec, DeviceSpecError, DeviceSpecs, WgpuAdapter};
pub use fast::{
    FastLstmTrainer, FastNetwork, FastNetworkError, FastScratch, FastState, FastTrainingError,
    LinearValues, Logits, LstmGradients, LstmLayerGradients, SimdLevel,
};
pub use inference::*;
pub use input::*;
pub use loss::cross_entropy;
pub use network::*;
pub use stream::InputStream;

/// The default device: burn's `flex` CPU backend ([`DeviceSpec::Cpu`]).
#[must_use]
pub fn default_device() -> Device {
    Device::flex()
}
