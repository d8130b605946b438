//! The adaptation algorithm: analyse utterances, fit a voice head, guard it.

use super::*;

/// The base model and everything an update needs; shared by all players.
#[derive(Debug)]
pub struct Adapter {
    /// The burn model (reference; what [`Adapter::base`] returns).
    pub(super) base: EmotionModel,
    /// The same network for plain `f32` arithmetic: what `Adapter::analyse` runs.
    pub(super) fast: FastNetwork,
    pub(super) input: InputConfig,
    pub(super) global: NormStats,
    /// What the anchors (the training speakers) tell a voice head.
    pub(super) prior: Option<DescriptorPrior>,
    pub(super) config: AdaptConfig,
    /// The classifier's fitted temperature, applied to what [`Adapter::classify`] returns
    /// (never to what voice heads are fitted on), so a game's `confidence` is calibrated.
    pub(super) temperature: f64,
    /// The anchors' top-layer last states and emotions: what a weight copy replays.
    pub(super) anchor_states: Vec<Vec<f32>>,
    pub(super) anchor_labels: Vec<Emotion>,
    /// The network's own upper layers as a copy: the shape a player's copy must have.
    pub(super) upper: Option<UpperCopy>,
}

impl Adapter {
    /// An adapter over `classifier`'s model with `anchors` (may be empty: voice heads then
    /// standardise with the player's statistics alone and keep intensity).
    #[must_use]
    pub fn new(classifier: &EmotionClassifier, anchors: &AnchorSet, config: AdaptConfig) -> Self {
        let mut adapter = Self {
            base: classifier.model().clone(),
            fast: classifier.fast_network().clone(),
            input: classifier.input_config().clone(),
            global: classifier.global_stats().clone(),
            prior: None,
            config,
            temperature: classifier.temperature(),
            anchor_states: Vec::new(),
            anchor_labels: Vec::new(),
            upper: UpperCopy::from_model(classifier.model()).ok(),
        };
        let mut described = Vec::with_capacity(anchors.anchors.len());
        for anchor in &anchors.anchors {
            let a = adapter.analyse(&anchor.input.decode());
            adapter.anchor_states.push(a.last);
            adapter.anchor_labels.push(anchor.emotion);
            described.push((a.descriptor, anchor.emotion, anchor.intensity));
        }
        adapter.prior = DescriptorPrior::new(&described);
        adapter
    }

    /// Whether `copy` (a saved weight copy) fits this network: its shape, and values that
    /// are all finite.
    #[must_use]
    pub fn copy_fits(&self, copy: &UpperCopy) -> bool {
        copy.is_consistent() && self.upper.as_ref().is_some_and(|u| u.same_shape(copy))
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

    /// Values in an utterance's descriptor ([`crate::player::voice::describe`]) for this model.
    #[must_use]
    pub fn descriptor_width(&self) -> usize {
        self.fast.first_layer_units() + 2 * self.per_frame()
    }

    /// Values per frame of the model input (MFCCs, pitch where used, and their deltas where
    /// used).
    pub(super) fn per_frame(&self) -> usize {
        self.input.frame_width() * if self.input.deltas { 2 } else { 1 }
    }

    /// A player's statistics blended with the training set's ([`AdaptConfig::prior_steps`]);
    /// the training set's alone while the player has spoken less than
    /// [`AdaptConfig::min_player_steps`]. Either is taken to the player's level (beyond
    /// [`AdaptConfig::level_margin_db`]) once they have spoken [`AdaptConfig::level_steps`].
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
        if let Some(p) = player.filter(|p| {
            p.n_features() == out.n_features() && p.count >= self.config.min_player_steps
        }) {
            out.merge(p);
        }
        if out.count == 0 {
            out = self.global.clone();
        }
        // At the player's level, once there is enough of their speech to measure it: the
        // training set's statistics until the player's own count, and the blend after it,
        // whose level lies between theirs and the training set's until their speech
        // outweighs the prior (matched there too, or the level would step back when their
        // statistics start to count).
        let level = self.config.level_steps;
        if let Some(gain) = player
            .filter(|p| level > 0 && p.count >= level)
            .and_then(|p| p.gain_db_against(&out, &self.input))
        {
            let excess = gain.signum() * (gain.abs() - self.config.level_margin_db).max(0.0);
            if excess != 0.0 {
                out = out.with_gain_db(&self.input, excess);
            }
        }
        out
    }

