//! What the segmenter reports: [`SegmentEvent`]s and the [`Utterance`]s they carry.

use super::*;

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
    /// Where speech starts: the start of the onset frames or, with [`Detector::Spectral`] and
    /// [`Detector::Learned`], earlier adjacent frames that still score as speech (within the
    /// pre-roll); `>= start_sample`.
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

    /// The audio before [`speech`](Self::speech): the pre-roll, the room's sound before the
    /// player spoke (what the front end's noise suppression estimates the noise from).
    #[must_use]
    pub fn before_speech(&self) -> &[f32] {
        let from = usize::try_from(self.speech_start_sample.saturating_sub(self.start_sample))
            .unwrap_or(usize::MAX)
            .min(self.samples.len());
        &self.samples[..from]
    }

    /// The speech alone: [`samples`](Self::samples) from
    /// [`speech_start_sample`](Self::speech_start_sample) to
    /// [`speech_end_sample`](Self::speech_end_sample), without the pre-roll and tail.
    #[must_use]
    pub fn speech(&self) -> &[f32] {
        let at = |sample: u64| {
            usize::try_from(sample.saturating_sub(self.start_sample))
                .unwrap_or(usize::MAX)
                .min(self.samples.len())
        };
        let from = at(self.speech_start_sample);
        let to = at(self.speech_end_sample).max(from);
        &self.samples[from..to]
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
        /// Where speech was detected: the detector's estimate. With a boundary net the
        /// [`Utterance::speech_start_sample`] of the utterance's end may be earlier (placed
        /// once the net has heard 150 ms past the onset).
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
