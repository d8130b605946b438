//! Pitch features beside the MFCCs: a YIN fundamental-frequency tracker on the MFCC frames'
//! grid ([`PitchTracker`]).
//!
//! Per frame it gives two values: the fundamental frequency as `log2(f0 / 100 Hz)` (an octave
//! per unit), held at the last voiced frame's value through unvoiced frames (and at
//! [`UNVOICED_START`] before the first), and the frame's periodicity, `1 - d'` where `d'` is
//! YIN's lowest cumulative-mean-normalised difference in the search range (1 for a pure tone,
//! near 0 for noise or silence). De Cheveigné and Kawahara, "YIN, a fundamental frequency
//! estimator for speech and music", JASA 2002: steps 2 to 5 (difference function, cumulative
//! mean normalisation, absolute threshold, parabolic interpolation).
//!
//! Noise compensation: for a voice `s` and an uncorrelated noise `n`, the difference function
//! of `s + n` is about the sum of theirs, so the tracker subtracts the noise's, estimated as
//! the mean difference function of the utterance's quietest frames ([`NOISE_QUIETEST`]),
//! from every frame's before YIN's normalisation, keeping at least [`NOISE_FLOOR`] of the
//! noise's mean. A steady hum or fan is periodic at its own period everywhere; without the
//! subtraction YIN reads the hum's period in every frame and its dips beside the voice's.

use super::{FeatureError, MfccConfig};

/// Values per frame: `log2(f0 / 100 Hz)` and periodicity.
pub const PITCH_VALUES: usize = 2;
/// Lowest fundamental searched (Hz).
pub const F0_MIN: f32 = 60.0;
/// Highest fundamental searched (Hz).
pub const F0_MAX: f32 = 500.0;
/// YIN's absolute threshold on the normalised difference: a frame below it is voiced.
pub const YIN_THRESHOLD: f32 = 0.2;
/// The pitch value before the first voiced frame: `log2(150 Hz / 100 Hz)`.
pub const UNVOICED_START: f32 = 0.584_962_5;
/// The share of an utterance's frames, the quietest, whose mean difference function is taken
/// for the noise's and subtracted from every frame's.
pub const NOISE_QUIETEST: f32 = 0.2;
/// The noise-compensated difference function is at least this share of the noise's mean
/// difference, so that frames of noise alone stay flat (aperiodic) after the subtraction.
pub const NOISE_FLOOR: f32 = 0.3;
/// Frames whose blocks are computed at once (bounds the scratch memory).
const CHUNK_FRAMES: usize = 128;

/// A YIN pitch tracker on the frame grid of an [`MfccConfig`] (frame `t` centred at
/// `t * hop_length`, or `n_fft / 2` later without centring). Keeps its scratch.
///
/// YIN's difference function of a frame, `d(tau) = sum over its window of
/// (x[j] - x[j + tau])^2`, is summed from blocks of `gcd(hop_length, win_length)` samples
/// (80 by default): consecutive windows share most of their blocks, so each block's
/// differences for every lag are computed once (2.5 times fewer operations than frame by
/// frame with the defaults), and for one sample the lags run over contiguous memory, which
/// vectorises under `pulp`'s run-time dispatch.
#[derive(Clone)]
pub struct PitchTracker {
    config: MfccConfig,
    window: usize,
    block: usize,
    tau_min: usize,
    tau_max: usize,
    /// A chunk of frames' samples, zeros outside the signal.
    padded: Vec<f32>,
    /// Per block, the differences for lags `1..=tau_max + 1`.
    blocks: Vec<f32>,
    diff: Vec<f32>,
    /// The computed frames' difference functions (lags `1..=tau_max + 1`), in frame order.
    differences: Vec<f32>,
    /// Frames ranked by loudness, to find the quietest, and their difference functions.
    order: Vec<(f32, usize)>,
    noise_frames: Vec<f32>,
    /// The frame of the estimate's signal that `noise_frames` starts at.
    noise_from: usize,
}

/// The difference function of the steady noise under an utterance
/// ([`PitchTracker::noise_estimate`]), subtracted from every frame's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PitchNoise {
    /// Per lag `1..=tau_max + 1`; empty for silence.
    differences: Vec<f32>,
    /// [`NOISE_FLOOR`] times their mean.
    floor: f32,
}

