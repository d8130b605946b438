//! Training-only code, behind the `training` cargo feature (the plugin does not enable it):
//! labelled [`dataset`]s (RAVDESS, manifests), [`augment`]ation, [`degrade`]d listening
//! conditions (rooms and microphones, for robustness and training), SpecAugment-style
//! [`masking`] of inputs, a moving [`average`] of the weights, an on-disk feature [`cache`],
//! long noisy [`streams`] for measuring speech detection, turning samples into examples
//! ([`data`]), labelled batches, the training loop, evaluation and [`metrics`].
//!
//! May import every runtime module; no runtime module imports this one.

pub mod augment;
pub mod average;
pub mod cache;
pub mod data;
pub mod dataset;
pub mod degrade;
pub mod detector;
pub mod masking;
pub mod metrics;
pub mod streams;
pub mod upper;

mod batch;
mod evaluate;
mod train;

pub use crate::model::TrainingConfig;
pub use batch::*;
pub use evaluate::*;
pub use train::*;
