//! The engine thread's loop: drain audio, segment, classify, adapt, save.

use super::*;

pub(super) struct Events {
    pub(super) tx: Sender<EngineEvent>,
    pub(super) counters: Arc<Counters>,
}

impl Events {
    pub(super) fn send(&self, event: EngineEvent) {
        match self.tx.try_send(event) {
            Ok(()) => {
                self.counters
                    .events_high_water
                    .fetch_max(self.tx.len() as u64, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) => {
                self.counters.events_dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

pub(super) struct Active {
    pub(super) id: PlayerId,
    pub(super) model: PlayerModel,
    /// `None`: this player is not saved (memory only, or their file must not be touched).
    pub(super) writer: Option<ProfileWriter>,
    /// Unsaved changes (statistics, samples).
    pub(super) dirty: bool,
    pub(super) last_save: Instant,
}

impl Active {
    pub(super) fn samples(&self) -> usize {
        self.model.state().samples.len()
    }
}

pub(super) struct Recent {
    pub(super) id: u64,
    pub(super) mfcc: FeatureMatrix,
    pub(super) audio: Option<Vec<f32>>,
}

pub(super) struct Worker {
    pub(super) config: EngineConfig,
    pub(super) reference: BaseModelRef,
    pub(super) adapter: Arc<Adapter>,
    pub(super) extractor: InputExtractor,
    pub(super) store: Option<ProfileStore>,
    pub(super) active: Option<Active>,
    pub(super) segmenter: Segmenter,
    pub(super) tap: AudioTap,
    pub(super) buf: Vec<f32>,
    pub(super) segment_events: Vec<SegmentEvent>,
    pub(super) current: Option<u64>,
    pub(super) next_utterance: u64,
    pub(super) recent: VecDeque<Recent>,
    pub(super) out: Events,
    pub(super) counters: Arc<Counters>,
    /// The players of the latest [`EngineEvent::PlayersListed`].
    pub(super) known: Vec<PlayerId>,
    /// The utterance being classified while it is spoken ([`EngineConfig::streaming`]).
    pub(super) live: Option<Live>,
}

/// What the engine keeps of a classified utterance: its 16 kHz audio (when
/// [`EngineConfig::keep_audio`]), its MFCC frames and the prediction.
pub(super) type Classified = (Option<Vec<f32>>, FeatureMatrix, Prediction);

/// An utterance run through the player's model as it arrives; kept between utterances so
/// its buffers are reused.
pub(super) struct Live {
    /// The utterance it follows (`None`: idle, or given up on).
    pub(super) utterance: Option<u64>,
    pub(super) player: PlayerId,
    /// The segmenter's rate it resamples from.
    pub(super) rate: u32,
    /// Restores clipped samples at `rate`, before the resampler.
    pub(super) declipper: Declipper,
    pub(super) resampler: StreamResampler,
    /// Removes a hum at the model's rate, after the resampler.
    pub(super) dehummer: HumCanceller,
    pub(super) stream: UtteranceStream,
    /// Samples of the utterance (at `rate`) already fed.
    pub(super) fed: usize,
    /// Declipped samples on their way to the resampler.
    pub(super) declipped: Vec<f32>,
    pub(super) block: Vec<f32>,
    /// Resampled samples with the hum removed, on their way to the stream.
    pub(super) dehummed: Vec<f32>,
    /// Seconds heard at which the next provisional result is due.
    pub(super) next_provisional: f64,
}

/// Samples read from the buffer per pass (a tenth of a second at 48 kHz).
pub(super) const READ_SAMPLES: usize = 4800;
/// Wait for commands when there was nothing to do.
pub(super) const IDLE_WAIT: Duration = Duration::from_millis(5);

impl Worker {
    pub(super) fn run(&mut self, commands: &Receiver<Command>, stop: &AtomicBool) {
        loop {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let mut busy = false;
            while let Ok(cmd) = commands.try_recv() {
                self.handle(cmd);
                busy = true;
            }
            busy |= self.pump_audio();
            busy |= self.collect_updates();
            if let Some(status) = self.tap.status_change() {
                self.out.send(EngineEvent::Source(status));
                busy = true;
            }
            self.autosave();
            if !busy {
                match commands.recv_timeout(IDLE_WAIT) {
                    Ok(cmd) => self.handle(cmd),
                    Err(RecvTimeoutError::Timeout) => {}
                    // The engine handle keeps the sender; gone means shutting down.
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        }
        if let Some(active) = self.active.take() {
            active.model.wait_idle();
            // Only with changes: a player forgotten and then silent stays forgotten.
            if self.collect_from(&active) || active.dirty {
                self.save(&active);
            }
        }
    }

    /// Reads waiting audio into the segmenter; returns whether there was any.
    pub(super) fn pump_audio(&mut self) -> bool {
        self.buf.clear();
        let info = self.tap.read(&mut self.buf, READ_SAMPLES);
        if info.format_changed || info.sample_rate != self.segmenter.sample_rate() {
            self.segment_events.clear();
            self.segmenter.flush(&mut self.segment_events);
            self.handle_segments(self.segmenter.sample_rate());
            match Segmenter::with_detector_nets(
                self.segmenter.config().clone(),
                info.sample_rate,
                self.config.speech_detector.clone(),
                self.config.boundary_detector.clone(),
            ) {
                Ok(s) => self.segmenter = s,
                Err(e) => tracing::warn!("speech detection at {} Hz: {e}", info.sample_rate),
            }
        }
        if info.samples == 0 {
            if self.tap.source_finished() && self.segmenter.is_speaking() {
                self.segment_events.clear();
                self.segmenter.flush(&mut self.segment_events);
                self.handle_segments(self.segmenter.sample_rate());
            }
            return false;
        }
        self.segment_events.clear();
        self.segmenter.push(&self.buf, &mut self.segment_events);
        self.handle_segments(self.segmenter.sample_rate());
        self.feed_live();
        true
    }

    /// Starts following utterance `id` while it is spoken (when streaming and a player is
    /// active).
    fn start_live(&mut self, id: u64) {
        if !self.config.streaming {
            return;
        }
        let Some(active) = &self.active else {
            return;
        };
        let rate = self.segmenter.sample_rate();
        let live = match self.live.take() {
            Some(mut live) if live.rate == rate => {
                live.declipper.reset();
                live.resampler.reset();
                live.dehummer.reset();
                live.stream.restart(&active.model);
                live
            }
            _ => {
                let resampler = StreamResampler::new(rate, SAMPLE_RATE);
                let stream = active.model.stream();
                match (resampler, stream) {
                    (Ok(resampler), Ok(stream)) => Live {
                        utterance: None,
                        player: active.id.clone(),
                        rate,
                        declipper: Declipper::new(rate),
                        resampler,
                        dehummer: HumCanceller::new(SAMPLE_RATE),
                        stream,
                        fed: 0,
                        declipped: Vec::new(),
                        block: Vec::new(),
                        dehummed: Vec::new(),
                        next_provisional: 0.0,
                    },
                    (Err(e), _) => {
                        tracing::warn!("no streaming at {rate} Hz: {e}");
                        return;
                    }
                    (_, Err(e)) => {
                        tracing::warn!("no streaming: {e}");
                        return;
                    }
                }
            }
        };
        let every = self.config.provisional_every.map(|d| d.as_secs_f64());
        self.live = Some(Live {
            utterance: Some(id),
            player: active.id.clone(),
            fed: 0,
            next_provisional: every.unwrap_or(f64::INFINITY),
            ..live
        });
    }

    /// Feeds the live utterance what the segmenter will surely keep of what the model hears
    /// ([`EngineConfig::classified_span`]), and reports a provisional result when one is due.
    fn feed_live(&mut self) {
        let room_needed = self.room_needed();
        let Some(live) = &mut self.live else {
            return;
        };
        let so_far = match self.config.classified_span {
            ClassifiedSpan::Speech => self.segmenter.speech_so_far(),
            ClassifiedSpan::Utterance => self.segmenter.utterance_so_far(),
        };
        let (Some(id), Some(so_far)) = (live.utterance, so_far) else {
            return;
        };
        if so_far.len() <= live.fed {
            return;
        }
        let dehum_room = self.config.dehum && self.config.classified_span == ClassifiedSpan::Speech;
        if live.fed == 0
            && (room_needed || dehum_room)
            && let Some(room) = self.segmenter.before_speech_so_far()
        {
            let room = room_at_model_rate(room, live.rate);
            if room_needed {
                live.stream.set_room(&room);
            }
            if dehum_room {
                live.dehummer.set_room(&room);
            }
        }
        live.block.clear();
        live.declipped.clear();
        let fresh = &so_far[live.fed..];
        let heard = if self.config.declip {
            live.declipper.push(fresh, &mut live.declipped);
            &live.declipped
        } else {
            fresh
        };
        if let Err(e) = live.resampler.push(heard, &mut live.block) {
            tracing::warn!("streaming utterance {id}: {e}");
            live.utterance = None;
            return;
        }
        live.fed = so_far.len();
        if self.config.dehum {
            live.dehummed.clear();
            live.dehummer.push(&live.block, &mut live.dehummed);
            live.stream.push(&live.dehummed);
        } else {
            live.stream.push(&live.block);
        }
        let heard = live.stream.audio().len() as f64 / f64::from(SAMPLE_RATE);
        let (Some(every), Some(active)) = (self.config.provisional_every, &self.active) else {
            return;
        };
        if heard < live.next_provisional || active.id != live.player {
            return;
        }
        let heads = active.model.heads();
        // Before the first step of speech is final there is nothing to say yet: ask again
        // with the next block.
        let Some(prediction) = live.stream.provisional(&heads) else {
            return;
        };
        while live.next_provisional <= heard {
            live.next_provisional += every.as_secs_f64().max(0.01);
        }
        self.out.send(EngineEvent::Provisional {
            utterance: id,
            player: active.id.clone(),
            prediction,
            heard_seconds: heard,
        });
    }

    /// The end of the live utterance `id` (`samples`: all the model hears of it, at `rate`), classified from
    /// what was computed while it was spoken; `None` when it was not followed (streaming off,
    /// another player, a failure on the way), and the whole utterance must be classified.
    fn finish_live(
        &mut self,
        id: u64,
        samples: &[f32],
        rate: u32,
    ) -> Option<Result<Classified, DetectionFailure>> {
        let live = self.live.as_mut()?;
        let active = self.active.as_ref()?;
        if live.utterance.take() != Some(id) || live.player != active.id || live.rate != rate {
            return None;
        }
        live.block.clear();
        live.declipped.clear();
        let rest = samples.get(live.fed..).unwrap_or_default();
        let rest = if self.config.declip {
            live.declipper.push(rest, &mut live.declipped);
            live.declipper.finish(&mut live.declipped);
            &live.declipped
        } else {
            rest
        };
        if let Err(e) = live
            .resampler
            .push(rest, &mut live.block)
            .and_then(|()| live.resampler.finish(&mut live.block))
        {
            return Some(Err(DetectionFailure::Resample(Arc::new(e))));
        }
        if self.config.dehum {
            live.dehummed.clear();
            live.dehummer.push(&live.block, &mut live.dehummed);
            live.dehummer.finish(&mut live.dehummed);
            live.stream.push(&live.dehummed);
        } else {
            live.stream.push(&live.block);
        }
        let audio = self.config.keep_audio.then(|| live.stream.audio().to_vec());
        Some(
            live.stream
                .finish(&active.model)
                .map(|(mfcc, prediction)| (audio, mfcc, prediction))
                .map_err(|e| match e {
                    StreamError::Features(e) => DetectionFailure::Features(e),
                    StreamError::Classify(e) => DetectionFailure::Classify(Arc::new(e)),
                }),
        )
    }

    pub(super) fn handle_segments(&mut self, rate: u32) {
        let events = std::mem::take(&mut self.segment_events);
        for event in &events {
            match event {
                SegmentEvent::SpeechStarted {
                    speech_start_sample,
                    ..
                } => {
                    let id = self.next_utterance;
                    self.next_utterance += 1;
                    self.current = Some(id);
                    self.start_live(id);
                    self.out.send(EngineEvent::SpeechStarted {
                        utterance: id,
                        at_seconds: *speech_start_sample as f64 / f64::from(rate),
                    });
                }
                SegmentEvent::SpeechDiscarded { .. } => {
                    if let Some(live) = &mut self.live {
                        live.utterance = None;
                    }
                    if let Some(id) = self.current.take() {
                        self.out
                            .send(EngineEvent::SpeechDiscarded { utterance: id });
                    }
                }
                SegmentEvent::SpeechEnded { utterance } => {
                    let ended_at = Instant::now();
                    let id = self.current.take().unwrap_or_else(|| {
                        let id = self.next_utterance;
                        self.next_utterance += 1;
                        id
                    });
                    self.counters.utterances.fetch_add(1, Ordering::Relaxed);
                    let duration_seconds = utterance.duration_seconds(rate);
                    self.out.send(EngineEvent::SpeechEnded {
                        utterance: id,
                        duration_seconds,
                        at_seconds: utterance.speech_end_sample as f64 / f64::from(rate),
                    });
                    let (heard, room) = match self.config.classified_span {
                        ClassifiedSpan::Speech => (utterance.speech(), utterance.before_speech()),
                        ClassifiedSpan::Utterance => (&utterance.samples[..], &[][..]),
                    };
                    self.detect(id, (heard, room), rate, duration_seconds, ended_at);
                }
            }
        }
        self.segment_events = events;
        self.segment_events.clear();
    }

    /// Whether the model's front end estimates the noise from the room before the speech
    /// (noise suppression or pitch features, with the detected speech as what the model
    /// hears).
    fn room_needed(&self) -> bool {
        let input = self.extractor.config();
        (input.noise_suppression.is_some() || input.pitch)
            && self.config.classified_span == ClassifiedSpan::Speech
    }

    /// Classifies utterance `id`: `samples` (at `rate`) heard in `room_before` (the audio before
    /// them, for finding a hum and for the front end's noise estimate; may be empty).
    pub(super) fn detect(
        &mut self,
        id: u64,
        (samples, room_before): (&[f32], &[f32]),
        rate: u32,
        duration: f64,
        ended_at: Instant,
    ) {
        if self.active.is_none() {
            return;
        }
        let streamed = self.finish_live(id, samples, rate);
        let mut hum = match (&streamed, &self.live) {
            (Some(_), Some(live)) if self.config.dehum => live.dehummer.hum(),
            _ => None,
        };
        // The room before the speech at the model's rate, for the front end's noise estimate
        // where it needs one.
        let room = if streamed.is_none() && self.room_needed() {
            room_at_model_rate(room_before, rate)
        } else {
            Vec::new()
        };
        let Some(active) = &mut self.active else {
            return;
        };
        let result = streamed.unwrap_or_else(|| {
            // With `ClassifiedSpan::Utterance` the room is empty: the pre-roll is in `samples`.
            heard_by_model(samples, room_before, rate, &self.config)
                .map_err(|e| DetectionFailure::Resample(Arc::new(e)))
                .map(|(audio, found)| {
                    hum = found;
                    audio
                })
                .and_then(|audio| {
                    let mfcc = self
                        .extractor
                        .mfcc_in_room(&audio, &room)
                        .map_err(DetectionFailure::Features)?;
                    let prediction = active
                        .model
                        .classify(&mfcc)
                        .map_err(|e| DetectionFailure::Classify(Arc::new(e)))?;
                    Ok((self.config.keep_audio.then_some(audio), mfcc, prediction))
                })
        });
        let (audio, mfcc, prediction) = match result {
            Ok(r) => r,
            Err(error) => {
                self.out.send(EngineEvent::DetectionFailed {
                    utterance: id,
                    error,
                });
                return;
            }
        };
        let processing = ended_at.elapsed();
        self.counters.last_processing_us.store(
            u64::try_from(processing.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.counters.detections.fetch_add(1, Ordering::Relaxed);
        self.out.send(EngineEvent::Detected(Detection {
            utterance: id,
            player: active.id.clone(),
            prediction,
            duration_seconds: duration,
            ended_at,
            processing,
            adapted: active.model.is_adapted(),
            clipped: clipped_samples(samples) as f32 / samples.len().max(1) as f32,
            hum_hz: hum.map(|h| h.f0 as f32),
            mfcc: Arc::new(mfcc.clone()),
        }));
        // After the detection is out: the statistics used next time.
        if self.config.learn_voice && active.model.observe(&mfcc).is_ok() {
            active.dirty = true;
        }
        self.recent.push_back(Recent { id, mfcc, audio });
        while self.recent.len() > self.config.recent_utterances.max(1) {
            self.recent.pop_front();
        }
        self.counters
            .recent_high_water
            .fetch_max(self.recent.len() as u64, Ordering::Relaxed);
    }

    pub(super) fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Confirm {
                utterance,
                emotion,
                intensity,
            } => self.confirm(utterance, emotion, intensity),
            Command::SwitchPlayer(id) => self.switch(id),
            Command::ForgetPlayer(id) => self.forget(&id),
            Command::ResetPlayer { keep_samples } => {
                if let Some(active) = &mut self.active {
                    active.model.reset(keep_samples);
                    active.dirty = true;
                    let player = active.id.clone();
                    let samples = active.samples();
                    self.save_active();
                    self.out.send(EngineEvent::PlayerReset { player, samples });
                    self.send_history();
                }
            }
            Command::SetSensitivity(s) => {
                if let Err(e) = self.segmenter.set_sensitivity(s) {
                    tracing::warn!("speech sensitivity: {e}");
                } else {
                    self.config.vad.sensitivity = s;
                }
            }
            Command::Save => self.save_active(),
            Command::SetKeepAudio(keep) => {
                self.config.keep_audio = keep;
                if !keep {
                    // Turned off: utterances heard before must not bring their audio along
                    // when confirmed later.
                    for r in &mut self.recent {
                        r.audio = None;
                    }
                }
            }
            Command::ListPlayers => self.list_players(),
            Command::EvaluateHeldOut(takes) => self.evaluate_held_out(&takes),
            Command::Evaluate => {
                if let Some(active) = &self.active {
                    // Waits for queued updates: the answer is about the newest weights.
                    active.model.wait_idle();
                    let (correct, total) = active.model.accuracy_on_samples();
                    let player = active.id.clone();
                    self.collect_updates();
                    self.out.send(EngineEvent::Evaluated {
                        player,
                        correct,
                        total,
                    });
                }
            }
        }
    }

    /// Scores recent, never confirmed utterances with the base network and the player's model
    /// ([`Command::EvaluateHeldOut`]).
    fn evaluate_held_out(&mut self, takes: &[(u64, Emotion)]) {
        let Some(active) = &self.active else {
            return;
        };
        let mut found = Vec::with_capacity(takes.len());
        let mut missing = Vec::new();
        for &(utterance, emotion) in takes {
            match self.recent.iter().find(|r| r.id == utterance) {
                Some(r) => found.push((&r.mfcc, emotion)),
                None => missing.push(utterance),
            }
        }
        // Waits for queued updates: the answer is about the newest weights.
        active.model.wait_idle();
        let score = match active.model.held_out_score(&found) {
            Ok(score) => score,
            Err(e) => {
                // The engine made these frames for this model: a shape error is a bug.
                tracing::warn!("held-out takes could not be scored: {e}");
                return;
            }
        };
        let player = active.id.clone();
        self.collect_updates();
        self.out.send(EngineEvent::HeldOutEvaluated {
            player,
            score,
            missing,
        });
    }

    pub(super) fn confirm(
        &mut self,
        utterance: u64,
        emotion: Emotion,
        intensity: Option<Intensity>,
    ) {
        let Some(active) = &mut self.active else {
            return;
        };
        let Some(pos) = self.recent.iter().position(|r| r.id == utterance) else {
            self.out.send(EngineEvent::ConfirmRejected {
                utterance,
                rejection: ConfirmRejection::NotRecent {
                    utterance,
                    kept: self.config.recent_utterances,
                },
            });
            return;
        };
        // A confirmation is used once; a second one for the same utterance is refused.
        let Some(recent) = self.recent.remove(pos) else {
            return;
        };
        match active
            .model
            .confirm_with_audio(recent.mfcc, recent.audio, emotion, intensity)
        {
            Ok(()) => {
                active.dirty = true;
                self.out.send(EngineEvent::Confirmed { utterance, emotion });
                self.send_history();
            }
            Err(e) => self.out.send(EngineEvent::ConfirmRejected {
                utterance,
                rejection: ConfirmRejection::Refused(Arc::new(e)),
            }),
        }
    }

    pub(super) fn collect_updates(&mut self) -> bool {
        let Some(active) = self.active.take() else {
            return false;
        };
        let any = self.collect_from(&active);
        self.active = Some(active);
        if any {
            // Without waiting for updates still queued: what the player confirmed is on disk
            // after every update, however often they confirm.
            self.save_active();
        }
        any
    }

    pub(super) fn collect_from(&self, active: &Active) -> bool {
        let records = active.model.take_outcomes();
        let any = !records.is_empty();
        let confirm_next = if any {
            active.model.confirm_next()
        } else {
            None
        };
        for record in records {
            self.counters.updates.fetch_add(1, Ordering::Relaxed);
            self.counters
                .last_update_ms
                .store((record.seconds * 1000.0) as u64, Ordering::Relaxed);
            self.out.send(EngineEvent::ModelUpdated {
                player: active.id.clone(),
                record,
                confirm_next,
            });
        }
        if any {
            self.history_of(active);
        }
        any
    }
}