impl PitchNoise {
    /// No noise (digital silence): the tracker's values are plain YIN's.
    #[must_use]
    pub fn silence() -> Self {
        Self::default()
    }

    /// The noise of the signal scaled by `gain` (differences are squares: `gain^2` times).
    #[must_use]
    pub fn scaled(mut self, gain: f32) -> Self {
        let g2 = gain * gain;
        self.differences.iter_mut().for_each(|d| *d *= g2);
        self.floor *= g2;
        self
    }
}

impl std::fmt::Debug for PitchTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The settings, not the scratch buffers.
        f.debug_struct("PitchTracker")
            .field("sample_rate", &self.config.sample_rate)
            .field("hop_length", &self.config.hop_length)
            .field("window", &self.window)
            .field("block", &self.block)
            .field("lags", &(self.tau_min..=self.tau_max))
            .finish_non_exhaustive()
    }
}

impl PitchTracker {
    /// A tracker for the frames of `config` (checked): an integration window of `win_length`
    /// samples, lags for [`F0_MAX`] down to [`F0_MIN`] at its sample rate.
    ///
    /// # Errors
    /// [`FeatureError::InvalidConfig`] for a bad configuration, or a sample rate too low for
    /// the search range.
    pub fn new(config: MfccConfig) -> Result<Self, FeatureError> {
        config.validate()?;
        let rate = config.sample_rate as f32;
        let tau_min = (rate / F0_MAX).floor() as usize;
        let tau_max = (rate / F0_MIN).ceil() as usize;
        if tau_min < 2 {
            return Err(FeatureError::InvalidConfig {
                field: "sample_rate",
                value: config.sample_rate.to_string(),
                reason: "too low for pitch features (needs >= 1000 Hz)",
            });
        }
        let window = config.win_length;
        Ok(Self {
            window,
            block: gcd(window, config.hop_length),
            tau_min,
            tau_max,
            padded: Vec::new(),
            blocks: Vec::new(),
            diff: vec![0.0; tau_max + 2],
            differences: Vec::new(),
            order: Vec::new(),
            noise_frames: Vec::new(),
            noise_from: 0,
            config,
        })
    }

    /// Pitch values of `signal` into `out` (`n_frames * PITCH_VALUES`, the MFCC frame count),
    /// returning the frame count; the noise estimated from `signal` itself
    /// ([`PitchTracker::noise_estimate`]).
    ///
    /// # Errors
    /// [`FeatureError::OutputTooSmall`] when `out` is short.
    pub fn process_into(&mut self, signal: &[f32], out: &mut [f32]) -> Result<usize, FeatureError> {
        let noise = self.noise_estimate(signal);
        self.process_frames_into(signal, usize::MAX, &noise, out)
    }

    /// Pitch values of the first `frames` frames of `signal` (all of them when it has fewer)
    /// with `noise` subtracted, into `out`, returning the frame count. Each frame's values
    /// depend on the frames before it alone; work and scratch memory follow the frames
    /// computed, not the signal's length.
    ///
    /// # Errors
    /// [`FeatureError::OutputTooSmall`] when `out` is short.
    pub fn process_frames_into(
        &mut self,
        signal: &[f32],
        frames: usize,
        noise: &PitchNoise,
        out: &mut [f32],
    ) -> Result<usize, FeatureError> {
        let mut held = UNVOICED_START;
        self.process_range_into(signal, 0..frames, noise, &mut held, out)
    }

    /// [`PitchTracker::process_frames_into`] of frames `frames` only (clipped to the
    /// signal's), continuing from `held`, the pitch value the frame before them holds
    /// ([`UNVOICED_START`] before the first), which it updates: computed piece by piece as
    /// a signal grows, the values are the whole computation's, bit for bit, for frames whose
    /// samples (a window and the lags, about `(win_length + sample_rate / F0_MIN) / 2` each
    /// side of the centre) were all there. Writes `PITCH_VALUES` per frame into `out` and
    /// returns the number of frames.
    ///
    /// # Errors
    /// [`FeatureError::OutputTooSmall`] when `out` is short.
    pub fn process_range_into(
        &mut self,
        signal: &[f32],
        frames: std::ops::Range<usize>,
        noise: &PitchNoise,
        held: &mut f32,
        out: &mut [f32],
    ) -> Result<usize, FeatureError> {
        self.track(signal, frames, noise, held, None, out)
    }

