//! Frame levels (dBFS, mean removed) and [`trim_silence`] for whole clips: what the
//! segmenter, the silence trim and the streaming model input measure loudness with.

use super::*;

/// Level of a frame in dBFS, mean removed; non-finite samples count as 0.
///
/// Two passes over the frame (its mean, then the power around it) in sixteen independent
/// `f32` lanes, combined in `f64`: the lanes pipeline and vectorise instead of waiting on
/// one running sum per sample (whole-clip trimming reads every sample of an utterance
/// through here), and removing the mean first keeps a large DC offset from cancelling the
/// power away.
///
/// Runs under `pulp`'s dispatch (the widest SIMD the CPU has); the lanes' arithmetic is the
/// same at every width, so every CPU gets the same value. [`frame_levels_db`] levels a whole
/// clip with one dispatch.
pub(crate) fn frame_level_db(frame: &[f32]) -> f32 {
    struct Op<'a>(&'a [f32]);
    impl pulp::WithSimd for Op<'_> {
        type Output = f32;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) -> f32 {
            level_of(self.0)
        }
    }
    pulp::Arch::new().dispatch(Op(frame))
}

/// [`frame_level_db`] of each `frame_len`-sample frame of `samples` (the last possibly
/// partial), in one SIMD dispatch.
pub(crate) fn frame_levels_db(samples: &[f32], frame_len: usize) -> Vec<f32> {
    struct Op<'a>(&'a [f32], usize);
    impl pulp::WithSimd for Op<'_> {
        type Output = Vec<f32>;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) -> Vec<f32> {
            let mut levels = Vec::with_capacity(self.0.len().div_ceil(self.1.max(1)));
            for frame in self.0.chunks(self.1.max(1)) {
                levels.push(level_of(frame));
            }
            levels
        }
    }
    pulp::Arch::new().dispatch(Op(samples, frame_len))
}

#[inline(always)]
fn level_of(frame: &[f32]) -> f32 {
    const LANES: usize = 16;
    #[inline(always)]
    fn lanes(frame: &[f32], f: impl Fn(f32) -> f32) -> f64 {
        let mut acc = [0.0f32; LANES];
        let mut chunks = frame.chunks_exact(LANES);
        for chunk in &mut chunks {
            for (a, &x) in acc.iter_mut().zip(chunk) {
                *a += f(x);
            }
        }
        for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
            *a += f(x);
        }
        acc.iter().map(|&a| f64::from(a)).sum()
    }
    if frame.is_empty() {
        return SILENCE_DB;
    }
    let n = frame.len() as f64;
    let mean = (lanes(frame, |x| x) / n) as f32;
    if mean.is_finite() {
        let power = lanes(frame, |x| (x - mean) * (x - mean)) / n;
        if power.is_finite() {
            return power_db(power);
        }
    }
    // A non-finite sample (or one so large its square overflows): again, in f64, with
    // non-finite samples as 0.
    let mean = lanes_f64(frame, |x| x) / n;
    power_db(lanes_f64(frame, |x| (x - mean) * (x - mean)) / n)
}

fn lanes_f64(frame: &[f32], f: impl Fn(f64) -> f64) -> f64 {
    frame.iter().map(|&x| f(f64::from(sanitize(x)))).sum()
}

pub(super) fn level_db(sum: f64, sum_sq: f64, n: usize) -> f32 {
    if n == 0 {
        return SILENCE_DB;
    }
    let n = n as f64;
    let mean = sum / n;
    power_db(sum_sq / n - mean * mean)
}

fn power_db(power: f64) -> f32 {
    if power > 1e-12 {
        (10.0 * power.log10()) as f32
    } else {
        SILENCE_DB
    }
}

pub(super) fn sanitize(x: f32) -> f32 {
    if x.is_finite() { x } else { 0.0 }
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
    let frame_len = config.frame_samples(sample_rate).max(1);
    // Each frame's level once: the loudest frame, then the first and last loud ones.
    let levels = frame_levels_db(samples, frame_len);
    trim_by_levels(
        levels.len(),
        |i| levels[i],
        frame_len,
        samples.len(),
        config,
    )
}

/// [`trim_silence`] of a clip of `n_samples` samples given the level of each of its
/// `n_frames` frames of `frame_len` samples (`level(i)`, the last frame possibly partial):
/// what [`crate::model::InputStream`] applies to the frames it has seen so far.
pub(crate) fn trim_by_levels(
    n_frames: usize,
    level: impl Fn(usize) -> f32,
    frame_len: usize,
    n_samples: usize,
    config: &VadConfig,
) -> Range<usize> {
    let loudest = (0..n_frames).map(&level).fold(SILENCE_DB, f32::max);
    let (threshold_db, abs_floor_db) = config.effective_thresholds();
    // `!(a > b)` so that NaN settings also give the empty range.
    #[expect(
        clippy::neg_cmp_op_on_partial_ord,
        reason = "NaN settings must give the empty range too"
    )]
    if !(loudest > abs_floor_db) {
        return 0..0;
    }
    let cut = (loudest - config.trim_top_db).max(abs_floor_db - threshold_db);
    let loud = |i: &usize| level(*i) > cut;
    let first = (0..n_frames).find(loud);
    let last = (0..n_frames).rev().find(loud);
    match (first, last) {
        (Some(first), Some(last)) => {
            (first * frame_len).min(n_samples)..((last + 1) * frame_len).min(n_samples)
        }
        _ => 0..0,
    }
}
