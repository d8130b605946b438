//! The MFCC front end, on rustfft, matching librosa.
//!
//! [`MfccConfig::default`] is the engine's reference configuration. On the same 16 kHz float
//! signal it equals
//! `librosa.feature.mfcc(y=y, sr=16000, n_mfcc=40, n_fft=512, win_length=400, hop_length=160,
//! n_mels=64, fmax=8000)`: centred frames with zero padding, a periodic Hann window of
//! `win_length` centred in `n_fft`, power spectrum, Slaney mel scale and area normalisation,
//! `power_to_db` (ref 1, amin 1e-10, top_db 80 below the clip's maximum) and an orthonormal
//! DCT-II. `core/tests/librosa_match.rs` checks this against fixtures made by librosa 0.11.
//!
//! [`Mfcc`] plans the FFT once and keeps the window, the (sparse) mel filterbank, the DCT
//! matrix and every scratch buffer, so [`Mfcc::process_into`] does not allocate once its
//! log-mel buffer has grown to the longest clip seen (or was sized by [`Mfcc::reserve_frames`]).

use std::ops::Range;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};

mod config;
pub(crate) mod pitch;
mod suppression;
pub use config::MfccConfig;
pub use pitch::{
    F0_MAX, F0_MIN, NOISE_FLOOR, NOISE_QUIETEST, PITCH_VALUES, PitchNoise, PitchTracker,
    UNVOICED_START, YIN_THRESHOLD,
};
pub use suppression::{NoiseSuppression, Subtraction};

/// Errors of the feature front end. Each carries the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureError {
    /// A configuration field is out of range.
    #[error("invalid MFCC configuration: {field} = {value} ({reason})")]
    InvalidConfig {
        /// The field name.
        field: &'static str,
        /// Its value, formatted.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The signal has no samples.
    #[error("cannot compute features of an empty signal")]
    EmptySignal,
    /// A sample is NaN or infinite.
    #[error("sample {index} of the signal is not finite ({value})")]
    NonFinite {
        /// Index of the first bad sample.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// The output buffer given to a `*_into` call is too small.
    #[error("output buffer holds {got} values but {needed} are needed")]
    OutputTooSmall {
        /// Values needed.
        needed: usize,
        /// Values provided.
        got: usize,
    },
}

/// A frame-major matrix of features: `n_frames` rows of `n_features` values.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FeatureMatrix {
    /// Row-major values, `n_frames * n_features` long.
    pub data: Vec<f32>,
    /// Rows (time frames).
    pub n_frames: usize,
    /// Columns (coefficients).
    pub n_features: usize,
}

impl FeatureMatrix {
    /// Row `t` (one frame), or `None` past the end.
    #[must_use]
    pub fn frame(&self, t: usize) -> Option<&[f32]> {
        self.data
            .get(t * self.n_features..(t + 1) * self.n_features)
    }

    /// Iterates over frames.
    pub fn frames(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.n_features.max(1))
    }

    /// Writes the matrix as CSV: a header `c0,...,cN-1`, then one row per frame.
    ///
    /// # Errors
    /// Any error of `out`.
    pub fn write_csv(&self, mut out: impl std::io::Write) -> std::io::Result<()> {
        let header: Vec<String> = (0..self.n_features).map(|i| format!("c{i}")).collect();
        writeln!(out, "{}", header.join(","))?;
        let mut line = String::new();
        for frame in self.frames() {
            line.clear();
            for (i, v) in frame.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                // Plain decimal (never exponent notation), 6 decimals.
                line.push_str(&format!("{v:.6}"));
            }
            writeln!(out, "{line}")?;
        }
        Ok(())
    }
}

/// A sparse triangular mel filter: weights for FFT bins `start..start + weights.len()`.
#[derive(Debug, Clone)]
struct MelBand {
    start: usize,
    weights: Vec<f32>,
}

/// The MFCC / log-mel extractor. Create once, reuse for every clip.
pub struct Mfcc {
    config: MfccConfig,
    /// Complex FFT of `n_fft`; two real frames go through it at once (one as the real part,
    /// the next as the imaginary part) and are separated by symmetry, which costs less than
    /// a real-input FFT per frame.
    fft: Arc<dyn Fft<f32>>,
    /// Hann window of `win_length`, the part of the `n_fft` frame that is non-zero.
    window: Vec<f32>,
    /// Offset of the window inside the FFT frame.
    window_offset: usize,
    bands: Vec<MelBand>,
    dct: PairedDct,
    /// The two windowed frames of a pair.
    frame_a: Vec<f32>,
    frame_b: Vec<f32>,
    buffer: Vec<Complex<f32>>,
    fft_scratch: Vec<Complex<f32>>,
    /// Power spectra of a block of [`BLOCK`] frames, bin-major (`[bin][frame]`), so the mel
    /// filterbank works on all frames of the block in one vector operation.
    power: Vec<[f32; BLOCK]>,
    /// One FFT pair's power spectra, bin after bin (before they go to `power`'s lanes).
    pair_power: Vec<[f32; 2]>,
    /// Mel energies of the block, band-major.
    mel: Vec<[f32; BLOCK]>,
    log_mel: Vec<f32>,
}

