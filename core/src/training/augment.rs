//! Data augmentation for training: additive white noise at a chosen SNR, gain, phase-vocoder
//! time stretching and pitch shifting, and an [`Augmenter`] that applies a random combination
//! of them, reproducibly under a `u64` seed.
//!
//! Everything works on mono `f32` audio (the engine runs at
//! [`SAMPLE_RATE`](crate::audio::SAMPLE_RATE)); functions whose
//! result depends on the rate take it as a parameter. Parameters are validated: NaN, infinite
//! or absurd values give a typed [`AugmentError`] carrying the bad value, never a panic.
//! Outputs are not clipped, so a positive gain or added noise may leave `[-1, 1]`.
//!
//! These transforms are meant for training data only; evaluation and inference data must not
//! be augmented.

use std::f64::consts::PI;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use realfft::RealFftPlanner;
use realfft::num_complex::Complex;
use serde::{Deserialize, Serialize};

use crate::audio::{AudioError, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, resample_by_ratio};

/// Largest accepted |SNR| for [`add_noise`], in dB.
pub const MAX_ABS_SNR_DB: f64 = 120.0;
/// Largest accepted |gain| for [`gain`], in dB.
pub const MAX_ABS_GAIN_DB: f64 = 60.0;
/// Smallest accepted [`time_stretch`] rate (the output is at most 4× longer).
pub const MIN_STRETCH_RATE: f64 = 0.25;
/// Largest accepted [`time_stretch`] rate (the output is at least 4× shorter).
pub const MAX_STRETCH_RATE: f64 = 4.0;
/// Largest accepted |shift| for [`pitch_shift`], in semitones (two octaves).
pub const MAX_ABS_SEMITONES: f64 = 24.0;
/// Length of the phase vocoder's analysis window, in seconds (512 samples at 16 kHz; the FFT
/// size is this many samples rounded up to a power of two).
pub const STFT_WINDOW_SECONDS: f64 = 0.032;

