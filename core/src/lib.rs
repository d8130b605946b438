//! `voice_emotion`: the engine-independent core of bevy_voice_emotion.
//!
//! The folders follow the flow of a player's voice, from the microphone to a message:
//!
//! ```text
//! audio ──► speech ──► features ──► model ──► player ──► engine ──► game
//! decode,   detect,    MFCC         network,  profile,   its own
//! resample, segment                 input,    voice      thread:
//! capture                           inference head,      commands in,
//!                                              adapt      events out
//! ```
//!
//! - [`audio`]: WAV decoding at any rate, resampling, and live input ([`audio::capture`]).
//! - [`speech`]: speech detection and segmentation of a live stream.
//! - [`features`]: the MFCC front end, matching librosa.
//! - [`model`]: the network, its input pipeline, model directories and inference.
//! - [`player`]: player profiles on disk, each player's voice head, and adaptation.
//! - [`engine`]: the voice engine that runs all of it on its own thread.
//! - [`labels`]: the emotions and intensities, shared by everything.
//! - `training` (cargo feature `training`, off for games): datasets, augmentation, batches,
//!   the training loop and metrics. The runtime never imports it.
//!
//! Nothing here depends on Bevy; every module is testable with `cargo test`.
#![warn(missing_docs)]

pub mod audio;
pub mod engine;
pub mod features;
pub mod labels;
pub mod model;
pub mod player;
pub mod speech;
#[cfg(feature = "training")]
pub mod training;
