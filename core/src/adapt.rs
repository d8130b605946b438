//! Per-player adaptation: each player's own copy of the weights, fine-tuned from the
//! utterances the player confirmed.
//!
//! # Method
//! Every update fine-tunes **from the base weights** on all the player's confirmed samples
//! (the most recent [`AdaptConfig::max_samples`]), so the player model never drifts through a
//! chain of updates and a bad sample's effect ends when it leaves the window:
//! - Only the last layers learn ([`Trainable`]: the dense layer and heads by default, or the
//!   second LSTM layer too). The LSTM layers stay the base model's, so what they learnt from
//!   18 speakers is kept, and their outputs are computed once per update.
//! - Each confirmation is also seen through [`AdaptConfig::crops`] random windows of 60-90% of
//!   its frames, with its label.
//! - The loss on the player's samples is joined by the loss on a shipped **anchor set** of base
//!   training utterances (replay: the model keeps working for every emotion, including those
//!   the player has not confirmed) and by an L2 penalty pulling the weights towards the base
//!   ones (L2-SP). In each step the [`AdaptConfig::ignore_worst`] fraction of the player's
//!   samples with the highest loss is left out: wrong confirmations fit worst.
//! - The player's **normalisation statistics** come from all their speech, labelled or not,
//!   blended with the training set's while there is little of it ([`AdaptConfig::prior_steps`]).
//! - A **guard**: a part of the samples (one in [`AdaptConfig::hold_back_every`], a different
//!   part each update) is held back, the candidate is trained on the rest and kept only if its
//!   accuracy on the held-back samples is not below that of its starting point, the base
//!   weights (the weights in use were refitted on those very samples, so they cannot judge
//!   fairly); then it is refitted on all samples. Otherwise the weights in use stay and the
//!   record says why.
//!
//! [`PlayerModel`] runs updates on its own worker thread and swaps new weights in atomically;
//! prediction never waits for an update.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::dataset::{Emotion, Intensity};
use crate::features::FeatureMatrix;
use crate::inference::{EmotionClassifier, Prediction};
use crate::input::{InputConfig, NormStats};
use crate::model::{EmotionModel, Trainable};
use crate::profile::{
    BaseModelRef, ConfirmedSample, PlayerId, PlayerProfile, QuantisedMatrix, UpdateRecord,
};
use crate::training::{cross_entropy, make_batch, normalised};

/// Settings of per-player fine-tuning.
#[derive(Config, Debug)]
pub struct AdaptConfig {
    /// The parameters that learn.
    #[config(default = "Trainable::Heads")]
    pub trainable: Trainable,
    /// Adam learning rate.
    #[config(default = 1e-2)]
    pub learning_rate: f64,
    /// Optimisation steps per fit.
    #[config(default = 100)]
    pub steps: usize,
    /// Player samples per step (all of them when fewer).
    #[config(default = 32)]
    pub batch_size: usize,
    /// Anchor utterances per step.
    #[config(default = 32)]
    pub anchor_batch: usize,
    /// Weight of the anchor loss.
    #[config(default = 1.0)]
    pub anchor_weight: f32,
    /// Weight of the squared distance to the base weights.
    #[config(default = 1e-4)]
    pub l2sp: f32,
    /// Extra views of each confirmed utterance (random windows of 60-90% of its frames).
    #[config(default = 2)]
    pub crops: usize,
    /// Fraction of each step's player samples with the highest loss left out of that step
    /// (labels the model cannot fit are more often wrong ones).
    #[config(default = 0.2)]
    pub ignore_worst: f32,
    /// Weight of the intensity loss (where the intensity is known).
    #[config(default = 0.5)]
    pub intensity_weight: f32,
    /// Confirmed samples needed before the first update.
    #[config(default = 4)]
    pub min_samples: usize,
    /// One sample in this many is held back for the guard.
    #[config(default = 4)]
    pub hold_back_every: usize,
    /// Refit on all samples once the guard accepts.
    #[config(default = true)]
    pub refit: bool,
    /// Most recent samples used by an update.
    #[config(default = 200)]
    pub max_samples: usize,
    /// Strength, in model steps, of the training-set statistics blended into a player's own.
    #[config(default = 300)]
    pub prior_steps: u64,
    /// Seed of batch sampling and dropout.
    #[config(default = 7)]
    pub seed: u64,
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
    /// Weights could not be turned into bytes or back.
    #[error("player weights: {reason}")]
    Weights {
        /// What burn reported.
        reason: String,
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

/// An anchor utterance: a base training example, already normalised model input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anchor {
    /// Normalised model input, `steps x n_features`, 8 bits a value.
    pub input: QuantisedMatrix,
    /// Emotion label.
    pub emotion: Emotion,
    /// Intensity label.
    pub intensity: Option<Intensity>,
}

/// The shipped anchor set ([`ANCHORS_FILE`] in a model directory, written by
/// `trainer anchors`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnchorSet {
    /// The anchors.
    pub anchors: Vec<Anchor>,
}

