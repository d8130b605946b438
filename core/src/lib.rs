//! `voice_emotion`: the engine-independent core of bevy_voice_emotion.
//!
//! Audio decoding and resampling ([`audio`]), speech detection ([`vad`]), the MFCC front end
//! matching librosa ([`features`]), data augmentation ([`augment`]), datasets ([`dataset`])
//! player profiles on disk ([`profile`]), per-player adaptation ([`adapt`], with each player's
//! voice head in [`voice`]), live audio input
//! ([`capture`]) and the voice engine that runs it all on its own thread ([`engine`]). Nothing here depends on Bevy; every module is
//! testable with `cargo test`.
#![warn(missing_docs)]

pub mod adapt;
pub mod audio;
pub mod augment;
pub mod capture;
pub mod data;
pub mod dataset;
pub mod engine;
pub mod features;
pub mod inference;
pub mod input;
pub mod metrics;
pub mod model;
pub mod profile;
pub mod training;
pub mod vad;
pub mod voice;
