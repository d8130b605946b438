//! The streaming segmenter: frame scores or levels against adaptive noise estimates,
//! utterances with pre-roll and hangover (what it reports: `utterance.rs`).

use super::*;

/// Streaming utterance detector for real-time audio.
///
/// Feed it blocks of any size with [`push`](Self::push); the events are the same however the
/// stream is split. It keeps a ring of recent samples for the pre-roll and one utterance
/// buffer preallocated for [`VadConfig::max_utterance_ms`], so memory is bounded and a push
/// allocates nothing except the `samples` of each [`SegmentEvent::SpeechEnded`] (an exact-size
/// copy) and growth of the caller's event vector.
#[derive(Debug, Clone)]
pub struct Segmenter {
    pub(super) config: VadConfig,
    pub(super) sample_rate: u32,
    pub(super) params: Params,
    /// Samples consumed since creation or reset.
    pub(super) position: u64,
    pub(super) frame_fill: usize,
    pub(super) frame_sum: f64,
    pub(super) frame_sum_sq: f64,
    pub(super) noise_floor_db: Option<f32>,
    /// [`Detector::Spectral`]'s or [`Detector::Learned`]'s scorer, the samples of the frame
    /// being filled, and the scores of the frames that may still move an utterance's
    /// boundaries.
    pub(super) spectral: Option<(FrameScorer, Vec<f32>, Ring)>,
    /// [`Detector::Learned`] with a boundary net: what places the utterance's speech start
    /// and end.
    pub(super) boundary: Option<Box<Boundary>>,
    /// The last frame's score (0 with [`Detector::Energy`]).
    pub(super) last_score: f32,
    /// Consecutive speech frames while idle.
    pub(super) onset_run: u32,
    /// Consecutive non-speech frames while speaking.
    pub(super) silence_run: u32,
    pub(super) speaking: bool,
    pub(super) utterance_start: u64,
    pub(super) speech_start: u64,
    /// The speech start the detector found (before a boundary net moved it).
    pub(super) detected_start: u64,
    pub(super) last_speech_end: u64,
    /// Where the detector's noise estimates followed a noise stepping up, when the utterance
    /// in progress began with that step ([`crate::speech::STEP_FRAMES`]): it is
    /// kept only if it has [`STEP_SPEECH_MS`] of speech after this point.
    pub(super) began_with_a_step: Option<u64>,
    pub(super) utterance: Vec<f32>,
    pub(super) history: Ring,
}

impl Segmenter {
    /// A segmenter for a stream at `sample_rate` Hz (normally [`crate::audio::SAMPLE_RATE`]).
    ///
    /// # Errors
    /// [`VadError`] when `config` does not [validate](VadConfig::validate) or the rate is
    /// outside [`MIN_SAMPLE_RATE`]`..=`[`MAX_SAMPLE_RATE`].
    pub fn new(config: VadConfig, sample_rate: u32) -> Result<Self, VadError> {
        Self::with_detector_nets(
            config,
            sample_rate,
            DetectorNet::builtin(),
            Some(DetectorNet::builtin_boundary()),
        )
    }

    /// A segmenter whose [`Detector::Learned`] runs `net` (e.g. one trained on a studio's own
    /// speech by `trainer train-detector`) instead of [`DetectorNet::builtin`], without a
    /// boundary net (its own logits place the boundaries); other detectors ignore it.
    ///
    /// # Errors
    /// As [`with_detector_nets`](Self::with_detector_nets).
    pub fn with_detector_net(
        config: VadConfig,
        sample_rate: u32,
        net: Arc<DetectorNet>,
    ) -> Result<Self, VadError> {
        Self::with_detector_nets(config, sample_rate, net, None)
    }