/// What went wrong augmenting audio. Every variant carries the offending value.
#[derive(Debug, thiserror::Error)]
pub enum AugmentError {
    /// The requested signal-to-noise ratio is NaN, infinite or beyond ±[`MAX_ABS_SNR_DB`].
    #[error("SNR of {snr_db} dB is not a finite value within ±{MAX_ABS_SNR_DB} dB")]
    Snr {
        /// The requested SNR in dB.
        snr_db: f64,
    },
    /// The requested gain is NaN, infinite or beyond ±[`MAX_ABS_GAIN_DB`].
    #[error("gain of {db} dB is not a finite value within ±{MAX_ABS_GAIN_DB} dB")]
    Gain {
        /// The requested gain in dB.
        db: f64,
    },
    /// The stretch rate is NaN or outside [`MIN_STRETCH_RATE`]..=[`MAX_STRETCH_RATE`].
    #[error(
        "time-stretch rate {rate} is not a finite value in {MIN_STRETCH_RATE}..={MAX_STRETCH_RATE}"
    )]
    StretchRate {
        /// The requested rate.
        rate: f64,
    },
    /// The pitch shift is NaN, infinite or beyond ±[`MAX_ABS_SEMITONES`].
    #[error(
        "pitch shift of {semitones} semitones is not a finite value within ±{MAX_ABS_SEMITONES}"
    )]
    Semitones {
        /// The requested shift in semitones.
        semitones: f64,
    },
    /// The sample rate is outside the range the audio front end accepts.
    #[error("sample rate {rate} Hz is outside {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} Hz")]
    SampleRate {
        /// The rate given.
        rate: u32,
    },
    /// An input sample is NaN or infinite.
    #[error("input sample {index} is not a finite number ({value})")]
    NonFinite {
        /// Index of the first bad sample.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A probability in an [`AugmentConfig`] is NaN or outside `[0, 1]`.
    #[error("probability `{name}` = {value} is not in [0, 1]")]
    Probability {
        /// The configuration field.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// A parameter range in an [`AugmentConfig`] is empty (min > max) or has a bound that is
    /// itself invalid for the augmentation.
    #[error("range `{name}` = {min}..={max} is empty or outside the accepted limits")]
    Range {
        /// The configuration field.
        name: &'static str,
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// The FFT rejected a buffer (an internal error; should not happen).
    #[error("FFT failed in the phase vocoder: {reason}")]
    Fft {
        /// What realfft reported.
        reason: String,
    },
    /// Resampling (part of pitch shifting) failed.
    #[error(transparent)]
    Resample(#[from] AudioError),
}

fn check_finite(samples: &[f32]) -> Result<(), AugmentError> {
    match samples.iter().position(|s| !s.is_finite()) {
        Some(index) => Err(AugmentError::NonFinite {
            index,
            value: samples[index],
        }),
        None => Ok(()),
    }
}

fn check_sample_rate(rate: u32) -> Result<(), AugmentError> {
    if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(AugmentError::SampleRate { rate })
    }
}

fn valid_snr(snr_db: f64) -> bool {
    snr_db.is_finite() && snr_db.abs() <= MAX_ABS_SNR_DB
}

fn valid_gain(db: f64) -> bool {
    db.is_finite() && db.abs() <= MAX_ABS_GAIN_DB
}

fn valid_rate(rate: f64) -> bool {
    rate.is_finite() && (MIN_STRETCH_RATE..=MAX_STRETCH_RATE).contains(&rate)
}

fn valid_semitones(semitones: f64) -> bool {
    semitones.is_finite() && semitones.abs() <= MAX_ABS_SEMITONES
}

fn mean_square(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64
}

/// Adds white Gaussian noise so that the signal-to-noise ratio is `snr_db`.
///
/// The SNR is `10·log10(mean(x²) / mean(n²))` where `n` is the noise actually added: a
/// standard-normal vector is drawn from `rng` and then scaled using its own measured power,
/// so the ratio is exact (up to `f32` rounding) rather than only in expectation.
///
/// An empty or all-zero signal has no defined SNR; it is returned unchanged (no noise added).
///
/// # Errors
/// [`AugmentError::Snr`] when `snr_db` is NaN, infinite or beyond ±[`MAX_ABS_SNR_DB`];
/// [`AugmentError::NonFinite`] for a NaN/infinite sample.
pub fn add_noise<R: Rng + ?Sized>(
    samples: &[f32],
    snr_db: f64,
    rng: &mut R,
) -> Result<Vec<f32>, AugmentError> {
    if !valid_snr(snr_db) {
        return Err(AugmentError::Snr { snr_db });
    }
    check_finite(samples)?;
    let signal_power = mean_square(samples);
    if signal_power == 0.0 {
        return Ok(samples.to_vec());
    }
    let noise: Vec<f64> = (0..samples.len())
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect();
    let noise_power = noise.iter().map(|n| n * n).sum::<f64>() / noise.len() as f64;
    if noise_power == 0.0 {
        // Astronomically unlikely (every draw exactly zero); nothing to scale.
        return Ok(samples.to_vec());
    }
    let scale = (signal_power / (noise_power * 10f64.powf(snr_db / 10.0))).sqrt();
    Ok(samples
        .iter()
        .zip(&noise)
        .map(|(&s, &n)| (f64::from(s) + scale * n) as f32)
        .collect())
}

/// Scales the signal by `db` decibels (amplitude factor `10^(db/20)`); no clipping.
///
/// # Errors
/// [`AugmentError::Gain`] when `db` is NaN, infinite or beyond ±[`MAX_ABS_GAIN_DB`];
/// [`AugmentError::NonFinite`] for a NaN/infinite sample.
pub fn gain(samples: &[f32], db: f64) -> Result<Vec<f32>, AugmentError> {
    if !valid_gain(db) {
        return Err(AugmentError::Gain { db });
    }
    check_finite(samples)?;
    let factor = 10f64.powf(db / 20.0);
    Ok(samples
        .iter()
        .map(|&s| (f64::from(s) * factor) as f32)
        .collect())
}

/// FFT size of the phase vocoder at `sample_rate`: [`STFT_WINDOW_SECONDS`] of audio rounded
/// up to a power of two (512 at 16 kHz). The hop is a quarter of it.
#[must_use]
pub fn stft_size(sample_rate: u32) -> usize {
    ((f64::from(sample_rate) * STFT_WINDOW_SECONDS).round() as usize)
        .max(16)
        .next_power_of_two()
}

/// Changes the duration by `1 / rate` while keeping the pitch (`rate > 1` speeds up).
///
/// A phase vocoder: a centred, zero-padded STFT (periodic Hann window of [`stft_size`]
/// samples, hop a quarter of that) is resampled in time, magnitudes interpolated linearly
/// between neighbouring frames and each bin's phase advanced by its measured instantaneous
/// frequency; the result is overlap-added with the same window and divided by the summed
/// squared window. The output has exactly `round(len / rate)` samples. At `rate == 1` it
/// reconstructs the input up to rounding.
///
/// # Errors
/// [`AugmentError::StretchRate`] for a NaN rate or one outside
/// [`MIN_STRETCH_RATE`]..=[`MAX_STRETCH_RATE`]; [`AugmentError::SampleRate`];
/// [`AugmentError::NonFinite`] for a NaN/infinite sample.
pub fn time_stretch(
    samples: &[f32],
    rate: f64,
    sample_rate: u32,
) -> Result<Vec<f32>, AugmentError> {
    if !valid_rate(rate) {
        return Err(AugmentError::StretchRate { rate });
    }
    check_sample_rate(sample_rate)?;
    check_finite(samples)?;
    phase_vocoder(samples, rate, stft_size(sample_rate))
}

/// Periodic Hann window of length `n`.
fn hann(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos())
        .collect()
}

fn fft_err(e: realfft::FftError) -> AugmentError {
    AugmentError::Fft {
        reason: e.to_string(),
    }
}

/// Wraps a phase to `[-π, π]`.
fn wrap_phase(p: f64) -> f64 {
    p - 2.0 * PI * (p / (2.0 * PI)).round()
}

/// The phase vocoder behind [`time_stretch`]; `rate` must be finite and positive and the
/// samples finite (checked by the callers).
fn phase_vocoder(samples: &[f32], rate: f64, n_fft: usize) -> Result<Vec<f32>, AugmentError> {
    let out_len = (samples.len() as f64 / rate).round() as usize;
    if samples.is_empty() || out_len == 0 {
        return Ok(vec![0.0; out_len]);
    }
    let hop = n_fft / 4;
    let half = n_fft / 2;
    let n_bins = half + 1;
    let window = hann(n_fft);

    // Centred STFT: frame f covers padded[f*hop .. f*hop + n_fft], centred on input sample f*hop.
    let mut padded = vec![0.0f64; samples.len() + n_fft];
    for (p, &s) in padded[half..].iter_mut().zip(samples) {
        *p = f64::from(s);
    }
    let n_frames = 1 + samples.len() / hop;

    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(n_fft);
    let inverse = planner.plan_fft_inverse(n_fft);
    let mut frame = forward.make_input_vec();
    let mut spectrum = forward.make_output_vec();
    let mut scratch = forward.make_scratch_vec();

    let mut mags = Vec::with_capacity(n_frames * n_bins);
    let mut phases = Vec::with_capacity(n_frames * n_bins);
    for f in 0..n_frames {
        let start = f * hop;
        for ((v, &x), &w) in frame
            .iter_mut()
            .zip(&padded[start..start + n_fft])
            .zip(&window)
        {
            *v = x * w;
        }
        forward
            .process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
            .map_err(fft_err)?;
        for c in &spectrum {
            mags.push(c.norm());
            phases.push(c.arg());
        }
    }

    // Expected phase advance per hop of each bin's centre frequency.
    let phi_advance: Vec<f64> = (0..n_bins)
        .map(|k| 2.0 * PI * k as f64 * hop as f64 / n_fft as f64)
        .collect();
    let mut phase_acc: Vec<f64> = phases[..n_bins].to_vec();

    let n_out_frames = (0..)
        .take_while(|&t| (t as f64) * rate < n_frames as f64)
        .count();
    let buf_len = ((n_out_frames.max(1) - 1) * hop + n_fft).max(half + out_len);
    let mut out = vec![0.0f64; buf_len];
    let mut wsum = vec![0.0f64; buf_len];
    let mut out_spectrum = inverse.make_input_vec();
    let mut out_frame = inverse.make_output_vec();
    let mut inv_scratch = inverse.make_scratch_vec();
    let norm = 1.0 / n_fft as f64;

    for t in 0..n_out_frames {
        let step = t as f64 * rate;
        let i0 = (step.floor() as usize).min(n_frames - 1);
        let alpha = step - i0 as f64;
        let i1 = (i0 + 1).min(n_frames - 1);
        let (m0, m1) = (
            &mags[i0 * n_bins..][..n_bins],
            &mags[i1 * n_bins..][..n_bins],
        );
        for (k, c) in out_spectrum.iter_mut().enumerate() {
            let mag = (1.0 - alpha) * m0[k] + alpha * m1[k];
            *c = Complex::from_polar(mag, phase_acc[k]);
        }
        // A real signal's DC and Nyquist bins are real.
        out_spectrum[0].im = 0.0;
        out_spectrum[n_bins - 1].im = 0.0;
        inverse
            .process_with_scratch(&mut out_spectrum, &mut out_frame, &mut inv_scratch)
            .map_err(fft_err)?;
        let start = t * hop;
        for (i, (&y, &w)) in out_frame.iter().zip(&window).enumerate() {
            out[start + i] += y * norm * w;
            wsum[start + i] += w * w;
        }

        // Advance each bin by its instantaneous frequency between the two frames around `step`
        // (past the last frame, keep the last measured frequency).
        let (p0, p1) = if i1 > i0 {
            (i0, i1)
        } else {
            (i0.saturating_sub(1), i0)
        };
        let (ph0, ph1) = (
            &phases[p0 * n_bins..][..n_bins],
            &phases[p1 * n_bins..][..n_bins],
        );
        for k in 0..n_bins {
            let deviation = wrap_phase(ph1[k] - ph0[k] - phi_advance[k]);
            phase_acc[k] += phi_advance[k] + deviation;
        }
    }

    Ok(out[half..half + out_len]
        .iter()
        .zip(&wsum[half..half + out_len])
        .map(|(&y, &w)| if w > 1e-10 { (y / w) as f32 } else { y as f32 })
        .collect())
}

/// Moves the pitch by `semitones` (frequency factor `2^(semitones/12)`) keeping the duration:
/// the output has exactly as many samples as the input.
///
/// Time-stretches by `1 / factor` (see [`time_stretch`]), then resamples by `1 / factor` with
/// [`resample_by_ratio`] and trims or zero-pads the last sample or so to the input length.
///
/// # Errors
/// [`AugmentError::Semitones`] when `semitones` is NaN, infinite or beyond
/// ±[`MAX_ABS_SEMITONES`]; [`AugmentError::SampleRate`]; [`AugmentError::NonFinite`];
/// [`AugmentError::Resample`] when resampling fails.
pub fn pitch_shift(
    samples: &[f32],
    semitones: f64,
    sample_rate: u32,
) -> Result<Vec<f32>, AugmentError> {
    if !valid_semitones(semitones) {
        return Err(AugmentError::Semitones { semitones });
    }
    check_sample_rate(sample_rate)?;
    check_finite(samples)?;
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    let factor = 2f64.powf(semitones / 12.0);
    let stretched = phase_vocoder(samples, 1.0 / factor, stft_size(sample_rate))?;
    let mut shifted = resample_by_ratio(&stretched, 1.0 / factor)?;
    shifted.resize(samples.len(), 0.0);
    Ok(shifted)
}

/// Settings of an [`Augmenter`]: for each augmentation, the probability it is applied to a
/// clip and the range its parameter is drawn from (uniformly, bounds included).
///
/// Missing fields deserialize to their [`Default`] values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AugmentConfig {
    /// Probability of time stretching (default 0.5).
    pub stretch_probability: f64,
    /// Smallest stretch rate (default 0.85).
    pub min_stretch_rate: f64,
    /// Largest stretch rate (default 1.15).
    pub max_stretch_rate: f64,
    /// Probability of pitch shifting (default 0.5).
    pub pitch_probability: f64,
    /// Lowest pitch shift in semitones (default -2).
    pub min_semitones: f64,
    /// Highest pitch shift in semitones (default +2).
    pub max_semitones: f64,
    /// Probability of a gain change (default 0.5).
    pub gain_probability: f64,
    /// Lowest gain in dB (default -6).
    pub min_gain_db: f64,
    /// Highest gain in dB (default +6).
    pub max_gain_db: f64,
    /// Probability of adding noise (default 0.5).
    pub noise_probability: f64,
    /// Lowest SNR in dB (default 10).
    pub min_snr_db: f64,
    /// Highest SNR in dB (default 30).
    pub max_snr_db: f64,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            stretch_probability: 0.5,
            min_stretch_rate: 0.85,
            max_stretch_rate: 1.15,
            pitch_probability: 0.5,
            min_semitones: -2.0,
            max_semitones: 2.0,
            gain_probability: 0.5,
            min_gain_db: -6.0,
            max_gain_db: 6.0,
            noise_probability: 0.5,
            min_snr_db: 10.0,
            max_snr_db: 30.0,
        }
    }
}

