//! Per-player adaptation: each player's own model, learnt from the utterances the player
//! confirmed.
//!
//! # Method
//! A player's model is the shipped network, normalised with the player's own statistics,
//! combined with the player's **voice head** ([`crate::player::voice`]): a small classifier over
//! descriptors of the player's own confirmed utterances, which learns how *this* player
//! sounds in each emotion and is fused with the network's judgement.
//! - The player's **normalisation statistics** come from all their speech, labelled or not,
//!   blended with the training set's while there is little of it ([`AdaptConfig::prior_steps`]),
//!   and only once there is enough of it ([`AdaptConfig::min_player_steps`]); both at the
//!   player's level once a sentence has measured it ([`AdaptConfig::level_steps`]).
//! - Every update fits the voice head **from scratch** on the player's confirmed samples (the
//!   most recent [`AdaptConfig::max_samples`]), so the model never drifts through a chain of
//!   updates and a wrong sample's effect ends when it leaves the window. A fit is a convex
//!   problem solved in milliseconds; the network is never changed, so nothing it learnt from
//!   its training speakers can be forgotten.
//! - The shipped **anchor set** (training utterances of the base model's speakers) gives the
//!   voice head its prior: the descriptors' spread across speakers and the directions of
//!   intensity it projects out.
//! - A **guard**: the samples are split into [`AdaptConfig::guard_folds`] parts (a different
//!   split each update); each part is classified by a voice head fitted on the others, and
//!   the new head is kept only if that held-back accuracy is not below the base network's on
//!   the same samples. Otherwise the head in use stays and the record says why.
//!
//! [`PlayerModel`] runs updates on its own worker thread and swaps the new head in
//! atomically; prediction never waits for an update.
//!
//! - From [`AdaptConfig::copy_samples`] confirmed samples, an update also fine-tunes the
//!   player's own **copy of the upper layers** ([`crate::player::copy`]: the dense layer and
//!   emotion head, on the last LSTM states of their samples with the anchors replayed), which
//!   replaces the network's in the fusion with the voice head. Its guard compares it with
//!   the network's upper layers on held-back samples and lets it lose at most
//!   [`AdaptConfig::copy_margin`]. Instead of the voice head, fine-tuning gained less
//!   (`docs/adaptation.md`); on top of it, it adds a point or two.
//!
//! Files: `anchors.rs` (the anchor set), `adapter.rs` (the algorithm, `Adapter::update` and
//! `Adapter::update_copy`), `player_model.rs`
//! ([`PlayerModel`]: the worker thread, profile conversion), `order.rs`
//! ([`calibration_order`]: the calibration screen's order), `stream.rs`
//! ([`UtteranceStream`]: the player's model run while they speak). May import
//! [`crate::model`], the profile and the voice head.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::features::FeatureMatrix;
use crate::labels::{Emotion, Intensity};
use crate::model::normalised;
use crate::model::{EmotionClassifier, Prediction, with_temperature};
use crate::model::{EmotionModel, FastNetwork};
use crate::model::{InputConfig, NormStats};
use crate::player::copy::{UpperCopy, UpperTuning};
use crate::player::profile::{
    BaseModelRef, ConfirmedSample, PlayerId, PlayerProfile, QuantisedMatrix, RecordKind,
    UpdateRecord,
};
use crate::player::voice::{DescriptorPrior, VoiceFit, VoiceHead, describe, fuse};

mod adapter;
mod anchors;
mod order;
mod player_model;
mod stream;
pub use adapter::*;
pub use anchors::*;
pub use order::calibration_order;
pub use player_model::*;
pub use stream::*;