    /// Pitch values of the first `frames` frames of `signal[range]` (an utterance trimmed
    /// out of `signal`) with the noise estimated from the whole of `signal`: the values of
    /// [`PitchTracker::noise_estimate`]`(signal)` then
    /// [`PitchTracker::process_frames_into`]`(&signal[range], ..)`, bit for bit, without
    /// computing again the frames the estimate computed (those whose samples all lie inside
    /// `range`, when `range.start` is on the frame grid). Returns the frame count.
    ///
    /// # Errors
    /// [`FeatureError::OutputTooSmall`] when `out` is short;
    /// [`FeatureError::InvalidConfig`] for a `range` outside `signal`.
    pub fn process_trimmed_into(
        &mut self,
        signal: &[f32],
        range: std::ops::Range<usize>,
        frames: usize,
        out: &mut [f32],
    ) -> Result<usize, FeatureError> {
        let Some(trimmed) = signal.get(range.clone()) else {
            return Err(FeatureError::InvalidConfig {
                field: "range",
                value: format!("{range:?} of {} samples", signal.len()),
                reason: "must lie inside the signal",
            });
        };
        let noise = self.noise_estimate(signal);
        let hop = self.config.hop_length;
        let shift = range.start.is_multiple_of(hop).then_some(range.start / hop);
        let mut held = UNVOICED_START;
        self.track(trimmed, 0..frames, &noise, &mut held, shift, out)
    }

    /// [`PitchTracker::process_range_into`]; with `shift`, frame `t` of `signal` whose
    /// samples all lie inside it is frame `t + shift` of the signal the last
    /// [`PitchTracker::noise_estimate`] computed, and its difference function is copied.
    fn track(
        &mut self,
        signal: &[f32],
        frames: std::ops::Range<usize>,
        noise: &PitchNoise,
        held: &mut f32,
        shift: Option<usize>,
        out: &mut [f32],
    ) -> Result<usize, FeatureError> {
        let n = self.config.n_frames(signal.len());
        let frames = frames.start.min(n)..frames.end.min(n);
        let needed = frames.len() * PITCH_VALUES;
        if out.len() < needed {
            return Err(FeatureError::OutputTooSmall {
                needed,
                got: out.len(),
            });
        }
        let lags = self.tau_max + 1;
        // Frames whose samples all lie inside `signal`: `inner`, copied with a shift.
        let inner = match shift {
            Some(_) => self.inner_frames(signal.len()),
            None => 0..0,
        };
        for first in frames.clone().step_by(CHUNK_FRAMES) {
            let count = CHUNK_FRAMES.min(frames.end - first);
            let end = first + count;
            self.differences.clear();
            let copied = inner.start.clamp(first, end)..inner.end.clamp(first, end);
            if copied.is_empty() {
                self.differences_of(signal, first, count);
            } else {
                if copied.start > first {
                    self.differences_of(signal, first, copied.start - first);
                }
                let at = copied.start + shift.unwrap_or(0) - self.noise_from;
                self.differences
                    .extend_from_slice(&self.noise_frames[at * lags..(at + copied.len()) * lags]);
                if copied.end < end {
                    self.differences_of(signal, copied.end, end - copied.end);
                }
            }
            let at = (first - frames.start) * PITCH_VALUES;
            let chunk = &mut out[at..at + count * PITCH_VALUES];
            for (t, dst) in chunk.chunks_exact_mut(PITCH_VALUES).enumerate() {
                let frame = &self.differences[t * lags..(t + 1) * lags];
                let diff = &mut self.diff[1..=lags];
                if noise.differences.len() == lags {
                    for ((d, &a), &n) in diff.iter_mut().zip(frame).zip(&noise.differences) {
                        *d = (a - n).max(noise.floor);
                    }
                } else {
                    diff.copy_from_slice(frame);
                }
                let (f0, normalised) = self.estimate();
                if let Some(f0) = f0 {
                    *held = (f0 / 100.0).log2();
                }
                dst[0] = *held;
                dst[1] = (1.0 - normalised).clamp(0.0, 1.0);
            }
        }
        Ok(frames.len())
    }

