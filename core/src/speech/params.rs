//! The segmenter's settings at one sample rate, derived from a validated [`VadConfig`].

use super::*;

/// Settings derived from a validated config at one sample rate.
#[derive(Debug, Clone)]
pub(super) struct Params {
    pub(super) frame_len: usize,
    pub(super) onset_frames: u32,
    pub(super) hangover_frames: u32,
    pub(super) pre_roll: usize,
    pub(super) tail: u64,
    pub(super) min_speech: u64,
    /// [`STEP_SPEECH_MS`] in samples.
    pub(super) speech_after_step: u64,
    pub(super) max_len: usize,
    pub(super) threshold_db: f32,
    pub(super) abs_floor_db: f32,
    /// [`Detector::Spectral`] and [`Detector::Learned`]: a frame scoring above this is speech.
    pub(super) score_threshold: f32,
    /// Frames after an utterance scoring above this are speech too.
    pub(super) extend_threshold: f32,
    /// Frames before an utterance's onset scoring above this are speech too.
    pub(super) extend_start_threshold: f32,
    pub(super) rise_per_frame_db: f32,
}

impl Params {
    pub(super) fn new(config: &VadConfig, sample_rate: u32) -> Result<Self, VadError> {
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
            speech_after_step: ms_to_samples(STEP_SPEECH_MS, sample_rate) as u64,
            max_len: ms_to_samples(config.max_utterance_ms, sample_rate),
            threshold_db,
            abs_floor_db,
            score_threshold: 0.0,
            extend_threshold: 0.0,
            extend_start_threshold: 0.0,
            rise_per_frame_db: config.noise_rise_db_per_s * frame_len as f32 / sample_rate as f32,
        };
        let mut params = params;
        params.set_thresholds(config);
        if params.max_len <= params.history_len() {
            return Err(VadError::MaxTooShort {
                max_utterance_ms: config.max_utterance_ms,
                needed_ms: (params.history_len() + 1) as f32 * 1000.0 / sample_rate as f32,
            });
        }
        Ok(params)
    }

    pub(super) fn onset_len(&self) -> usize {
        self.onset_frames as usize * self.frame_len
    }

    /// How far back from the frame whose noise estimates followed a step the step may have
    /// begun: the run of uniform frames, the frames the smoothed powers take to rise
    /// [`STEP_RISE_DB`](crate::speech::STEP_RISE_DB), and the onset.
    pub(super) fn step_len(&self) -> usize {
        (STEP_FRAMES as usize + STEP_RISE_FRAMES) * self.frame_len + self.onset_len()
    }

    /// Samples kept while idle: the onset frames plus the pre-roll before them.
    pub(super) fn history_len(&self) -> usize {
        self.onset_len() + self.pre_roll
    }

    /// Frame scores kept for refining boundaries: the onset and pre-roll before a start, the
    /// hangover after the last speech frame.
    pub(super) fn boundary_frames(&self) -> usize {
        (self.onset_frames + self.hangover_frames) as usize + self.pre_roll / self.frame_len + 2
    }

    /// The frame-score thresholds of `config`'s detector at its sensitivity.
    pub(super) fn set_thresholds(&mut self, config: &VadConfig) {
        (
            self.score_threshold,
            self.extend_start_threshold,
            self.extend_threshold,
        ) = match config.detector {
            Detector::Spectral => {
                let t = config.effective_spectral_threshold();
                (t, t * EXTEND_FRACTION, t * EXTEND_FRACTION)
            }
            Detector::Learned => {
                let t = config.effective_learned_threshold();
                (
                    t,
                    t - LEARNED_EXTEND_START_MARGIN,
                    t - LEARNED_EXTEND_MARGIN,
                )
            }
            Detector::Energy => (0.0, 0.0, 0.0),
        };
    }
}

/// Frames a noise stepping up takes to reach [`STEP_RISE_DB`](crate::speech::STEP_RISE_DB)
/// in the smoothed band powers, with a margin for the detector's start extension.
const STEP_RISE_FRAMES: usize = 20;

/// Speech an utterance that began with a noise stepping up needs after the detector's noise
/// estimates followed the step, to be kept (ms): the detector still hears the step for a
/// few hundred milliseconds after it (chosen on actors 19-20: 250 ms let it through).
pub const STEP_SPEECH_MS: f32 = 500.0;
