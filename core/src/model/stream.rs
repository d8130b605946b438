//! Model input computed while the audio arrives: [`InputStream`].
//!
//! [`InputExtractor::mfcc`] then [`InputConfig::finish`] need the whole utterance: the trim
//! and the `top_db` floor depend on its loudest frame, the last frames on where it ends. The
//! stream computes what cannot change any more as each block arrives and keeps the rest for
//! [`InputStream::finish`]:
//!
//! - the trim is recomputed from the 10 ms levels seen so far. Its end only moves later (a
//!   louder frame that raises the cut is itself the new last loud frame), so frames whose
//!   window ends before it are the final utterance's frames; its start can move, and then
//!   everything is recomputed ([`InputStream::generation`] changes);
//! - log-mel rows of those frames go through the FFT in the same pairs as the whole clip's;
//!   their MFCCs use the floor of the loudest row so far, and rows that a higher floor would
//!   clamp differently are recomputed when it rises;
//! - a step is out once the deltas of its frames reach no frame that is not final.
//!
//! At the end only the last frames (zero-padded past the end), the deltas that reach them and
//! the last steps are left: a fixed amount of work whatever the utterance's length. The
//! result is the whole clip's, value for value (`tests/streaming.rs`); when a guess made on
//! the way turns out wrong (the trim's start moves on the last partial frame, the utterance
//! keeps less than 10 frames and the whole clip is used, a sample is not finite), `finish`
//! computes the whole clip instead, which is never wrong, only slower.

use std::ops::Range;

use super::*;
use crate::features::{
    FeatureError, FeatureMatrix, PITCH_VALUES, PitchNoise, Subtraction, UNVOICED_START,
};
use crate::speech::{frame_level_db, trim_by_levels};

/// A model input computed while the utterance's 16 kHz audio arrives (see the module docs):
/// [`push`](Self::push) blocks as they come, read the final [`steps`](Self::steps) as they
/// appear, and [`finish`](Self::finish) at the end.
#[derive(Debug)]
pub struct InputStream {
    extractor: InputExtractor,
    /// The configuration allows streaming (centred frames a trim frame apart, no level
    /// normalisation); otherwise everything waits for `finish`. With noise suppression it
    /// also needs the room ([`InputStream::set_room`]).
    streamable: bool,
    /// The room's sound alone ([`InputStream::set_room`]) and, with noise suppression, what
    /// its estimate subtracts.
    room: Vec<f32>,
    subtraction: Option<Subtraction>,
    /// With pitch features, the room's noise under the pitch; the pitch values of the
    /// frames from `origin` (`PITCH_VALUES` each) and the value the last of them holds; the
    /// frames' cepstra and pitch values side by side (`frame_width` each).
    pitch_noise: Option<PitchNoise>,
    pitches: Vec<f32>,
    held: f32,
    wide: Vec<f32>,
    /// A non-finite sample arrived: `finish` reports it as the whole computation does.
    poisoned: bool,
    /// Samples of one trim level (10 ms).
    chunk: usize,
    audio: Vec<f32>,
    /// Levels of the whole 10 ms chunks of `audio`.
    levels: Vec<f32>,
    /// Trim start (a sample of `audio`) that the rows below are counted from.
    origin: Option<usize>,
    /// Raw log-mel rows of frames `0..rows.len() / n_mels` from `origin`, and their minima.
    rows: Vec<f32>,
    row_min: Vec<f32>,
    max_db: f32,
    /// The floor the MFCCs were computed with.
    floor: Option<f32>,
    /// MFCC rows, final.
    cepstra: Vec<f32>,
    clamped: Vec<f32>,
    /// Final model input steps (not normalised), `n_features` values each.
    steps: Vec<f32>,
    generation: u64,
    /// The last `finish` used what was computed on the way.
    streamed: bool,
}