    /// Samples a frame reads after its centre (the frame is final once they arrived).
    #[must_use]
    pub fn reach(&self) -> usize {
        let lags = self.tau_max + 1;
        self.window + lags - (self.window + lags) / 2
    }

    /// Where frame 0's centre lies in the signal: 0 when centred, else `n_fft / 2`.
    fn centre_offset(&self) -> usize {
        if self.config.center {
            0
        } else {
            self.config.n_fft / 2
        }
    }

    /// The frames of a signal of `len` samples whose span (half the window and the lags
    /// each side of the centre) lies inside it; not bounded by the frame count.
    fn inner_frames(&self, len: usize) -> std::ops::Range<usize> {
        let lags = self.tau_max + 1;
        let lead = (self.window + lags) / 2;
        let (offset, reach) = (self.centre_offset(), self.reach());
        if len < offset + reach {
            return 0..0;
        }
        let hop = self.config.hop_length;
        lead.saturating_sub(offset).div_ceil(hop)..(len - offset - reach) / hop + 1
    }

    /// The steady noise under `signal` (an utterance with its pauses, or the room alone):
    /// the mean difference function of its quietest [`NOISE_QUIETEST`] frames, ranked by
    /// their difference functions' sums (about twice their energy). Frames whose samples
    /// reach past the signal's ends are left out unless nothing else is left. Silence for an
    /// empty signal.
    pub fn noise_estimate(&mut self, signal: &[f32]) -> PitchNoise {
        let lags = self.tau_max + 1;
        let n = self.config.n_frames(signal.len());
        let inner = self.inner_frames(signal.len());
        let (from, to) = if inner.start < inner.end.min(n) {
            (inner.start, inner.end.min(n))
        } else {
            (0, n)
        };
        self.order.clear();
        let mut noise = vec![0.0f32; lags];
        let mut kept = std::mem::take(&mut self.noise_frames);
        kept.clear();
        self.noise_from = from;
        for first in (from..to).step_by(CHUNK_FRAMES) {
            let count = CHUNK_FRAMES.min(to - first);
            self.differences.clear();
            self.differences_of(signal, first, count);
            for (t, frame) in self.differences.chunks_exact(lags).enumerate() {
                self.order.push((frame.iter().sum(), first + t));
            }
            kept.extend_from_slice(&self.differences);
        }
        if self.order.is_empty() {
            self.noise_frames = kept;
            return PitchNoise::silence();
        }
        let k =
            ((self.order.len() as f32 * NOISE_QUIETEST).ceil() as usize).clamp(1, self.order.len());
        self.order
            .sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for &(_, t) in &self.order[..k] {
            let frame = &kept[(t - from) * lags..(t - from + 1) * lags];
            for (m, &d) in noise.iter_mut().zip(frame) {
                *m += d / k as f32;
            }
        }
        self.noise_frames = kept;
        let floor = NOISE_FLOOR * noise.iter().sum::<f32>() / lags as f32;
        PitchNoise {
            differences: noise,
            floor,
        }
    }