    /// What the base network makes of one normalised model input: probabilities and its
    /// descriptor. Runs [`FastNetwork::forward_described`], one utterance at a time in the
    /// network's reused scratch memory.
    ///
    /// The probabilities are the network's plain softmax, without the classifier's fitted
    /// temperature: what the voice heads and the guard have always been fitted and judged on.
    pub(super) fn analyse(&self, input: &FeatureMatrix) -> Analysis {
        let (logits, mean, last) = self.fast.forward_analysed(input);
        let (emotion, intensity) = logits.probabilities(1.0);
        Analysis {
            emotion,
            intensity,
            descriptor: describe(&mean, input, self.per_frame()),
            last,
        }
    }

    /// The most recent [`AdaptConfig::max_samples`] of `samples`, analysed with `stats`,
    /// and their labels. Each sample's input lives only until it is analysed.
    fn analyse_samples(&self, samples: &[ConfirmedSample], stats: &NormStats) -> Analysed {
        let recent = &samples[samples.len().saturating_sub(self.config.max_samples.max(1))..];
        recent
            .iter()
            .map(|s| {
                let input = normalised(&self.input.finish(&s.features.decode()), stats);
                (self.analyse(&input), s.emotion)
            })
            .unzip()
    }

    /// The guard's figures: the held-back accuracy of the base network and of the network
    /// with voice heads fitted on the other parts ([`AdaptConfig::guard_folds`] parts; which
    /// sample goes where turns with `round`).
    pub(super) fn guard(
        &self,
        analyses: &[Analysis],
        labels: &[Emotion],
        round: usize,
    ) -> (f64, f64) {
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
        self.update_cached(samples, stats, round, &mut None)
    }

