//! [`PlayerModel`]: a player's model, its update worker thread, and conversion to and from
//! the player's profile.

use super::*;

/// Confirmed samples of each emotion a player's voice head wants: one at normal and one at
/// strong intensity.
pub const CONFIRM_EACH: usize = 2;

/// What a player should confirm next, given their confirmed samples per emotion (in the order
/// of [`Emotion::ALL`]): the emotion with the fewest, while any has fewer than
/// [`CONFIRM_EACH`] (ties go to the first in [`Emotion::ALL`]); `None` once every emotion has
/// as many. A voice head only learns the emotions it was given, and the guard refuses updates
/// it cannot check on a few samples; a game can prompt for this one ("try sounding sad").
#[must_use]
pub fn confirm_next(samples_per_emotion: &[usize; Emotion::COUNT]) -> Option<Emotion> {
    let (index, &fewest) = samples_per_emotion
        .iter()
        .enumerate()
        .min_by_key(|&(i, &n)| (n, i))?;
    if fewest >= CONFIRM_EACH {
        return None;
    }
    Emotion::from_index(index)
}

/// The base network and a player's model on utterances the player never confirmed
/// ([`PlayerModel::held_out_score`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeldOutScore {
    /// Utterances the base network (cold: no voice head, the training set's statistics)
    /// classifies as labelled.
    pub base_correct: usize,
    /// Utterances the player's model classifies as labelled.
    pub player_correct: usize,
    /// Utterances.
    pub total: usize,
}

/// Confirmed samples a player's data keeps (updates use the newest
/// [`AdaptConfig::max_samples`] of them). Past it, the emotion with the most samples loses its
/// oldest: the newest of each emotion stay, and rare emotions are kept longest.
pub const MAX_KEPT_SAMPLES: usize = 300;
/// Confirmed samples that keep their 16 kHz audio (the newest), when the game keeps audio:
/// the audio is twenty times the size of the features.
pub const MAX_KEPT_AUDIO: usize = 20;
/// Update records a player's data keeps (the newest).
pub const MAX_KEPT_RECORDS: usize = 1000;

/// A player's data: confirmed samples, speech statistics, update history. It stays within
/// [`MAX_KEPT_SAMPLES`], [`MAX_KEPT_AUDIO`] and [`MAX_KEPT_RECORDS`] as it grows, so a year
/// of play stays a few megabytes on disk.
#[derive(Debug, Clone, Default)]
pub struct PlayerState {
    /// Confirmed samples, oldest first (MFCC frames at 8 bits a value, as saved).
    pub samples: Vec<ConfirmedSample>,
    /// Statistics of all the player's speech (model-input steps), labelled or not.
    pub stats: Option<NormStats>,
    /// Updates so far (the newest [`MAX_KEPT_RECORDS`]).
    pub history: Vec<UpdateRecord>,
}

impl PlayerState {
    /// Adds a confirmed sample, then drops what is over the caps: the oldest sample of the
    /// emotion with the most (ties: the first in [`Emotion::ALL`]), and the audio of all but
    /// the newest [`MAX_KEPT_AUDIO`] samples that have some.
    pub fn add_sample(&mut self, sample: ConfirmedSample) {
        self.samples.push(sample);
        while self.samples.len() > MAX_KEPT_SAMPLES {
            let mut counts = [0usize; Emotion::COUNT];
            for s in &self.samples {
                counts[s.emotion.index()] += 1;
            }
            let most = (0..Emotion::COUNT)
                .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
                .and_then(Emotion::from_index);
            match self.samples.iter().position(|s| Some(s.emotion) == most) {
                Some(oldest) => {
                    self.samples.remove(oldest);
                }
                None => break,
            }
        }
        let mut with_audio = 0;
        for s in self.samples.iter_mut().rev() {
            if s.audio.is_some() {
                with_audio += 1;
                if with_audio > MAX_KEPT_AUDIO {
                    s.audio = None;
                }
            }
        }
    }

    /// Adds an update record, dropping the oldest past [`MAX_KEPT_RECORDS`].
    pub fn add_record(&mut self, record: UpdateRecord) {
        self.history.push(record);
        let over = self.history.len().saturating_sub(MAX_KEPT_RECORDS);
        self.history.drain(..over);
    }
}

pub(super) enum Job {
    /// The voice head, then the weight copy.
    Update,
    /// The weight copy alone (a profile loaded with enough samples for one).
    Copy,
    Stop,
}

