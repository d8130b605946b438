//! Energy-based speech detection: a streaming utterance [`Segmenter`] for live microphone
//! input and [`trim_silence`] for whole clips.
//!
//! Both work on short frames ([`VadConfig::frame_ms`], 10 ms by default) and their energy in
//! dBFS (0 dBFS is the power of a constant ±1 signal; a full-scale sine is about -3 dBFS), with
//! each frame's mean removed so that a DC offset does not count as sound.
//!
//! A frame counts as speech when its level is both
//! * more than the *relative threshold* above an adaptive noise floor, and
//! * above the *absolute floor*, so digital silence and quiet noise never trigger.
//!
//! Both thresholds move with [`VadConfig::sensitivity`], the one knob a game needs to expose.
//!
//! The noise floor follows the frame level down at once and rises at most
//! [`VadConfig::noise_rise_db_per_s`], so it sits at the quiet parts of the signal (a
//! slow-rising, fast-falling minimum tracker). It starts at the first frame's level and never
//! goes below `absolute floor - relative threshold`, where its exact value no longer matters;
//! this lets it catch up quickly when a stream opens with digital silence.

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// How far [`VadConfig::sensitivity`] moves both thresholds over its whole `0..=1` range, in
/// dB: sensitivity 0 raises them by half of this, 1 lowers them by half of this, 0.5 leaves
/// them as configured.
pub const SENSITIVITY_SPAN_DB: f32 = 12.0;
/// Lowest sample rate a [`Segmenter`] accepts.
pub const MIN_SAMPLE_RATE: u32 = crate::audio::MIN_SAMPLE_RATE;
/// Highest sample rate a [`Segmenter`] accepts.
pub const MAX_SAMPLE_RATE: u32 = crate::audio::MAX_SAMPLE_RATE;

/// Level reported for a frame with no energy at all (a power of `1e-12`).
const SILENCE_DB: f32 = -120.0;
/// Smallest relative threshold sensitivity can bring the threshold down to.
const MIN_EFFECTIVE_THRESHOLD_DB: f32 = 1.0;

/// Speech-detection settings. Durations are in milliseconds so one config serves any sample
/// rate. `#[serde(default)]`: a partial config takes the defaults for missing fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VadConfig {
    /// Analysis frame length (default 10 ms = 160 samples at 16 kHz). Frames do not overlap.
    pub frame_ms: f32,
    /// A frame must be this many dB above the adaptive noise floor to count as speech
    /// (default 12 dB, at sensitivity 0.5).
    pub threshold_db: f32,
    /// A frame must also be louder than this, in dBFS (default -60 dBFS, at sensitivity 0.5).
    pub absolute_floor_dbfs: f32,
    /// `0..=1`, default 0.5: higher detects quieter speech. Lowers both thresholds by up to
    /// [`SENSITIVITY_SPAN_DB`]` / 2` at 1 and raises them as much at 0.
    pub sensitivity: f32,
    /// Consecutive speech needed to start an utterance (default 40 ms, rounded up to whole
    /// frames).
    pub onset_ms: f32,
    /// Consecutive non-speech needed to end an utterance (default 500 ms, rounded up to whole
    /// frames). Shorter values split sentences at pauses more often; this is also the delay
    /// before [`SegmentEvent::SpeechEnded`] is reported.
    pub hangover_ms: f32,
    /// Audio kept before the detected onset (default 200 ms), so soft word beginnings are not
    /// lost. Never reaches back before the end of the previous utterance.
    pub pre_roll_ms: f32,
    /// Audio kept after the last speech frame (default 100 ms, at most `hangover_ms`).
    pub tail_ms: f32,
    /// Utterances whose speech (onset to last speech frame) is shorter than this are dropped
    /// (default 250 ms).
    pub min_speech_ms: f32,
    /// An utterance is cut when it reaches this length (default 10 s, at most 120 s). The
    /// segmenter preallocates a buffer of this length, which bounds its memory. The length
    /// counts the pre-roll and, while the end is pending, the hangover: speech plus pre-roll
    /// plus hangover longer than this is cut.
    pub max_utterance_ms: f32,
    /// Fastest rise of the noise floor, in dB per second (default 2 dB/s).
    pub noise_rise_db_per_s: f32,
    /// [`trim_silence`] keeps frames within this many dB of the clip's loudest frame
    /// (default 40 dB, like `librosa.effects.trim`'s `top_db`).
    pub trim_top_db: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            frame_ms: 10.0,
            threshold_db: 12.0,
            absolute_floor_dbfs: -60.0,
            sensitivity: 0.5,
            onset_ms: 40.0,
            hangover_ms: 500.0,
            pre_roll_ms: 200.0,
            tail_ms: 100.0,
            min_speech_ms: 250.0,
            max_utterance_ms: 10_000.0,
            noise_rise_db_per_s: 2.0,
            trim_top_db: 40.0,
        }
    }
}

/// An invalid [`VadConfig`] or sample rate. Each variant carries the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VadError {
    /// A field is NaN, infinite or outside its accepted range.
    #[error("VAD config: {field} = {value} is outside {min}..={max}")]
    OutOfRange {
        /// The field's name in [`VadConfig`].
        field: &'static str,
        /// The value found.
        value: f32,
        /// Smallest accepted value.
        min: f32,
        /// Largest accepted value.
        max: f32,
    },
    /// The tail kept after speech is longer than the silence that ends an utterance.
    #[error("VAD config: tail_ms = {tail_ms} exceeds hangover_ms = {hangover_ms}")]
    TailExceedsHangover {
        /// The tail found.
        tail_ms: f32,
        /// The hangover found.
        hangover_ms: f32,
    },
    /// The minimum speech length exceeds the maximum utterance length.
    #[error(
        "VAD config: min_speech_ms = {min_speech_ms} exceeds max_utterance_ms = {max_utterance_ms}"
    )]
    MinExceedsMax {
        /// The minimum found.
        min_speech_ms: f32,
        /// The maximum found.
        max_utterance_ms: f32,
    },
    /// The maximum utterance cannot even hold the pre-roll, the onset and one more frame.
    #[error(
        "VAD config: max_utterance_ms = {max_utterance_ms} must exceed pre-roll + onset + one frame = {needed_ms} ms"
    )]
    MaxTooShort {
        /// The maximum found.
        max_utterance_ms: f32,
        /// The least it must be.
        needed_ms: f32,
    },
    /// The sample rate is outside [`MIN_SAMPLE_RATE`]`..=`[`MAX_SAMPLE_RATE`].
    #[error("VAD sample rate {rate} Hz is outside {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} Hz")]
    SampleRate {
        /// The rate found.
        rate: u32,
    },
}