/// Anchor file in a model directory.
pub const ANCHORS_FILE: &str = "anchors.bin";

impl AnchorSet {
    /// Reads `path` (bincode).
    ///
    /// # Errors
    /// [`AdaptError::Anchors`] naming the file.
    pub fn read(path: &std::path::Path) -> Result<Self, AdaptError> {
        let bytes = std::fs::read(path).map_err(|e| AdaptError::Anchors {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::from_bytes(&bytes).map_err(|reason| AdaptError::Anchors {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Decodes an anchor set.
    ///
    /// # Errors
    /// The decoder's message.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        bincode::serde::decode_from_slice(bytes, bincode::config::standard())
            .map(|(set, _)| set)
            .map_err(|e| e.to_string())
    }

    /// Writes `path` (bincode).
    ///
    /// # Errors
    /// [`AdaptError::Anchors`] naming the file.
    pub fn write(&self, path: &std::path::Path) -> Result<(), AdaptError> {
        let err = |reason: String| AdaptError::Anchors {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = bincode::serde::encode_to_vec(self, bincode::config::standard())
            .map_err(|e| err(e.to_string()))?;
        std::fs::write(path, bytes).map_err(|e| err(e.to_string()))
    }
}

/// A fine-tuned model and what happened.
#[derive(Debug)]
pub struct UpdateResult {
    /// The new weights, when the guard accepted them.
    pub model: Option<EmotionModel>,
    /// The record.
    pub record: UpdateRecord,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What the trainable part of the model sees of one utterance: the first layer's outputs
/// (for [`Trainable::LastLayer`]) or the second layer's last state (for [`Trainable::Heads`]).
#[derive(Debug, Clone)]
struct Frozen {
    /// `steps x hidden_1`, or `1 x hidden_2`.
    values: FeatureMatrix,
    emotion: Emotion,
    intensity: Option<Intensity>,
}

/// The base model and everything an update needs; shared by all players.
#[derive(Debug)]
pub struct Adapter {
    base: EmotionModel,
    input: InputConfig,
    global: NormStats,
    anchors: Vec<Frozen>,
    config: AdaptConfig,
    device: Device,
}

impl Adapter {
    /// An adapter over `classifier`'s model with `anchors` (may be empty: no replay).
    #[must_use]
    pub fn new(classifier: &EmotionClassifier, anchors: &AnchorSet, config: AdaptConfig) -> Self {
        let mut adapter = Self {
            base: classifier.model().clone(),
            input: classifier.input_config().clone(),
            global: classifier.global_stats().clone(),
            anchors: Vec::new(),
            config,
            device: classifier.device().clone(),
        };
        let inputs: Vec<FeatureMatrix> = anchors.anchors.iter().map(|a| a.input.decode()).collect();
        let items: Vec<(&FeatureMatrix, Emotion, Option<Intensity>)> = inputs
            .iter()
            .zip(&anchors.anchors)
            .map(|(m, a)| (m, a.emotion, a.intensity))
            .collect();
        adapter.anchors = adapter.freeze(&items);
        adapter
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &AdaptConfig {
        &self.config
    }

    /// The base model.
    #[must_use]
    pub fn base(&self) -> &EmotionModel {
        &self.base
    }

    /// The input pipeline's configuration.
    #[must_use]
    pub fn input_config(&self) -> &InputConfig {
        &self.input
    }

    /// A player's statistics blended with the training set's ([`AdaptConfig::prior_steps`]).
    #[must_use]
    pub fn blended_stats(&self, player: Option<&NormStats>) -> NormStats {
        let prior = self.config.prior_steps;
        let mut out = NormStats::new(self.global.n_features());
        if self.global.count > 0 && prior > 0 {
            let scale = prior as f64 / self.global.count as f64;
            out.count = prior;
            out.sum = self.global.sum.iter().map(|v| v * scale).collect();
            out.sum_sq = self.global.sum_sq.iter().map(|v| v * scale).collect();
        }
        if let Some(p) = player.filter(|p| p.n_features() == out.n_features()) {
            out.merge(p);
        }
        if out.count == 0 {
            return self.global.clone();
        }
        out
    }

    /// Frozen-part outputs of normalised model inputs.
    fn freeze(&self, items: &[(&FeatureMatrix, Emotion, Option<Intensity>)]) -> Vec<Frozen> {
        items
            .iter()
            .map(|&(m, emotion, intensity)| self.freeze_one(m, emotion, intensity))
            .collect()
    }

    /// Frozen-part outputs of one normalised model input.
    fn freeze_one(
        &self,
        m: &FeatureMatrix,
        emotion: Emotion,
        intensity: Option<Intensity>,
    ) -> Frozen {
        let x = Tensor::<3>::from_data(
            TensorData::new(m.data.clone(), [1, m.n_frames, m.n_features]),
            &self.device,
        );
        let first = self.base.first_layer(x);
        let values = match self.config.trainable {
            Trainable::LastLayer => {
                let [_, steps, h] = first.dims();
                FeatureMatrix {
                    data: first.into_data().try_to_vec::<f32>().unwrap_or_default(),
                    n_frames: steps,
                    n_features: h,
                }
            }
            Trainable::Heads => {
                let mask = Tensor::<3>::ones([1, m.n_frames, 1], &self.device);
                let e = self.base.embedding_from_first_layer(first, mask);
                let h = e.dims()[1];
                FeatureMatrix {
                    data: e.into_data().try_to_vec::<f32>().unwrap_or_default(),
                    n_frames: 1,
                    n_features: h,
                }
            }
        };
        Frozen {
            values,
            emotion,
            intensity,
        }
    }

    fn forward_trainable(
        &self,
        model: &EmotionModel,
        items: &[&Frozen],
        device: &Device,
    ) -> (
        crate::model::EmotionOutput,
        Tensor<1, Int>,
        Tensor<1, Int>,
        Tensor<1>,
    ) {
        let batch_items: Vec<_> = items
            .iter()
            .map(|f| (&f.values, f.emotion, f.intensity))
            .collect();
        let batch = make_batch(&batch_items, device);
        let out = match self.config.trainable {
            Trainable::LastLayer => model.forward_from_first_layer(batch.inputs, batch.mask),
            Trainable::Heads => {
                let [b, _, h] = batch.inputs.dims();
                model.heads(batch.inputs.reshape([b, h]))
            }
        };
        (
            out,
            batch.emotions,
            batch.intensities,
            batch.intensity_known,
        )
    }

    /// Accuracy of `model` on frozen items (1.0 when there are none).
    fn accuracy(&self, model: &EmotionModel, items: &[&Frozen]) -> f64 {
        if items.is_empty() {
            return 1.0;
        }
        let (out, emotions, _, _) = self.forward_trainable(model, items, &self.device);
        let hits: Vec<i64> = out
            .emotion
            .argmax(1)
            .reshape([items.len()])
            .equal(emotions)
            .int()
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap_or_default();
        hits.iter().filter(|&&h| h != 0).count() as f64 / items.len() as f64
    }

    /// Per-sample weights that leave out the [`AdaptConfig::ignore_worst`] fraction of the
    /// batch with the highest loss (wrong labels fit worst), or `None` to keep all.
    fn small_loss_weights(
        &self,
        logits: &Tensor<2>,
        targets: &Tensor<1, Int>,
        device: &Device,
    ) -> Option<Tensor<1>> {
        let [b, _] = logits.dims();
        let drop =
            (f64::from(self.config.ignore_worst.clamp(0.0, 0.9)) * b as f64).floor() as usize;
        if drop == 0 {
            return None;
        }
        let losses: Vec<f32> = burn::tensor::activation::log_softmax(logits.clone().detach(), 1)
            .gather(1, targets.clone().reshape([b, 1]))
            .reshape([b])
            .neg()
            .into_data()
            .try_to_vec::<f32>()
            .ok()?;
        let mut order: Vec<usize> = (0..b).collect();
        order.sort_by(|&x, &y| losses[y].total_cmp(&losses[x]));
        let mut w = vec![1.0f32; b];
        for &i in order.iter().take(drop) {
            w[i] = 0.0;
        }
        Some(Tensor::from_data(TensorData::new(w, [b]), device))
    }

    /// Fine-tunes the trainable part from the base weights on `train`.
    fn fit(&self, train: &[&Frozen], seed: u64) -> EmotionModel {
        let c = &self.config;
        let ad = self.device.clone().autodiff();
        ad.seed(seed);
        let reference = self.base.clone().train().fork(&ad).no_grad();
        let mut model = self
            .base
            .clone()
            .train()
            .fork(&ad)
            .freeze_except(c.trainable);
        let mut optim = AdamConfig::new().init();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut order: Vec<&Frozen> = train.to_vec();
        let mut anchor_order: Vec<&Frozen> = self.anchors.iter().collect();
        for _ in 0..c.steps {
            order.shuffle(&mut rng);
            anchor_order.shuffle(&mut rng);
            let player: Vec<&Frozen> = order.iter().take(c.batch_size.max(1)).copied().collect();
            let anchors: Vec<&Frozen> = anchor_order.iter().take(c.anchor_batch).copied().collect();
            let (out, emotions, intensities, known) = self.forward_trainable(&model, &player, &ad);
            let weights = self.small_loss_weights(&out.emotion, &emotions, &ad);
            let known = match &weights {
                Some(w) => known * w.clone(),
                None => known,
            };
            let mut loss = cross_entropy(out.emotion, emotions, weights)
                + cross_entropy(out.intensity, intensities, Some(known))
                    .mul_scalar(c.intensity_weight);
            if !anchors.is_empty() && c.anchor_weight > 0.0 {
                let (out, emotions, intensities, known) =
                    self.forward_trainable(&model, &anchors, &ad);
                loss = loss
                    + (cross_entropy(out.emotion, emotions, None)
                        + cross_entropy(out.intensity, intensities, Some(known))
                            .mul_scalar(c.intensity_weight))
                    .mul_scalar(c.anchor_weight);
            }
            if c.l2sp > 0.0 {
                loss = loss
                    + model
                        .squared_distance(&reference, c.trainable)
                        .mul_scalar(c.l2sp);
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(c.learning_rate, model, grads);
        }
        model.valid()
    }

    /// One update: fine-tunes on `samples` normalised with `stats` (already blended), guarded
    /// on held-back samples. `round` varies which samples are held back.
    #[must_use]
    pub fn update(
        &self,
        samples: &[ConfirmedSample],
        stats: &NormStats,
        round: usize,
    ) -> UpdateResult {
        let started = Instant::now();
        let c = &self.config;
        let recent = &samples[samples.len().saturating_sub(c.max_samples.max(1))..];
        let record = |before: f64, after: f64, accepted: bool, reason: String| UpdateRecord {
            time_unix_ms: now_ms(),
            samples_used: recent.len(),
            accuracy_before: before,
            accuracy_after: after,
            accepted,
            reason,
            seconds: started.elapsed().as_secs_f64(),
        };
        if recent.len() < c.min_samples.max(2) {
            return UpdateResult {
                model: None,
                record: record(
                    0.0,
                    0.0,
                    false,
                    format!(
                        "waiting for {} confirmed samples ({} so far)",
                        c.min_samples.max(2),
                        recent.len()
                    ),
                ),
            };
        }
        // One sample at a time: its model input lives only until its frozen outputs are
        // computed, so an update's working set does not grow with the number of samples
        // (the frozen outputs are a few hundred bytes each with `Trainable::Heads`).
        // Shorter views of each utterance (contiguous windows of its frames) are trained on
        // with the utterance's label: more variety than one view per confirmation.
        let mut rng = ChaCha8Rng::seed_from_u64(c.seed.wrapping_add(1000 + round as u64));
        let mut frozen = Vec::with_capacity(recent.len());
        let mut crops = Vec::with_capacity(recent.len() * c.crops);
        let mut crop_owner = Vec::with_capacity(recent.len() * c.crops);
        for (i, s) in recent.iter().enumerate() {
            let m = s.features.decode();
            let input = normalised(&self.input.finish(&m), stats);
            frozen.push(self.freeze_one(&input, s.emotion, s.intensity));
            drop(input);
            for _ in 0..c.crops {
                let len = ((m.n_frames as f64) * rand::Rng::random_range(&mut rng, 0.6..0.9))
                    .round()
                    .max(1.0) as usize;
                let start = rand::Rng::random_range(&mut rng, 0..=m.n_frames.saturating_sub(len));
                let window = FeatureMatrix {
                    data: m.data[start * m.n_features..(start + len) * m.n_features].to_vec(),
                    n_frames: len,
                    n_features: m.n_features,
                };
                let input = normalised(&self.input.finish(&window), stats);
                crops.push(self.freeze_one(&input, s.emotion, s.intensity));
                crop_owner.push(i);
            }
        }
        let every = c.hold_back_every.max(2);
        let is_held = |i: usize| (i + round) % every == every - 1;
        let (mut held, mut kept): (Vec<&Frozen>, Vec<&Frozen>) = (Vec::new(), Vec::new());
        for (i, f) in frozen.iter().enumerate() {
            if is_held(i) {
                held.push(f);
            } else {
                kept.push(f);
            }
        }
        kept.extend(
            crop_owner
                .iter()
                .zip(&crops)
                .filter(|(i, _)| !is_held(**i))
                .map(|(_, f)| f),
        );
        let seed = c.seed.wrapping_add(round as u64);
        let candidate = self.fit(&kept, seed);
        // Every update starts from the base weights, so the guard compares the candidate with
        // its starting point on samples neither has trained on. (The weights in use were
        // refitted on these very samples, so comparing with them would favour them unfairly.)
        let before = self.accuracy(&self.base, &held);
        let after = self.accuracy(&candidate, &held);
        if after < before {
            return UpdateResult {
                model: None,
                record: record(
                    before,
                    after,
                    false,
                    format!(
                        "kept the previous weights: the update scored {after:.2} on {} held-back \
                         samples, the base weights {before:.2}",
                        held.len()
                    ),
                ),
            };
        }
        let model = if c.refit {
            let all: Vec<&Frozen> = frozen.iter().chain(&crops).collect();
            self.fit(&all, seed)
        } else {
            candidate
        };
        UpdateResult {
            model: Some(model),
            record: record(
                before,
                after,
                true,
                format!(
                    "{after:.2} on {} held-back samples (base weights {before:.2})",
                    held.len()
                ),
            ),
        }
    }

    /// Classifies MFCC frames with `model` and already blended `stats`.
    #[must_use]
    pub fn classify(
        &self,
        model: &EmotionModel,
        mfcc: &[&FeatureMatrix],
        stats: &NormStats,
    ) -> Vec<Prediction> {
        let inputs: Vec<FeatureMatrix> = mfcc
            .iter()
            .map(|m| normalised(&self.input.finish(m), stats))
            .collect();
        let refs: Vec<&FeatureMatrix> = inputs.iter().collect();
        let p = crate::training::predict(model, &refs, 64, &self.device);
        p.emotion
            .into_iter()
            .zip(p.intensity)
            .map(|(e, i)| Prediction::from_probabilities(e, i))
            .collect()
    }
}

/// A player's data: confirmed samples, speech statistics, update history.
#[derive(Debug, Clone, Default)]
pub struct PlayerState {
    /// Confirmed samples, oldest first (MFCC frames at 8 bits a value, as saved).
    pub samples: Vec<ConfirmedSample>,
    /// Statistics of all the player's speech (model-input steps), labelled or not.
    pub stats: Option<NormStats>,
    /// Updates so far.
    pub history: Vec<UpdateRecord>,
}

enum Job {
    Update,
    Stop,
}

struct Shared {
    adapter: Arc<Adapter>,
    state: Mutex<PlayerState>,
    weights: RwLock<Arc<EmotionModel>>,
    /// Whether the player has their own weights (not the base ones).
    adapted: AtomicBool,
    /// Jobs queued or running; `Condvar` wakes [`PlayerModel::wait_idle`].
    pending: (Mutex<usize>, Condvar),
    outcomes: Mutex<VecDeque<UpdateRecord>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One player's live model: predictions with their current weights, confirmations that queue
/// an update on a worker thread, new weights swapped in atomically.
pub struct PlayerModel {
    shared: Arc<Shared>,
    jobs: Sender<Job>,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PlayerModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlayerModel")
            .field("samples", &lock(&self.shared.state).samples.len())
            .field("adapted", &self.shared.adapted.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl PlayerModel {
    /// A player starting from `state` and `weights` (`None`: the base model's).
    #[must_use]
    pub fn new(adapter: Arc<Adapter>, state: PlayerState, weights: Option<EmotionModel>) -> Self {
        let adapted = weights.is_some();
        let weights = Arc::new(weights.unwrap_or_else(|| adapter.base.clone()));
        let shared = Arc::new(Shared {
            adapter,
            state: Mutex::new(state),
            weights: RwLock::new(weights),
            adapted: AtomicBool::new(adapted),
            pending: (Mutex::new(0), Condvar::new()),
            outcomes: Mutex::new(VecDeque::new()),
        });
        let (jobs, rx) = channel();
        let worker = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("voice-emotion-adapt".to_owned())
                .spawn(move || worker(&shared, &rx))
                .map_err(|e| {
                    tracing::warn!("no adaptation thread ({e}): confirmations will not train");
                })
                .ok()
        };
        Self {
            shared,
            jobs,
            worker,
        }
    }

    fn check(&self, mfcc: &FeatureMatrix) -> Result<(), AdaptError> {
        let expected = self.shared.adapter.input.mfcc.n_mfcc;
        if mfcc.n_features == expected {
            Ok(())
        } else {
            Err(AdaptError::Shape {
                expected,
                found: mfcc.n_features,
            })
        }
    }

    /// The weights in use.
    #[must_use]
    pub fn weights(&self) -> Arc<EmotionModel> {
        Arc::clone(
            &self
                .shared
                .weights
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Whether the player has their own weights.
    #[must_use]
    pub fn is_adapted(&self) -> bool {
        self.shared.adapted.load(Ordering::SeqCst)
    }

    /// The normalisation statistics in use (the player's blended with the training set's).
    #[must_use]
    pub fn stats(&self) -> NormStats {
        let state = lock(&self.shared.state);
        self.shared.adapter.blended_stats(state.stats.as_ref())
    }

    /// Classifies an utterance's MFCC frames with the player's weights and statistics.
    ///
    /// # Errors
    /// [`AdaptError::Shape`] for frames of another size.
    pub fn classify(&self, mfcc: &FeatureMatrix) -> Result<Prediction, AdaptError> {
        self.check(mfcc)?;
        let stats = self.stats();
        let weights = self.weights();
        self.shared
            .adapter
            .classify(&weights, &[mfcc], &stats)
            .pop()
            .ok_or(AdaptError::Shape {
                expected: self.shared.adapter.input.mfcc.n_mfcc,
                found: 0,
            })
    }

    /// How many of the player's confirmed samples the weights in use classify as confirmed:
    /// `(correct, total)`. The weights were trained on these samples, so this shows what
    /// adaptation learnt, not how well it generalises.
    #[must_use]
    pub fn accuracy_on_samples(&self) -> (usize, usize) {
        let (samples, stats) = {
            let state = lock(&self.shared.state);
            (
                state.samples.clone(),
                self.shared.adapter.blended_stats(state.stats.as_ref()),
            )
        };
        let decoded: Vec<FeatureMatrix> = samples.iter().map(|s| s.features.decode()).collect();
        let refs: Vec<&FeatureMatrix> = decoded.iter().collect();
        let weights = self.weights();
        let correct = self
            .shared
            .adapter
            .classify(&weights, &refs, &stats)
            .iter()
            .zip(&samples)
            .filter(|(p, s)| p.emotion == s.emotion)
            .count();
        (correct, samples.len())
    }

    /// Adds unlabelled speech to the player's statistics.
    ///
    /// # Errors
    /// [`AdaptError::Shape`] for frames of another size.
    pub fn observe(&self, mfcc: &FeatureMatrix) -> Result<(), AdaptError> {
        self.check(mfcc)?;
        let input = self.shared.adapter.input.finish(mfcc);
        let mut state = lock(&self.shared.state);
        state
            .stats
            .get_or_insert_with(|| NormStats::new(input.n_features))
            .add(&input);
        Ok(())
    }

    /// Records a confirmed utterance (its speech also counts for the statistics, see
    /// [`PlayerModel::observe`]) and queues an update. Returns at once.
    ///
    /// # Errors
    /// [`AdaptError::Shape`] for frames of another size.
    pub fn confirm(
        &self,
        mfcc: FeatureMatrix,
        emotion: Emotion,
        intensity: Option<Intensity>,
    ) -> Result<(), AdaptError> {
        self.confirm_with_audio(mfcc, None, emotion, intensity)
    }

    /// [`PlayerModel::confirm`], also keeping the utterance's 16 kHz audio in the player's
    /// data, for games whose players opted in to keeping their recordings (`None`: features
    /// only, the default everywhere else).
    ///
    /// # Errors
    /// [`AdaptError::Shape`] for frames of another size.
    pub fn confirm_with_audio(
        &self,
        mfcc: FeatureMatrix,
        audio: Option<Vec<f32>>,
        emotion: Emotion,
        intensity: Option<Intensity>,
    ) -> Result<(), AdaptError> {
        self.observe(&mfcc)?;
        lock(&self.shared.state).samples.push(ConfirmedSample {
            features: QuantisedMatrix::encode(&mfcc),
            emotion,
            intensity,
            time_unix_ms: now_ms(),
            audio,
        });
        self.queue();
        Ok(())
    }

    fn queue(&self) {
        *lock(&self.shared.pending.0) += 1;
        if self.jobs.send(Job::Update).is_err() {
            *lock(&self.shared.pending.0) -= 1;
        }
    }

    /// Blocks until every queued update has finished.
    pub fn wait_idle(&self) {
        let (count, cv) = &self.shared.pending;
        let mut n = lock(count);
        while *n > 0 {
            n = cv.wait(n).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Updates queued or running.
    #[must_use]
    pub fn pending_updates(&self) -> usize {
        *lock(&self.shared.pending.0)
    }

    /// Records of updates finished since the last call.
    #[must_use]
    pub fn take_outcomes(&self) -> Vec<UpdateRecord> {
        lock(&self.shared.outcomes).drain(..).collect()
    }

    /// Back to the base weights; drops the confirmed samples unless `keep_samples`.
    pub fn reset(&self, keep_samples: bool) {
        self.wait_idle();
        {
            let mut state = lock(&self.shared.state);
            if !keep_samples {
                state.samples.clear();
            }
        }
        *self
            .shared
            .weights
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(self.shared.adapter.base.clone());
        self.shared.adapted.store(false, Ordering::SeqCst);
    }

    /// A copy of the player's data.
    #[must_use]
    pub fn state(&self) -> PlayerState {
        lock(&self.shared.state).clone()
    }

    /// The player as a profile to save: their weights (when adapted), samples, statistics
    /// and history. Waits for running updates first.
    ///
    /// # Errors
    /// [`AdaptError::Weights`] when the weights cannot be serialised.
    pub fn to_profile(
        &self,
        id: PlayerId,
        base: BaseModelRef,
    ) -> Result<PlayerProfile, AdaptError> {
        self.wait_idle();
        self.snapshot(id, base)
    }

    /// [`PlayerModel::to_profile`] without waiting: the weights in use now and every sample
    /// confirmed so far (including those the running update has not seen yet).
    ///
    /// # Errors
    /// [`AdaptError::Weights`] when the weights cannot be serialised.
    pub fn snapshot(&self, id: PlayerId, base: BaseModelRef) -> Result<PlayerProfile, AdaptError> {
        let weights = if self.is_adapted() {
            Some(weights_to_bytes(&self.weights())?)
        } else {
            None
        };
        let state = self.state();
        let mut profile = PlayerProfile::new(id, base);
        profile.weights = weights;
        profile.samples = state.samples;
        profile.norm = state.stats;
        profile.history = state.history;
        if let Some(first) = profile.samples.first() {
            profile.created_unix_ms = profile.created_unix_ms.min(first.time_unix_ms);
        }
        Ok(profile)
    }

    /// A player from a saved profile (whose base the store has already checked).
    ///
    /// # Errors
    /// [`AdaptError::Weights`] when the saved weights do not fit the model.
    pub fn from_profile(adapter: Arc<Adapter>, profile: PlayerProfile) -> Result<Self, AdaptError> {
        let weights = match &profile.weights {
            Some(bytes) => Some(weights_from_bytes(&adapter, bytes)?),
            None => None,
        };
        let state = PlayerState {
            samples: profile.samples,
            stats: profile.norm,
            history: profile.history,
        };
        Ok(Self::new(adapter, state, weights))
    }
}

/// A model's weights as bytes (burn's burnpack format).
///
/// # Errors
/// [`AdaptError::Weights`] with burn's message.
pub fn weights_to_bytes(model: &EmotionModel) -> Result<Vec<u8>, AdaptError> {
    use burn::store::{BurnpackStore, ModuleSnapshot};
    let mut store = BurnpackStore::from_bytes(None);
    model
        .save_into(&mut store)
        .map_err(|e| AdaptError::Weights {
            reason: format!("{e:?}"),
        })?;
    store
        .get_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| AdaptError::Weights {
            reason: format!("{e:?}"),
        })
}

/// Weights from [`weights_to_bytes`], in the shape of `adapter`'s base model.
///
/// # Errors
/// [`AdaptError::Weights`] for bytes that are not weights of this model.
pub fn weights_from_bytes(adapter: &Adapter, bytes: &[u8]) -> Result<EmotionModel, AdaptError> {
    use burn::store::{BurnpackStore, ModuleSnapshot};
    let mut model = adapter.base.clone();
    let mut store =
        BurnpackStore::from_bytes(Some(burn::tensor::Bytes::from_bytes_vec(bytes.to_vec())));
    model
        .load_from(&mut store)
        .map_err(|e| AdaptError::Weights {
            reason: format!("{e:?}"),
        })?;
    Ok(model)
}

impl Drop for PlayerModel {
    fn drop(&mut self) {
        let _ = self.jobs.send(Job::Stop);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn worker(shared: &Shared, jobs: &Receiver<Job>) {
    let mut round = 0usize;
    loop {
        let Ok(job) = jobs.recv() else { return };
        if matches!(job, Job::Stop) {
            return;
        }
        // Confirmations that arrived meanwhile are covered by this one update.
        let mut covered = 1usize;
        let mut stop = false;
        loop {
            match jobs.try_recv() {
                Ok(Job::Update) => covered += 1,
                Ok(Job::Stop) | Err(TryRecvError::Disconnected) => {
                    stop = true;
                    break;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        let (samples, stats) = {
            let state = lock(&shared.state);
            (
                state.samples.clone(),
                shared.adapter.blended_stats(state.stats.as_ref()),
            )
        };
        let result = shared.adapter.update(&samples, &stats, round);
        round += 1;
        if let Some(model) = result.model {
            *shared
                .weights
                .write()
                .unwrap_or_else(PoisonError::into_inner) = Arc::new(model);
            shared.adapted.store(true, Ordering::SeqCst);
        }
        lock(&shared.state).history.push(result.record.clone());
        lock(&shared.outcomes).push_back(result.record);
        {
            let (count, cv) = &shared.pending;
            let mut n = lock(count);
            *n = n.saturating_sub(covered);
            cv.notify_all();
        }
        if stop {
            return;
        }
    }
}