impl InputStream {
    /// A stream computing `config`'s input.
    ///
    /// # Errors
    /// As [`InputExtractor::new`].
    pub fn new(config: InputConfig) -> Result<Self, FeatureError> {
        let extractor = InputExtractor::new(config)?;
        let chunk = extractor
            .vad
            .frame_samples(extractor.config.mfcc.sample_rate);
        let m = &extractor.config.mfcc;
        let streamable = extractor.config.trim
            && extractor.config.level_db.is_none()
            && m.center
            && m.hop_length == chunk;
        Ok(Self {
            extractor,
            streamable,
            room: Vec::new(),
            subtraction: None,
            pitch_noise: None,
            pitches: Vec::new(),
            held: UNVOICED_START,
            wide: Vec::new(),
            poisoned: false,
            chunk,
            audio: Vec::new(),
            levels: Vec::new(),
            origin: None,
            rows: Vec::new(),
            row_min: Vec::new(),
            max_db: f32::NEG_INFINITY,
            floor: None,
            cepstra: Vec::new(),
            clamped: Vec::new(),
            steps: Vec::new(),
            generation: 0,
            streamed: false,
        })
    }

    /// The input configuration.
    #[must_use]
    pub fn config(&self) -> &InputConfig {
        &self.extractor.config
    }

    /// Starts a new utterance (buffers are kept).
    pub fn reset(&mut self) {
        self.poisoned = false;
        self.room.clear();
        self.subtraction = None;
        self.pitch_noise = None;
        self.audio.clear();
        self.levels.clear();
        self.clear_from_origin(None);
        self.generation += 1;
    }

    /// The room the utterance is heard in: its sound alone, at the stream's rate (the
    /// engine's pre-roll before the detected speech), as
    /// [`InputExtractor::mfcc_in_room`] takes it. With noise suppression and a room long
    /// enough, the noise estimate is its and the stream streams; otherwise, with noise
    /// suppression, `finish` computes the whole utterance. Pitch features likewise take
    /// their noise from the room ([`crate::features::PitchNoise`]). Call it after
    /// [`reset`](Self::reset); given later, what was computed is computed again.
    pub fn set_room(&mut self, room: &[f32]) {
        self.room.clear();
        self.room.extend_from_slice(room);
        self.subtraction = match &self.extractor.config.noise_suppression {
            Some(settings) if self.extractor.room_is_enough(room) => self
                .extractor
                .mfcc
                .noise_estimate(room, settings.quietest)
                .ok()
                .map(|noise| settings.subtraction(&noise)),
            _ => None,
        };
        let enough = self.extractor.room_is_enough(room) && room.iter().all(|x| x.is_finite());
        self.pitch_noise = match &mut self.extractor.pitch {
            Some(tracker) if enough => Some(tracker.noise_estimate(room)),
            _ => None,
        };
        if !self.rows.is_empty() || !self.steps.is_empty() {
            self.clear_from_origin(None);
            self.generation += 1;
        }
    }

    /// Steps can be computed as the audio arrives.
    fn streams(&self) -> bool {
        self.streamable
            && (!self.extractor.config.pitch || self.pitch_noise.is_some())
            && (self.extractor.config.noise_suppression.is_none() || self.subtraction.is_some())
    }

    /// Whether the last [`finish`](Self::finish) completed the steps computed on the way
    /// (`false`: a guess was wrong and it computed the whole utterance).
    #[must_use]
    pub fn finished_from_stream(&self) -> bool {
        self.streamed
    }

    /// The audio pushed so far.
    #[must_use]
    pub fn audio(&self) -> &[f32] {
        &self.audio
    }

    /// The final steps so far (`n_features` values each, not normalised). When
    /// [`generation`](Self::generation) changes, steps read before are no longer valid and
    /// the reader starts again from the first.
    #[must_use]
    pub fn steps(&self) -> &[f32] {
        &self.steps
    }

    /// Changes whenever steps already out are withdrawn.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Adds a block of the utterance's audio (16 kHz, or the configured rate) and computes
    /// what became final.
    pub fn push(&mut self, samples: &[f32]) {
        self.poisoned |= !samples.iter().all(|x| x.is_finite());
        self.audio.extend_from_slice(samples);
        if !self.streams() || self.poisoned {
            return;
        }
        while (self.levels.len() + 1) * self.chunk <= self.audio.len() {
            let at = self.levels.len() * self.chunk;
            self.levels
                .push(frame_level_db(&self.audio[at..at + self.chunk]));
        }
        let n = self.levels.len();
        let levels = &self.levels;
        let range = trim_by_levels(
            n,
            |i| levels[i],
            self.chunk,
            n * self.chunk,
            &self.extractor.vad,
        );
        if range.is_empty() {
            return;
        }
        if self.origin != Some(range.start) {
            self.clear_from_origin(Some(range.start));
            self.generation += 1;
        }
        let m = &self.extractor.config.mfcc;
        if range.len() < 10 * m.hop_length {
            return;
        }
        // Frames whose window ends inside the trim so far.
        let reach = (m.n_fft - m.win_length) / 2 + m.win_length;
        let reach = reach.saturating_sub(m.n_fft / 2);
        let settled = match range.len().checked_sub(reach) {
            Some(room) => room / m.hop_length + 1,
            None => 0,
        };
        self.advance(range, settled & !1, false);
    }