/// Settings of per-player adaptation.
#[derive(Config, Debug)]
pub struct AdaptConfig {
    /// The voice head's inverse regularisation strength ([`VoiceFit::c`]).
    #[config(default = 1.0)]
    pub c: f32,
    /// The voice head's full-batch Adam steps per fit.
    #[config(default = 100)]
    pub steps: usize,
    /// The voice head's Adam learning rate.
    #[config(default = 0.05)]
    pub learning_rate: f32,
    /// Utterances the training speakers' descriptor statistics count as in a player's
    /// standardisation ([`VoiceFit::prior_weight`]).
    #[config(default = 4.0)]
    pub prior_utterances: f32,
    /// Weight of the network's log-probabilities beside the voice head's
    /// ([`crate::player::voice::fuse`]).
    #[config(default = 0.5)]
    pub network_weight: f32,
    /// Parts the samples are split into for the guard.
    #[config(default = 4)]
    pub guard_folds: usize,
    /// Confirmed samples needed before the first update.
    #[config(default = 4)]
    pub min_samples: usize,
    /// Most recent samples used by an update.
    #[config(default = 200)]
    pub max_samples: usize,
    /// Strength, in model steps, of the training-set statistics blended into a player's own.
    #[config(default = 300)]
    pub prior_steps: u64,
    /// Model steps of the player's speech (250: about 8 s) before their statistics are
    /// blended in at all: the first utterances, often of one or two emotions at a
    /// calibration screen, would move the centre of the player's voice towards those
    /// emotions, and every utterance after them would be heard off-centre
    /// (`docs/adaptation.md`, "Waiting for enough speech").
    #[config(default = 250)]
    pub min_player_steps: u64,
    /// Model steps of the player's speech (60: about 2 s, a sentence) from which the
    /// statistics in use (the training set's until the player's own count,
    /// [`min_player_steps`](Self::min_player_steps), then the blend) are taken to the
    /// player's level ([`NormStats::gain_db_against`]): a
    /// microphone far louder or quieter than the training recordings (a gain set too high,
    /// a quiet headset) otherwise makes a new player's every sentence sound angry, or flat,
    /// for their first seconds. The level is the one thing a sentence or two measures well
    /// (`docs/adaptation.md`, "A new player's level"). 0: never.
    #[config(default = 60)]
    pub level_steps: u64,
    /// How far (dB) the player's level may lie from that of the statistics in use before
    /// [`level_steps`](Self::level_steps) moves them, and then only by the excess:
    /// voices differ by a few dB, and so do a player's emotions (a calibration screen's
    /// first sentences, neutral and calm, are quieter than the rest), while a microphone's
    /// gain can be off by tens.
    #[config(default = 6.0)]
    pub level_margin_db: f64,
    /// Confirmed samples from which the voice head speaks at full strength; a head fitted on
    /// fewer has its logits scaled down in proportion ([`VoiceFit::ramp`]; 0: always full).
    /// One wrong confirmation among a handful otherwise decides a whole emotion for the
    /// player (`docs/adaptation.md`).
    #[config(default = 12.0)]
    pub voice_ramp: f32,
    /// Confirmed samples from which an update also fine-tunes the player's own copy of the
    /// network's upper layers ([`crate::player::copy`]); 0: never.
    #[config(default = 15)]
    pub copy_samples: usize,
    /// How much held-back accuracy the copy's guard lets it lose against the network it
    /// replaces before refusing it (a share of the samples).
    #[config(default = 0.1)]
    pub copy_margin: f64,
    /// A confirmed sample teaches the weight copy only when its emotion is among the base
    /// network's this many likeliest for it (0, the default: every sample). A wrongly
    /// confirmed emotion is usually not, but neither are the utterances the network misjudges
    /// most, which are what the copy is for (`docs/adaptation.md`).
    #[config(default = 0)]
    pub copy_top: usize,
    /// Full-batch Adam steps of a weight copy's fine-tuning ([`UpperTuning::steps`]).
    #[config(default = 60)]
    pub copy_steps: usize,
    /// Adam learning rate of a weight copy's fine-tuning ([`UpperTuning::learning_rate`]).
    #[config(default = 1e-3)]
    pub copy_learning_rate: f64,
    /// Total weight of the anchors in a weight copy's loss against the player's samples
    /// ([`UpperTuning::anchor_weight`]).
    #[config(default = 1.0)]
    pub copy_anchor_weight: f32,
}

impl AdaptConfig {
    /// The weight copy's fine-tuning settings.
    #[must_use]
    pub fn copy_tuning(&self) -> UpperTuning {
        UpperTuning {
            steps: self.copy_steps,
            learning_rate: self.copy_learning_rate,
            anchor_weight: self.copy_anchor_weight,
            ..UpperTuning::default()
        }
    }

    /// The voice head's fitting settings.
    #[must_use]
    pub fn voice_fit(&self) -> VoiceFit {
        VoiceFit {
            c: self.c,
            steps: self.steps,
            learning_rate: self.learning_rate,
            prior_weight: self.prior_utterances,
            ramp: self.voice_ramp,
        }
    }
}

/// What the network makes of one normalised model input.
#[derive(Debug, Clone)]
struct Analysis {
    emotion: [f32; Emotion::COUNT],
    intensity: [f32; Intensity::COUNT],
    descriptor: Vec<f32>,
    /// The top LSTM layer's last state: what a weight copy reads.
    last: Vec<f32>,
}

/// A player's recent samples analysed with their statistics, and their labels.
type Analysed = (Vec<Analysis>, Vec<Emotion>);

/// What a player's model adds to the base network: their voice head and their own copy of
/// the upper layers, each `None` until an update fitted one.
#[derive(Debug, Clone, Default)]
pub struct PlayerHeads {
    /// The voice head ([`crate::player::voice`]).
    pub voice: Option<Arc<VoiceHead>>,
    /// The copy of the dense layer and emotion head ([`crate::player::copy`]), which replaces
    /// the network's in the fusion with the voice head.
    pub copy: Option<Arc<UpperCopy>>,
}

impl PlayerHeads {
    /// A voice head alone.
    #[must_use]
    pub fn voice(voice: Option<Arc<VoiceHead>>) -> Self {
        Self { voice, copy: None }
    }
}

/// Errors of adaptation.
#[derive(Debug, thiserror::Error)]
pub enum AdaptError {
    /// The anchor file could not be read or written.
    #[error("anchor set {path}: {reason}")]
    Anchors {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A saved voice head does not fit this model.
    #[error("voice head over descriptors of {found} values; this model's have {expected}")]
    VoiceHead {
        /// The model's descriptor width.
        expected: usize,
        /// The saved head's.
        found: usize,
    },
    /// A sample's features do not fit the model.
    #[error("features of {found} coefficients per frame, the model takes {expected}")]
    Shape {
        /// Coefficients per frame the model takes.
        expected: usize,
        /// Coefficients given.
        found: usize,
    },
}

/// What an update produced.
#[derive(Debug)]
pub struct UpdateResult {
    /// The new voice head, when the guard accepted it.
    pub voice: Option<VoiceHead>,
    /// The record.
    pub record: UpdateRecord,
}

/// What an update of the player's weight copy produced ([`Adapter::update_copy`]).
#[derive(Debug)]
pub struct CopyResult {
    /// The new copy, when the guard accepted it.
    pub copy: Option<UpperCopy>,
    /// Held-back accuracy of the voice head fused with the base network's upper layers and
    /// with the copy's (0 when no guard ran).
    pub held_back: (f64, f64),
    /// What happened, in words (appended to the update's record).
    pub reason: String,
}

fn argmax(p: &[f32]) -> usize {
    (0..p.len())
        .max_by(|&a, &b| p[a].total_cmp(&p[b]))
        .unwrap_or(0)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