/// Frames processed together (four FFT pairs).
const BLOCK: usize = 8;

impl std::fmt::Debug for Mfcc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mfcc")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Mfcc {
    /// Plans the FFT and builds the window, mel filterbank and DCT for `config`.
    ///
    /// # Errors
    /// [`FeatureError::InvalidConfig`] when `config` does not validate.
    pub fn new(config: MfccConfig) -> Result<Self, FeatureError> {
        config.validate()?;
        let fft = FftPlanner::<f32>::new().plan_fft_forward(config.n_fft);
        let n_bins = config.n_fft / 2 + 1;
        // Periodic Hann (scipy.signal.get_window('hann', N, fftbins=True)), computed in f64.
        let n = config.win_length as f64;
        let window = (0..config.win_length)
            .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos()) as f32)
            .collect();
        let window_offset = (config.n_fft - config.win_length) / 2;
        let bands = mel_filterbank(&config);
        let dct = PairedDct::new(config.n_mels, config.n_mfcc);
        Ok(Self {
            frame_a: vec![0.0; config.win_length],
            frame_b: vec![0.0; config.win_length],
            buffer: vec![Complex::default(); config.n_fft],
            fft_scratch: vec![Complex::default(); fft.get_inplace_scratch_len()],
            power: vec![[0.0; BLOCK]; n_bins],
            pair_power: vec![[0.0; 2]; n_bins],
            mel: vec![[0.0; BLOCK]; config.n_mels],
            log_mel: Vec::new(),
            fft,
            window,
            window_offset,
            bands,
            dct,
            config,
        })
    }

    /// The extractor's configuration.
    #[must_use]
    pub fn config(&self) -> &MfccConfig {
        &self.config
    }

    /// Frames produced for a signal of `n_samples` samples.
    #[must_use]
    pub fn n_frames(&self, n_samples: usize) -> usize {
        self.config.n_frames(n_samples)
    }

    /// Grows the internal log-mel buffer to hold `frames` frames, so that later calls on
    /// signals of up to that many frames never allocate (for real-time threads).
    pub fn reserve_frames(&mut self, frames: usize) {
        let needed = frames * self.config.n_mels;
        if self.log_mel.capacity() < needed {
            self.log_mel.reserve(needed - self.log_mel.len());
        }
    }

    /// Computes MFCCs into `out` (frame-major, `n_frames * n_mfcc` values) and returns the
    /// number of frames. Allocation-free once the internal buffer is large enough.
    ///
    /// # Errors
    /// [`FeatureError::EmptySignal`], [`FeatureError::NonFinite`] or
    /// [`FeatureError::OutputTooSmall`].
    pub fn process_into(&mut self, signal: &[f32], out: &mut [f32]) -> Result<usize, FeatureError> {
        self.process_with(signal, None, out)
    }

    /// [`Mfcc::process_into`], the mel power reduced by `subtraction` where given.
    fn process_with(
        &mut self,
        signal: &[f32],
        subtraction: Option<&Subtraction>,
        out: &mut [f32],
    ) -> Result<usize, FeatureError> {
        let n_frames = self.n_frames(signal.len());
        let n_mfcc = self.config.n_mfcc;
        let needed = n_frames * n_mfcc;
        if out.len() < needed {
            return Err(FeatureError::OutputTooSmall {
                needed,
                got: out.len(),
            });
        }
        self.compute_log_mel(signal, subtraction)?;
        let log_mel = std::mem::take(&mut self.log_mel);
        self.cepstra(
            &log_mel[..n_frames * self.config.n_mels],
            &mut out[..needed],
        );
        self.log_mel = log_mel;
        Ok(n_frames)
    }

    /// Computes MFCCs of `signal` into a new matrix (`n_frames x n_mfcc`).
    ///
    /// # Errors
    /// As [`Mfcc::process_into`].
    pub fn process(&mut self, signal: &[f32]) -> Result<FeatureMatrix, FeatureError> {
        let n_frames = self.n_frames(signal.len());
        let mut data = vec![0.0; n_frames * self.config.n_mfcc];
        self.process_into(signal, &mut data)?;
        Ok(FeatureMatrix {
            data,
            n_frames,
            n_features: self.config.n_mfcc,
        })
    }

    /// Computes the log-mel spectrogram in dB (`power_to_db` with the configured `top_db`)
    /// into `out` (frame-major, `n_frames * n_mels`) and returns the number of frames.
    ///
    /// # Errors
    /// As [`Mfcc::process_into`].
    pub fn log_mel_into(&mut self, signal: &[f32], out: &mut [f32]) -> Result<usize, FeatureError> {
        let n_frames = self.n_frames(signal.len());
        let needed = n_frames * self.config.n_mels;
        if out.len() < needed {
            return Err(FeatureError::OutputTooSmall {
                needed,
                got: out.len(),
            });
        }
        self.compute_log_mel(signal, None)?;
        out[..needed].copy_from_slice(&self.log_mel[..needed]);
        Ok(n_frames)
    }

    /// Computes the log-mel spectrogram in dB into a new matrix (`n_frames x n_mels`).
    ///
    /// # Errors
    /// As [`Mfcc::process_into`].
    pub fn log_mel(&mut self, signal: &[f32]) -> Result<FeatureMatrix, FeatureError> {
        let n_frames = self.n_frames(signal.len());
        let mut data = vec![0.0; n_frames * self.config.n_mels];
        self.log_mel_into(signal, &mut data)?;
        Ok(FeatureMatrix {
            data,
            n_frames,
            n_features: self.config.n_mels,
        })
    }

    /// Fills `self.log_mel` with `n_frames * n_mels` dB values, top_db applied, the mel
    /// power reduced by `subtraction` first where given.
    fn compute_log_mel(
        &mut self,
        signal: &[f32],
        subtraction: Option<&Subtraction>,
    ) -> Result<(), FeatureError> {
        check_signal(signal)?;
        let n_frames = self.n_frames(signal.len());
        let mut log_mel = std::mem::take(&mut self.log_mel);
        log_mel.resize(n_frames * self.config.n_mels, 0.0);
        let max_db = self.raw_log_mel_subtracted(signal, 0..n_frames, &mut log_mel, subtraction);
        if let Some(floor) = self.floor(max_db) {
            for v in &mut log_mel {
                *v = v.max(floor);
            }
        }
        self.log_mel = log_mel;
        Ok(())
    }

    /// The `top_db` clamp of a clip whose loudest mel value is `max_db`: values below the
    /// returned floor are raised to it (`None` without `top_db`).
    pub(crate) fn floor(&self, max_db: f32) -> Option<f32> {
        self.config.top_db.map(|top_db| max_db - top_db)
    }

    /// The log-mel rows (dB, before the `top_db` clamp) of frames `frames` of `signal` (a
    /// finite signal, framed as the configuration says) into `out` (`frames.len() * n_mels`
    /// values); returns their largest value. Frames go through the FFT in pairs counted from
    /// `frames.start`, the last of an odd count with silence, so a range starting at an even
    /// frame gives exactly the values of the whole signal's computation when it ends at an
    /// even frame or at the signal's last frame: what lets [`crate::model::InputStream`]
    /// compute frames as audio arrives.
    ///
    /// Runs with the widest SIMD the CPU has (`pulp::Arch`), so that the compiler vectorises
    /// the power spectrum, the mel sums and the logarithm for it. Every value is computed by
    /// the same operations in the same order at any width (the loops are lane-wise), so the
    /// results do not depend on the CPU.
    pub(crate) fn raw_log_mel(
        &mut self,
        signal: &[f32],
        frames: Range<usize>,
        out: &mut [f32],
    ) -> f32 {
        self.raw_log_mel_subtracted(signal, frames, out, None)
    }

    /// [`Mfcc::raw_log_mel`] with each band's mel power reduced by `subtraction` (where
    /// given) before the logarithm.
    pub(crate) fn raw_log_mel_subtracted(
        &mut self,
        signal: &[f32],
        frames: Range<usize>,
        out: &mut [f32],
        subtraction: Option<&Subtraction>,
    ) -> f32 {
        struct Op<'a> {
            mfcc: &'a mut Mfcc,
            signal: &'a [f32],
            frames: Range<usize>,
            out: &'a mut [f32],
            subtraction: Option<&'a Subtraction>,
        }
        impl pulp::WithSimd for Op<'_> {
            type Output = f32;
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _: S) -> f32 {
                self.mfcc
                    .raw_log_mel_with(self.signal, self.frames, self.out, self.subtraction)
            }
        }
        pulp::Arch::new().dispatch(Op {
            mfcc: self,
            signal,
            frames,
            out,
            subtraction,
        })
    }

    #[inline(always)]
    fn raw_log_mel_with(
        &mut self,
        signal: &[f32],
        frames: Range<usize>,
        out: &mut [f32],
        subtraction: Option<&Subtraction>,
    ) -> f32 {
        let n_mels = self.config.n_mels;
        let n_fft = self.config.n_fft;
        let hop = self.config.hop_length;
        // Index in `signal` of the first window sample of frame 0.
        let pad = if self.config.center { n_fft / 2 } else { 0 };
        let first = self.window_offset as isize - pad as isize;
        let (win_lo, win_hi) = (self.window_offset, self.window_offset + self.window.len());
        let mut max_db = f32::NEG_INFINITY;
        let n_frames = frames.len();
        for block in (0..n_frames).step_by(BLOCK) {
            let in_block = BLOCK.min(n_frames - block);
            for pair in (0..in_block).step_by(2) {
                let start = first + ((frames.start + block + pair) * hop) as isize;
                let win = self.window.len();
                let both = pair + 1 < in_block;
                let end = start + hop as isize * isize::from(both) + win as isize;
                self.buffer[..win_lo].fill(Complex::default());
                self.buffer[win_hi..].fill(Complex::default());
                if start >= 0 && end <= signal.len() as isize {
                    // Both frames lie inside the signal (nearly all of them): windowed straight
                    // into the FFT's input, in one pass.
                    let start = start as usize;
                    let (a, dst) = (&signal[start..][..win], &mut self.buffer[win_lo..win_hi]);
                    if both {
                        let b = &signal[start + hop..][..win];
                        for (((d, &x), &y), &w) in dst.iter_mut().zip(a).zip(b).zip(&self.window) {
                            *d = Complex::new(x * w, y * w);
                        }
                    } else {
                        for ((d, &x), &w) in dst.iter_mut().zip(a).zip(&self.window) {
                            *d = Complex::new(x * w, 0.0);
                        }
                    }
                } else {
                    windowed(signal, start, &self.window, &mut self.frame_a);
                    if both {
                        windowed(
                            signal,
                            start + hop as isize,
                            &self.window,
                            &mut self.frame_b,
                        );
                    } else {
                        self.frame_b.fill(0.0);
                    }
                    for ((d, &a), &b) in self.buffer[win_lo..win_hi]
                        .iter_mut()
                        .zip(&self.frame_a)
                        .zip(&self.frame_b)
                    {
                        *d = Complex::new(a, b);
                    }
                }
                self.fft
                    .process_with_scratch(&mut self.buffer, &mut self.fft_scratch);
                // z = a + i b  =>  A[k] = (Z[k] + conj Z[N-k]) / 2,  B[k] = (Z[k] - conj Z[N-k]) / 2i.
                // Bin 0 pairs with itself, bin k >= 1 with N - k.
                let z0 = self.buffer[0];
                self.power[0][pair] = z0.re * z0.re;
                self.power[0][pair + 1] = z0.im * z0.im;
                let n_bins = self.power.len();
                let mirrored = self.buffer[n_fft + 1 - n_bins..].iter().rev();
                // Computed along the bins into a contiguous scratch (vector arithmetic and
                // stores), then each bin's two values go to their lanes in one 8-byte store
                // (writing the lanes straight from the vector loop compiles to scatters).
                for ((p, z), c) in self.pair_power[1..n_bins]
                    .iter_mut()
                    .zip(&self.buffer[1..n_bins])
                    .zip(mirrored)
                {
                    let (sr, si) = (z.re + c.re, z.im - c.im);
                    let (dr, di) = (z.re - c.re, z.im + c.im);
                    *p = [0.25 * (sr * sr + si * si), 0.25 * (dr * dr + di * di)];
                }
                spread_pair(&mut self.power[1..], &self.pair_power[1..n_bins], pair);
            }
            // Lanes past `in_block` hold finite leftovers: computed, never stored or counted.
            for (m, band) in self.mel.iter_mut().zip(&self.bands) {
                let mut acc = [0.0f32; BLOCK];
                for (p, &w) in self.power[band.start..].iter().zip(&band.weights) {
                    for (a, &v) in acc.iter_mut().zip(p) {
                        *a += v * w;
                    }
                }
                *m = acc;
            }
            if let Some(sub) = subtraction {
                for ((m, &minus), &floor) in self.mel.iter_mut().zip(&sub.minus).zip(&sub.floor) {
                    for v in m.iter_mut() {
                        let left = *v - minus;
                        *v = if left > floor { left } else { floor };
                    }
                }
            }
            // Lane-wise maxima (no chain of dependent comparisons through every value).
            let mut top = [f32::NEG_INFINITY; BLOCK];
            for m in &mut self.mel {
                for (v, t) in m.iter_mut().zip(&mut top) {
                    *v = DB_PER_NEPER * ln_positive(if *v > AMIN { *v } else { AMIN });
                    *t = if *v > *t { *v } else { *t };
                }
            }
            for (f, &t) in top.iter().enumerate().take(in_block) {
                let row = &mut out[(block + f) * n_mels..(block + f + 1) * n_mels];
                for (r, m) in row.iter_mut().zip(&self.mel) {
                    *r = m[f];
                }
                max_db = if t > max_db { t } else { max_db };
            }
        }
        max_db
    }

    /// MFCCs of log-mel `rows` (`n_mels` values each, `top_db` clamp already applied) into
    /// `out` (`n_mfcc` each), rows transformed in pairs from the first as
    /// [`Mfcc::process_into`] pairs them; an odd last row goes alone.
    pub(crate) fn cepstra(&mut self, rows: &[f32], out: &mut [f32]) {
        let (n_mels, n_mfcc) = (self.config.n_mels, self.config.n_mfcc);
        let mut outs = out.chunks_exact_mut(n_mfcc);
        let mut rows = rows.chunks_exact(n_mels);
        while let Some(a) = rows.next() {
            let Some(ya) = outs.next() else { break };
            match rows.next() {
                Some(b) => {
                    let yb = outs.next();
                    self.dct.transform(a, Some(b), ya, yb);
                }
                None => self.dct.transform(a, None, ya, None),
            }
        }
    }
}

