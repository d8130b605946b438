//! Where an utterance's speech starts and ends: the walks over the detector's own frame
//! scores beside the onset and the hangover (`Segmenter::extension`), and the boundary net's
//! part (`Boundary`): its logits, each about a frame it has heard the next 150 ms of, and the
//! walks that place the speech start and end from them.

use super::*;

/// [`Detector::Spectral`]: an utterance's speech is extended over the adjacent frames (before
/// the onset, within the pre-roll; after the last speech frame, within the hangover) whose
/// scores, averaged with the next [`EXTEND_SMOOTHING`] frames outwards, are above this fraction
/// of the threshold: the soft beginnings and endings of words, found without delaying any
/// event.
pub const EXTEND_FRACTION: f32 = 0.35;
/// The extension compares the mean score of each frame and the next this many frames away
/// from the utterance.
pub const EXTEND_SMOOTHING: usize = 4;

/// [`Detector::Learned`]: frames after an utterance whose smoothed logit is above the
/// threshold minus this are speech too. 0 measured best on validation actors 19-20 (`trainer
/// segment-eval`: margins of 1 and 2 moved ends later by 30 to 140 ms in pink noise).
pub const LEARNED_EXTEND_MARGIN: f32 = 0.0;

/// [`Detector::Learned`]: frames before an utterance's onset whose smoothed logit is above the
/// threshold minus this are speech too. Wider than [`LEARNED_EXTEND_MARGIN`] because the
/// network looks only backwards: at a soft onset its logit climbs over a few frames, so starts
/// came 20 to 90 ms late (median) while ends were on time. Chosen on validation actors 19-20
/// (`trainer segment-eval`, seeds 1-3, 10 and 5 dB): margins of 0, 1.5, 2 and 2.5 gave utterances
/// detected once within 150 ms in pink noise at 5 dB 52%, 55%, 57% and 56% (mean over seeds),
/// under music 78%, 85%, 89% and 90%, equal or better under every other noise.
pub const LEARNED_EXTEND_START_MARGIN: f32 = 2.0;

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

impl Segmenter {
    /// Frames adjacent to a boundary that still score as speech: walking `frames_ago` (the
    /// frame 0 is the latest) away from the utterance while each is above the extension
    /// threshold. `older` says which way is away: towards older frames (a start) or newer
    /// ones (an end).
    pub(super) fn extension(&self, frames_ago: impl Iterator<Item = usize>, older: bool) -> u64 {
        let Some((_, _, scores)) = &self.spectral else {
            return 0;
        };
        let low = if older {
            self.params.extend_start_threshold
        } else {
            self.params.extend_threshold
        };
        // The mean score of the frame and the next ones away from the utterance: steadier
        // than one frame's, and never lifted by the utterance's own frames.
        let smoothed = |k: usize| {
            let (mut sum, mut count) = (0.0f32, 0u16);
            for j in 0..=EXTEND_SMOOTHING {
                let at = if older {
                    k.checked_add(j)
                } else {
                    k.checked_sub(j)
                };
                if let Some(s) = at.and_then(|at| scores.back(at)) {
                    sum += s;
                    count += 1;
                }
            }
            sum / f32::from(count.max(1))
        };
        frames_ago
            .take_while(|&k| scores.back(k).is_some() && smoothed(k) > low)
            .count() as u64
    }

    /// With a boundary net, places the speech start once the net has judged the frames
    /// before the onset (its delay after the start), or at the utterance's end (`now`).
    pub(super) fn refine_start(&mut self, now: bool) {
        let Some(b) = &mut self.boundary else {
            return;
        };
        let Some(elapsed) = b.since_start else {
            return;
        };
        if !now && elapsed < b.delay {
            return;
        }
        b.since_start = None;
        let onset = self.params.onset_frames as usize;
        let earlier = b.earlier(onset, self.params.pre_roll / self.params.frame_len, elapsed);
        let frame = self.params.frame_len as u64;
        // The onset frames ended `elapsed` frames ago.
        let onset_end = self.position.saturating_sub(elapsed as u64 * frame);
        self.speech_start = onset_end
            .saturating_sub((onset as u64 + earlier) * frame)
            .max(self.utterance_start);
    }
}