    /// The difference functions of frames `first..first + count` (`count >= 1`) of `signal`
    /// appended to `self.differences`, `tau_max + 1` lags each.
    fn differences_of(&mut self, signal: &[f32], first: usize, count: usize) {
        let offset = self.centre_offset();
        // Frame t reads `span` samples from its centre minus `span / 2`: the window is the
        // first `window` of them, the lags reach the rest.
        let lags = self.tau_max + 1;
        let lead = (self.window + lags) / 2;
        let hop = self.config.hop_length;
        let per_hop = hop / self.block;
        let per_window = self.window / self.block;
        // The chunk's samples, zeros outside the signal, from its first frame's start.
        let start = (first * hop + offset) as isize - lead as isize;
        let n_blocks = (count - 1) * per_hop + per_window;
        let len = n_blocks * self.block + lags;
        self.padded.clear();
        self.padded.extend((0..len as isize).map(|i| {
            usize::try_from(start + i)
                .ok()
                .and_then(|i| signal.get(i))
                .copied()
                .unwrap_or(0.0)
        }));
        self.blocks.resize(n_blocks * lags, 0.0);
        block_differences(
            &self.padded,
            self.block,
            lags,
            &mut self.blocks[..n_blocks * lags],
        );
        for t in 0..count {
            let rows = &self.blocks[t * per_hop * lags..(t * per_hop + per_window) * lags];
            let at = self.differences.len();
            self.differences.extend_from_slice(&rows[..lags]);
            let diff = &mut self.differences[at..];
            for row in rows.chunks_exact(lags).skip(1) {
                for (d, &r) in diff.iter_mut().zip(row) {
                    *d += r;
                }
            }
        }
    }

    /// YIN on `self.diff` (the difference function for lags `1..=tau_max + 1`): the
    /// fundamental (when voiced) and the lowest normalised difference in the search range.
    fn estimate(&mut self) -> (Option<f32>, f32) {
        if !normalise_differences(&mut self.diff[..=self.tau_max + 1]) {
            return (None, 1.0);
        }
        let d = &self.diff;
        let (dip, best) = yin_choice(d, self.tau_min, self.tau_max, YIN_THRESHOLD);
        let lowest = d[best];
        // The first dip under the threshold, followed to its minimum; else no pitch.
        let Some(tau) = dip else {
            return (None, lowest);
        };
        (
            Some(self.config.sample_rate as f32 / parabolic(d, tau)),
            lowest,
        )
    }
}

/// YIN's cumulative-mean normalisation of a difference function in place (`diff[tau]` for
/// lags `tau` from 1; `diff[0]` is left alone): `d'(tau) = d(tau) tau / sum_{k <= tau} d(k)`,
/// 1 while that sum is still 0. Returns `false` when the whole function is 0 (silence).
pub(crate) fn normalise_differences(diff: &mut [f32]) -> bool {
    let mut running = 0.0f32;
    let mut silent = true;
    for (tau, d) in diff.iter_mut().enumerate().skip(1) {
        running += *d;
        if running > 1e-12 {
            silent = false;
            *d *= tau as f32 / running;
        } else {
            *d = 1.0;
        }
    }
    !silent
}

/// The lags YIN considers in `lo..=hi` of a normalised difference function `d`: the first
/// one under `threshold` followed down to its minimum (`None` when none is under it), and
/// the lowest (the first of equals).
pub(crate) fn yin_choice(
    d: &[f32],
    lo: usize,
    hi: usize,
    threshold: f32,
) -> (Option<usize>, usize) {
    let mut best = lo;
    for tau in lo..=hi {
        if d[tau] < d[best] {
            best = tau;
        }
    }
    let dip = (lo..=hi).find(|&t| d[t] < threshold).map(|mut tau| {
        while tau < hi && d[tau + 1] < d[tau] {
            tau += 1;
        }
        tau
    });
    (dip, best)
}