    /// The MFCC frames of the whole utterance (as [`InputExtractor::mfcc`]) with every step
    /// of the model input in [`steps`](Self::steps) (as [`InputConfig::finish`]).
    ///
    /// # Errors
    /// [`FeatureError::EmptySignal`] or [`FeatureError::NonFinite`], as the whole
    /// computation.
    pub fn finish(&mut self) -> Result<FeatureMatrix, FeatureError> {
        self.streamed = false;
        if let Some(mfcc) = self.finish_streamed() {
            self.streamed = true;
            return Ok(mfcc);
        }
        let mfcc = self.extractor.mfcc_in_room(&self.audio, &self.room)?;
        let input = self.extractor.finish(&mfcc);
        self.steps.clear();
        self.steps.extend_from_slice(&input.data);
        self.generation += 1;
        Ok(mfcc)
    }

    /// `finish` from what was computed on the way; `None` when a guess was wrong.
    fn finish_streamed(&mut self) -> Option<FeatureMatrix> {
        if !self.streams() || self.poisoned || self.audio.is_empty() {
            return None;
        }
        let whole = self.levels.len() * self.chunk;
        let last = (whole < self.audio.len()).then(|| frame_level_db(&self.audio[whole..]));
        let n = self.levels.len() + usize::from(last.is_some());
        let levels = &self.levels;
        let level = |i: usize| levels.get(i).copied().or(last).unwrap_or_default();
        let range = trim_by_levels(n, level, self.chunk, self.audio.len(), &self.extractor.vad);
        let hop = self.extractor.config.mfcc.hop_length;
        if range.len() < 10 * hop || self.origin != Some(range.start) {
            return None;
        }
        let n_frames = self.extractor.mfcc.n_frames(range.len());
        let mfcc = self.advance(range, n_frames, true);
        Some(mfcc)
    }

    fn clear_from_origin(&mut self, origin: Option<usize>) {
        self.origin = origin;
        self.rows.clear();
        self.row_min.clear();
        self.max_db = f32::NEG_INFINITY;
        self.floor = None;
        self.cepstra.clear();
        self.pitches.clear();
        self.held = UNVOICED_START;
        self.wide.clear();
        self.steps.clear();
    }