/// A named range and the check each of its bounds must pass.
type RangeCheck = (&'static str, f64, f64, fn(f64) -> bool);

impl AugmentConfig {
    /// Checks every probability is in `[0, 1]` and every range is non-empty with bounds the
    /// corresponding function accepts.
    ///
    /// # Errors
    /// [`AugmentError::Probability`] or [`AugmentError::Range`] naming the field.
    pub fn validate(&self) -> Result<(), AugmentError> {
        let probabilities = [
            ("stretch_probability", self.stretch_probability),
            ("pitch_probability", self.pitch_probability),
            ("gain_probability", self.gain_probability),
            ("noise_probability", self.noise_probability),
        ];
        for (name, value) in probabilities {
            if !(0.0..=1.0).contains(&value) {
                return Err(AugmentError::Probability { name, value });
            }
        }
        let ranges: [RangeCheck; 4] = [
            (
                "stretch_rate",
                self.min_stretch_rate,
                self.max_stretch_rate,
                valid_rate,
            ),
            (
                "semitones",
                self.min_semitones,
                self.max_semitones,
                valid_semitones,
            ),
            ("gain_db", self.min_gain_db, self.max_gain_db, valid_gain),
            ("snr_db", self.min_snr_db, self.max_snr_db, valid_snr),
        ];
        for (name, min, max, valid) in ranges {
            if !(valid(min) && valid(max) && min <= max) {
                return Err(AugmentError::Range { name, min, max });
            }
        }
        Ok(())
    }
}

/// The augmentations chosen for one clip, with their parameters (`None`: not applied).
/// Produced by [`Augmenter::plan`]; applied in field order: stretch, pitch, gain, noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AugmentPlan {
    /// Time-stretch rate.
    pub stretch_rate: Option<f64>,
    /// Pitch shift in semitones.
    pub semitones: Option<f64>,
    /// Gain in dB.
    pub gain_db: Option<f64>,
    /// Signal-to-noise ratio in dB.
    pub snr_db: Option<f64>,
    /// Seed of the noise generator ([`ChaCha8Rng`]).
    pub noise_seed: u64,
}