/// Writes each bin's pair of power values to lanes `pair` and `pair + 1` of `power`. Kept out
/// of the SIMD-dispatched code on purpose: there the compiler turns these strided stores into
/// scatter instructions (`perf` showed them as the loop's hottest part); here it emits plain
/// 8-byte stores, and the front end measured about 3% faster.
#[inline(never)]
fn spread_pair(power: &mut [[f32; BLOCK]], pair_power: &[[f32; 2]], pair: usize) {
    for (p, q) in power.iter_mut().zip(pair_power) {
        if let Some(lanes) = p.get_mut(pair..pair + 2) {
            lanes.copy_from_slice(q);
        }
    }
}

/// Whether no sample is NaN or infinite: an exponent-bits test OR-ed over the slice, which
/// vectorises (an early-exit search does not).
/// [`FeatureError::EmptySignal`] or [`FeatureError::NonFinite`] for a signal the front end
/// cannot take.
pub(crate) fn check_signal(signal: &[f32]) -> Result<(), FeatureError> {
    if signal.is_empty() {
        return Err(FeatureError::EmptySignal);
    }
    if !all_finite(signal)
        && let Some((index, &value)) = signal.iter().enumerate().find(|(_, v)| !v.is_finite())
    {
        return Err(FeatureError::NonFinite { index, value });
    }
    Ok(())
}