fn check_range(field: &'static str, value: f32, min: f32, max: f32) -> Result<(), VadError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(VadError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

/// Whole frames covering `ms` (at least one).
fn frames_for(ms: f32, frame_ms: f32) -> u32 {
    let frames = (f64::from(ms) / f64::from(frame_ms) - 1e-6).ceil();
    if frames >= 1.0 { frames as u32 } else { 1 }
}

fn ms_to_samples(ms: f32, sample_rate: u32) -> usize {
    let samples = (f64::from(ms) * f64::from(sample_rate) / 1000.0).round();
    if samples > 0.0 { samples as usize } else { 0 }
}

impl VadConfig {
    /// Checks every field's range and their consistency.
    ///
    /// # Errors
    /// The first problem found, as a [`VadError`] carrying the bad value.
    pub fn validate(&self) -> Result<(), VadError> {
        check_range("frame_ms", self.frame_ms, 1.0, 100.0)?;
        check_range("threshold_db", self.threshold_db, 1.0, 60.0)?;
        check_range("absolute_floor_dbfs", self.absolute_floor_dbfs, -110.0, 0.0)?;
        check_range("sensitivity", self.sensitivity, 0.0, 1.0)?;
        check_range("onset_ms", self.onset_ms, 0.0, 1_000.0)?;
        check_range("hangover_ms", self.hangover_ms, 0.0, 10_000.0)?;
        check_range("pre_roll_ms", self.pre_roll_ms, 0.0, 5_000.0)?;
        check_range("tail_ms", self.tail_ms, 0.0, 10_000.0)?;
        check_range("min_speech_ms", self.min_speech_ms, 0.0, 120_000.0)?;
        check_range("max_utterance_ms", self.max_utterance_ms, 100.0, 120_000.0)?;
        check_range("noise_rise_db_per_s", self.noise_rise_db_per_s, 0.0, 100.0)?;
        check_range("trim_top_db", self.trim_top_db, 1.0, 120.0)?;
        if self.tail_ms > self.hangover_ms {
            return Err(VadError::TailExceedsHangover {
                tail_ms: self.tail_ms,
                hangover_ms: self.hangover_ms,
            });
        }
        if self.min_speech_ms > self.max_utterance_ms {
            return Err(VadError::MinExceedsMax {
                min_speech_ms: self.min_speech_ms,
                max_utterance_ms: self.max_utterance_ms,
            });
        }
        // One extra frame of slack covers rounding to samples at any rate.
        let onset_frames = frames_for(self.onset_ms, self.frame_ms) as f32;
        let needed_ms = self.pre_roll_ms + (onset_frames + 2.0) * self.frame_ms;
        if self.max_utterance_ms < needed_ms {
            return Err(VadError::MaxTooShort {
                max_utterance_ms: self.max_utterance_ms,
                needed_ms,
            });
        }
        Ok(())
    }

    /// The relative threshold (dB above the noise floor) and absolute floor (dBFS) in force at
    /// the configured [`sensitivity`](Self::sensitivity).
    #[must_use]
    pub fn effective_thresholds(&self) -> (f32, f32) {
        let offset = (0.5 - self.sensitivity.clamp(0.0, 1.0)) * SENSITIVITY_SPAN_DB;
        (
            (self.threshold_db + offset).max(MIN_EFFECTIVE_THRESHOLD_DB),
            self.absolute_floor_dbfs + offset,
        )
    }

    /// The frame length in samples at `sample_rate` (at least 1).
    #[must_use]
    pub fn frame_samples(&self, sample_rate: u32) -> usize {
        ms_to_samples(self.frame_ms, sample_rate).max(1)
    }
}

/// Level of a frame in dBFS, mean removed; non-finite samples count as 0.
fn frame_level_db(frame: &[f32]) -> f32 {
    let mut sum = 0.0f64;
    let mut sum_sq = 0.0f64;
    for &x in frame {
        let x = f64::from(sanitize(x));
        sum += x;
        sum_sq += x * x;
    }
    level_db(sum, sum_sq, frame.len())
}

fn level_db(sum: f64, sum_sq: f64, n: usize) -> f32 {
    if n == 0 {
        return SILENCE_DB;
    }
    let n = n as f64;
    let mean = sum / n;
    let power = sum_sq / n - mean * mean;
    if power > 1e-12 {
        (10.0 * power.log10()) as f32
    } else {
        SILENCE_DB
    }
}

fn sanitize(x: f32) -> f32 {
    if x.is_finite() { x } else { 0.0 }
}

/// Why an [`Utterance`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    /// [`VadConfig::hangover_ms`] of non-speech followed it.
    Silence,
    /// It reached [`VadConfig::max_utterance_ms`]; if speech goes on, the next utterance
    /// starts exactly where this one ends.
    MaxLength,
    /// [`Segmenter::flush`] ended it.
    EndOfStream,
}