impl AugmentPlan {
    /// Whether the plan leaves audio untouched.
    #[must_use]
    pub fn is_identity(&self) -> bool {
        self.stretch_rate.is_none()
            && self.semitones.is_none()
            && self.gain_db.is_none()
            && self.snr_db.is_none()
    }

    /// Applies the plan to `samples` at `sample_rate`. Deterministic: the same plan and input
    /// give bit-identical output.
    ///
    /// # Errors
    /// Any error of [`time_stretch`], [`pitch_shift`], [`gain`] or [`add_noise`].
    pub fn apply(&self, samples: &[f32], sample_rate: u32) -> Result<Vec<f32>, AugmentError> {
        check_sample_rate(sample_rate)?;
        check_finite(samples)?;
        let mut out = samples.to_vec();
        if let Some(rate) = self.stretch_rate {
            out = time_stretch(&out, rate, sample_rate)?;
        }
        if let Some(semitones) = self.semitones {
            out = pitch_shift(&out, semitones, sample_rate)?;
        }
        if let Some(db) = self.gain_db {
            out = gain(&out, db)?;
        }
        if let Some(snr_db) = self.snr_db {
            let mut rng = ChaCha8Rng::seed_from_u64(self.noise_seed);
            out = add_noise(&out, snr_db, &mut rng)?;
        }
        Ok(out)
    }
}