    /// A segmenter whose [`Detector::Learned`] finds speech with `net` and places each
    /// utterance's speech start and end with `boundary` (a net that judges a frame after
    /// hearing what follows it, [`DetectorNet::delay`]; [`DetectorNet::builtin_boundary`] by
    /// default). Without one, the boundaries extend over the neighbouring frames `net` still
    /// finds speech-like. Other detectors ignore both.
    ///
    /// # Errors
    /// As [`new`](Self::new), and [`VadError::DetectorDelay`] when `net` judges an older
    /// frame than the newest (it would delay every event).
    pub fn with_detector_nets(
        config: VadConfig,
        sample_rate: u32,
        net: Arc<DetectorNet>,
        boundary: Option<Arc<DetectorNet>>,
    ) -> Result<Self, VadError> {
        if net.delay != 0 {
            return Err(VadError::DetectorDelay { delay: net.delay });
        }
        let params = Params::new(&config, sample_rate)?;
        let scorer = match config.detector {
            Detector::Spectral => Some(FrameScorer::Spectral(Box::new(SpectralScorer::new(
                params.frame_len,
                sample_rate,
            )))),
            Detector::Learned => Some(FrameScorer::Learned(Box::new(LearnedScorer::new(
                net,
                params.frame_len,
                sample_rate,
                boundary.as_ref().is_some_and(|b| b.hears_pitch()),
            )))),
            Detector::Energy => None,
        };
        let spectral = scorer.map(|scorer| {
            (
                scorer,
                Vec::with_capacity(params.frame_len),
                Ring::new(params.boundary_frames()),
            )
        });
        let boundary = match (config.detector, boundary) {
            (Detector::Learned, Some(net)) => Some(Box::new(Boundary::new(net, &params))),
            _ => None,
        };
        Ok(Self {
            spectral,
            boundary,
            last_score: 0.0,
            utterance: Vec::with_capacity(params.max_len),
            history: Ring::new(params.history_len()),
            config,
            sample_rate,
            params,
            position: 0,
            frame_fill: 0,
            frame_sum: 0.0,
            frame_sum_sq: 0.0,
            noise_floor_db: None,
            onset_run: 0,
            silence_run: 0,
            speaking: false,
            utterance_start: 0,
            speech_start: 0,
            detected_start: 0,
            last_speech_end: 0,
            began_with_a_step: None,
        })
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &VadConfig {
        &self.config
    }

    /// The stream's sample rate.
    #[must_use]
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Samples consumed since creation or the last [`reset`](Self::reset).
    #[must_use]
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The samples of the utterance in progress that it will keep whatever happens next (a
    /// prefix of the [`Utterance::samples`] its [`SegmentEvent::SpeechEnded`] will carry):
    /// everything up to the last speech frame and the tail after it. `None` while idle. What
    /// lets a caller work on an utterance while it is spoken.
    #[must_use]
    pub fn utterance_so_far(&self) -> Option<&[f32]> {
        if !self.speaking {
            return None;
        }
        let end = (self.last_speech_end + self.params.tail).min(self.position);
        let keep = usize::try_from(end.saturating_sub(self.utterance_start))
            .unwrap_or(usize::MAX)
            .min(self.utterance.len());
        Some(&self.utterance[..keep])
    }

    /// The speech of the utterance in progress that it will keep whatever happens next (a
    /// prefix of the [`Utterance::speech`] its [`SegmentEvent::SpeechEnded`] will carry):
    /// from the speech start up to the end of the last speech frame. `None` while idle and,
    /// with a boundary net, until the net has placed the start (150 ms after the onset). What
    /// lets a caller work on the speech while it is spoken.
    #[must_use]
    pub fn speech_so_far(&self) -> Option<&[f32]> {
        if !self.speaking
            || self
                .boundary
                .as_ref()
                .is_some_and(|b| b.since_start.is_some())
        {
            return None;
        }
        let at = |sample: u64| {
            usize::try_from(sample.saturating_sub(self.utterance_start))
                .unwrap_or(usize::MAX)
                .min(self.utterance.len())
        };
        let from = at(self.speech_start);
        Some(&self.utterance[from..at(self.last_speech_end).max(from)])
    }

    /// The audio of the utterance in progress before its speech (a prefix of the
    /// [`Utterance::before_speech`] its [`SegmentEvent::SpeechEnded`] will carry, and equal to
    /// it once [`speech_so_far`](Self::speech_so_far) is `Some`, as the start is then placed).
    /// `None` when `speech_so_far` is.
    #[must_use]
    pub fn before_speech_so_far(&self) -> Option<&[f32]> {
        self.speech_so_far()?;
        let from = usize::try_from(self.speech_start.saturating_sub(self.utterance_start))
            .unwrap_or(usize::MAX)
            .min(self.utterance.len());
        Some(&self.utterance[..from])
    }

    /// The speech this segmenter finds in a whole recording (pushed in 100 ms blocks, then
    /// flushed): from the first utterance's speech start to the last one's speech end, as
    /// indices into `samples`; `None` when it finds no speech. What a caller that classifies
    /// recordings can cut them to, to hear them as the engine does
    /// ([`crate::engine::ClassifiedSpan::Speech`]). Continues from the segmenter's state
    /// (create one per recording for independent results).
    pub fn speech_span(&mut self, samples: &[f32]) -> Option<Range<usize>> {
        self.speech_span_in_room(samples).map(|(_, speech)| speech)
    }

    /// [`speech_span`](Self::speech_span), and before it the first utterance's audio before
    /// its speech ([`Utterance::before_speech`]: the room alone, as the engine hands it to
    /// the front end).
    pub fn speech_span_in_room(&mut self, samples: &[f32]) -> Option<(Range<usize>, Range<usize>)> {
        let mut events = Vec::new();
        let first = self.position;
        for block in samples.chunks((self.sample_rate as usize / 10).max(1)) {
            self.push(block, &mut events);
        }
        self.flush(&mut events);
        let at = |sample: u64| {
            usize::try_from(sample.saturating_sub(first))
                .unwrap_or(usize::MAX)
                .min(samples.len())
        };
        events
            .iter()
            .filter_map(|e| match e {
                SegmentEvent::SpeechEnded { utterance } => Some((
                    at(utterance.start_sample)..at(utterance.speech_start_sample),
                    at(utterance.speech_start_sample)..at(utterance.speech_end_sample),
                )),
                _ => None,
            })
            .reduce(|(room, a), (_, b)| (room, a.start.min(b.start)..a.end.max(b.end)))
    }

    /// Whether an utterance is in progress (started and not yet ended).
    #[must_use]
    pub fn is_speaking(&self) -> bool {
        self.speaking
    }

    /// The current noise-floor estimate in dBFS (`None` before the first full frame).
    #[must_use]
    pub fn noise_floor_db(&self) -> Option<f32> {
        self.noise_floor_db
    }

    /// The last frame's score: with [`Detector::Spectral`] the mean level of its bands above
    /// their noise estimates in dB, with [`Detector::Learned`] the network's logit, always 0
    /// with [`Detector::Energy`].
    #[must_use]
    pub fn last_frame_score(&self) -> f32 {
        self.last_score
    }

    /// Changes [`VadConfig::sensitivity`] on the fly (e.g. from a game's settings menu); it
    /// applies from the next frame.
    ///
    /// # Errors
    /// [`VadError::OutOfRange`] unless `0 <= sensitivity <= 1`.
    pub fn set_sensitivity(&mut self, sensitivity: f32) -> Result<(), VadError> {
        check_range("sensitivity", sensitivity, 0.0, 1.0)?;
        self.config.sensitivity = sensitivity;
        let (threshold_db, abs_floor_db) = self.config.effective_thresholds();
        self.params.threshold_db = threshold_db;
        self.params.abs_floor_db = abs_floor_db;
        self.params.set_thresholds(&self.config);
        Ok(())
    }

    /// Consumes a block of samples (any length, including 0) and appends what happened to
    /// `events`. Non-finite samples are treated as 0.
    pub fn push(&mut self, samples: &[f32], events: &mut Vec<SegmentEvent>) {
        for &x in samples {
            let x = sanitize(x);
            let xd = f64::from(x);
            self.frame_sum += xd;
            self.frame_sum_sq += xd * xd;
            self.frame_fill += 1;
            self.position += 1;
            if let Some((_, frame, _)) = &mut self.spectral {
                frame.push(x);
            }
            if self.speaking {
                self.utterance.push(x);
                if self.utterance.len() >= self.params.max_len {
                    self.end_utterance(EndReason::MaxLength, events);
                }
            } else {
                self.history.push(x);
            }
            if self.frame_fill >= self.params.frame_len {
                self.end_frame(events);
            }
        }
    }

    /// Ends the stream: an utterance in progress ends now (as [`EndReason::EndOfStream`], or
    /// is discarded if too short), and the partial frame, onset count, pre-roll and the
    /// learned detector's context are dropped. The position and noise estimates are kept, so
    /// pushing more continues the stream.
    pub fn flush(&mut self, events: &mut Vec<SegmentEvent>) {
        if self.speaking {
            self.end_utterance(EndReason::EndOfStream, events);
        }
        // What follows may come from another moment or device: the detector starts afresh
        // (speech before the flush would otherwise still lift its logit for 320 ms and pull
        // the next start back into the noise).
        if let Some((scorer, _, scores)) = &mut self.spectral {
            scorer.forget_context();
            scores.clear();
        }
        if let Some(b) = &mut self.boundary {
            b.clear();
        }
        self.clear_frame();
        self.onset_run = 0;
        self.history.clear();
    }

    /// Forgets everything, as if newly created (buffers are kept, nothing is reported).
    pub fn reset(&mut self) {
        self.position = 0;
        self.clear_frame();
        self.noise_floor_db = None;
        if let Some((scorer, _, scores)) = &mut self.spectral {
            scorer.reset();
            scores.clear();
        }
        if let Some(b) = &mut self.boundary {
            b.clear();
        }
        self.last_score = 0.0;
        self.onset_run = 0;
        self.silence_run = 0;
        self.speaking = false;
        self.began_with_a_step = None;
        self.utterance_start = 0;
        self.speech_start = 0;
        self.detected_start = 0;
        self.last_speech_end = 0;
        self.utterance.clear();
        self.history.clear();
    }

    pub(super) fn clear_frame(&mut self) {
        self.frame_fill = 0;
        self.frame_sum = 0.0;
        self.frame_sum_sq = 0.0;
        if let Some((_, frame, _)) = &mut self.spectral {
            frame.clear();
        }
    }

    /// Classifies the frame that ends at `self.position` and advances the state machine.
    pub(super) fn end_frame(&mut self, events: &mut Vec<SegmentEvent>) {
        let level = level_db(self.frame_sum, self.frame_sum_sq, self.frame_fill);
        let p = &self.params;
        let lowest = p.abs_floor_db - p.threshold_db;
        let floor = self.noise_floor_db.unwrap_or(level).max(lowest);
        let is_speech = match &mut self.spectral {
            Some((scorer, frame, scores)) => {
                self.last_score = scorer.score(frame);
                let stepped = matches!(&*scorer, FrameScorer::Learned(l) if l.followed_a_step());
                if stepped {
                    // What the detector heard since the noise began to rise was the noise.
                    let since = self.position.saturating_sub(self.params.step_len() as u64);
                    if self.speaking && self.detected_start >= since {
                        self.began_with_a_step = Some(self.position);
                    }
                    if !self.speaking {
                        self.onset_run = 0;
                        if let Some(b) = &mut self.boundary {
                            b.clear();
                        }
                    }
                }
                if let (Some(b), FrameScorer::Learned(learned)) = (&mut self.boundary, &*scorer) {
                    b.push(learned.features());
                }
                scores.push(self.last_score);
                self.last_score > p.score_threshold && level > p.abs_floor_db
            }
            None => level > floor + p.threshold_db && level > p.abs_floor_db,
        };
        let next = if level < floor {
            level
        } else {
            (floor + p.rise_per_frame_db).min(level)
        };
        self.noise_floor_db = Some(next.max(lowest));
        self.clear_frame();

        let now = self.position;
        if self.speaking {
            self.refine_start(false);
            if is_speech {
                self.last_speech_end = now;
                self.silence_run = 0;
            } else {
                self.silence_run += 1;
                if self.silence_run >= self.params.hangover_frames {
                    self.end_utterance(EndReason::Silence, events);
                }
            }
        } else if is_speech {
            self.onset_run += 1;
            if self.onset_run >= self.params.onset_frames {
                self.start_utterance(events);
            }
        } else {
            self.onset_run = 0;
        }
    }

    pub(super) fn start_utterance(&mut self, events: &mut Vec<SegmentEvent>) {
        let now = self.position;
        let take = self.history.len.min(self.params.history_len());
        let start = now.saturating_sub(take as u64);
        let onset = self.params.onset_frames as usize;
        let earlier = self.extension(
            onset..onset + self.params.pre_roll / self.params.frame_len,
            true,
        );
        let speech_start = now
            .saturating_sub(self.params.onset_len() as u64 + earlier * self.params.frame_len as u64)
            .max(start);
        self.utterance.clear();
        self.history.copy_last(take, &mut self.utterance);
        self.history.clear();
        self.speaking = true;
        self.onset_run = 0;
        self.silence_run = 0;
        self.utterance_start = start;
        self.speech_start = speech_start;
        self.detected_start = speech_start;
        self.last_speech_end = now;
        self.began_with_a_step = None;
        if let Some(b) = &mut self.boundary {
            b.since_start = Some(0);
        }
        events.push(SegmentEvent::SpeechStarted {
            start_sample: start,
            speech_start_sample: speech_start,
        });
    }

    pub(super) fn end_utterance(&mut self, reason: EndReason, events: &mut Vec<SegmentEvent>) {
        self.refine_start(true);
        let now = self.position;
        let speech_ongoing = self.silence_run == 0;
        let silence = self.silence_run as usize;
        let own = self.extension((0..silence).rev(), false);
        let end_after = |later: u64| match reason {
            EndReason::MaxLength | EndReason::EndOfStream if speech_ongoing => now,
            _ => (self.last_speech_end + later * self.params.frame_len as u64).min(now),
        };
        // Whether the utterance is long enough is decided on the detector's own boundaries,
        // so that a boundary net moves boundaries and never changes which events come.
        let detected_len = end_after(own).saturating_sub(self.detected_start);
        let speech_end = match &self.boundary {
            Some(b) => end_after(b.later(silence)),
            None => end_after(own),
        };
        let end = match reason {
            EndReason::MaxLength => now,
            _ => (speech_end + self.params.tail).min(now),
        };
        let start = self.utterance_start;
        let keep = usize::try_from(end - start)
            .unwrap_or(usize::MAX)
            .min(self.utterance.len());
        let end = start + keep as u64;
        // An utterance that began with a noise stepping up is the noise unless speech goes
        // on for `STEP_SPEECH_MS` after the noise estimates followed the step.
        let after_step = self
            .began_with_a_step
            .map_or(u64::MAX, |at| end_after(own).saturating_sub(at));
        if detected_len < self.params.min_speech || after_step < self.params.speech_after_step {
            events.push(SegmentEvent::SpeechDiscarded {
                start_sample: start,
                end_sample: end,
            });
        } else {
            events.push(SegmentEvent::SpeechEnded {
                utterance: Utterance {
                    start_sample: start,
                    end_sample: end,
                    speech_start_sample: self.speech_start,
                    speech_end_sample: speech_end.min(end),
                    samples: self.utterance.get(..keep).unwrap_or_default().to_vec(),
                    end_reason: reason,
                },
            });
        }
        // What followed the tail may serve as the next utterance's pre-roll.
        self.history.clear();
        self.history
            .push_slice(self.utterance.get(keep..).unwrap_or_default());
        self.utterance.clear();
        self.speaking = false;
        self.onset_run = 0;
        self.silence_run = 0;
    }
}