/// A detected stretch of speech. Positions are absolute sample indices in the stream since the
/// segmenter was created or [reset](Segmenter::reset); ends are exclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// First sample of [`samples`](Self::samples), pre-roll included.
    pub start_sample: u64,
    /// One past the last sample of [`samples`](Self::samples), tail included.
    pub end_sample: u64,
    /// Where speech was detected (start of the onset frames), `>= start_sample`.
    pub speech_start_sample: u64,
    /// End of the last speech frame, `<= end_sample`.
    pub speech_end_sample: u64,
    /// The audio from `start_sample` to `end_sample` (non-finite input samples are zeroed).
    pub samples: Vec<f32>,
    /// Why it ended.
    pub end_reason: EndReason,
}

impl Utterance {
    /// Length of [`samples`](Self::samples) in seconds at `sample_rate`.
    #[must_use]
    pub fn duration_seconds(&self, sample_rate: u32) -> f64 {
        self.samples.len() as f64 / f64::from(sample_rate.max(1))
    }
}

/// What a [`Segmenter`] reports. Every `SpeechStarted` is followed by exactly one
/// `SpeechEnded` or `SpeechDiscarded`.
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentEvent {
    /// Speech began (reported [`VadConfig::onset_ms`] after it did).
    SpeechStarted {
        /// Where the utterance starts, pre-roll included.
        start_sample: u64,
        /// Where speech was detected.
        speech_start_sample: u64,
    },
    /// An utterance is complete.
    SpeechEnded {
        /// The utterance and its audio.
        utterance: Utterance,
    },
    /// The utterance that started was shorter than [`VadConfig::min_speech_ms`] and is
    /// dropped.
    SpeechDiscarded {
        /// Where it started, pre-roll included.
        start_sample: u64,
        /// Where it ended.
        end_sample: u64,
    },
}

/// Settings derived from a validated config at one sample rate.
#[derive(Debug, Clone)]
struct Params {
    frame_len: usize,
    onset_frames: u32,
    hangover_frames: u32,
    pre_roll: usize,
    tail: u64,
    min_speech: u64,
    max_len: usize,
    threshold_db: f32,
    abs_floor_db: f32,
    rise_per_frame_db: f32,
}

impl Params {
    fn new(config: &VadConfig, sample_rate: u32) -> Result<Self, VadError> {
        config.validate()?;
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(VadError::SampleRate { rate: sample_rate });
        }
        let frame_len = config.frame_samples(sample_rate);
        let onset_frames = frames_for(config.onset_ms, config.frame_ms);
        let (threshold_db, abs_floor_db) = config.effective_thresholds();
        let params = Self {
            frame_len,
            onset_frames,
            hangover_frames: frames_for(config.hangover_ms, config.frame_ms),
            pre_roll: ms_to_samples(config.pre_roll_ms, sample_rate),
            tail: ms_to_samples(config.tail_ms, sample_rate) as u64,
            min_speech: ms_to_samples(config.min_speech_ms, sample_rate) as u64,
            max_len: ms_to_samples(config.max_utterance_ms, sample_rate),
            threshold_db,
            abs_floor_db,
            rise_per_frame_db: config.noise_rise_db_per_s * frame_len as f32 / sample_rate as f32,
        };
        if params.max_len <= params.history_len() {
            return Err(VadError::MaxTooShort {
                max_utterance_ms: config.max_utterance_ms,
                needed_ms: (params.history_len() + 1) as f32 * 1000.0 / sample_rate as f32,
            });
        }
        Ok(params)
    }

    fn onset_len(&self) -> usize {
        self.onset_frames as usize * self.frame_len
    }

    /// Samples kept while idle: the onset frames plus the pre-roll before them.
    fn history_len(&self) -> usize {
        self.onset_len() + self.pre_roll
    }
}

/// Fixed-capacity ring of the most recent samples.
#[derive(Debug, Clone)]
struct Ring {
    buf: Vec<f32>,
    head: usize,
    len: usize,
}

impl Ring {
    fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0.0; capacity],
            head: 0,
            len: 0,
        }
    }

    fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    fn push(&mut self, x: f32) {
        let cap = self.buf.len();
        if let Some(slot) = self.buf.get_mut(self.head) {
            *slot = x;
            self.head = (self.head + 1) % cap;
            self.len = (self.len + 1).min(cap);
        }
    }

    fn push_slice(&mut self, xs: &[f32]) {
        for &x in xs {
            self.push(x);
        }
    }

    /// Appends the last `take` samples (at most `len`), oldest first, to `out`.
    fn copy_last(&self, take: usize, out: &mut Vec<f32>) {
        let cap = self.buf.len();
        let take = take.min(self.len);
        if take == 0 {
            return;
        }
        let start = (self.head + cap - take) % cap;
        let first = (cap - start).min(take);
        out.extend_from_slice(self.buf.get(start..start + first).unwrap_or_default());
        out.extend_from_slice(self.buf.get(..take - first).unwrap_or_default());
    }
}

/// Streaming utterance detector for real-time audio.
///
/// Feed it blocks of any size with [`push`](Self::push); the events are the same however the
/// stream is split. It keeps a ring of recent samples for the pre-roll and one utterance
/// buffer preallocated for [`VadConfig::max_utterance_ms`], so memory is bounded and a push
/// allocates nothing except the `samples` of each [`SegmentEvent::SpeechEnded`] (an exact-size
/// copy) and growth of the caller's event vector.
#[derive(Debug, Clone)]
pub struct Segmenter {
    config: VadConfig,
    sample_rate: u32,
    params: Params,
    /// Samples consumed since creation or reset.
    position: u64,
    frame_fill: usize,
    frame_sum: f64,
    frame_sum_sq: f64,
    noise_floor_db: Option<f32>,
    /// Consecutive speech frames while idle.
    onset_run: u32,
    /// Consecutive non-speech frames while speaking.
    silence_run: u32,
    speaking: bool,
    utterance_start: u64,
    speech_start: u64,
    last_speech_end: u64,
    utterance: Vec<f32>,
    history: Ring,
}