pub(super) struct Shared {
    pub(super) adapter: Arc<Adapter>,
    pub(super) state: Mutex<PlayerState>,
    /// The player's voice head in use (`None`: the base network alone).
    pub(super) voice: RwLock<Option<Arc<VoiceHead>>>,
    /// The player's weight copy in use (`None`: the network's upper layers).
    pub(super) copy: RwLock<Option<Arc<UpperCopy>>>,
    /// Jobs queued or running; `Condvar` wakes [`PlayerModel::wait_idle`].
    pub(super) pending: (Mutex<usize>, Condvar),
    pub(super) outcomes: Mutex<VecDeque<UpdateRecord>>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One player's live model: predictions with their current voice head, confirmations that
/// queue an update on a worker thread, new heads swapped in atomically.
pub struct PlayerModel {
    pub(super) shared: Arc<Shared>,
    pub(super) jobs: Sender<Job>,
    pub(super) worker: Option<JoinHandle<()>>,
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
            copy: RwLock::new(None),
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

    pub(super) fn check(&self, mfcc: &FeatureMatrix) -> Result<(), AdaptError> {
        let expected = self.shared.adapter.input.frame_width();
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

    /// The weight copy in use (`None`: the network's own upper layers).
    #[must_use]
    pub fn weight_copy(&self) -> Option<Arc<UpperCopy>> {
        self.shared
            .copy
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The voice head and weight copy in use.
    #[must_use]
    pub fn heads(&self) -> PlayerHeads {
        PlayerHeads {
            voice: self.voice_head(),
            copy: self.weight_copy(),
        }
    }

    /// Whether the player has their own voice head (or weight copy).
    #[must_use]
    pub fn is_adapted(&self) -> bool {
        self.voice_head().is_some() || self.weight_copy().is_some()
    }

    /// The normalisation statistics in use (the player's blended with the training set's).
    #[must_use]
    pub fn stats(&self) -> NormStats {
        let state = lock(&self.shared.state);
        self.shared.adapter.blended_stats(state.stats.as_ref())
    }

    /// Classifies an utterance's MFCC frames with the player's voice head, weight copy and
    /// statistics.
    ///
    /// # Errors
    /// [`AdaptError::Shape`] for frames of another size.
    pub fn classify(&self, mfcc: &FeatureMatrix) -> Result<Prediction, AdaptError> {
        self.check(mfcc)?;
        let stats = self.stats();
        self.shared
            .adapter
            .classify(&self.heads(), &[mfcc], &stats)
            .pop()
            .ok_or(AdaptError::Shape {
                expected: self.shared.adapter.input.frame_width(),
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
        let correct = self
            .shared
            .adapter
            .classify(&self.heads(), &refs, &stats)
            .iter()
            .zip(&samples)
            .filter(|(p, s)| p.emotion == s.emotion)
            .count();
        (correct, samples.len())
    }

    /// How the base network and the player's model classify labelled utterances the player
    /// never confirmed (a calibration screen's held-out takes): the honest "before and after"
    /// that [`accuracy_on_samples`](Self::accuracy_on_samples), measured on the samples the
    /// voice head was fitted on, is not. "Before" is the base network cold (the training
    /// set's statistics, no voice head), "after" the model in use (the player's statistics,
    /// which learn from all their speech, and voice head).
    ///
    /// # Errors
    /// [`AdaptError::Shape`] for frames of another size.
    pub fn held_out_score(
        &self,
        takes: &[(&FeatureMatrix, Emotion)],
    ) -> Result<HeldOutScore, AdaptError> {
        for (mfcc, _) in takes {
            self.check(mfcc)?;
        }
        let adapter = &self.shared.adapter;
        let frames: Vec<&FeatureMatrix> = takes.iter().map(|(m, _)| *m).collect();
        let correct = |predictions: Vec<Prediction>| {
            predictions
                .iter()
                .zip(takes)
                .filter(|(p, (_, truth))| p.emotion == *truth)
                .count()
        };
        let base = correct(adapter.classify(
            &PlayerHeads::default(),
            &frames,
            &adapter.blended_stats(None),
        ));
        let player = correct(adapter.classify(&self.heads(), &frames, &self.stats()));
        Ok(HeldOutScore {
            base_correct: base,
            player_correct: player,
            total: takes.len(),
        })
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
        lock(&self.shared.state).add_sample(ConfirmedSample {
            features: QuantisedMatrix::encode(&mfcc),
            emotion,
            intensity,
            time_unix_ms: now_ms(),
            audio,
        });
        self.queue();
        Ok(())
    }

    pub(super) fn queue(&self) {
        self.queue_job(Job::Update);
    }

    fn queue_job(&self, job: Job) {
        *lock(&self.shared.pending.0) += 1;
        if self.jobs.send(job).is_err() {
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

    /// The emotion this player should confirm next ([`confirm_next`] of their samples).
    #[must_use]
    pub fn confirm_next(&self) -> Option<Emotion> {
        confirm_next(&self.samples_per_emotion())
    }

    /// Confirmed samples per emotion, in the order of [`Emotion::ALL`].
    #[must_use]
    pub fn samples_per_emotion(&self) -> [usize; Emotion::COUNT] {
        let mut counts = [0; Emotion::COUNT];
        for s in &lock(&self.shared.state).samples {
            counts[s.emotion.index()] += 1;
        }
        counts
    }

    /// The updates so far, oldest first.
    #[must_use]
    pub fn history(&self) -> Vec<UpdateRecord> {
        lock(&self.shared.state).history.clone()
    }

    /// Back to the base network alone (no voice head, no weight copy); drops the confirmed
    /// samples unless `keep_samples`.
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
        *self
            .shared
            .copy
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
        profile.copy = self.weight_copy().map(|c| (*c).clone());
        profile.samples = state.samples;
        profile.norm = state.stats;
        profile.history = state.history;
        if let Some(first) = profile.samples.first() {
            profile.created_unix_ms = profile.created_unix_ms.min(first.time_unix_ms);
        }
        profile
    }

    /// A player from a saved profile (whose base the store has already checked). A saved
    /// weight copy that does not fit the network ([`Adapter::copy_fits`]) is dropped with a
    /// warning and fitted again from the samples on the worker thread, as is a missing one
    /// when the player has [`AdaptConfig::copy_samples`] (a profile of an older format). A
    /// profile whose voice head was dropped, because it was read from an older format with a
    /// fine-tuned network or carried over from another base model (its last record is of kind
    /// [`RecordKind::MigratedFromV1`] or [`RecordKind::Rebased`]), queues an update at once, so
    /// the player's own model is back within milliseconds of loading.
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
            && profile.history.last().is_some_and(|r| {
                matches!(r.kind, RecordKind::MigratedFromV1 | RecordKind::Rebased)
            });
        let state = PlayerState {
            samples: profile.samples,
            stats: profile.norm,
            history: profile.history,
        };
        let saved = profile.copy.filter(|c| {
            let fits = adapter.copy_fits(c);
            if !fits {
                tracing::warn!(
                    "player {}: the saved weight copy does not fit this model; fitting it again",
                    profile.id
                );
            }
            fits
        });
        let copy_from = adapter.config().copy_samples;
        let copy_missing = saved.is_none() && copy_from > 0 && state.samples.len() >= copy_from;
        let player = Self::new(adapter, state, profile.voice);
        *player
            .shared
            .copy
            .write()
            .unwrap_or_else(PoisonError::into_inner) = saved.map(Arc::new);
        if refit {
            player.queue();
        } else if copy_missing {
            player.queue_job(Job::Copy);
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

pub(super) fn worker(shared: &Shared, jobs: &Receiver<Job>) {
    let mut round = 0usize;
    loop {
        let Ok(job) = jobs.recv() else { return };
        let mut voice = match job {
            Job::Stop => return,
            Job::Update => true,
            Job::Copy => false,
        };
        // Confirmations that arrived meanwhile are covered by this one update.
        let mut covered = 1usize;
        let mut stop = false;
        loop {
            match jobs.try_recv() {
                Ok(Job::Update) => {
                    covered += 1;
                    voice = true;
                }
                Ok(Job::Copy) => covered += 1,
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
        // Each sample is analysed once for both fits.
        let mut analysed = None;
        let record = if voice {
            let result = shared
                .adapter
                .update_cached(&samples, &stats, round, &mut analysed);
            if let Some(head) = result.voice {
                *shared.voice.write().unwrap_or_else(PoisonError::into_inner) =
                    Some(Arc::new(head));
            }
            Some(result.record)
        } else {
            None
        };
        // The voice head is in use already; the weight copy follows.
        let copy_started = Instant::now();
        let copy = shared
            .adapter
            .update_copy_cached(&samples, &stats, round, &mut analysed);
        round += 1;
        if let Some(copy) = copy.copy {
            *shared.copy.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(copy));
        }
        if let Some(mut record) = record {
            if shared.adapter.config().copy_samples > 0
                && samples.len() >= shared.adapter.config().copy_samples
            {
                record.reason = format!("{}; {}", record.reason, copy.reason);
                // The record times the whole update: the voice head's fit and guard (in use
                // from their end) and the weight copy's.
                record.seconds += copy_started.elapsed().as_secs_f64();
            }
            lock(&shared.state).add_record(record.clone());
            lock(&shared.outcomes).push_back(record);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_emotion_to_confirm_is_the_one_with_fewest_samples_until_each_has_two() {
        assert_eq!(confirm_next(&[0; Emotion::COUNT]), Some(Emotion::ALL[0]));
        let mut counts = [2; Emotion::COUNT];
        assert_eq!(confirm_next(&counts), None, "every emotion has two");
        counts[Emotion::Sad.index()] = 1;
        counts[Emotion::Angry.index()] = 0;
        assert_eq!(
            confirm_next(&counts),
            Some(Emotion::Angry),
            "the fewest first"
        );
        counts[Emotion::Angry.index()] = 5;
        assert_eq!(confirm_next(&counts), Some(Emotion::Sad));
    }
}