    /// Computes rows up to `frames` (of the trimmed `range`), the MFCCs and steps they make
    /// final; at the end (`last`: `range` is the whole trim and `frames` all its frames)
    /// everything, returning the MFCC matrix.
    fn advance(&mut self, range: Range<usize>, frames: usize, last: bool) -> FeatureMatrix {
        let config = &self.extractor.config;
        let (n_mels, n_mfcc) = (config.mfcc.n_mels, config.mfcc.n_mfcc);
        let cap = config.max_steps * config.stack;
        let stack = config.stack;
        let step_len = config.n_features();
        let signal = &self.audio[range.clone()];
        let done = self.rows.len() / n_mels;
        if frames > done {
            self.rows.resize(frames * n_mels, 0.0);
            let max = self.extractor.mfcc.raw_log_mel_subtracted(
                signal,
                done..frames,
                &mut self.rows[done * n_mels..],
                self.subtraction.as_ref(),
            );
            self.max_db = self.max_db.max(max);
            for row in self.rows[done * n_mels..].chunks_exact(n_mels) {
                self.row_min
                    .push(row.iter().copied().fold(f32::INFINITY, f32::min));
            }
        }
        let frames = self.rows.len() / n_mels;
        // The floor: MFCCs of rows it would clamp differently are withdrawn.
        let floor = self.extractor.mfcc.floor(self.max_db);
        if let (Some(old), Some(new)) = (self.floor, floor)
            && new > old
        {
            let computed = self.cepstra.len() / n_mfcc;
            if let Some(changed) = self.row_min[..computed].iter().position(|&m| m < new) {
                let keep = changed & !1;
                self.cepstra.truncate(keep * n_mfcc);
                let width = config.frame_width();
                self.wide
                    .truncate(keep.min(self.wide.len() / width) * width);
                // Steps whose frames' deltas reach a withdrawn frame.
                let first_step = keep.saturating_sub(4) / stack;
                if self.steps.len() > first_step * step_len {
                    self.steps.truncate(first_step * step_len);
                    self.generation += 1;
                }
            }
        }
        self.floor = floor;
        // MFCCs of the kept frames, in the whole clip's pairs.
        let kept = if last {
            frames.min(cap).max(1)
        } else {
            frames.min(cap)
        };
        let upto = (kept + (kept & 1)).min(frames);
        let computed = self.cepstra.len() / n_mfcc;
        if upto > computed {
            let src = &self.rows[computed * n_mels..upto * n_mels];
            self.clamped.clear();
            match floor {
                Some(f) => self.clamped.extend(src.iter().map(|v| v.max(f))),
                None => self.clamped.extend_from_slice(src),
            }
            self.cepstra.resize(upto * n_mfcc, 0.0);
            let out = &mut self.cepstra[computed * n_mfcc..];
            self.extractor.mfcc.cepstra(&self.clamped, out);
        }
        let mut computed = (self.cepstra.len() / n_mfcc).min(kept);
        let width = config.frame_width();
        if let (Some(tracker), Some(noise)) = (&mut self.extractor.pitch, &self.pitch_noise) {
            // Pitch values of the frames whose samples all arrived (all kept at the end).
            let ready = if last {
                kept
            } else {
                match range.len().checked_sub(tracker.reach()) {
                    Some(room) => (room / config.mfcc.hop_length + 1).min(kept),
                    None => 0,
                }
            };
            let done = self.pitches.len() / PITCH_VALUES;
            if ready > done {
                self.pitches.resize(ready * PITCH_VALUES, 0.0);
                let got = tracker
                    .process_range_into(
                        signal,
                        done..ready,
                        noise,
                        &mut self.held,
                        &mut self.pitches[done * PITCH_VALUES..],
                    )
                    .unwrap_or(0);
                // Frames past the signal's (a short utterance's one kept frame) are zeros,
                // as the whole computation's.
                self.pitches[(done + got) * PITCH_VALUES..].fill(0.0);
            }
            computed = computed.min(self.pitches.len() / PITCH_VALUES);
            for t in self.wide.len() / width..computed {
                self.wide
                    .extend_from_slice(&self.cepstra[t * n_mfcc..(t + 1) * n_mfcc]);
                self.wide
                    .extend_from_slice(&self.pitches[t * PITCH_VALUES..(t + 1) * PITCH_VALUES]);
            }
        }
        let frames_in = if config.pitch {
            &self.wide
        } else {
            &self.cepstra
        };
        // Steps: at the end all of them; before it, those whose deltas' reach is final. The
        // clip's frame count is at least the trim so far's, so once that reaches the cap the
        // kept frames are known.
        let known = last || self.extractor.mfcc.n_frames(range.len()) >= cap;
        let (n_frames, total_steps) = if last {
            (kept, kept.div_ceil(stack).clamp(1, config.max_steps))
        } else if known && computed == cap {
            (cap, cap / stack)
        } else {
            (computed, computed.saturating_sub(4) / stack)
        };
        let total_steps = total_steps.min(config.max_steps);
        let mut step = self.steps.len() / step_len;
        if n_frames > 0 {
            self.steps.resize(total_steps.max(step) * step_len, 0.0);
            while step < total_steps {
                let dst = &mut self.steps[step * step_len..(step + 1) * step_len];
                config.fill_step(frames_in, n_frames, step, dst);
                step += 1;
            }
        }
        if !last {
            return FeatureMatrix::default();
        }
        FeatureMatrix {
            data: frames_in[..kept * width].to_vec(),
            n_frames: kept,
            n_features: width,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::NoiseSuppression;

    /// With noise suppression and no room, the estimate needs the whole utterance: nothing
    /// is out before the end and `finish` is the whole computation. With the room, it
    /// streams.
    #[test]
    fn noise_suppression_streams_given_the_room() {
        let config = InputConfig {
            noise_suppression: Some(NoiseSuppression::default()),
            ..InputConfig::default()
        };
        let mut seed = 11u64;
        let signal: Vec<f32> = (0..40_000)
            .map(|i| {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let hiss = 0.01 * (((seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0);
                let t = i as f32 / 16_000.0;
                let voice = if (12_000..28_000).contains(&i) {
                    0.3 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                } else {
                    0.0
                };
                hiss + voice
            })
            .collect();
        let mut whole = InputExtractor::new(config.clone()).unwrap();
        let mfcc = whole.mfcc(&signal).unwrap();
        let input = whole.finish(&mfcc);
        let mut stream = InputStream::new(config).unwrap();
        for block in signal.chunks(1_000) {
            stream.push(block);
            assert!(stream.steps().is_empty());
        }
        assert_eq!(stream.finish().unwrap(), mfcc);
        assert_eq!(stream.steps(), &input.data[..]);
        assert!(!stream.finished_from_stream());

        // Given the room before the speech, it streams, and gives what the whole
        // computation in that room gives, value for value.
        let room = &signal[..8_000];
        let speech = &signal[8_000..];
        let mfcc = whole.mfcc_in_room(speech, room).unwrap();
        assert_ne!(mfcc, whole.mfcc(speech).unwrap());
        let input = whole.finish(&mfcc);
        stream.reset();
        stream.set_room(room);
        let mut early = 0;
        for block in speech.chunks(1_000) {
            stream.push(block);
            early = stream.steps().len();
        }
        assert!(early > 0);
        assert_eq!(stream.finish().unwrap(), mfcc);
        assert_eq!(stream.steps(), &input.data[..]);
        assert!(stream.finished_from_stream());
        // A room given late recomputes; one too short falls back to the speech's estimate.
        stream.reset();
        stream.push(&speech[..10_000]);
        stream.set_room(room);
        stream.push(&speech[10_000..]);
        assert_eq!(stream.finish().unwrap(), mfcc);
        stream.reset();
        stream.set_room(&room[..1_000]);
        stream.push(speech);
        assert_eq!(stream.finish().unwrap(), whole.mfcc(speech).unwrap());
        assert!(!stream.finished_from_stream());
    }

    /// With pitch features and no room the stream computes the whole utterance at `finish`
    /// (the tracker's noise estimate needs it); given the room it streams, and gives what
    /// the whole computation in that room gives.
    #[test]
    fn pitch_features_stream_given_the_room() {
        let config = InputConfig {
            pitch: true,
            ..InputConfig::default()
        };
        let signal: Vec<f32> = (0..40_000)
            .map(|i| {
                let t = i as f32 / 16_000.0;
                // A 100 Hz hum under a voice gliding from 180 to 240 Hz.
                let hum = 0.03 * (2.0 * std::f32::consts::PI * 100.0 * t).sin();
                let f = 180.0 + 30.0 * t;
                let voice = 0.3 * (2.0 * std::f32::consts::PI * f * t).sin();
                if (12_000..32_000).contains(&i) {
                    hum + voice
                } else {
                    hum
                }
            })
            .collect();
        let mut whole = InputExtractor::new(config.clone()).unwrap();
        let mfcc = whole.mfcc(&signal).unwrap();
        let mut stream = InputStream::new(config.clone()).unwrap();
        for block in signal.chunks(1_000) {
            stream.push(block);
            assert!(stream.steps().is_empty());
        }
        assert_eq!(stream.finish().unwrap(), mfcc);
        assert_eq!(stream.steps(), &whole.finish(&mfcc).data[..]);
        assert!(!stream.finished_from_stream());

        let (room, speech) = signal.split_at(8_000);
        let mfcc = whole.mfcc_in_room(speech, room).unwrap();
        assert_eq!(mfcc.n_features, 42);
        let input = whole.finish(&mfcc);
        stream.reset();
        stream.set_room(room);
        let mut early = 0;
        for block in speech.chunks(700) {
            stream.push(block);
            early = stream.steps().len();
        }
        assert!(
            early > input.data.len() / 2,
            "{early} of {}",
            input.data.len()
        );
        assert_eq!(stream.finish().unwrap(), mfcc);
        assert_eq!(stream.steps(), &input.data[..]);
        assert!(stream.finished_from_stream());
        // A room with a bad sample is not used: the whole computation reports it.
        stream.reset();
        let mut bad = room.to_vec();
        bad[100] = f32::NAN;
        stream.set_room(&bad);
        stream.push(speech);
        assert!(stream.steps().is_empty());
        assert!(matches!(
            stream.finish(),
            Err(FeatureError::NonFinite { .. })
        ));
    }
}