/// Applies a random combination of augmentations, reproducibly: the same seed and input give
/// bit-identical output.
///
/// The audio is expected at [`SAMPLE_RATE`](crate::audio::SAMPLE_RATE) unless another rate is passed to
/// [`Augmenter::apply`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Augmenter {
    config: AugmentConfig,
}

impl Augmenter {
    /// An augmenter with a validated configuration.
    ///
    /// # Errors
    /// As [`AugmentConfig::validate`].
    pub fn new(config: AugmentConfig) -> Result<Self, AugmentError> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The configuration in use.
    #[must_use]
    pub fn config(&self) -> &AugmentConfig {
        &self.config
    }

    /// Draws the augmentations for `seed` (a [`ChaCha8Rng`] seeded with it). The number of
    /// random draws does not depend on the outcome, so a given seed always maps to the same
    /// choices for a given configuration.
    #[must_use]
    pub fn plan(&self, seed: u64) -> AugmentPlan {
        let c = &self.config;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut pick = |probability: f64, min: f64, max: f64| {
            let apply = rng.random::<f64>() < probability;
            let value = min + (max - min) * rng.random::<f64>();
            apply.then_some(value)
        };
        let stretch_rate = pick(
            c.stretch_probability,
            c.min_stretch_rate,
            c.max_stretch_rate,
        );
        let semitones = pick(c.pitch_probability, c.min_semitones, c.max_semitones);
        let gain_db = pick(c.gain_probability, c.min_gain_db, c.max_gain_db);
        let snr_db = pick(c.noise_probability, c.min_snr_db, c.max_snr_db);
        AugmentPlan {
            stretch_rate,
            semitones,
            gain_db,
            snr_db,
            noise_seed: rng.random(),
        }
    }