fn all_finite(signal: &[f32]) -> bool {
    const EXPONENT: u32 = 0x7f80_0000;
    signal.iter().fold(0u32, |acc, x| {
        acc | u32::from(x.to_bits() & EXPONENT == EXPONENT)
    }) == 0
}

/// Writes `signal[start..start + window.len()] * window` into `dst`, zero where the range
/// falls outside the signal (librosa's zero padding).
#[inline(always)]
fn windowed(signal: &[f32], start: isize, window: &[f32], dst: &mut [f32]) {
    let lo = (-start).clamp(0, window.len() as isize) as usize;
    let hi = (signal.len() as isize - start).clamp(lo as isize, window.len() as isize) as usize;
    dst[..lo].fill(0.0);
    dst[hi..].fill(0.0);
    if lo < hi {
        let src = &signal[(start + lo as isize) as usize..(start + hi as isize) as usize];
        for ((d, &s), &w) in dst[lo..hi].iter_mut().zip(src).zip(&window[lo..hi]) {
            *d = s * w;
        }
    }
}

/// `power_to_db`'s `amin`.
const AMIN: f32 = 1e-10;
/// `10 * log10(x) = DB_PER_NEPER * ln(x)`.
const DB_PER_NEPER: f32 = 10.0 / std::f32::consts::LN_10;