    /// [`Adapter::update`], analysing the samples into `cache` unless it holds them already
    /// (the worker runs [`Adapter::update_copy`] on the same analyses).
    pub(super) fn update_cached(
        &self,
        samples: &[ConfirmedSample],
        stats: &NormStats,
        round: usize,
        cache: &mut Option<Analysed>,
    ) -> UpdateResult {
        let started = Instant::now();
        let c = &self.config;
        let recent = &samples[samples.len().saturating_sub(c.max_samples.max(1))..];
        let record = |before: f64, after: f64, accepted: bool, reason: String| UpdateRecord {
            kind: RecordKind::Update,
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
        let (analyses, labels) = &*cache.get_or_insert_with(|| self.analyse_samples(recent, stats));
        let descriptors: Vec<&[f32]> = analyses.iter().map(|a| a.descriptor.as_slice()).collect();
        let head = match VoiceHead::fit(&descriptors, labels, self.prior.as_ref(), &c.voice_fit()) {
            Ok(head) => head,
            Err(e) => return refused(0.0, 0.0, format!("kept the previous weights: {e}")),
        };
        let (before, after) = self.guard(analyses, labels, round);
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

    /// Classifies MFCC frames with a player's `heads` and already blended `stats`. The
    /// fused probabilities are recalibrated at the classifier's fitted temperature
    /// ([`with_temperature`]: the ranking, so the detected emotion, never changes); without a
    /// voice head or copy this is exactly [`EmotionClassifier::classify_features`].
    #[must_use]
    pub fn classify(
        &self,
        heads: &PlayerHeads,
        mfcc: &[&FeatureMatrix],
        stats: &NormStats,
    ) -> Vec<Prediction> {
        mfcc.iter()
            .map(|m| self.analyse(&normalised(&self.input.finish(m), stats)))
            .map(|a| self.prediction(heads, &a))
            .collect()
    }

    /// What a player with `heads` is told of an analysed utterance: the network's (or their
    /// weight copy's) and the voice head's opinions fused, at the classifier's temperature.
    pub(super) fn prediction(&self, heads: &PlayerHeads, a: &Analysis) -> Prediction {
        let opinion = heads.voice.as_ref().and_then(|v| v.opinion(&a.descriptor));
        let network = heads
            .copy
            .as_ref()
            .and_then(|c| c.beside(&a.last, &a.emotion))
            .unwrap_or(a.emotion);
        Prediction::from_probabilities(
            with_temperature(
                fuse(&network, opinion.as_ref(), self.config.network_weight),
                self.temperature,
            ),
            a.intensity,
        )
    }

    /// A weight copy fine-tuned on the samples `which` of `analyses` (with the anchors).
    fn fit_copy(
        &self,
        analyses: &[Analysis],
        labels: &[Emotion],
        which: &[usize],
    ) -> Option<UpperCopy> {
        let top = self.config.copy_top;
        let which: Vec<usize> = which
            .iter()
            .copied()
            .filter(|&i| top == 0 || rank(&analyses[i].emotion, labels[i].index()) < top)
            .collect();
        let rows: Vec<&[f32]> = which.iter().map(|&i| analyses[i].last.as_slice()).collect();
        let labels: Vec<Emotion> = which.iter().map(|&i| labels[i]).collect();
        let anchors: Vec<&[f32]> = self.anchor_states.iter().map(Vec::as_slice).collect();
        let copy = self.upper.as_ref()?.fine_tune(
            self.base.dropout_probability(),
            (&rows, &labels),
            (&anchors, &self.anchor_labels),
            &self.config.copy_tuning(),
        );
        copy.is_consistent().then_some(copy)
    }

    /// One update of the player's own copy of the upper layers ([`crate::player::copy`]),
    /// once they have [`AdaptConfig::copy_samples`]: fine-tuned on `samples` normalised with
    /// `stats` (already blended), with the anchors replayed. Guarded as the voice head is:
    /// the samples in [`AdaptConfig::guard_folds`] parts (which sample goes where turns with
    /// `round`), each classified by a voice head and a copy fitted on the others, fused,
    /// against the same voice head with the base network's upper layers; the copy is kept
    /// unless it loses more than [`AdaptConfig::copy_margin`] of that held-back accuracy.
    #[must_use]
    pub fn update_copy(
        &self,
        samples: &[ConfirmedSample],
        stats: &NormStats,
        round: usize,
    ) -> CopyResult {
        self.update_copy_cached(samples, stats, round, &mut None)
    }

    /// [`Adapter::update_copy`] with the analyses `cache` of [`Adapter::update_cached`].
    pub(super) fn update_copy_cached(
        &self,
        samples: &[ConfirmedSample],
        stats: &NormStats,
        round: usize,
        cache: &mut Option<Analysed>,
    ) -> CopyResult {
        let c = &self.config;
        let recent = samples.len().min(c.max_samples.max(1));
        if c.copy_samples == 0 || recent < c.copy_samples {
            return CopyResult {
                copy: None,
                held_back: (0.0, 0.0),
                reason: format!("weight copy from {} confirmed samples", c.copy_samples),
            };
        }
        let (analyses, labels) =
            &*cache.get_or_insert_with(|| self.analyse_samples(samples, stats));
        let fit = c.voice_fit();
        let k = c.guard_folds.max(2);
        let n = analyses.len();
        let (mut base_hits, mut copy_hits) = (0usize, 0usize);
        for fold in 0..k {
            let (held, train): (Vec<usize>, Vec<usize>) =
                (0..n).partition(|&i| (i + round) % k == fold);
            if held.is_empty() || train.is_empty() {
                continue;
            }
            let (train_x, train_y): (Vec<&[f32]>, Vec<Emotion>) = train
                .iter()
                .map(|&i| (analyses[i].descriptor.as_slice(), labels[i]))
                .unzip();
            let head = VoiceHead::fit(&train_x, &train_y, self.prior.as_ref(), &fit).ok();
            let copy = self.fit_copy(analyses, labels, &train);
            for &i in &held {
                let a = &analyses[i];
                let voice = head.as_ref().and_then(|h| h.opinion(&a.descriptor));
                let tuned = copy
                    .as_ref()
                    .and_then(|c| c.beside(&a.last, &a.emotion))
                    .unwrap_or(a.emotion);
                let truth = labels[i].index();
                let fused = |p: &[f32; Emotion::COUNT]| {
                    argmax(&fuse(p, voice.as_ref(), c.network_weight)) == truth
                };
                base_hits += usize::from(fused(&a.emotion));
                copy_hits += usize::from(fused(&tuned));
            }
        }
        let n_f = n.max(1) as f64;
        let (before, after) = (base_hits as f64 / n_f, copy_hits as f64 / n_f);
        if after + c.copy_margin < before {
            return CopyResult {
                copy: None,
                held_back: (before, after),
                reason: format!(
                    "kept the previous weight copy: with a new one {after:.2} held back, \
                     without {before:.2}"
                ),
            };
        }
        let all: Vec<usize> = (0..n).collect();
        let copy = self.fit_copy(analyses, labels, &all);
        let reason = if copy.is_some() {
            format!("weight copy: {after:.2} held back (without {before:.2})")
        } else {
            "kept the previous weight copy: fine-tuning failed".to_owned()
        };
        CopyResult {
            copy,
            held_back: (before, after),
            reason,
        }
    }
}

/// How many of `p`'s classes are likelier than class `k`.
fn rank(p: &[f32], k: usize) -> usize {
    p.iter().filter(|&&q| q > p[k]).count()
}