    /// Augments `samples` (mono, at `sample_rate`, normally
    /// [`SAMPLE_RATE`](crate::audio::SAMPLE_RATE)) with the
    /// combination drawn for `seed`. Time stretching changes the length; everything else
    /// keeps it.
    ///
    /// # Errors
    /// [`AugmentError::SampleRate`], [`AugmentError::NonFinite`], or any error of the applied
    /// augmentations.
    pub fn apply(
        &self,
        samples: &[f32],
        sample_rate: u32,
        seed: u64,
    ) -> Result<Vec<f32>, AugmentError> {
        self.plan(seed).apply(samples, sample_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::SAMPLE_RATE;

    const SR: u32 = SAMPLE_RATE;

    fn sine(freq: f64, n: usize, amp: f64) -> Vec<f32> {
        (0..n)
            .map(|i| (amp * (2.0 * PI * freq * i as f64 / f64::from(SR)).sin()) as f32)
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        mean_square(x).sqrt()
    }

    /// Peak frequency of `x` in Hz: Hann-windowed, zero-padded FFT with parabolic
    /// interpolation on the log magnitude.
    fn peak_hz(x: &[f32], rate: u32) -> f64 {
        let n = (x.len() * 4).next_power_of_two();
        let mut planner = RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(n);
        let mut input = vec![0.0; n];
        let w = hann(x.len());
        for (i, (&v, &w)) in x.iter().zip(&w).enumerate() {
            input[i] = f64::from(v) * w;
        }
        let mut spec = fft.make_output_vec();
        fft.process(&mut input, &mut spec).unwrap();
        let mags: Vec<f64> = spec.iter().map(|c| c.norm().max(1e-300).ln()).collect();
        let k = (1..mags.len() - 1)
            .max_by(|&a, &b| mags[a].total_cmp(&mags[b]))
            .unwrap();
        let (a, b, c) = (mags[k - 1], mags[k], mags[k + 1]);
        let delta = 0.5 * (a - c) / (a - 2.0 * b + c);
        (k as f64 + delta) * f64::from(rate) / n as f64
    }

    fn assert_freq(x: &[f32], expected: f64, what: &str) {
        let f = peak_hz(x, SR);
        assert!(
            (f - expected).abs() / expected < 0.02,
            "{what}: peak at {f:.2} Hz, expected {expected:.2} Hz"
        );
    }

    #[test]
    fn peak_helper_is_accurate() {
        for f in [349.23, 440.0, 523.25] {
            let est = peak_hz(&sine(f, 4000, 0.5), SR);
            assert!((est - f).abs() < 0.5, "{f}: {est}");
        }
    }

    #[test]
    fn noise_hits_requested_snr() {
        let x: Vec<f32> = sine(440.0, 16_000, 0.3)
            .iter()
            .zip(sine(1234.0, 16_000, 0.1))
            .map(|(a, b)| a + b)
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for snr in [-5.0, 0.0, 10.0, 20.0, 30.0, 60.0] {
            let y = add_noise(&x, snr, &mut rng).unwrap();
            assert_eq!(y.len(), x.len());
            let noise: Vec<f32> = y.iter().zip(&x).map(|(a, b)| a - b).collect();
            let measured = 10.0 * (mean_square(&x) / mean_square(&noise)).log10();
            assert!(
                (measured - snr).abs() < 0.5,
                "asked {snr} dB, got {measured}"
            );
            // The noise is noise, not a scaled copy of the signal.
            let corr: f64 = x
                .iter()
                .zip(&noise)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum::<f64>()
                / (rms(&x) * rms(&noise) * x.len() as f64);
            assert!(corr.abs() < 0.05, "{snr}: correlation {corr}");
        }
    }

    #[test]
    fn noise_on_silence_is_a_no_op_and_draws_differ() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            add_noise(&[0.0; 100], 10.0, &mut rng).unwrap(),
            vec![0.0; 100]
        );
        assert!(add_noise(&[], 10.0, &mut rng).unwrap().is_empty());
        let x = sine(440.0, 1000, 0.5);
        let a = add_noise(&x, 10.0, &mut rng).unwrap();
        let b = add_noise(&x, 10.0, &mut rng).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn gain_scales_rms_by_db() {
        let x = sine(440.0, 8000, 0.25);
        for db in [-20.0, -6.0, 0.0, 3.5, 6.0, 12.0] {
            let y = gain(&x, db).unwrap();
            let measured = 20.0 * (rms(&y) / rms(&x)).log10();
            assert!((measured - db).abs() < 1e-3, "{db}: {measured}");
        }
    }

    #[test]
    fn stretch_length_and_frequency() {
        for len in [8000usize, 8001, 7777] {
            let x = sine(440.0, len, 0.5);
            for rate in [0.8, 0.85, 1.0, 1.15, 1.25, 2.0] {
                let y = time_stretch(&x, rate, SR).unwrap();
                let expected_len = (len as f64 / rate).round() as usize;
                assert_eq!(y.len(), expected_len, "len {len} rate {rate}");
                // Away from the edges the tone keeps its pitch and (roughly) its level.
                let mid = &y[y.len() / 8..y.len() * 7 / 8];
                assert_freq(mid, 440.0, &format!("stretch {rate}"));
                let level_db = 20.0 * (rms(mid) / rms(&x)).log10();
                assert!(level_db.abs() < 1.0, "rate {rate}: level {level_db} dB");
            }
        }
    }

    #[test]
    fn stretch_at_rate_one_reconstructs_the_input() {
        let x: Vec<f32> = sine(300.0, 5000, 0.4)
            .iter()
            .zip(sine(2100.0, 5000, 0.2))
            .map(|(a, b)| a + b)
            .collect();
        let y = time_stretch(&x, 1.0, SR).unwrap();
        assert_eq!(y.len(), x.len());
        let err = x
            .iter()
            .zip(&y)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-4, "max error {err}");
    }

    #[test]
    fn stretch_handles_tiny_and_empty_input() {
        assert!(time_stretch(&[], 1.5, SR).unwrap().is_empty());
        assert_eq!(time_stretch(&[0.1; 10], 0.5, SR).unwrap().len(), 20);
        assert_eq!(time_stretch(&[0.1; 3], 4.0, SR).unwrap().len(), 1);
        assert!(pitch_shift(&[], 2.0, SR).unwrap().is_empty());
        assert_eq!(pitch_shift(&[0.1; 10], 2.0, SR).unwrap().len(), 10);
    }