impl Segmenter {
    /// A segmenter for a stream at `sample_rate` Hz (normally [`crate::audio::SAMPLE_RATE`]).
    ///
    /// # Errors
    /// [`VadError`] when `config` does not [validate](VadConfig::validate) or the rate is
    /// outside [`MIN_SAMPLE_RATE`]`..=`[`MAX_SAMPLE_RATE`].
    pub fn new(config: VadConfig, sample_rate: u32) -> Result<Self, VadError> {
        let params = Params::new(&config, sample_rate)?;
        Ok(Self {
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
            last_speech_end: 0,
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
    /// is discarded if too short), and the partial frame, onset count and pre-roll are
    /// dropped. The position and noise floor are kept, so pushing more continues the stream.
    pub fn flush(&mut self, events: &mut Vec<SegmentEvent>) {
        if self.speaking {
            self.end_utterance(EndReason::EndOfStream, events);
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
        self.onset_run = 0;
        self.silence_run = 0;
        self.speaking = false;
        self.utterance_start = 0;
        self.speech_start = 0;
        self.last_speech_end = 0;
        self.utterance.clear();
        self.history.clear();
    }

    fn clear_frame(&mut self) {
        self.frame_fill = 0;
        self.frame_sum = 0.0;
        self.frame_sum_sq = 0.0;
    }

    /// Classifies the frame that ends at `self.position` and advances the state machine.
    fn end_frame(&mut self, events: &mut Vec<SegmentEvent>) {
        let level = level_db(self.frame_sum, self.frame_sum_sq, self.frame_fill);
        self.clear_frame();
        let p = &self.params;
        let lowest = p.abs_floor_db - p.threshold_db;
        let floor = self.noise_floor_db.unwrap_or(level).max(lowest);
        let is_speech = level > floor + p.threshold_db && level > p.abs_floor_db;
        let next = if level < floor {
            level
        } else {
            (floor + p.rise_per_frame_db).min(level)
        };
        self.noise_floor_db = Some(next.max(lowest));

        let now = self.position;
        if self.speaking {
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

    fn start_utterance(&mut self, events: &mut Vec<SegmentEvent>) {
        let now = self.position;
        let take = self.history.len.min(self.params.history_len());
        let start = now.saturating_sub(take as u64);
        let speech_start = now
            .saturating_sub(self.params.onset_len() as u64)
            .max(start);
        self.utterance.clear();
        self.history.copy_last(take, &mut self.utterance);
        self.history.clear();
        self.speaking = true;
        self.onset_run = 0;
        self.silence_run = 0;
        self.utterance_start = start;
        self.speech_start = speech_start;
        self.last_speech_end = now;
        events.push(SegmentEvent::SpeechStarted {
            start_sample: start,
            speech_start_sample: speech_start,
        });
    }

    fn end_utterance(&mut self, reason: EndReason, events: &mut Vec<SegmentEvent>) {
        let now = self.position;
        let speech_ongoing = self.silence_run == 0;
        let speech_end = match reason {
            EndReason::MaxLength | EndReason::EndOfStream if speech_ongoing => now,
            _ => self.last_speech_end.min(now),
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
        if speech_end.saturating_sub(self.speech_start) < self.params.min_speech {
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

/// The part of a whole clip that is not leading or trailing silence, as a sample range.
///
/// The clip is cut into non-overlapping [`VadConfig::frame_ms`] frames (the last one may be
/// partial). If even the loudest frame is not above the absolute floor (at the configured
/// sensitivity) the clip is silent and the range is empty (`0..0`). Otherwise the range runs
/// from the first to the last frame within [`VadConfig::trim_top_db`] of the loudest one
/// and above `absolute floor - relative threshold` (so a quiet clip's own noise blips are not
/// kept). Silence inside the range is kept. Never panics; a config that fails
/// [`VadConfig::validate`] gives a well-defined but unspecified range.
#[must_use]
pub fn trim_silence(samples: &[f32], sample_rate: u32, config: &VadConfig) -> Range<usize> {
    let frame_len = config.frame_samples(sample_rate);
    let loudest = samples
        .chunks(frame_len)
        .map(frame_level_db)
        .fold(SILENCE_DB, f32::max);
    let (threshold_db, abs_floor_db) = config.effective_thresholds();
    // `!(a > b)` so that NaN settings also give the empty range.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    if !(loudest > abs_floor_db) {
        return 0..0;
    }
    let cut = (loudest - config.trim_top_db).max(abs_floor_db - threshold_db);
    let loud = |frame: &[f32]| frame_level_db(frame) > cut;
    let first = samples.chunks(frame_len).position(loud);
    let last = samples.chunks(frame_len).rposition(loud);
    match (first, last) {
        (Some(first), Some(last)) => {
            (first * frame_len).min(samples.len())..((last + 1) * frame_len).min(samples.len())
        }
        _ => 0..0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::audio::{SAMPLE_RATE, load_clip};
    use std::f64::consts::TAU;
    use std::path::PathBuf;

    const SR: u32 = SAMPLE_RATE;
    const SEC: usize = SAMPLE_RATE as usize;
    /// 100 ms, the tolerance on utterance boundaries.
    const TOL: u64 = SEC as u64 / 10;

    /// Tiny deterministic generator (Knuth's MMIX LCG).
    struct Lcg(u64);

    impl Lcg {
        fn next_u32(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 32) as u32
        }

        /// Uniform in `[-1, 1)`.
        fn next_f32(&mut self) -> f32 {
            (self.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        }
    }

    fn amplitude(dbfs: f32) -> f32 {
        10f32.powf(dbfs / 20.0)
    }

    fn rms_dbfs(x: &[f32]) -> f32 {
        let p = x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64;
        (10.0 * p.log10()) as f32
    }

    /// White noise with an RMS of `dbfs`.
    fn noise(len: usize, dbfs: f32, seed: u64) -> Vec<f32> {
        let a = amplitude(dbfs) * 3f32.sqrt();
        let mut rng = Lcg(seed);
        (0..len).map(|_| a * rng.next_f32()).collect()
    }

    /// Speech-like burst with an RMS of `dbfs`: six harmonics of a gliding ~140 Hz pitch
    /// under a 4 Hz "syllable" envelope that starts at its lowest (0.2).
    fn burst(len: usize, dbfs: f32) -> Vec<f32> {
        let mut phase = 0.0f64;
        let x: Vec<f32> = (0..len)
            .map(|i| {
                let t = i as f64 / f64::from(SR);
                phase += TAU * (140.0 + 20.0 * (TAU * 0.7 * t).sin()) / f64::from(SR);
                let voiced: f64 = (1..=6)
                    .map(|k| (f64::from(k) * phase).sin() / f64::from(k))
                    .sum();
                (voiced * (0.6 - 0.4 * (TAU * 4.0 * t).cos())) as f32
            })
            .collect();
        let gain = amplitude(dbfs - rms_dbfs(&x));
        x.into_iter().map(|v| v * gain).collect()
    }

    /// Adds `src` into `dst` from sample `at`.
    fn add_at(dst: &mut [f32], src: &[f32], at: usize) {
        for (d, s) in dst[at..].iter_mut().zip(src) {
            *d += s;
        }
    }

    /// Pushes `x` in blocks whose sizes come from `block`, then flushes.
    fn run_blocks(
        config: &VadConfig,
        x: &[f32],
        mut block: impl FnMut() -> usize,
    ) -> Vec<SegmentEvent> {
        let mut seg = Segmenter::new(config.clone(), SR).unwrap();
        let mut events = Vec::new();
        let mut rest = x;
        while !rest.is_empty() {
            let n = block().clamp(1, rest.len());
            seg.push(&rest[..n], &mut events);
            rest = &rest[n..];
        }
        seg.flush(&mut events);
        check_events(&events);
        events
    }

    fn run(config: &VadConfig, x: &[f32]) -> Vec<SegmentEvent> {
        run_blocks(config, x, || 512)
    }

    /// Every start is followed by exactly one end or discard with the same start; utterances
    /// are consistent and in order.
    fn check_events(events: &[SegmentEvent]) {
        let mut open: Option<u64> = None;
        let mut last_end = 0;
        for e in events {
            match e {
                SegmentEvent::SpeechStarted {
                    start_sample,
                    speech_start_sample,
                } => {
                    assert!(open.is_none(), "two starts in a row: {events:?}");
                    assert!(start_sample <= speech_start_sample);
                    assert!(
                        *start_sample >= last_end,
                        "pre-roll overlaps the last utterance"
                    );
                    open = Some(*start_sample);
                }
                SegmentEvent::SpeechEnded { utterance: u } => {
                    assert_eq!(open.take(), Some(u.start_sample));
                    assert_eq!(u.samples.len() as u64, u.end_sample - u.start_sample);
                    assert!(u.start_sample <= u.speech_start_sample);
                    assert!(u.speech_start_sample < u.speech_end_sample);
                    assert!(u.speech_end_sample <= u.end_sample);
                    last_end = u.end_sample;
                }
                SegmentEvent::SpeechDiscarded {
                    start_sample,
                    end_sample,
                } => {
                    assert_eq!(open.take(), Some(*start_sample));
                    last_end = *end_sample;
                }
            }
        }
        assert!(open.is_none(), "flush left an utterance open");
    }

    fn utterances(events: &[SegmentEvent]) -> Vec<&Utterance> {
        events
            .iter()
            .filter_map(|e| match e {
                SegmentEvent::SpeechEnded { utterance } => Some(utterance),
                _ => None,
            })
            .collect()
    }

    fn discarded(events: &[SegmentEvent]) -> usize {
        events
            .iter()
            .filter(|e| matches!(e, SegmentEvent::SpeechDiscarded { .. }))
            .count()
    }

    fn near(found: u64, truth: usize, what: &str) {
        let diff = found.abs_diff(truth as u64);
        assert!(
            diff <= TOL,
            "{what}: found {found}, truth {truth} ({diff} samples off)"
        );
    }

    #[test]
    fn default_config_validates_and_round_trips_through_serde() {
        let config = VadConfig::default();
        config.validate().unwrap();
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<VadConfig>(&json).unwrap(), config);
        let partial: VadConfig = serde_json::from_str(r#"{"sensitivity": 0.8}"#).unwrap();
        assert_eq!(partial.sensitivity, 0.8);
        assert_eq!(partial.hangover_ms, config.hangover_ms);
        assert_eq!(config.frame_samples(SR), 160);
    }

    #[test]
    fn invalid_configs_are_rejected_with_the_bad_value() {
        let bad = |f: fn(&mut VadConfig)| {
            let mut c = VadConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert_eq!(
            bad(|c| c.sensitivity = 1.5),
            VadError::OutOfRange {
                field: "sensitivity",
                value: 1.5,
                min: 0.0,
                max: 1.0
            }
        );
        assert!(matches!(
            bad(|c| c.frame_ms = f32::NAN),
            VadError::OutOfRange { field: "frame_ms", value, .. } if value.is_nan()
        ));
        assert!(matches!(
            bad(|c| c.threshold_db = f32::INFINITY),
            VadError::OutOfRange {
                field: "threshold_db",
                ..
            }
        ));
        assert!(matches!(
            bad(|c| c.absolute_floor_dbfs = 3.0),
            VadError::OutOfRange {
                field: "absolute_floor_dbfs",
                value: 3.0,
                ..
            }
        ));
        assert_eq!(
            bad(|c| c.tail_ms = 600.0),
            VadError::TailExceedsHangover {
                tail_ms: 600.0,
                hangover_ms: 500.0
            }
        );
        assert!(matches!(
            bad(|c| c.min_speech_ms = 20_000.0),
            VadError::MinExceedsMax {
                min_speech_ms: 20_000.0,
                ..
            }
        ));
        let err = bad(|c| {
            c.max_utterance_ms = 220.0;
            c.min_speech_ms = 100.0;
        });
        assert!(matches!(
            err,
            VadError::MaxTooShort {
                max_utterance_ms: 220.0,
                ..
            }
        ));
        assert!(err.to_string().contains("220"), "{err}");
        for rate in [0, 4_000, 400_000] {
            assert_eq!(
                Segmenter::new(VadConfig::default(), rate).unwrap_err(),
                VadError::SampleRate { rate }
            );
        }
        let mut seg = Segmenter::new(VadConfig::default(), SR).unwrap();
        assert!(seg.set_sensitivity(-0.1).is_err());
        assert_eq!(seg.config().sensitivity, 0.5);
    }

    #[test]
    fn sensitivity_moves_both_thresholds() {
        let at = |s: f32| {
            VadConfig {
                sensitivity: s,
                ..VadConfig::default()
            }
            .effective_thresholds()
        };
        assert_eq!(at(0.5), (12.0, -60.0));
        assert_eq!(at(0.0), (18.0, -54.0));
        assert_eq!(at(1.0), (6.0, -66.0));

        // A quiet (-63 dBFS) talker on a silent line: missed at the default, heard at 1.
        let mut x = vec![0.0; 4 * SEC];
        add_at(&mut x, &burst(SEC, -63.0), SEC);
        assert!(utterances(&run(&VadConfig::default(), &x)).is_empty());
        let mut seg = Segmenter::new(VadConfig::default(), SR).unwrap();
        seg.set_sensitivity(1.0).unwrap();
        let mut events = Vec::new();
        seg.push(&x, &mut events);
        seg.flush(&mut events);
        assert_eq!(utterances(&events).len(), 1, "{events:?}");
    }

    #[test]
    fn digital_silence_produces_nothing() {
        let x = vec![0.0; 10 * SEC];
        let mut seg = Segmenter::new(VadConfig::default(), SR).unwrap();
        let mut events = Vec::new();
        seg.push(&x, &mut events);
        seg.flush(&mut events);
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(seg.position(), x.len() as u64);
        assert!(!seg.is_speaking());
    }

    #[test]
    fn steady_low_level_noise_produces_nothing() {
        // -60 dBFS sits right at the absolute floor: only the adaptive noise floor keeps it
        // quiet. -45 dBFS is well above it.
        for (seed, dbfs) in [(1, -60.0), (2, -60.0), (3, -60.0), (4, -45.0), (5, -70.0)] {
            let x = noise(10 * SEC, dbfs, seed);
            let events = run(&VadConfig::default(), &x);
            assert!(events.is_empty(), "{dbfs} dBFS seed {seed}: {events:?}");
        }
        // Noise below the absolute floor after digital silence (a microphone opening).
        let mut x = vec![0.0; SEC];
        x.extend(noise(5 * SEC, -70.0, 9));
        assert!(run(&VadConfig::default(), &x).is_empty());
    }

    /// 1 s background, 1 s burst, 1 s background, 1 s burst, 1.5 s background.
    fn two_burst_stream(background: impl Fn(usize) -> Vec<f32>) -> (Vec<f32>, [Range<usize>; 2]) {
        let mut x = background(11 * SEC / 2);
        let truth = [SEC..2 * SEC, 3 * SEC..4 * SEC];
        for t in &truth {
            add_at(&mut x, &burst(t.len(), -20.0), t.start);
        }
        (x, truth)
    }

    type Background = Box<dyn Fn(usize) -> Vec<f32>>;

    #[test]
    fn two_bursts_give_two_utterances_near_the_truth() {
        let config = VadConfig::default();
        let backgrounds: [(&str, Background); 2] = [
            ("digital silence", Box::new(|n| vec![0.0; n])),
            ("-70 dBFS noise", Box::new(|n| noise(n, -70.0, 7))),
        ];
        for (name, background) in backgrounds {
            let (x, truth) = two_burst_stream(background);
            let events = run(&config, &x);
            let utts = utterances(&events);
            assert_eq!(utts.len(), 2, "{name}: {events:?}");
            assert_eq!(discarded(&events), 0, "{name}");
            for (u, t) in utts.iter().zip(&truth) {
                near(u.speech_start_sample, t.start, name);
                near(u.speech_end_sample, t.end, name);
                // 200 ms pre-roll and 100 ms tail around the detected speech.
                assert_eq!(u.start_sample, u.speech_start_sample - 3_200, "{name}");
                assert_eq!(u.end_sample, u.speech_end_sample + 1_600, "{name}");
                assert_eq!(u.end_reason, EndReason::Silence);
                let range = u.start_sample as usize..u.end_sample as usize;
                assert_eq!(u.samples, x[range], "{name}: the audio is the stream's");
                assert!((u.duration_seconds(SR) - 1.3).abs() < 0.2, "{name}");
            }
        }
    }

    #[test]
    fn short_bursts_are_discarded() {
        let config = VadConfig::default();
        for (ms, kept) in [(150, false), (400, true)] {
            let mut x = noise(3 * SEC, -70.0, 3);
            add_at(&mut x, &burst(ms * SEC / 1000, -20.0), SEC);
            let events = run(&config, &x);
            assert_eq!(
                utterances(&events).len(),
                usize::from(kept),
                "{ms} ms: {events:?}"
            );
            assert_eq!(
                discarded(&events),
                usize::from(!kept),
                "{ms} ms: {events:?}"
            );
        }
    }

    #[test]
    fn long_bursts_are_split_at_max_length() {
        for (max_ms, burst_s, pieces) in [(2_000.0, 5, 3), (10_000.0, 12, 2)] {
            let config = VadConfig {
                max_utterance_ms: max_ms,
                ..VadConfig::default()
            };
            let max_len = (max_ms as usize) * SEC / 1000;
            let mut x = noise((burst_s + 2) * SEC, -70.0, 5);
            add_at(&mut x, &burst(burst_s * SEC, -20.0), SEC);
            let events = run(&config, &x);
            let utts = utterances(&events);
            assert_eq!(utts.len(), pieces, "{max_ms}: {events:?}");
            near(utts[0].speech_start_sample, SEC, "first start");
            near(
                utts[pieces - 1].speech_end_sample,
                (burst_s + 1) * SEC,
                "last end",
            );
            assert_eq!(utts[pieces - 1].end_reason, EndReason::Silence);
            for pair in utts.windows(2) {
                assert_eq!(pair[0].end_reason, EndReason::MaxLength);
                assert_eq!(pair[0].samples.len(), max_len);
                assert_eq!(
                    pair[0].end_sample, pair[1].start_sample,
                    "pieces are contiguous"
                );
            }
        }
    }

    /// A stream exercising every event: a normal utterance, a discarded blip, a NaN, a burst
    /// cut at max length, and speech still going when the stream ends.
    fn busy_stream() -> (VadConfig, Vec<f32>) {
        let config = VadConfig {
            max_utterance_ms: 2_000.0,
            ..VadConfig::default()
        };
        let mut x = noise(9 * SEC, -70.0, 11);
        add_at(&mut x, &burst(SEC, -20.0), SEC / 2);
        add_at(&mut x, &burst(SEC / 8, -25.0), 5 * SEC / 2);
        x[3 * SEC] = f32::NAN;
        add_at(&mut x, &burst(3 * SEC, -30.0), 4 * SEC);
        add_at(&mut x, &burst(SEC, -20.0), 8 * SEC);
        (config, x)
    }

    #[test]
    fn events_do_not_depend_on_the_block_size() {
        let (config, x) = busy_stream();
        let reference = run_blocks(&config, &x, || x.len());
        let reasons: Vec<EndReason> = utterances(&reference)
            .iter()
            .map(|u| u.end_reason)
            .collect();
        assert!(reasons.contains(&EndReason::Silence), "{reasons:?}");
        assert!(reasons.contains(&EndReason::MaxLength), "{reasons:?}");
        assert_eq!(reasons.last(), Some(&EndReason::EndOfStream));
        assert_eq!(discarded(&reference), 1);
        for size in [1, 7, 159, 160, 161, 4096] {
            assert_eq!(
                run_blocks(&config, &x, || size),
                reference,
                "block size {size}"
            );
        }
        let mut rng = Lcg(42);
        let random = run_blocks(&config, &x, || 1 + rng.next_u32() as usize % 3000);
        assert_eq!(random, reference, "random block sizes");
        // Empty pushes change nothing.
        let mut seg = Segmenter::new(config, SR).unwrap();
        let mut events = Vec::new();
        seg.push(&[], &mut events);
        seg.push(&x, &mut events);
        seg.push(&[], &mut events);
        seg.flush(&mut events);
        assert_eq!(events, reference);
    }

    #[test]
    fn reset_replays_identically_and_buffers_are_never_reallocated() {
        let (config, x) = busy_stream();
        let mut seg = Segmenter::new(config, SR).unwrap();
        let buffer = (seg.utterance.as_ptr(), seg.utterance.capacity());
        assert!(buffer.1 >= 32_000, "preallocated for max_utterance_ms");
        let history = seg.history.buf.len();
        let mut first = Vec::new();
        for block in x.chunks(333) {
            seg.push(block, &mut first);
        }
        seg.flush(&mut first);
        assert!(utterances(&first).len() >= 3);
        assert_eq!((seg.utterance.as_ptr(), seg.utterance.capacity()), buffer);
        assert_eq!(seg.history.buf.len(), history);

        seg.reset();
        assert_eq!(seg.position(), 0);
        assert_eq!(seg.noise_floor_db(), None);
        let mut second = Vec::new();
        seg.push(&x, &mut second);
        seg.flush(&mut second);
        assert_eq!(second, first);
        assert_eq!((seg.utterance.as_ptr(), seg.utterance.capacity()), buffer);
    }

    #[test]
    fn flush_ends_a_pending_utterance_and_the_stream_can_go_on() {
        let config = VadConfig::default();
        let mut x = noise(2 * SEC, -70.0, 13);
        add_at(&mut x, &burst(SEC, -20.0), SEC);
        let mut seg = Segmenter::new(config, SR).unwrap();
        let mut events = Vec::new();
        seg.push(&x, &mut events);
        assert!(seg.is_speaking());
        seg.flush(&mut events);
        assert!(!seg.is_speaking());
        let utts = utterances(&events);
        assert_eq!(utts.len(), 1);
        assert_eq!(utts[0].end_reason, EndReason::EndOfStream);
        assert_eq!(utts[0].end_sample, x.len() as u64);
        // Flushing again reports nothing; more audio continues the positions.
        seg.flush(&mut events);
        assert_eq!(events.len(), 2);
        let mut more = noise(SEC, -70.0, 14);
        add_at(&mut more, &burst(SEC / 2, -20.0), SEC / 4);
        seg.push(&more, &mut events);
        seg.push(&vec![0.0; SEC], &mut events);
        let utts = utterances(&events);
        assert_eq!(utts.len(), 2, "{events:?}");
        near(
            utts[1].speech_start_sample,
            x.len() + SEC / 4,
            "after flush",
        );
    }

    #[test]
    fn trim_finds_a_burst_in_quiet_noise() {
        let config = VadConfig::default();
        let mut x = noise(12 * SEC / 5, -70.0, 17);
        let truth = SEC / 2..17 * SEC / 10;
        add_at(&mut x, &burst(truth.len(), -25.0), truth.start);
        let r = trim_silence(&x, SR, &config);
        assert!(r.start.abs_diff(truth.start) <= 320, "{r:?} vs {truth:?}");
        assert!(r.end.abs_diff(truth.end) <= 320, "{r:?} vs {truth:?}");
        // The same clip at 48 kHz (sample-and-hold upsampling keeps the levels).
        let x48: Vec<f32> = x.iter().flat_map(|&v| [v; 3]).collect();
        let r48 = trim_silence(&x48, 48_000, &config);
        assert!(r48.start.abs_diff(3 * truth.start) <= 960, "{r48:?}");
        assert!(r48.end.abs_diff(3 * truth.end) <= 960, "{r48:?}");
        // A clip that is sound throughout is kept whole, partial last frame included.
        let loud = burst(SEC + 37, -20.0);
        assert_eq!(trim_silence(&loud, SR, &config), 0..loud.len());
    }

    #[test]
    fn trim_of_silence_is_empty_and_never_panics() {
        let config = VadConfig::default();
        let silent: [(&str, Vec<f32>); 5] = [
            ("empty", vec![]),
            ("one sample", vec![0.0]),
            ("zeros", vec![0.0; 3 * SEC]),
            ("-70 dBFS noise", noise(3 * SEC, -70.0, 19)),
            ("NaN", vec![f32::NAN; 1000]),
        ];
        for (name, x) in &silent {
            assert_eq!(trim_silence(x, SR, &config), 0..0, "{name}");
        }
        let x = burst(SEC, -20.0);
        assert!(trim_silence(&x, 0, &config).end <= x.len());
        let nonsense = VadConfig {
            frame_ms: f32::NAN,
            trim_top_db: f32::NAN,
            absolute_floor_dbfs: f32::NAN,
            ..VadConfig::default()
        };
        assert!(trim_silence(&x, SR, &nonsense).end <= x.len());
    }

    fn ravdess_dir() -> PathBuf {
        crate::dataset::ravdess_dir_from_env().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Different actors, sexes, emotions and intensities.
    const CLIPS: [&str; 6] = [
        "Actor_01/03-01-04-01-01-01-01.wav", // sad, normal: quiet (loudest frame -34 dBFS)
        "Actor_02/03-01-05-02-02-01-02.wav", // angry, strong: loud (-9 dBFS)
        "Actor_20/03-01-04-01-01-02-20.wav", // sad, normal: among the quietest (-53 dBFS)
        "Actor_15/03-01-01-01-01-01-15.wav", // neutral
        "Actor_10/03-01-06-01-02-02-10.wav", // fearful
        "Actor_23/03-01-03-01-02-01-23.wav", // happy
    ];

    fn load(name: &str) -> Vec<f32> {
        let path = ravdess_dir().join(name);
        load_clip(&path).unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()))
    }

    fn energy(x: &[f32]) -> f64 {
        x.iter().map(|v| f64::from(*v).powi(2)).sum()
    }

    #[test]
    fn ravdess_trim_removes_the_silence_and_keeps_the_sentence() {
        let config = VadConfig::default();
        for name in CLIPS {
            let x = load(name);
            let r = trim_silence(&x, SR, &config);
            let seconds = r.len() as f64 / f64::from(SR);
            assert!(r.start >= SEC / 5, "{name}: leading silence kept: {r:?}");
            assert!(
                r.end + SEC / 5 <= x.len(),
                "{name}: trailing silence kept: {r:?}"
            );
            assert!(
                (1.0..=3.5).contains(&seconds),
                "{name}: {seconds:.2} s kept"
            );
            let kept = energy(&x[r.clone()]) / energy(&x);
            assert!(
                kept > 0.99,
                "{name}: only {kept:.4} of the energy kept in {r:?}"
            );
        }
    }

    fn overlap(u: &Utterance, r: &Range<usize>, offset: usize) -> u64 {
        let (a, b) = ((r.start + offset) as u64, (r.end + offset) as u64);
        u.end_sample.min(b).saturating_sub(u.start_sample.max(a))
    }

    #[test]
    fn ravdess_clips_stream_to_one_utterance_each() {
        let config = VadConfig::default();
        for name in CLIPS {
            let mut x = load(name);
            let r = trim_silence(&x, SR, &config);
            x.extend(vec![0.0; SEC]);
            let events = run(&config, &x);
            let utts = utterances(&events);
            assert_eq!(utts.len(), 1, "{name}: {events:?}");
            let covered = overlap(utts[0], &r, 0) as f64 / r.len() as f64;
            assert!(
                covered > 0.8,
                "{name}: utterance covers {covered:.2} of {r:?}"
            );
            assert_eq!(utts[0].end_reason, EndReason::Silence, "{name}");
        }
    }

    #[test]
    fn ravdess_three_clips_in_a_row_give_three_utterances() {
        let config = VadConfig::default();
        let mut x = Vec::new();
        let mut regions = Vec::new();
        for name in &CLIPS[..3] {
            let clip = load(name);
            regions.push((x.len(), trim_silence(&clip, SR, &config)));
            x.extend(clip);
            x.extend(vec![0.0; 3 * SEC / 2]);
        }
        let events = run(&config, &x);
        let utts = utterances(&events);
        assert_eq!(utts.len(), 3, "{events:?}");
        for (u, (offset, r)) in utts.iter().zip(&regions) {
            assert!(
                overlap(u, r, *offset) as f64 > 0.8 * r.len() as f64,
                "{u:?} vs {r:?}"
            );
        }
    }
}