/// Natural logarithm of a positive, normal `f32`, branch-free so that loops over it vectorise
/// (libm's `log10f` does not, and was the front end's largest cost).
///
/// Splits `x = m * 2^e` with `m` in `[sqrt(1/2), sqrt(2))`, then
/// `ln(m) = 2 atanh(s)`, `s = (m - 1) / (m + 1)`, `|s| <= 0.1716`, by its series to `s^9`
/// (truncation error below `3e-8`); the result is within a few `f32` ulps of `ln`.
#[inline(always)]
fn ln_positive(x: f32) -> f32 {
    // Subtracting the bits of sqrt(1/2) splits x = m * 2^e with m in [sqrt(1/2), sqrt(2))
    // using integer arithmetic only (no branch, no select).
    const SQRT_HALF_BITS: u32 = 0x3f35_04f3;
    let t = x.to_bits().wrapping_sub(SQRT_HALF_BITS);
    let e = ((t as i32) >> 23) as f32;
    let m = f32::from_bits((t & 0x007f_ffff) + SQRT_HALF_BITS);
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = 2.0 + s2 * (2.0 / 3.0 + s2 * (2.0 / 5.0 + s2 * (2.0 / 7.0 + s2 * (2.0 / 9.0))));
    s * series + e * std::f32::consts::LN_2
}