/// The lag `tau` (at least 1, with `d[tau + 1]` present) moved to the vertex of the parabola
/// through its neighbours' values, by at most half a lag.
pub(crate) fn parabolic(d: &[f32], tau: usize) -> f32 {
    let (l, c, r) = (d[tau - 1], d[tau], d[tau + 1]);
    let curve = l + r - 2.0 * c;
    let shift = if curve > 1e-9 {
        (0.5 * (l - r) / curve).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    tau as f32 + shift
}

/// Greatest common divisor.
fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

/// For each block `k` of `block` samples of `x` (from `k * block`), the sums over it of
/// `(x[j] - x[j + tau])^2` for `tau` in `1..=lags`, into row `k` of `out` (`lags` values a
/// row). `x` holds at least `rows * block + lags` samples.
fn block_differences(x: &[f32], block: usize, lags: usize, out: &mut [f32]) {
    struct Op<'a> {
        x: &'a [f32],
        block: usize,
        lags: usize,
        out: &'a mut [f32],
    }
    impl pulp::WithSimd for Op<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) {
            for (k, row) in self.out.chunks_exact_mut(self.lags).enumerate() {
                row.fill(0.0);
                for j in k * self.block..(k + 1) * self.block {
                    let xj = self.x[j];
                    for (acc, &y) in row.iter_mut().zip(&self.x[j + 1..j + 1 + self.lags]) {
                        let d = xj - y;
                        *acc += d * d;
                    }
                }
            }
        }
    }
    pulp::Arch::new().dispatch(Op {
        x,
        block,
        lags,
        out,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` harmonics of `f0`, the `k`-th at `amplitude / k` and phase `k * phase`.
    fn harmonics(f0: f32, count: usize, seconds: f32, amplitude: f32, phase: f32) -> Vec<f32> {
        let n = (16_000.0 * seconds) as usize;
        (0..n)
            .map(|i| {
                let t = i as f32 / 16_000.0;
                (1..=count)
                    .map(|k| {
                        let k = k as f32;
                        (2.0 * std::f32::consts::PI * f0 * k * t + k * phase).sin() * amplitude / k
                    })
                    .sum()
            })
            .collect()
    }

    fn voiced(f0: f32, seconds: f32) -> Vec<f32> {
        harmonics(f0, 5, seconds, 0.3, 0.0)
    }

    fn track(signal: &[f32]) -> Vec<f32> {
        let config = MfccConfig::default();
        let mut tracker = PitchTracker::new(config.clone()).unwrap();
        let mut out = vec![0.0; config.n_frames(signal.len()) * PITCH_VALUES];
        tracker.process_into(signal, &mut out).unwrap();
        out
    }

    #[test]
    fn finds_the_fundamental_of_a_harmonic_tone() {
        for f0 in [80.0f32, 120.0, 220.0, 450.0] {
            // Inside silence, as an utterance is (the quietest frames are the noise's).
            let silence = vec![0.0; 4_000];
            let out = track(&[&silence[..], &voiced(f0, 0.5), &silence].concat());
            // Frames well inside the tone.
            for frame in out.chunks_exact(2).skip(30).take(35) {
                let got = 100.0 * frame[0].exp2();
                assert!((got - f0).abs() < f0 * 0.01, "f0 {f0}: got {got}");
                assert!(frame[1] > 0.9, "periodicity {}", frame[1]);
            }
        }
    }

    #[test]
    fn silence_and_noise_are_unvoiced_and_hold_the_pitch() {
        let mut signal = vec![0.0; 8000];
        signal.extend(voiced(200.0, 0.3));
        let mut state = 12345u32;
        signal.extend((0..8000).map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1 << 24) as f32 - 0.5
        }));
        let out = track(&signal);
        let frames: Vec<&[f32]> = out.chunks_exact(2).collect();
        assert_eq!(frames[10], [UNVOICED_START, 0.0]);
        let last = frames[frames.len() - 5];
        assert!(
            (100.0 * last[0].exp2() - 200.0).abs() < 2.0,
            "held {last:?}"
        );
        assert!(last[1] < 0.5, "noise periodicity {}", last[1]);
    }

    /// 60 Hz hum and its harmonics, amplitudes falling as `1 / k`.
    fn hum(seconds: f32, amplitude: f32) -> Vec<f32> {
        harmonics(60.0, 30, seconds, amplitude, 1.0)
    }

    #[test]
    fn a_voice_over_steady_hum_is_tracked_and_the_hum_alone_is_not_voiced() {
        // 0.8 s of hum, then a 200 Hz voice over it for 1 s, then hum again; the hum about
        // 10 dB under the voice.
        let mut signal = hum(2.6, 0.075);
        for (s, v) in signal[12_800..28_800].iter_mut().zip(voiced(200.0, 1.0)) {
            *s += v;
        }
        let out = track(&signal);
        let frames: Vec<&[f32]> = out.chunks_exact(2).collect();
        for frame in &frames[10..70] {
            assert_eq!(frame[0], UNVOICED_START, "hum read as a voice: {frame:?}");
            assert!(frame[1] < 0.5, "hum periodicity {}", frame[1]);
        }
        for frame in &frames[90..170] {
            let got = 100.0 * frame[0].exp2();
            assert!((got - 200.0).abs() < 3.0, "voice over hum: got {got}");
            assert!(frame[1] > 0.7, "voice periodicity {}", frame[1]);
        }
        for frame in &frames[190..250] {
            assert!(
                frame[1] < 0.5,
                "hum periodicity after the voice {}",
                frame[1]
            );
        }
    }

    /// The difference function of frame `t`, summed directly over its window.
    fn direct(tracker: &PitchTracker, signal: &[f32], t: usize) -> Vec<f32> {
        let config = &tracker.config;
        let offset = if config.center { 0 } else { config.n_fft / 2 };
        let lags = tracker.tau_max + 1;
        let span = tracker.window + lags;
        let at = |i: isize| {
            usize::try_from(i)
                .ok()
                .and_then(|i| signal.get(i))
                .copied()
                .unwrap_or(0.0)
        };
        let start = (t * config.hop_length + offset) as isize - (span / 2) as isize;
        (1..=lags)
            .map(|tau| {
                (0..tracker.window as isize)
                    .map(|j| {
                        let d = at(start + j) - at(start + j + tau as isize);
                        d * d
                    })
                    .sum()
            })
            .collect()
    }

    /// Frame by frame from [`direct`], `noise` subtracted, the first `frames` frames.
    fn reference(
        tracker: &mut PitchTracker,
        signal: &[f32],
        frames: usize,
        noise: &PitchNoise,
    ) -> Vec<f32> {
        let n = tracker.config.n_frames(signal.len()).min(frames);
        let mut held = UNVOICED_START;
        let mut out = Vec::new();
        for t in 0..n {
            let frame = direct(tracker, signal, t);
            for (tau, &a) in frame.iter().enumerate() {
                tracker.diff[tau + 1] = match noise.differences.get(tau) {
                    Some(&m) => (a - m).max(noise.floor),
                    None => a,
                };
            }
            let (f0, normalised) = tracker.estimate();
            if let Some(f0) = f0 {
                held = (f0 / 100.0).log2();
            }
            out.extend([held, (1.0 - normalised).clamp(0.0, 1.0)]);
        }
        out
    }

    /// Noisy voices at two pitches, long enough for three chunks of frames.
    fn noisy_voices() -> Vec<f32> {
        let mut state = 99u32;
        let mut noisy = vec![0.0; 3_000];
        noisy.extend(voiced(140.0, 1.4));
        noisy.extend(voiced(310.0, 1.2));
        for v in &mut noisy {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *v += 0.05 * ((state >> 8) as f32 / (1 << 24) as f32 - 0.5);
        }
        noisy
    }

    #[test]
    fn the_noise_is_the_mean_of_the_quietest_inner_frames() {
        let signal = noisy_voices();
        let config = MfccConfig::default();
        let mut tracker = PitchTracker::new(config.clone()).unwrap();
        let noise = tracker.noise_estimate(&signal);
        // Frames 3 to n - 4 have their whole span (334 samples before the centre, 334
        // after) inside the signal.
        let n = config.n_frames(signal.len());
        let frames: Vec<Vec<f32>> = (3..n - 3).map(|t| direct(&tracker, &signal, t)).collect();
        let mut loudness: Vec<(f32, usize)> = frames
            .iter()
            .map(|d| d.iter().sum::<f32>())
            .zip(0..)
            .collect();
        loudness.sort_by(|a, b| a.0.total_cmp(&b.0));
        let quietest = &loudness[..frames.len().div_ceil(5)];
        assert_eq!(noise.differences.len(), tracker.tau_max + 1);
        for (tau, &got) in noise.differences.iter().enumerate() {
            let want =
                quietest.iter().map(|&(_, t)| frames[t][tau]).sum::<f32>() / quietest.len() as f32;
            assert!(
                (got - want).abs() <= 1e-3 * want,
                "lag {}: {got} against {want}",
                tau + 1
            );
        }
        let mean = noise.differences.iter().sum::<f32>() / noise.differences.len() as f32;
        assert!((noise.floor - NOISE_FLOOR * mean).abs() < 1e-6 * mean);
        // Nothing to estimate from: silence.
        for empty in [&[][..], &[0.0; 1_000]] {
            let noise = tracker.noise_estimate(empty);
            assert_eq!(noise.floor, 0.0);
            assert!(noise.differences.iter().all(|&d| d == 0.0));
        }
    }

    /// The default frame grid, and one with an odd hop and no centring.
    fn grids() -> [MfccConfig; 2] {
        let odd = MfccConfig {
            hop_length: 150,
            center: false,
            ..MfccConfig::default()
        };
        [MfccConfig::default(), odd]
    }

    #[test]
    fn block_sums_equal_the_frame_by_frame_difference() {
        let noisy = noisy_voices();
        for config in grids() {
            for signal in [&noisy[..], &noisy[..4_234], &noisy[..90]] {
                let mut tracker = PitchTracker::new(config.clone()).unwrap();
                let n = config.n_frames(signal.len());
                let noise = tracker.noise_estimate(signal);
                let mut fast = vec![0.0; n * PITCH_VALUES];
                assert_eq!(
                    tracker
                        .process_frames_into(signal, usize::MAX, &noise, &mut fast)
                        .unwrap(),
                    n
                );
                let mut own = vec![0.0; n * PITCH_VALUES];
                tracker.process_into(signal, &mut own).unwrap();
                assert_eq!(own, fast);
                // The first frames alone are the same values.
                let k = n.min(150);
                let mut first = vec![0.0; k * PITCH_VALUES];
                assert_eq!(
                    tracker
                        .process_frames_into(signal, k, &noise, &mut first)
                        .unwrap(),
                    k
                );
                assert_eq!(first[..], fast[..k * PITCH_VALUES]);
                for noise in [noise, PitchNoise::silence()] {
                    let mut fast = vec![0.0; n * PITCH_VALUES];
                    tracker
                        .process_frames_into(signal, usize::MAX, &noise, &mut fast)
                        .unwrap();
                    let slow = reference(&mut tracker, signal, usize::MAX, &noise);
                    assert_eq!(fast.len(), slow.len());
                    for (i, (a, b)) in fast.iter().zip(&slow).enumerate() {
                        assert!(
                            (a - b).abs() < 1e-3,
                            "{config:?} value {i}: {a} against {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_trimmed_utterance_reuses_the_estimates_frames_bit_for_bit() {
        let noisy = noisy_voices();
        for config in grids() {
            let mut tracker = PitchTracker::new(config.clone()).unwrap();
            let hop = config.hop_length;
            // On the frame grid, off it, the whole signal, a short piece, a piece at the end.
            for range in [
                12 * hop..noisy.len() - 7 * hop,
                1_234..30_000,
                0..noisy.len(),
                40 * hop..40 * hop + 900,
                noisy.len() - 5_000..noisy.len(),
            ] {
                for frames in [usize::MAX, 150] {
                    let noise = tracker.noise_estimate(&noisy);
                    let n = config.n_frames(range.len()).min(frames);
                    let mut want = vec![0.0; n * PITCH_VALUES];
                    tracker
                        .process_frames_into(&noisy[range.clone()], frames, &noise, &mut want)
                        .unwrap();
                    let mut got = vec![0.0; n * PITCH_VALUES];
                    assert_eq!(
                        tracker
                            .process_trimmed_into(&noisy, range.clone(), frames, &mut got)
                            .unwrap(),
                        n
                    );
                    assert_eq!(got, want, "{config:?} {range:?} {frames}");
                }
            }
            assert!(matches!(
                tracker.process_trimmed_into(&noisy, 10..noisy.len() + 1, 5, &mut [0.0; 10]),
                Err(FeatureError::InvalidConfig { field: "range", .. })
            ));
        }
    }

    #[test]
    fn short_output_is_an_error() {
        let config = MfccConfig::default();
        let mut tracker = PitchTracker::new(config).unwrap();
        assert!(matches!(
            tracker.process_into(&[0.1; 1600], &mut [0.0; 3]),
            Err(FeatureError::OutputTooSmall { needed: 22, got: 3 })
        ));
    }
}
