//! The boundary net's part in the segmenter (`Boundary`): its logits, each about a frame
//! it has heard the next 150 ms of, and the walks that place an utterance's speech start and
//! end from them.

use super::*;

/// [`Detector::Learned`] with a boundary net: an utterance's speech extends over the frames
/// before its onset (within the pre-roll) and after its last speech frame (within the
/// hangover, up to the boundary net's delay before the end is decided) whose boundary logit is
/// above this (even odds).
pub const BOUNDARY_THRESHOLD: f32 = 0.0;

/// [`Detector::Learned`] with a boundary net: the extension goes on over at most this many
/// frames in a row below [`BOUNDARY_THRESHOLD`] (30 ms, a dip between two sounds of a word).
/// Chosen on validation actors 19-20 (`trainer segment-eval`, seeds 1-3): 0 and 3 gave
/// utterances detected once within 150 ms at 10 dB 81.7% and 81.9% (mean of the five noises),
/// at 5 dB 77.7% and 78.1%.
pub const BOUNDARY_GAP_FRAMES: usize = 3;

/// A boundary net, run on the detector's features, and its recent logits (each about the
/// frame `delay` frames before the one it was computed at).
#[derive(Debug, Clone)]
pub(super) struct Boundary {
    pub(super) runner: NetRunner,
    pub(super) scores: Ring,
    pub(super) delay: usize,
    /// Frames since the utterance started, until its start is placed.
    pub(super) since_start: Option<usize>,
}

impl Boundary {
    pub(super) fn new(net: Arc<DetectorNet>, params: &Params) -> Self {
        Self {
            delay: net.delay,
            scores: Ring::new(params.boundary_frames() + net.delay + 1),
            runner: NetRunner::new(net),
            since_start: None,
        }
    }

    /// The next frame, given the detector's features of it.
    pub(super) fn push(&mut self, features: &[f32; DETECTOR_FEATURES]) {
        let s = self.runner.next(features);
        self.scores.push(s);
        if let Some(e) = self.since_start.as_mut() {
            *e += 1;
        }
    }

    /// The logit about the frame `age` frames before the newest, if judged yet.
    fn about(&self, age: usize) -> Option<f32> {
        age.checked_sub(self.delay)
            .and_then(|k| self.scores.back(k))
    }

    /// Counts frames walking `ages` away from an utterance while they are speech, allowing
    /// `gap` non-speech frames in a row between two speech frames.
    fn walk(&self, ages: impl Iterator<Item = usize>) -> u64 {
        let (mut n, mut good, mut run) = (0u64, 0u64, 0usize);
        for age in ages {
            let Some(s) = self.about(age) else { break };
            n += 1;
            if s > BOUNDARY_THRESHOLD {
                good = n;
                run = 0;
            } else {
                run += 1;
                if run > BOUNDARY_GAP_FRAMES {
                    break;
                }
            }
        }
        good
    }

    /// Speech frames before the onset's `onset` frames, at most `pre_roll` of them, when
    /// the onset ended `elapsed` frames ago.
    pub(super) fn earlier(&self, onset: usize, pre_roll: usize, elapsed: usize) -> u64 {
        self.walk((onset..onset + pre_roll).map(|k| k + elapsed))
    }

    /// Speech frames after the last speech frame, `silence` frames of hangover ago.
    pub(super) fn later(&self, silence: usize) -> u64 {
        self.walk((0..silence).rev())
    }

    /// Forgets the frames seen so far (after a flush or a reset).
    pub(super) fn clear(&mut self) {
        self.runner.forget();
        self.scores.clear();
        self.since_start = None;
    }
}