/// Slaney mel scale (librosa `hz_to_mel(htk=False)`).
fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= MIN_LOG_HZ {
        min_log_mel + (hz / MIN_LOG_HZ).ln() / logstep
    } else {
        hz / F_SP
    }
}

/// Inverse of [`hz_to_mel`].
fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        MIN_LOG_HZ * (logstep * (mel - min_log_mel)).exp()
    } else {
        F_SP * mel
    }
}

/// Triangular mel filters with Slaney area normalisation, as `librosa.filters.mel`
/// (computed in f64, stored in f32), kept sparse.
fn mel_filterbank(config: &MfccConfig) -> Vec<MelBand> {
    let n_bins = config.n_fft / 2 + 1;
    let sr = f64::from(config.sample_rate);
    let fft_freqs: Vec<f64> = (0..n_bins)
        .map(|k| k as f64 * sr / config.n_fft as f64)
        .collect();
    let (mel_lo, mel_hi) = (
        hz_to_mel(f64::from(config.fmin)),
        hz_to_mel(f64::from(config.fmax)),
    );
    let n_pts = config.n_mels + 2;
    let mel_f: Vec<f64> = (0..n_pts)
        .map(|i| mel_to_hz(mel_lo + (mel_hi - mel_lo) * i as f64 / (n_pts - 1) as f64))
        .collect();
    (0..config.n_mels)
        .map(|i| {
            let (f0, f1, f2) = (mel_f[i], mel_f[i + 1], mel_f[i + 2]);
            let enorm = 2.0 / (f2 - f0);
            let dense: Vec<f32> = fft_freqs
                .iter()
                .map(|&f| {
                    let lower = (f - f0) / (f1 - f0);
                    let upper = (f2 - f) / (f2 - f1);
                    (lower.min(upper).max(0.0) * enorm) as f32
                })
                .collect();
            let start = dense.iter().position(|&w| w > 0.0).unwrap_or(0);
            let end = dense
                .iter()
                .rposition(|&w| w > 0.0)
                .map_or(start, |e| e + 1);
            MelBand {
                start,
                weights: dense[start..end].to_vec(),
            }
        })
        .collect()
}

