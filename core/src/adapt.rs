//! Per-player adaptation: each player's own model, learnt from the utterances the player
//! confirmed.
//!
//! # Method
//! A player's model is the shipped network, normalised with the player's own statistics,
//! combined with the player's **voice head** ([`crate::voice`]): a small classifier over
//! descriptors of the player's own confirmed utterances, which learns how *this* player
//! sounds in each emotion and is fused with the network's judgement.
//! - The player's **normalisation statistics** come from all their speech, labelled or not,
//!   blended with the training set's while there is little of it ([`AdaptConfig::prior_steps`]).
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
//! Why not fine-tune the network's last layers: that was this module's first method
//! (`docs/adaptation.md` has the measurements). On cross-validation folds of RAVDESS it gained
//! less than the voice head, took ten times longer per update, and added nothing on top of it.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::{Emotion, Intensity};
use crate::features::FeatureMatrix;
use crate::inference::{EmotionClassifier, Prediction};
use crate::input::{InputConfig, NormStats};
use crate::model::EmotionModel;
use crate::profile::{
    BaseModelRef, ConfirmedSample, MIGRATED_FROM_V1, PlayerId, PlayerProfile, QuantisedMatrix,
    UpdateRecord,
};
use crate::training::{make_batch, normalised};
use crate::voice::{DescriptorPrior, VoiceFit, VoiceHead, describe, fuse};

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
    /// ([`crate::voice::fuse`]).
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
}

impl AdaptConfig {
    /// The voice head's fitting settings.
    #[must_use]
    pub fn voice_fit(&self) -> VoiceFit {
        VoiceFit {
            c: self.c,
            steps: self.steps,
            learning_rate: self.learning_rate,
            prior_weight: self.prior_utterances,
        }
    }
}