    #[test]
    fn pitch_shift_moves_frequency_and_keeps_length() {
        for len in [8000usize, 8003] {
            let x = sine(440.0, len, 0.5);
            for semitones in [3.0, -4.0, 12.0, -1.0] {
                let y = pitch_shift(&x, semitones, SR).unwrap();
                assert_eq!(y.len(), x.len());
                let expected = 440.0 * 2f64.powf(semitones / 12.0);
                let mid = &y[len / 8..len * 7 / 8];
                assert_freq(mid, expected, &format!("{semitones} semitones"));
                let level_db = 20.0 * (rms(mid) / rms(&x)).log10();
                assert!(level_db.abs() < 1.5, "{semitones}: level {level_db} dB");
            }
        }
    }

    #[test]
    fn stretch_and_pitch_work_at_other_rates() {
        let rate = 44_100;
        assert_eq!(stft_size(SR), 512);
        assert_eq!(stft_size(8_000), 256);
        let x: Vec<f32> = (0..22_050)
            .map(|i| (0.5 * (2.0 * PI * 1000.0 * i as f64 / 44_100.0).sin()) as f32)
            .collect();
        let y = pitch_shift(&x, 2.0, rate).unwrap();
        assert_eq!(y.len(), x.len());
        let f = peak_hz(&y[2000..20_000], rate);
        let expected = 1000.0 * 2f64.powf(2.0 / 12.0);
        assert!((f - expected).abs() / expected < 0.02, "{f}");
    }

    fn bits(x: &[f32]) -> Vec<u32> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    fn always() -> AugmentConfig {
        AugmentConfig {
            stretch_probability: 1.0,
            pitch_probability: 1.0,
            gain_probability: 1.0,
            noise_probability: 1.0,
            ..AugmentConfig::default()
        }
    }

    #[test]
    fn same_seed_same_output_different_seed_different_output() {
        let x = sine(220.0, 6000, 0.4);
        let aug = Augmenter::new(always()).unwrap();
        let a = aug.apply(&x, SR, 42).unwrap();
        let b = aug.apply(&x, SR, 42).unwrap();
        assert_eq!(bits(&a), bits(&b));
        let c = aug.apply(&x, SR, 43).unwrap();
        assert_ne!(bits(&a), bits(&c));
        // A clone (or a deserialized copy) of the augmenter agrees too.
        let json = serde_json::to_string(&aug).unwrap();
        let again: Augmenter = serde_json::from_str(&json).unwrap();
        assert_eq!(bits(&again.apply(&x, SR, 42).unwrap()), bits(&a));

        let default = Augmenter::default();
        for seed in 0..6 {
            let p = default.apply(&x, SR, seed).unwrap();
            let q = default.apply(&x, SR, seed).unwrap();
            assert_eq!(bits(&p), bits(&q), "seed {seed}");
        }
    }

    #[test]
    fn plans_follow_probabilities_and_ranges() {
        let aug = Augmenter::new(always()).unwrap();
        let c = aug.config().clone();
        for seed in 0..200 {
            let p = aug.plan(seed);
            let r = p.stretch_rate.unwrap();
            assert!((c.min_stretch_rate..=c.max_stretch_rate).contains(&r));
            let s = p.semitones.unwrap();
            assert!((c.min_semitones..=c.max_semitones).contains(&s));
            let g = p.gain_db.unwrap();
            assert!((c.min_gain_db..=c.max_gain_db).contains(&g));
            let n = p.snr_db.unwrap();
            assert!((c.min_snr_db..=c.max_snr_db).contains(&n));
        }
        let never = Augmenter::new(AugmentConfig {
            stretch_probability: 0.0,
            pitch_probability: 0.0,
            gain_probability: 0.0,
            noise_probability: 0.0,
            ..AugmentConfig::default()
        })
        .unwrap();
        let x = sine(220.0, 1000, 0.4);
        for seed in 0..20 {
            assert!(never.plan(seed).is_identity());
            assert_eq!(bits(&never.apply(&x, SR, seed).unwrap()), bits(&x));
        }
        // Default: each augmentation is applied about half the time.
        let default = Augmenter::default();
        let n = 2000;
        let applied = (0..n)
            .filter(|&s| default.plan(s).gain_db.is_some())
            .count();
        assert!((800..1200).contains(&applied), "{applied}");
        let identity = (0..n).filter(|&s| default.plan(s).is_identity()).count();
        assert!((50..220).contains(&identity), "{identity}"); // expected 1/16 of 2000 = 125
    }