/// Orthonormal DCT-II (scipy `dct(type=2, norm='ortho')`), first `n_out` coefficients, of two
/// real vectors at once through one complex FFT of length `n` (Makhoul's reordering: with
/// `v[i] = x[2i]`, `v[n-1-i] = x[2i+1]`, `X[k] = 2 s_k Re(e^{-i pi k / 2n} V[k])`). The two
/// inputs ride as the real and imaginary parts and are separated by conjugate symmetry.
struct PairedDct {
    n: usize,
    fft: Arc<dyn Fft<f32>>,
    /// `x` index feeding `v[i]`.
    order: Vec<usize>,
    /// `2 s_k e^{-i pi k / 2n}` for the kept coefficients.
    twiddle: Vec<Complex<f32>>,
    buffer: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl PairedDct {
    fn new(n: usize, n_out: usize) -> Self {
        let fft = FftPlanner::<f32>::new().plan_fft_forward(n);
        // Evens ascending, then odds descending.
        let order: Vec<usize> = (0..n).step_by(2).chain((1..n).step_by(2).rev()).collect();
        let twiddle = (0..n_out)
            .map(|k| {
                let scale = if k == 0 {
                    (1.0 / (4.0 * n as f64)).sqrt()
                } else {
                    (1.0 / (2.0 * n as f64)).sqrt()
                };
                let angle = -std::f64::consts::PI * k as f64 / (2.0 * n as f64);
                Complex::new(
                    (2.0 * scale * angle.cos()) as f32,
                    (2.0 * scale * angle.sin()) as f32,
                )
            })
            .collect();
        Self {
            n,
            scratch: vec![Complex::default(); fft.get_inplace_scratch_len()],
            buffer: vec![Complex::default(); n],
            fft,
            order,
            twiddle,
        }
    }

    /// Transforms `a` into `ya` and, when given, `b` into `yb` (all lengths as configured).
    fn transform(&mut self, a: &[f32], b: Option<&[f32]>, ya: &mut [f32], yb: Option<&mut [f32]>) {
        for (v, &i) in self.buffer.iter_mut().zip(&self.order) {
            *v = Complex::new(a[i], b.map_or(0.0, |b| b[i]));
        }
        self.fft
            .process_with_scratch(&mut self.buffer, &mut self.scratch);
        let n = self.n;
        let parts = self.twiddle.iter().zip(ya.iter_mut()).enumerate();
        match yb {
            Some(yb) => {
                for ((k, (w, y)), y2) in parts.zip(yb.iter_mut()) {
                    let z = self.buffer[k];
                    let c = self.buffer[if k == 0 { 0 } else { n - k }];
                    // A = (Z + conj C) / 2,  B = (Z - conj C) / 2i.
                    let (ar, ai) = (0.5 * (z.re + c.re), 0.5 * (z.im - c.im));
                    let (br, bi) = (0.5 * (z.im + c.im), -0.5 * (z.re - c.re));
                    *y = w.re * ar - w.im * ai;
                    *y2 = w.re * br - w.im * bi;
                }
            }
            None => {
                for (k, (w, y)) in parts {
                    let z = self.buffer[k];
                    *y = w.re * z.re - w.im * z.im;
                }
            }
        }
    }
}

/// Orthonormal DCT-II matrix (scipy `dct(type=2, norm='ortho')`), stored `[n][k]`: the
/// direct definition, a reference for [`PairedDct`].
#[cfg(test)]
fn dct_matrix(n_in: usize, n_out: usize) -> Vec<f32> {
    let n = n_in as f64;
    let mut m = vec![0.0f32; n_in * n_out];
    for i in 0..n_in {
        for k in 0..n_out {
            let scale = if k == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt()
            };
            let v = scale
                * (std::f64::consts::PI * k as f64 * (2.0 * i as f64 + 1.0) / (2.0 * n)).cos();
            m[i * n_out + k] = v as f32;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_ln_matches_std() {
        let mut x = 1e-10f32;
        while x < 1e10 {
            let (a, b) = (ln_positive(x), x.ln());
            assert!((a - b).abs() <= 2e-6 * b.abs().max(1.0), "{x}: {a} vs {b}");
            x *= 1.000_37;
        }
    }

    #[test]
    fn frame_count_matches_librosa() {
        let c = MfccConfig::default();
        assert_eq!(c.n_frames(16_000), 101);
        assert_eq!(c.n_frames(1), 1);
        assert_eq!(c.n_frames(159), 1);
        assert_eq!(c.n_frames(160), 2);
        let nc = MfccConfig {
            center: false,
            ..MfccConfig::default()
        };
        assert_eq!(nc.n_frames(511), 0);
        assert_eq!(nc.n_frames(512), 1);
        assert_eq!(nc.n_frames(672), 2);
    }

    #[test]
    fn invalid_configs_name_the_field() {
        let cases = [
            MfccConfig {
                n_fft: 0,
                ..Default::default()
            },
            MfccConfig {
                win_length: 1000,
                ..Default::default()
            },
            MfccConfig {
                hop_length: 0,
                ..Default::default()
            },
            MfccConfig {
                n_mfcc: 65,
                ..Default::default()
            },
            MfccConfig {
                fmax: 9000.0,
                ..Default::default()
            },
            MfccConfig {
                fmin: f32::NAN,
                ..Default::default()
            },
            MfccConfig {
                top_db: Some(-1.0),
                ..Default::default()
            },
        ];
        let fields = [
            "n_fft",
            "win_length",
            "hop_length",
            "n_mfcc",
            "fmax",
            "fmin",
            "top_db",
        ];
        for (c, field) in cases.into_iter().zip(fields) {
            match Mfcc::new(c) {
                Err(FeatureError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn mel_filters_are_area_normalised_triangles() {
        let bands = mel_filterbank(&MfccConfig::default());
        assert_eq!(bands.len(), 64);
        // Slaney normalisation: each triangle's area (in Hz) is ~1 (width * height / 2).
        let hz_per_bin = 16_000.0 / 512.0;
        for (i, b) in bands.iter().enumerate().skip(3) {
            let area: f32 = b.weights.iter().sum::<f32>() * hz_per_bin;
            assert!((area - 1.0).abs() < 0.15, "band {i}: area {area}");
        }
        // Bands move up in frequency.
        assert!(bands.windows(2).all(|w| w[0].start <= w[1].start));
    }

    #[test]
    fn paired_dct_equals_the_direct_definition() {
        for (n, n_out) in [(64, 40), (64, 64), (13, 13), (7, 3), (1, 1)] {
            let m = dct_matrix(n, n_out);
            let mut dct = PairedDct::new(n, n_out);
            let a: Vec<f32> = (0..n).map(|i| ((i * 37 % 11) as f32 - 5.0) * 3.1).collect();
            let b: Vec<f32> = (0..n)
                .map(|i| -80.0 + (i as f32 * 0.7).sin() * 40.0)
                .collect();
            let direct = |x: &[f32]| -> Vec<f32> {
                (0..n_out)
                    .map(|k| (0..n).map(|i| m[i * n_out + k] * x[i]).sum())
                    .collect()
            };
            let (mut ya, mut yb, mut yc) = (vec![0.0; n_out], vec![0.0; n_out], vec![0.0; n_out]);
            dct.transform(&a, Some(&b), &mut ya, Some(&mut yb));
            dct.transform(&b, None, &mut yc, None);
            for (got, want) in [(&ya, direct(&a)), (&yb, direct(&b)), (&yc, direct(&b))] {
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= 1e-4 * w.abs().max(10.0),
                        "n={n}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn dct_is_orthonormal() {
        let (n, k) = (64, 64);
        let m = dct_matrix(n, k);
        for a in 0..k {
            for b in 0..k {
                let dot: f64 = (0..n)
                    .map(|i| f64::from(m[i * k + a]) * f64::from(m[i * k + b]))
                    .sum();
                let expect = if a == b { 1.0 } else { 0.0 };
                assert!((dot - expect).abs() < 1e-5, "{a} {b} {dot}");
            }
        }
    }

    #[test]
    fn errors_on_bad_signals_and_small_buffers() {
        let mut m = Mfcc::new(MfccConfig::default()).unwrap();
        assert_eq!(m.process(&[]), Err(FeatureError::EmptySignal));
        assert!(matches!(
            m.process(&[0.0, f32::NAN]),
            Err(FeatureError::NonFinite { index: 1, .. })
        ));
        let mut out = vec![0.0; 10];
        assert!(matches!(
            m.process_into(&[0.0; 1600], &mut out),
            Err(FeatureError::OutputTooSmall {
                needed: 440,
                got: 10
            })
        ));
    }

    #[test]
    fn process_into_reuses_its_buffers() {
        let mut m = Mfcc::new(MfccConfig::default()).unwrap();
        m.reserve_frames(400);
        let ptr = m.log_mel.as_ptr();
        let signal: Vec<f32> = (0..56_000).map(|i| (i as f32 * 0.01).sin() * 0.3).collect();
        let mut out = vec![0.0; m.n_frames(signal.len()) * 40];
        for _ in 0..3 {
            m.process_into(&signal, &mut out).unwrap();
        }
        assert_eq!(ptr, m.log_mel.as_ptr(), "log-mel buffer was reallocated");
        assert_eq!(m.process(&signal).unwrap().data, out);
    }

    /// The paired, blocked, vectorised log-mel against a plain one: each frame cut from the
    /// centre-padded signal, windowed, through its own real FFT, the power summed by the
    /// filterbank, in dB; for even and odd frame counts and a clip shorter than one window
    /// (every frame then touches the padding).
    #[test]
    fn log_mel_matches_a_frame_by_frame_reference() {
        let config = MfccConfig {
            top_db: None,
            ..MfccConfig::default()
        };
        let mut m = Mfcc::new(config.clone()).unwrap();
        let bands = mel_filterbank(&config);
        let fft = FftPlanner::<f32>::new().plan_fft_forward(config.n_fft);
        let n = config.win_length as f64;
        let window: Vec<f32> = (0..config.win_length)
            .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos()) as f32)
            .collect();
        let offset = (config.n_fft - config.win_length) / 2;
        for len in [16_000, 16_160, 4_321, 300] {
            let signal: Vec<f32> = (0..len)
                .map(|i| {
                    let t = i as f32 / 16_000.0;
                    0.3 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                        + 0.1 * ((i * 7919 % 1000) as f32 / 1000.0 - 0.5)
                })
                .collect();
            let got = m.log_mel(&signal).unwrap();
            let pad = config.n_fft / 2;
            for f in 0..got.n_frames {
                let mut buffer = vec![Complex::<f32>::default(); config.n_fft];
                for (i, &w) in window.iter().enumerate() {
                    let at = (f * config.hop_length + offset + i) as isize - pad as isize;
                    if (0..len as isize).contains(&at) {
                        buffer[offset + i] = Complex::new(signal[at as usize] * w, 0.0);
                    }
                }
                fft.process(&mut buffer);
                for (b, band) in bands.iter().enumerate() {
                    let energy: f64 = band
                        .weights
                        .iter()
                        .enumerate()
                        .map(|(k, &w)| f64::from(w) * f64::from(buffer[band.start + k].norm_sqr()))
                        .sum();
                    let want = 10.0 * energy.max(f64::from(AMIN)).log10();
                    let have = f64::from(got.frame(f).unwrap()[b]);
                    assert!(
                        (have - want).abs() <= 2e-3 * want.abs().max(1.0),
                        "{len} samples, frame {f}, band {b}: {have} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn sine_energy_lands_in_the_right_mel_band() {
        let mut m = Mfcc::new(MfccConfig::default()).unwrap();
        let signal: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let lm = m.log_mel(&signal).unwrap();
        let mid = lm.frame(50).unwrap();
        let best = (0..64).max_by(|&a, &b| mid[a].total_cmp(&mid[b])).unwrap();
        let mel_1k = hz_to_mel(1000.0);
        let lo = hz_to_mel(0.0);
        let hi = hz_to_mel(8000.0);
        let expected = ((mel_1k - lo) / (hi - lo) * 65.0).round() as usize - 1;
        assert!(
            best.abs_diff(expected) <= 1,
            "band {best}, expected ~{expected}"
        );
    }
}