/// What the network makes of one normalised model input.
#[derive(Debug, Clone)]
struct Analysis {
    emotion: [f32; Emotion::COUNT],
    intensity: [f32; Intensity::COUNT],
    descriptor: Vec<f32>,
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

/// What an update produced.
#[derive(Debug)]
pub struct UpdateResult {
    /// The new voice head, when the guard accepted it.
    pub voice: Option<VoiceHead>,
    /// The record.
    pub record: UpdateRecord,
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

/// The base model and everything an update needs; shared by all players.
#[derive(Debug)]
pub struct Adapter {
    base: EmotionModel,
    input: InputConfig,
    global: NormStats,
    /// What the anchors (the training speakers) tell a voice head.
    prior: Option<DescriptorPrior>,
    config: AdaptConfig,
    device: Device,
}

impl Adapter {
    /// An adapter over `classifier`'s model with `anchors` (may be empty: voice heads then
    /// standardise with the player's statistics alone and keep intensity).
    #[must_use]
    pub fn new(classifier: &EmotionClassifier, anchors: &AnchorSet, config: AdaptConfig) -> Self {
        let mut adapter = Self {
            base: classifier.model().clone(),
            input: classifier.input_config().clone(),
            global: classifier.global_stats().clone(),
            prior: None,
            config,
            device: classifier.device().clone(),
        };
        let described: Vec<_> = anchors
            .anchors
            .iter()
            .filter_map(|anchor| {
                let a = adapter.analyse(&anchor.input.decode())?;
                Some((a.descriptor, anchor.emotion, anchor.intensity))
            })
            .collect();
        adapter.prior = DescriptorPrior::new(&described);
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

    /// What the anchors tell every voice head (`None` without anchors).
    #[must_use]
    pub fn prior(&self) -> Option<&DescriptorPrior> {
        self.prior.as_ref()
    }

    /// Values in an utterance's descriptor ([`crate::voice::describe`]) for this model.
    #[must_use]
    pub fn descriptor_width(&self) -> usize {
        self.base.first_layer_units() + 2 * self.per_frame()
    }

    /// Coefficients per frame of the model input (MFCCs, and deltas where used).
    fn per_frame(&self) -> usize {
        self.input.mfcc.n_mfcc * if self.input.deltas { 2 } else { 1 }
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

    /// What the base network makes of one normalised model input: probabilities and its
    /// descriptor (`None` only if burn hands back no data).
    ///
    /// Always one utterance per forward pass, also when an update analyses 200: the working
    /// set stays one utterance's tensors. Batches of 16 made an update of 200 samples take
    /// 0.42 s instead of 0.52 s (`benches/adapt.rs`), but the hour-long soak
    /// (`scripts/soak`, 59 updates) then grew by 9.4% after warm-up instead of 2.1%: the
    /// allocator kept the larger batches' memory.
    fn analyse(&self, input: &FeatureMatrix) -> Option<Analysis> {
        let batch = make_batch(&[(input, Emotion::Neutral, None)], &self.device);
        let (o, mean) = self.base.forward_described(batch.inputs, batch.mask);
        let values = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().ok();
        let softmax = burn::tensor::activation::softmax;
        Some(Analysis {
            emotion: values(softmax(o.emotion, 1))?.try_into().ok()?,
            intensity: values(softmax(o.intensity, 1))?.try_into().ok()?,
            descriptor: describe(&values(mean)?, input, self.per_frame()),
        })
    }

    /// The guard's figures: the held-back accuracy of the base network and of the network
    /// with voice heads fitted on the other parts ([`AdaptConfig::guard_folds`] parts; which
    /// sample goes where turns with `round`).
    fn guard(&self, analyses: &[Analysis], labels: &[Emotion], round: usize) -> (f64, f64) {
        let fit = self.config.voice_fit();
        let k = self.config.guard_folds.max(2);
        let n = analyses.len();
        let (mut base_hits, mut fused_hits) = (0usize, 0usize);
        for fold in 0..k {
            let held = |i: usize| (i + round) % k == fold;
            let (train_x, train_y): (Vec<&[f32]>, Vec<Emotion>) = (0..n)
                .filter(|&i| !held(i))
                .map(|i| (analyses[i].descriptor.as_slice(), labels[i]))
                .unzip();
            let head = VoiceHead::fit(&train_x, &train_y, self.prior.as_ref(), &fit).ok();
            for i in (0..n).filter(|&i| held(i)) {
                let a = &analyses[i];
                let voice = head.as_ref().and_then(|h| h.opinion(&a.descriptor));
                let fused = fuse(&a.emotion, voice.as_ref(), self.config.network_weight);
                base_hits += usize::from(argmax(&a.emotion) == labels[i].index());
                fused_hits += usize::from(argmax(&fused) == labels[i].index());
            }
        }
        let n = n.max(1) as f64;
        (base_hits as f64 / n, fused_hits as f64 / n)
    }

    /// One update: a voice head fitted on `samples` normalised with `stats` (already
    /// blended), guarded on held-back samples. `round` varies which samples are held back.
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
        let refused = |before: f64, after: f64, reason: String| UpdateResult {
            voice: None,
            record: record(before, after, false, reason),
        };
        if recent.len() < c.min_samples.max(2) {
            return refused(
                0.0,
                0.0,
                format!(
                    "waiting for {} confirmed samples ({} so far)",
                    c.min_samples.max(2),
                    recent.len()
                ),
            );
        }
        // Each sample's input lives only until it is analysed.
        let (analyses, labels): (Vec<Analysis>, Vec<Emotion>) = recent
            .iter()
            .filter_map(|s| {
                let input = normalised(&self.input.finish(&s.features.decode()), stats);
                Some((self.analyse(&input)?, s.emotion))
            })
            .unzip();
        let descriptors: Vec<&[f32]> = analyses.iter().map(|a| a.descriptor.as_slice()).collect();
        let head = match VoiceHead::fit(&descriptors, &labels, self.prior.as_ref(), &c.voice_fit())
        {
            Ok(head) => head,
            Err(e) => return refused(0.0, 0.0, format!("kept the previous weights: {e}")),
        };
        let (before, after) = self.guard(&analyses, &labels, round);
        let held = format!(
            "on {} samples, each held back from a fit on the others",
            recent.len()
        );
        if after < before {
            return refused(
                before,
                after,
                format!(
                    "kept the previous weights: with a voice head {after:.2} {held}, the base \
                     network {before:.2}"
                ),
            );
        }
        UpdateResult {
            voice: Some(head),
            record: record(
                before,
                after,
                true,
                format!("{after:.2} {held} (base network {before:.2})"),
            ),
        }
    }

    /// Classifies MFCC frames with a player's `voice` head and already blended `stats`.
    #[must_use]
    pub fn classify(
        &self,
        voice: Option<&VoiceHead>,
        mfcc: &[&FeatureMatrix],
        stats: &NormStats,
    ) -> Vec<Prediction> {
        mfcc.iter()
            .filter_map(|m| self.analyse(&normalised(&self.input.finish(m), stats)))
            .map(|a| {
                let opinion = voice.and_then(|v| v.opinion(&a.descriptor));
                Prediction::from_probabilities(
                    fuse(&a.emotion, opinion.as_ref(), self.config.network_weight),
                    a.intensity,
                )
            })
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
    /// The player's voice head in use (`None`: the base network alone).
    voice: RwLock<Option<Arc<VoiceHead>>>,
    /// Jobs queued or running; `Condvar` wakes [`PlayerModel::wait_idle`].
    pending: (Mutex<usize>, Condvar),
    outcomes: Mutex<VecDeque<UpdateRecord>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One player's live model: predictions with their current voice head, confirmations that
/// queue an update on a worker thread, new heads swapped in atomically.
pub struct PlayerModel {
    shared: Arc<Shared>,
    jobs: Sender<Job>,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PlayerModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlayerModel")
            .field("samples", &lock(&self.shared.state).samples.len())
            .field("adapted", &self.is_adapted())
            .finish_non_exhaustive()
    }
}

impl PlayerModel {
    /// A player starting from `state` and `voice` head (`None`: the base network alone).
    #[must_use]
    pub fn new(adapter: Arc<Adapter>, state: PlayerState, voice: Option<VoiceHead>) -> Self {
        let shared = Arc::new(Shared {
            adapter,
            state: Mutex::new(state),
            voice: RwLock::new(voice.map(Arc::new)),
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

    /// The voice head in use (`None`: the base network alone).
    #[must_use]
    pub fn voice_head(&self) -> Option<Arc<VoiceHead>> {
        self.shared
            .voice
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the player has their own voice head.
    #[must_use]
    pub fn is_adapted(&self) -> bool {
        self.voice_head().is_some()
    }

    /// The normalisation statistics in use (the player's blended with the training set's).
    #[must_use]
    pub fn stats(&self) -> NormStats {
        let state = lock(&self.shared.state);
        self.shared.adapter.blended_stats(state.stats.as_ref())
    }

    /// Classifies an utterance's MFCC frames with the player's voice head and statistics.
    ///
    /// # Errors
    /// [`AdaptError::Shape`] for frames of another size.
    pub fn classify(&self, mfcc: &FeatureMatrix) -> Result<Prediction, AdaptError> {
        self.check(mfcc)?;
        let stats = self.stats();
        let voice = self.voice_head();
        self.shared
            .adapter
            .classify(voice.as_deref(), &[mfcc], &stats)
            .pop()
            .ok_or(AdaptError::Shape {
                expected: self.shared.adapter.input.mfcc.n_mfcc,
                found: 0,
            })
    }

    /// How many of the player's confirmed samples the model in use classifies as confirmed:
    /// `(correct, total)`. Its voice head was fitted on these samples, so this shows what
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
        let voice = self.voice_head();
        let correct = self
            .shared
            .adapter
            .classify(voice.as_deref(), &refs, &stats)
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

    /// Back to the base network alone (no voice head); drops the confirmed samples unless
    /// `keep_samples`.
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
            .voice
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// A copy of the player's data.
    #[must_use]
    pub fn state(&self) -> PlayerState {
        lock(&self.shared.state).clone()
    }

    /// The player as a profile to save: their voice head (when adapted), samples,
    /// statistics and history. Waits for running updates first.
    #[must_use]
    pub fn to_profile(&self, id: PlayerId, base: BaseModelRef) -> PlayerProfile {
        self.wait_idle();
        self.snapshot(id, base)
    }

    /// [`PlayerModel::to_profile`] without waiting: the voice head in use now and every
    /// sample confirmed so far (including those the running update has not seen yet).
    #[must_use]
    pub fn snapshot(&self, id: PlayerId, base: BaseModelRef) -> PlayerProfile {
        let state = self.state();
        let mut profile = PlayerProfile::new(id, base);
        profile.voice = self.voice_head().map(|v| (*v).clone());
        profile.samples = state.samples;
        profile.norm = state.stats;
        profile.history = state.history;
        if let Some(first) = profile.samples.first() {
            profile.created_unix_ms = profile.created_unix_ms.min(first.time_unix_ms);
        }
        profile
    }

    /// A player from a saved profile (whose base the store has already checked). A profile
    /// read from an older format whose fine-tuned network was dropped
    /// ([`crate::profile::MIGRATED_FROM_V1`]) queues an update at once, so the player's own
    /// model is back within milliseconds of loading.
    ///
    /// # Errors
    /// [`AdaptError::VoiceHead`] when the saved head does not fit this model.
    pub fn from_profile(adapter: Arc<Adapter>, profile: PlayerProfile) -> Result<Self, AdaptError> {
        if let Some(v) = &profile.voice
            && v.width() != adapter.descriptor_width()
        {
            return Err(AdaptError::VoiceHead {
                expected: adapter.descriptor_width(),
                found: v.width(),
            });
        }
        let refit = profile.voice.is_none()
            && profile
                .history
                .last()
                .is_some_and(|r| r.reason == MIGRATED_FROM_V1);
        let state = PlayerState {
            samples: profile.samples,
            stats: profile.norm,
            history: profile.history,
        };
        let player = Self::new(adapter, state, profile.voice);
        if refit {
            player.queue();
        }
        Ok(player)
    }
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
        if let Some(head) = result.voice {
            *shared.voice.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(head));
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
