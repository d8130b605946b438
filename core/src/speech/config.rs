//! The detector's settings ([`VadConfig`]) and their validation.

use super::*;

/// How far [`VadConfig::sensitivity`] moves both thresholds over its whole `0..=1` range, in
/// dB: sensitivity 0 raises them by half of this, 1 lowers them by half of this, 0.5 leaves
/// them as configured.
pub const SENSITIVITY_SPAN_DB: f32 = 12.0;
/// How far [`VadConfig::sensitivity`] moves [`VadConfig::spectral_threshold_db`] over its
/// whole `0..=1` range, in dB (as [`SENSITIVITY_SPAN_DB`] does for the energy thresholds).
pub const SPECTRAL_SENSITIVITY_SPAN_DB: f32 = 4.0;
/// How far [`VadConfig::sensitivity`] moves [`VadConfig::learned_threshold`] over its whole
/// `0..=1` range, in logits (a logit of 2 is odds of 7 to 1).
pub const LEARNED_SENSITIVITY_SPAN: f32 = 4.0;
/// Smallest spectral threshold sensitivity can bring it down to.
pub(super) const MIN_SPECTRAL_THRESHOLD_DB: f32 = 0.5;
/// Lowest sample rate a [`Segmenter`] accepts.
pub const MIN_SAMPLE_RATE: u32 = crate::audio::MIN_SAMPLE_RATE;
/// Highest sample rate a [`Segmenter`] accepts.
pub const MAX_SAMPLE_RATE: u32 = crate::audio::MAX_SAMPLE_RATE;

/// Level reported for a frame with no energy at all (a power of `1e-12`).
pub(super) const SILENCE_DB: f32 = -120.0;
/// Smallest relative threshold sensitivity can bring the threshold down to.
pub(super) const MIN_EFFECTIVE_THRESHOLD_DB: f32 = 1.0;

/// How a frame is judged to be speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Detector {
    /// Band by band against per-band noise estimates ([`SpectralScorer`]), and above the
    /// absolute floor: holds up under fans, hum and rumble, but takes music for speech.
    Spectral,
    /// Broadband level against one adaptive noise floor, and above the absolute floor: cheaper,
    /// and enough in a quiet room.
    Energy,
    /// A small trained network over the recent spectral frames ([`LearnedScorer`],
    /// [`DetectorNet`]), and above the absolute floor: holds up under the same noises as
    /// [`Detector::Spectral`] and also tells speech from music. The default.
    #[default]
    Learned,
}

/// Speech-detection settings. Durations are in milliseconds so one config serves any sample
/// rate. `#[serde(default)]`: a partial config takes the defaults for missing fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VadConfig {
    /// How frames are judged (default [`Detector::Learned`]).
    pub detector: Detector,
    /// [`Detector::Spectral`]: a frame is speech when its bands are on average this many dB
    /// above their noise estimates (default 2 dB, at sensitivity 0.5; noise alone scores
    /// about 1 dB).
    pub spectral_threshold_db: f32,
    /// [`Detector::Learned`]: a frame is speech when the network's logit is above this
    /// (default 1, odds of 2.7 to 1, at sensitivity 0.5: chosen on validation actors 19-20,
    /// where 0 gave a false detection in 10 minutes of brown noise alone).
    pub learned_threshold: f32,
    /// Analysis frame length (default 10 ms = 160 samples at 16 kHz). Frames do not overlap.
    pub frame_ms: f32,
    /// [`Detector::Energy`]: a frame must be this many dB above the adaptive noise floor to
    /// count as speech (default 12 dB, at sensitivity 0.5).
    pub threshold_db: f32,
    /// A frame must also be louder than this, in dBFS (default -60 dBFS, at sensitivity 0.5;
    /// the engine's default is −63 dBFS, [`crate::engine::ENGINE_FLOOR_DBFS`]). Also the floor
    /// of [`trim_silence`], which the model's silence trimming uses at −60 dBFS.
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
            detector: Detector::default(),
            spectral_threshold_db: 2.0,
            learned_threshold: 1.0,
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
    /// The speech detector's network judges an older frame than the newest
    /// ([`DetectorNet::delay`](super::DetectorNet::delay)): it would delay every event. Such
    /// a net places boundaries ([`Segmenter::with_detector_nets`](super::Segmenter::with_detector_nets)).
    #[error(
        "speech detector: its network judges the frame {delay} frames before the newest; only a boundary net may look ahead"
    )]
    DetectorDelay {
        /// The network's delay, in frames.
        delay: usize,
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

pub(super) fn check_range(
    field: &'static str,
    value: f32,
    min: f32,
    max: f32,
) -> Result<(), VadError> {
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
pub(super) fn frames_for(ms: f32, frame_ms: f32) -> u32 {
    let frames = (f64::from(ms) / f64::from(frame_ms) - 1e-6).ceil();
    if frames >= 1.0 { frames as u32 } else { 1 }
}

pub(super) fn ms_to_samples(ms: f32, sample_rate: u32) -> usize {
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
        check_range(
            "spectral_threshold_db",
            self.spectral_threshold_db,
            0.5,
            30.0,
        )?;
        check_range("learned_threshold", self.learned_threshold, -10.0, 10.0)?;
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

    /// The spectral threshold (dB of mean band level above the noise estimates) in force at
    /// the configured [`sensitivity`](Self::sensitivity).
    #[must_use]
    pub fn effective_spectral_threshold(&self) -> f32 {
        let offset = (0.5 - self.sensitivity.clamp(0.0, 1.0)) * SPECTRAL_SENSITIVITY_SPAN_DB;
        (self.spectral_threshold_db + offset).max(MIN_SPECTRAL_THRESHOLD_DB)
    }

    /// The learned detector's threshold (a logit) in force at the configured
    /// [`sensitivity`](Self::sensitivity).
    #[must_use]
    pub fn effective_learned_threshold(&self) -> f32 {
        self.learned_threshold + (0.5 - self.sensitivity.clamp(0.0, 1.0)) * LEARNED_SENSITIVITY_SPAN
    }

    /// The frame length in samples at `sample_rate` (at least 1).
    #[must_use]
    pub fn frame_samples(&self, sample_rate: u32) -> usize {
        ms_to_samples(self.frame_ms, sample_rate).max(1)
    }
}
