//! The segmenter's frame-level parts: the scorer that judges each frame, and the ring of
//! recent samples (the pre-roll) or frame scores (for moving boundaries).

use super::*;

/// A frame scorer: [`Detector::Spectral`]'s or [`Detector::Learned`]'s.
#[derive(Debug, Clone)]
pub(super) enum FrameScorer {
    Spectral(Box<SpectralScorer>),
    Learned(Box<LearnedScorer>),
}

impl FrameScorer {
    pub(super) fn score(&mut self, frame: &[f32]) -> f32 {
        match self {
            FrameScorer::Spectral(s) => s.score(frame),
            FrameScorer::Learned(s) => s.score(frame),
        }
    }

    pub(super) fn reset(&mut self) {
        match self {
            FrameScorer::Spectral(s) => s.reset(),
            FrameScorer::Learned(s) => s.reset(),
        }
    }

    /// Forgets the frames heard so far but not the noise estimates (after a flush).
    pub(super) fn forget_context(&mut self) {
        match self {
            FrameScorer::Spectral(s) => s.forget_samples(),
            FrameScorer::Learned(s) => s.forget_context(),
        }
    }
}

/// Fixed-capacity ring of the most recent samples.
#[derive(Debug, Clone)]
pub(super) struct Ring {
    pub(super) buf: Vec<f32>,
    pub(super) head: usize,
    pub(super) len: usize,
}

impl Ring {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0.0; capacity],
            head: 0,
            len: 0,
        }
    }

    pub(super) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    pub(super) fn push(&mut self, x: f32) {
        let cap = self.buf.len();
        if let Some(slot) = self.buf.get_mut(self.head) {
            *slot = x;
            self.head = (self.head + 1) % cap;
            self.len = (self.len + 1).min(cap);
        }
    }

    pub(super) fn push_slice(&mut self, xs: &[f32]) {
        for &x in xs {
            self.push(x);
        }
    }

    /// The value pushed `k` pushes ago (0: the latest), if still held.
    pub(super) fn back(&self, k: usize) -> Option<f32> {
        if k >= self.len {
            return None;
        }
        let cap = self.buf.len();
        self.buf.get((self.head + cap - 1 - k) % cap).copied()
    }

    /// Appends the last `take` samples (at most `len`), oldest first, to `out`.
    pub(super) fn copy_last(&self, take: usize, out: &mut Vec<f32>) {
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