    #[test]
    fn applied_plan_does_what_it_says() {
        let x = sine(440.0, 8000, 0.3);
        let plan = AugmentPlan {
            stretch_rate: Some(1.25),
            semitones: None,
            gain_db: Some(-6.0),
            snr_db: None,
            noise_seed: 0,
        };
        let y = plan.apply(&x, SR).unwrap();
        assert_eq!(y.len(), 6400);
        let want = time_stretch(&x, 1.25, SR).unwrap();
        let want = gain(&want, -6.0).unwrap();
        assert_eq!(bits(&y), bits(&want));
    }

    #[test]
    fn config_round_trips_through_serde_with_defaults() {
        let c = always();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<AugmentConfig>(&json).unwrap(), c);
        let partial: AugmentConfig = serde_json::from_str(r#"{"max_snr_db": 25.0}"#).unwrap();
        assert_eq!(partial.max_snr_db, 25.0);
        assert_eq!(partial.min_snr_db, AugmentConfig::default().min_snr_db);
        AugmentConfig::default().validate().unwrap();
    }

    #[test]
    fn bad_parameters_are_errors_carrying_the_value() {
        let x = sine(440.0, 1000, 0.5);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for snr in [f64::NAN, f64::INFINITY, 500.0] {
            match add_noise(&x, snr, &mut rng) {
                Err(AugmentError::Snr { snr_db }) => {
                    assert!(snr_db.to_bits() == snr.to_bits());
                }
                other => panic!("snr {snr}: {other:?}"),
            }
        }
        for db in [f64::NAN, f64::NEG_INFINITY, 100.0] {
            assert!(
                matches!(gain(&x, db), Err(AugmentError::Gain { db: d }) if d.to_bits() == db.to_bits())
            );
        }
        for rate in [f64::NAN, 0.0, -1.0, 0.1, 10.0, f64::INFINITY] {
            assert!(
                matches!(time_stretch(&x, rate, SR), Err(AugmentError::StretchRate { rate: r }) if r.to_bits() == rate.to_bits()),
                "rate {rate}"
            );
        }
        for s in [f64::NAN, 25.0, -30.0, f64::INFINITY] {
            assert!(
                matches!(pitch_shift(&x, s, SR), Err(AugmentError::Semitones { semitones }) if semitones.to_bits() == s.to_bits()),
                "semitones {s}"
            );
        }
        assert!(matches!(
            time_stretch(&x, 1.1, 0),
            Err(AugmentError::SampleRate { rate: 0 })
        ));
        assert!(matches!(
            pitch_shift(&x, 1.0, 1_000_000),
            Err(AugmentError::SampleRate { rate: 1_000_000 })
        ));
        let mut bad = x.clone();
        bad[17] = f32::NAN;
        assert!(matches!(
            gain(&bad, 1.0),
            Err(AugmentError::NonFinite { index: 17, .. })
        ));
        assert!(matches!(
            add_noise(&bad, 10.0, &mut rng),
            Err(AugmentError::NonFinite { index: 17, .. })
        ));
        assert!(matches!(
            time_stretch(&bad, 1.1, SR),
            Err(AugmentError::NonFinite { index: 17, .. })
        ));
        assert!(matches!(
            Augmenter::default().apply(&bad, SR, 0),
            Err(AugmentError::NonFinite { index: 17, .. })
        ));

        let bad_prob = AugmentConfig {
            noise_probability: 1.5,
            ..AugmentConfig::default()
        };
        assert!(matches!(
            Augmenter::new(bad_prob),
            Err(AugmentError::Probability { name: "noise_probability", value }) if value == 1.5
        ));
        let nan_prob = AugmentConfig {
            gain_probability: f64::NAN,
            ..AugmentConfig::default()
        };
        assert!(matches!(
            nan_prob.validate(),
            Err(AugmentError::Probability {
                name: "gain_probability",
                ..
            })
        ));
        let empty = AugmentConfig {
            min_snr_db: 30.0,
            max_snr_db: 10.0,
            ..AugmentConfig::default()
        };
        assert!(matches!(
            empty.validate(),
            Err(AugmentError::Range { name: "snr_db", min, max }) if min == 30.0 && max == 10.0
        ));
        let absurd = AugmentConfig {
            max_semitones: 40.0,
            ..AugmentConfig::default()
        };
        assert!(matches!(
            absurd.validate(),
            Err(AugmentError::Range {
                name: "semitones",
                ..
            })
        ));
        let zero_rate = AugmentConfig {
            min_stretch_rate: 0.0,
            ..AugmentConfig::default()
        };
        assert!(matches!(
            zero_rate.validate(),
            Err(AugmentError::Range {
                name: "stretch_rate",
                ..
            })
        ));
        // Errors read well.
        let msg = time_stretch(&x, -1.0, SR).unwrap_err().to_string();
        assert!(msg.contains("-1"), "{msg}");
    }
}
