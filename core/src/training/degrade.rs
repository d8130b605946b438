//! Degraded listening conditions: what a player's room and microphone do to speech before the
//! front end hears it. Two uses:
//! - **Measuring** ([`Condition`]): fixed, named degradations applied to test audio by
//!   `trainer evaluate --condition NAME` and the `trainer robustness` table (pink noise and
//!   babble at 10 dB SNR, 0.6 s of room reverb, the telephone band, a quiet microphone,
//!   clipping, 8 kHz audio, and mains hum and music, which training never uses).
//! - **Training** ([`RoomAugment`]): the same kinds of degradation with randomly drawn
//!   severities, applied to augmented training copies, so the model learns speech through
//!   rooms and microphones. [`Condition::HELD_OUT`] is never among them, and nothing in the
//!   engine was designed against it, so the robustness table always reports one condition
//!   nobody prepared the model for.
//!
//! Levels: noise is mixed against the speech's *active* level ([`active_power`]: the mean
//! power of the 20 ms frames within 40 dB of the loudest), so a clip's leading and trailing
//! silence does not make its SNR look worse than it is. Every function is deterministic for a
//! seed; parameters are validated and bad ones give a [`DegradeError`] carrying the value.

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};

pub use crate::audio::active_power;
use crate::audio::{AudioError, resample};

/// What went wrong degrading audio. Every variant carries the offending value.
#[derive(Debug, thiserror::Error)]
pub enum DegradeError {
    /// The sample rate cannot carry the degradation (e.g. below 8 kHz for the 8 kHz
    /// condition, or zero).
    #[error("sample rate {rate} Hz is not usable here ({reason})")]
    SampleRate {
        /// The rate given.
        rate: u32,
        /// Why.
        reason: &'static str,
    },
    /// An input sample is NaN or infinite.
    #[error("input sample {index} is not a finite number ({value})")]
    NonFinite {
        /// Index of the first bad sample.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A parameter is NaN, infinite or out of its range.
    #[error("{name} = {value} is outside {min}..={max}")]
    Parameter {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: f64,
        /// Smallest accepted.
        min: f64,
        /// Largest accepted.
        max: f64,
    },
    /// Babble was asked for without a pool of other speakers' speech.
    #[error("babble needs clips of other speakers than '{speaker}', and the pool has none")]
    NoBabble {
        /// The speaker whose voice must not be in the babble.
        speaker: String,
    },
    /// A condition name that is not one of [`Condition::ALL`].
    #[error("unknown condition '{name}' (known: {known})")]
    UnknownCondition {
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// Resampling failed (the 8 kHz condition).
    #[error(transparent)]
    Resample(#[from] AudioError),
    /// The FFT rejected a buffer (an internal error; should not happen).
    #[error("FFT failed: {reason}")]
    Fft {
        /// What realfft reported.
        reason: String,
    },
}

fn check_finite(samples: &[f32]) -> Result<(), DegradeError> {
    match samples.iter().position(|s| !s.is_finite()) {
        Some(index) => Err(DegradeError::NonFinite {
            index,
            value: samples[index],
        }),
        None => Ok(()),
    }
}

fn check(name: &'static str, value: f64, min: f64, max: f64) -> Result<(), DegradeError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(DegradeError::Parameter {
            name,
            value,
            min,
            max,
        })
    }
}

fn mean_power(samples: &[f32]) -> f64 {
    samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len().max(1) as f64
}

/// Colours of stationary noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoiseColour {
    /// Flat spectrum.
    White,
    /// −3 dB an octave (fans, air conditioning, rain).
    Pink,
    /// −6 dB an octave (rumble, traffic, a distant engine).
    Brown,
}

/// `n` samples of noise of a colour, unit mean power.
#[must_use]
pub fn noise(colour: NoiseColour, n: usize, rng: &mut impl Rng) -> Vec<f32> {
    let mut white = || rng.sample::<f64, _>(StandardNormal);
    let out: Vec<f64> = match colour {
        NoiseColour::White => (0..n).map(|_| white()).collect(),
        NoiseColour::Pink => {
            // Paul Kellet's refined pink filter: six one-pole sections and a direct term.
            let mut b = [0.0f64; 7];
            (0..n)
                .map(|_| {
                    let w = white();
                    b[0] = 0.99886 * b[0] + w * 0.055_517_9;
                    b[1] = 0.99332 * b[1] + w * 0.075_075_9;
                    b[2] = 0.969 * b[2] + w * 0.153_852;
                    b[3] = 0.8665 * b[3] + w * 0.310_485_6;
                    b[4] = 0.55 * b[4] + w * 0.532_952_2;
                    b[5] = -0.7616 * b[5] - w * 0.016_898;
                    let pink = b.iter().sum::<f64>() + w * 0.5362;
                    b[6] = w * 0.115_926;
                    pink
                })
                .collect()
        }
        NoiseColour::Brown => {
            // A leaky integrator of white noise (leak keeps it bounded; corner ~13 Hz at 16 kHz).
            let mut y = 0.0f64;
            (0..n)
                .map(|_| {
                    y = 0.995 * y + white();
                    y
                })
                .collect()
        }
    };
    normalised_power(&out)
}

fn normalised_power(x: &[f64]) -> Vec<f32> {
    let p = x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64;
    let scale = if p > 0.0 { 1.0 / p.sqrt() } else { 0.0 };
    x.iter().map(|v| (v * scale) as f32).collect()
}

/// Mains or console hum: a fundamental of `f0` Hz and its harmonics up to 2 kHz with
/// amplitudes falling as 1/k and random phases; `n` samples, unit mean power.
#[must_use]
pub fn hum(f0: f64, n: usize, sample_rate: u32, rng: &mut impl Rng) -> Vec<f32> {
    shaped_hum(f0, 2000.0, 1.0, n, sample_rate, rng)
}

/// A hum of `f0` Hz whose harmonics stop below `ceiling_hz` (and the Nyquist frequency), the
/// `k`-th with amplitude `1 / k^rolloff` (0: all equal, as a buzz through a low-pass; 1:
/// [`hum`]'s), random phases; `n` samples, unit mean power.
#[must_use]
pub fn shaped_hum(
    f0: f64,
    ceiling_hz: f64,
    rolloff: f64,
    n: usize,
    sample_rate: u32,
    rng: &mut impl Rng,
) -> Vec<f32> {
    let sr = f64::from(sample_rate);
    let harmonics: Vec<(f64, f64, f64)> = (1..)
        .map(|k| (k, f64::from(k) * f0))
        .take_while(|&(_, f)| f < ceiling_hz.min(sr / 2.0))
        .map(|(k, f)| {
            // Divided by, not multiplied by the inverse: `hum`'s samples stay as they were.
            let divisor = f64::from(k).powf(rolloff);
            (f, rng.random::<f64>() * 2.0 * PI, divisor)
        })
        .collect();
    let x: Vec<f64> = (0..n)
        .map(|i| {
            let t = i as f64 / sr;
            harmonics
                .iter()
                .map(|&(f, phase, d)| (2.0 * PI * f * t + phase).sin() / d)
                .sum()
        })
        .collect();
    normalised_power(&x)
}

/// `speech + noise` with the noise scaled so that the speech's [`active_power`] is `snr_db`
/// above the noise's mean power. The noise is repeated if shorter than the speech. Silence
/// or empty noise leaves the speech unchanged.
#[must_use]
pub fn mix_at_snr(speech: &[f32], noise: &[f32], snr_db: f64, sample_rate: u32) -> Vec<f32> {
    let ps = active_power(speech, sample_rate);
    let pn = mean_power(noise);
    if ps <= 0.0 || pn <= 0.0 || noise.is_empty() {
        return speech.to_vec();
    }
    let scale = (ps / (pn * 10f64.powf(snr_db / 10.0))).sqrt();
    speech
        .iter()
        .zip(noise.iter().cycle())
        .map(|(&s, &n)| (f64::from(s) + scale * f64::from(n)) as f32)
        .collect()
}

/// Linear convolution of `x` with `h`, truncated to `x.len()` samples, by FFT.
fn convolve(x: &[f32], h: &[f32]) -> Result<Vec<f32>, DegradeError> {
    if x.is_empty() || h.is_empty() {
        return Ok(x.to_vec());
    }
    let n = (x.len() + h.len() - 1).next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(n);
    let inverse = planner.plan_fft_inverse(n);
    let fft_err = |e: realfft::FftError| DegradeError::Fft {
        reason: e.to_string(),
    };
    let spectrum = |v: &[f32]| -> Result<Vec<realfft::num_complex::Complex<f32>>, DegradeError> {
        let mut buf = vec![0.0f32; n];
        buf[..v.len()].copy_from_slice(v);
        let mut out = forward.make_output_vec();
        forward.process(&mut buf, &mut out).map_err(fft_err)?;
        Ok(out)
    };
    let a = spectrum(x)?;
    let b = spectrum(h)?;
    let mut product: Vec<_> = a.iter().zip(&b).map(|(p, q)| p * q).collect();
    // The DC and Nyquist bins of a real signal's spectrum are real; rounding may leave an
    // imaginary residue that realfft rejects.
    if let Some(first) = product.first_mut() {
        first.im = 0.0;
    }
    if let Some(last) = product.last_mut() {
        last.im = 0.0;
    }
    let mut out = inverse.make_output_vec();
    inverse.process(&mut product, &mut out).map_err(fft_err)?;
    let norm = 1.0 / n as f32;
    Ok(out[..x.len()].iter().map(|v| v * norm).collect())
}

/// A synthetic room impulse response: the direct sound, then from 2.5 ms a tail of Gaussian
/// noise decaying by 60 dB over `rt60` seconds, with `drr_db` more energy in the direct sound
/// than in the tail (0 dB: a player a couple of metres from the microphone).
#[must_use]
pub fn room_impulse(rt60: f64, drr_db: f64, sample_rate: u32, rng: &mut impl Rng) -> Vec<f32> {
    let sr = f64::from(sample_rate);
    let len = ((rt60 * sr) as usize).max(2);
    let start = ((0.0025 * sr) as usize).clamp(1, len - 1);
    let mut tail: Vec<f64> = (start..len)
        .map(|i| {
            let t = i as f64 / sr;
            rng.sample::<f64, _>(StandardNormal) * 10f64.powf(-3.0 * t / rt60)
        })
        .collect();
    let energy: f64 = tail.iter().map(|v| v * v).sum();
    let target = 10f64.powf(-drr_db / 10.0);
    let scale = if energy > 0.0 {
        (target / energy).sqrt()
    } else {
        0.0
    };
    tail.iter_mut().for_each(|v| *v *= scale);
    let mut h = vec![0.0f32; len];
    h[0] = 1.0;
    for (dst, v) in h[start..].iter_mut().zip(&tail) {
        *dst = *v as f32;
    }
    h
}

/// Speech in a room: convolved with [`room_impulse`], then scaled back to its original
/// active level (the reverb changes the sound, not the loudness).
///
/// # Errors
/// [`DegradeError::Parameter`] for `rt60` outside 0.05..=3 s or `drr_db` outside ±30 dB.
pub fn reverberate(
    samples: &[f32],
    rt60: f64,
    drr_db: f64,
    sample_rate: u32,
    rng: &mut impl Rng,
) -> Result<Vec<f32>, DegradeError> {
    check("rt60", rt60, 0.05, 3.0)?;
    check("drr_db", drr_db, -30.0, 30.0)?;
    let h = room_impulse(rt60, drr_db, sample_rate, rng);
    let wet = convolve(samples, &h)?;
    Ok(matched_level(samples, wet, sample_rate))
}

fn matched_level(reference: &[f32], mut x: Vec<f32>, sample_rate: u32) -> Vec<f32> {
    let (a, b) = (
        active_power(reference, sample_rate),
        active_power(&x, sample_rate),
    );
    if a > 0.0 && b > 0.0 {
        let g = (a / b).sqrt() as f32;
        x.iter_mut().for_each(|v| *v *= g);
    }
    x
}

/// Keeps only `low_hz..=high_hz` (a brick-wall filter on the whole clip's spectrum).
///
/// # Errors
/// [`DegradeError::Parameter`] when the band is empty or beyond the Nyquist frequency.
pub fn band_limit(
    samples: &[f32],
    low_hz: f64,
    high_hz: f64,
    sample_rate: u32,
) -> Result<Vec<f32>, DegradeError> {
    let nyquist = f64::from(sample_rate) / 2.0;
    check("low_hz", low_hz, 0.0, nyquist)?;
    check("high_hz", high_hz, low_hz, nyquist)?;
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    let n = samples.len();
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(n);
    let inverse = planner.plan_fft_inverse(n);
    let fft_err = |e: realfft::FftError| DegradeError::Fft {
        reason: e.to_string(),
    };
    let mut buf = samples.to_vec();
    let mut spectrum = forward.make_output_vec();
    forward.process(&mut buf, &mut spectrum).map_err(fft_err)?;
    let bin_hz = f64::from(sample_rate) / n as f64;
    let last = spectrum.len() - 1;
    for (k, c) in spectrum.iter_mut().enumerate() {
        let f = k as f64 * bin_hz;
        if f < low_hz || f > high_hz {
            *c = realfft::num_complex::Complex::new(0.0, 0.0);
        }
        if k == 0 || (k == last && n.is_multiple_of(2)) {
            c.im = 0.0;
        }
    }
    let mut out = inverse.make_output_vec();
    inverse.process(&mut spectrum, &mut out).map_err(fft_err)?;
    let norm = 1.0 / n as f32;
    Ok(out.iter().map(|v| v * norm).collect())
}

/// The noise floor of [`Condition::QuietMic`]'s microphone (its own hiss), in dBFS.
pub const QUIET_MIC_FLOOR_DBFS: f64 = -70.0;

/// A quiet microphone: the speech attenuated by `gain_db`, over the microphone's own noise
/// floor (white noise of `floor_dbfs` mean power relative to full scale).
///
/// # Errors
/// [`DegradeError::Parameter`] for a gain outside −60..=0 dB or a floor outside −120..=−20
/// dBFS.
pub fn quiet_microphone(
    samples: &[f32],
    gain_db: f64,
    floor_dbfs: f64,
    rng: &mut impl Rng,
) -> Result<Vec<f32>, DegradeError> {
    check("gain_db", gain_db, -60.0, 0.0)?;
    check("floor_dbfs", floor_dbfs, -120.0, -20.0)?;
    let g = 10f64.powf(gain_db / 20.0);
    let floor = 10f64.powf(floor_dbfs / 20.0);
    let n = noise(NoiseColour::White, samples.len(), rng);
    Ok(samples
        .iter()
        .zip(&n)
        .map(|(&s, &w)| (f64::from(s) * g + floor * f64::from(w)) as f32)
        .collect())
}

/// An input gain set too high: the speech amplified so its peak would be `overdrive_db`
/// above full scale, then hard-clipped to ±1.
///
/// # Errors
/// [`DegradeError::Parameter`] for an overdrive outside 0..=40 dB.
pub fn clip(samples: &[f32], overdrive_db: f64) -> Result<Vec<f32>, DegradeError> {
    check("overdrive_db", overdrive_db, 0.0, 40.0)?;
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak == 0.0 {
        return Ok(samples.to_vec());
    }
    let g = 10f32.powf(overdrive_db as f32 / 20.0) / peak;
    Ok(samples.iter().map(|&s| (s * g).clamp(-1.0, 1.0)).collect())
}

/// Audio that passed through `low_rate` Hz: resampled down, then back to `sample_rate`.
///
/// # Errors
/// [`DegradeError::SampleRate`] when `low_rate` is zero or not below `sample_rate`; a
/// resampling error.
pub fn narrowband(
    samples: &[f32],
    low_rate: u32,
    sample_rate: u32,
) -> Result<Vec<f32>, DegradeError> {
    if low_rate == 0 || low_rate >= sample_rate {
        return Err(DegradeError::SampleRate {
            rate: low_rate,
            reason: "the reduced rate must be positive and below the clip's",
        });
    }
    let down = resample(samples, sample_rate, low_rate)?;
    let mut up = resample(&down, low_rate, sample_rate)?;
    up.resize(samples.len(), 0.0);
    Ok(up)
}

/// The telephone band a narrow line of [`narrow_line`] passes: its lower edge's range, then
/// its upper edge's, in Hz.
pub const TELEPHONE_EDGES_HZ: [(f64, f64); 2] = [(200.0, 400.0), (3200.0, 3600.0)];

/// A value drawn uniformly from `lo..hi`.
fn draw(rng: &mut ChaCha8Rng, (lo, hi): (f64, f64)) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// A training copy heard through a narrow line (`TrainingConfig::band_probability`): with
/// probability `probability` either a telephone band (a [`band_limit`] with edges drawn from
/// [`TELEPHONE_EDGES_HZ`]) or a microphone at 8 kHz ([`narrowband`]), equally often;
/// otherwise `samples` unchanged. Deterministic for `seed`. A clip already at 8 kHz or below
/// always gets the telephone band.
///
/// # Errors
/// [`DegradeError::Parameter`] for a probability outside 0..=1;
/// [`DegradeError::NonFinite`] for a bad sample; a resampling or FFT error.
pub fn narrow_line(
    samples: &[f32],
    sample_rate: u32,
    probability: f64,
    seed: u64,
) -> Result<Vec<f32>, DegradeError> {
    check("band_probability", probability, 0.0, 1.0)?;
    check_finite(samples)?;
    let rng = &mut ChaCha8Rng::seed_from_u64(seed);
    if rng.random::<f64>() >= probability {
        return Ok(samples.to_vec());
    }
    let (low, high) = (
        draw(rng, TELEPHONE_EDGES_HZ[0]),
        draw(rng, TELEPHONE_EDGES_HZ[1]),
    );
    if rng.random::<bool>() && sample_rate > 8000 {
        narrowband(samples, 8000, sample_rate)
    } else {
        let nyquist = f64::from(sample_rate) / 2.0;
        band_limit(samples, low.min(nyquist), high.min(nyquist), sample_rate)
    }
}

/// Clips of other speakers, for babble: `(speaker, audio at the degrader's rate)`.
pub type BabblePool = Vec<(String, Vec<f32>)>;

/// Babble: `talkers` clips of speakers other than `speaker`, each from a random offset and
/// looped to the speech's length, summed; unit mean power.
///
/// # Errors
/// [`DegradeError::NoBabble`] when the pool has no clip of another speaker.
pub fn babble(
    pool: &BabblePool,
    speaker: &str,
    talkers: usize,
    n: usize,
    rng: &mut impl Rng,
) -> Result<Vec<f32>, DegradeError> {
    let others: Vec<&Vec<f32>> = pool
        .iter()
        .filter(|(s, a)| s != speaker && !a.is_empty())
        .map(|(_, a)| a)
        .collect();
    if others.is_empty() {
        return Err(DegradeError::NoBabble {
            speaker: speaker.to_owned(),
        });
    }
    let mut sum = vec![0.0f64; n];
    for _ in 0..talkers.max(1) {
        let clip = others[rng.random_range(0..others.len())];
        let offset = rng.random_range(0..clip.len());
        // Each talker at its own level, as voices in a room are.
        let level = 10f64.powf(rng.random_range(-6.0..=0.0) / 20.0);
        let p = mean_power(clip).max(1e-12).sqrt();
        for (i, v) in sum.iter_mut().enumerate() {
            *v += level * f64::from(clip[(offset + i) % clip.len()]) / p;
        }
    }
    Ok(normalised_power(&sum))
}

/// The named conditions of the robustness table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Condition {
    /// The audio as recorded.
    Clean,
    /// Pink noise at 10 dB SNR.
    Pink,
    /// Four other speakers talking at 10 dB SNR.
    Babble,
    /// A room with RT60 0.6 s, direct-to-reverberant ratio 0 dB.
    Reverb,
    /// The telephone band, 300–3400 Hz.
    Telephone,
    /// A microphone 26 dB quieter, over a −70 dBFS noise floor.
    QuietMic,
    /// Gain 12 dB too high: the peaks hard-clipped.
    Clipping,
    /// Audio that went through 8 kHz.
    Narrowband,
    /// Mains hum (60 Hz and harmonics) at 10 dB SNR. Never used in training; the engine
    /// removes it (`audio::HumCanceller`), designed against this condition.
    Hum,
    /// Music in the room (chords, a bass line and a melody of harmonic tones,
    /// [`music`](super::streams::music)) at 10 dB SNR. Never used in training, and no part
    /// of the engine was designed against it ([`Condition::HELD_OUT`]).
    Music,
}

impl Condition {
    /// Every condition, clean first.
    pub const ALL: [Condition; 10] = [
        Condition::Clean,
        Condition::Pink,
        Condition::Babble,
        Condition::Reverb,
        Condition::Telephone,
        Condition::QuietMic,
        Condition::Clipping,
        Condition::Narrowband,
        Condition::Hum,
        Condition::Music,
    ];

    /// The condition no training augmentation imitates and no part of the engine was
    /// designed against: robustness beyond the list. (Mains hum was until the engine learnt
    /// to remove it, 2026-12-07.)
    pub const HELD_OUT: Condition = Condition::Music;

    /// Name on the command line and in tables.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Condition::Clean => "clean",
            Condition::Pink => "pink",
            Condition::Babble => "babble",
            Condition::Reverb => "reverb",
            Condition::Telephone => "telephone",
            Condition::QuietMic => "quiet-mic",
            Condition::Clipping => "clipping",
            Condition::Narrowband => "8khz",
            Condition::Hum => "hum",
            Condition::Music => "music",
        }
    }

    /// One line saying what it does.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Condition::Clean => "as recorded",
            Condition::Pink => "pink noise, 10 dB SNR",
            Condition::Babble => "babble of 4 other speakers, 10 dB SNR",
            Condition::Reverb => "room reverb, RT60 0.6 s, DRR 0 dB",
            Condition::Telephone => "telephone band, 300-3400 Hz",
            Condition::QuietMic => "microphone -26 dB over a -70 dBFS noise floor",
            Condition::Clipping => "hard clipping, 12 dB overdrive",
            Condition::Narrowband => "resampled through 8 kHz",
            Condition::Hum => "mains hum 60 Hz + harmonics, 10 dB SNR (never trained on)",
            Condition::Music => "music-like tones, 10 dB SNR (never trained on)",
        }
    }

    /// Applies the condition to `samples` (mono, at `sample_rate`) of `speaker`, with noise
    /// drawn from `seed` and babble from `pool`.
    ///
    /// # Errors
    /// [`DegradeError::NonFinite`] for a bad sample; [`DegradeError::NoBabble`] for babble
    /// without other speakers; a resampling or FFT error.
    pub fn apply(
        self,
        samples: &[f32],
        sample_rate: u32,
        speaker: &str,
        pool: &BabblePool,
        seed: u64,
    ) -> Result<Vec<f32>, DegradeError> {
        check_finite(samples)?;
        let rng = &mut ChaCha8Rng::seed_from_u64(seed);
        let n = samples.len();
        match self {
            Condition::Clean => Ok(samples.to_vec()),
            Condition::Pink => Ok(mix_at_snr(
                samples,
                &noise(NoiseColour::Pink, n, rng),
                10.0,
                sample_rate,
            )),
            Condition::Babble => {
                let b = babble(pool, speaker, 4, n, rng)?;
                Ok(mix_at_snr(samples, &b, 10.0, sample_rate))
            }
            Condition::Reverb => reverberate(samples, 0.6, 0.0, sample_rate, rng),
            Condition::Telephone => band_limit(samples, 300.0, 3400.0, sample_rate),
            Condition::QuietMic => quiet_microphone(samples, -26.0, QUIET_MIC_FLOOR_DBFS, rng),
            Condition::Clipping => clip(samples, 12.0),
            Condition::Narrowband => narrowband(samples, 8000, sample_rate),
            Condition::Hum => Ok(mix_at_snr(
                samples,
                &hum(60.0, n, sample_rate, rng),
                10.0,
                sample_rate,
            )),
            Condition::Music => Ok(mix_at_snr(
                samples,
                &super::streams::music(n, sample_rate, rng),
                10.0,
                sample_rate,
            )),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Condition {
    type Err = DegradeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Condition::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| DegradeError::UnknownCondition {
                name: s.to_owned(),
                known: Condition::ALL.map(Condition::name).join(", "),
            })
    }
}

/// Random room and microphone degradations for training copies: each augmented copy gets,
/// with probability `probability`, one degradation drawn uniformly from the kinds below with a
/// random severity. Never mains hum nor music ([`Condition::HELD_OUT`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoomAugment {
    /// Probability that a copy is degraded (0 disables).
    pub probability: f64,
    /// SNR range of stationary noise (white, pink or brown) and babble, in dB.
    pub snr_db: (f64, f64),
    /// RT60 range of reverb, in seconds.
    pub rt60: (f64, f64),
    /// Direct-to-reverberant ratio range, in dB.
    pub drr_db: (f64, f64),
    /// Range of a quiet microphone's attenuation, in dB (negative).
    pub quiet_db: (f64, f64),
    /// Range of clipping overdrive, in dB.
    pub overdrive_db: (f64, f64),
}

impl Default for RoomAugment {
    fn default() -> Self {
        Self {
            probability: 0.0,
            snr_db: (0.0, 20.0),
            rt60: (0.2, 1.0),
            drr_db: (-3.0, 6.0),
            quiet_db: (-36.0, -10.0),
            overdrive_db: (3.0, 18.0),
        }
    }
}

impl RoomAugment {
    /// Checks the probability and that every range is ordered and within its function's
    /// limits.
    ///
    /// # Errors
    /// [`DegradeError::Parameter`] naming the field.
    pub fn validate(&self) -> Result<(), DegradeError> {
        check("room.probability", self.probability, 0.0, 1.0)?;
        let ranges = [
            ("room.snr_db", self.snr_db, -10.0, 60.0),
            ("room.rt60", self.rt60, 0.05, 3.0),
            ("room.drr_db", self.drr_db, -30.0, 30.0),
            ("room.quiet_db", self.quiet_db, -60.0, 0.0),
            ("room.overdrive_db", self.overdrive_db, 0.0, 40.0),
        ];
        for (name, (lo, hi), min, max) in ranges {
            check(name, lo, min, max)?;
            check(name, hi, lo, max)?;
        }
        Ok(())
    }

    /// Degrades one training copy (or returns it unchanged), deterministically for `seed`.
    /// Babble needs other speakers in `pool`; with none, another kind is used instead.
    ///
    /// # Errors
    /// [`DegradeError::NonFinite`] for a bad sample; a resampling or FFT error.
    pub fn apply(
        &self,
        samples: &[f32],
        sample_rate: u32,
        speaker: &str,
        pool: &BabblePool,
        seed: u64,
    ) -> Result<Vec<f32>, DegradeError> {
        check_finite(samples)?;
        let rng = &mut ChaCha8Rng::seed_from_u64(seed);
        if rng.random::<f64>() >= self.probability {
            return Ok(samples.to_vec());
        }
        let n = samples.len();
        let has_babble = pool.iter().any(|(s, a)| s != speaker && !a.is_empty());
        let kinds = if has_babble { 8 } else { 7 };
        match rng.random_range(0..kinds) {
            0 => {
                let colour = [NoiseColour::White, NoiseColour::Pink, NoiseColour::Brown]
                    [rng.random_range(0..3)];
                let snr = draw(rng, self.snr_db);
                Ok(mix_at_snr(
                    samples,
                    &noise(colour, n, rng),
                    snr,
                    sample_rate,
                ))
            }
            1 => {
                let (rt60, drr) = (draw(rng, self.rt60), draw(rng, self.drr_db));
                reverberate(samples, rt60, drr, sample_rate, rng)
            }
            2 => {
                let nyquist = f64::from(sample_rate) / 2.0;
                let low = draw(rng, (50.0, 500.0));
                let high = draw(rng, (2500.0, 6000.0)).min(nyquist);
                band_limit(samples, low, high.max(low), sample_rate)
            }
            3 => {
                let (g, floor) = (draw(rng, self.quiet_db), draw(rng, (-90.0, -60.0)));
                quiet_microphone(samples, g, floor, rng)
            }
            4 => clip(samples, draw(rng, self.overdrive_db)),
            5 => {
                let rate = [8000, 11025, 12000][rng.random_range(0..3)];
                if rate < sample_rate {
                    narrowband(samples, rate, sample_rate)
                } else {
                    Ok(samples.to_vec())
                }
            }
            6 => {
                // Room and noise together: reverb, then pink noise.
                let (rt60, drr) = (draw(rng, self.rt60), draw(rng, self.drr_db));
                let wet = reverberate(samples, rt60, drr, sample_rate, rng)?;
                let snr = draw(rng, self.snr_db) + 5.0;
                Ok(mix_at_snr(
                    &wet,
                    &noise(NoiseColour::Pink, n, rng),
                    snr,
                    sample_rate,
                ))
            }
            _ => {
                let talkers = rng.random_range(2..=6);
                let b = babble(pool, speaker, talkers, n, rng)?;
                let snr = draw(rng, self.snr_db);
                Ok(mix_at_snr(samples, &b, snr, sample_rate))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: u32 = 16_000;

    /// A 1 s vowel-like tone burst between 0.5 s of silence on each side.
    fn utterance() -> Vec<f32> {
        let mut x = vec![0.0f32; SR as usize * 2];
        for (i, v) in x[SR as usize / 2..SR as usize * 3 / 2]
            .iter_mut()
            .enumerate()
        {
            let t = i as f64 / f64::from(SR);
            *v =
                (0.3 * ((2.0 * PI * 150.0 * t).sin() + 0.5 * (2.0 * PI * 1200.0 * t).sin())) as f32;
        }
        x
    }

    fn snr_db(clean: &[f32], noisy: &[f32]) -> f64 {
        let diff: Vec<f32> = noisy.iter().zip(clean).map(|(a, b)| a - b).collect();
        10.0 * (active_power(clean, SR) / mean_power(&diff)).log10()
    }

    fn pool() -> BabblePool {
        (0..3)
            .map(|k| {
                let mut rng = ChaCha8Rng::seed_from_u64(k);
                (
                    format!("other{k}"),
                    noise(NoiseColour::Pink, 8000, &mut rng),
                )
            })
            .collect()
    }

    #[test]
    fn noise_is_mixed_at_the_asked_snr_against_active_speech() {
        let x = utterance();
        for c in [
            Condition::Pink,
            Condition::Babble,
            Condition::Hum,
            Condition::Music,
        ] {
            let y = c.apply(&x, SR, "me", &pool(), 7).unwrap();
            assert_eq!(y.len(), x.len());
            let snr = snr_db(&x, &y);
            assert!((snr - 10.0).abs() < 0.5, "{c}: {snr} dB");
        }
    }

    #[test]
    fn every_condition_is_deterministic_finite_and_keeps_the_length() {
        let x = utterance();
        for c in Condition::ALL {
            let a = c.apply(&x, SR, "me", &pool(), 3).unwrap();
            let b = c.apply(&x, SR, "me", &pool(), 3).unwrap();
            assert_eq!(a, b, "{c}");
            assert_eq!(a.len(), x.len(), "{c}");
            assert!(a.iter().all(|v| v.is_finite()), "{c}");
            assert_eq!(c.name().parse::<Condition>().unwrap(), c);
            if c != Condition::Clean {
                assert_ne!(a, x, "{c} changed nothing");
            }
        }
        let err = "fog".parse::<Condition>().unwrap_err().to_string();
        assert!(err.contains("fog") && err.contains("quiet-mic"), "{err}");
    }

    #[test]
    fn band_limit_removes_out_of_band_energy() {
        let x = utterance(); // 150 Hz and 1200 Hz
        let y = band_limit(&x, 300.0, 3400.0, SR).unwrap();
        // The 150 Hz component (4/5 of the power) is gone; the 1200 Hz one stays.
        let ratio = mean_power(&y) / mean_power(&x);
        assert!((ratio - 0.2).abs() < 0.02, "{ratio}");
    }

    #[test]
    fn reverb_keeps_the_level_and_spreads_energy_into_the_silence_after() {
        let x = utterance();
        let y = Condition::Reverb.apply(&x, SR, "me", &pool(), 1).unwrap();
        let level = active_power(&y, SR) / active_power(&x, SR);
        assert!((level - 1.0).abs() < 0.2, "{level}");
        let after = (SR as usize * 3 / 2 + 800)..(SR as usize * 3 / 2 + 1600);
        assert!(mean_power(&y[after.clone()]) > 1e-4, "no tail");
        assert_eq!(mean_power(&x[after]), 0.0);
    }

    #[test]
    fn clipping_and_quiet_microphone_do_what_they_say() {
        let x = utterance();
        let clipped = Condition::Clipping.apply(&x, SR, "me", &pool(), 0).unwrap();
        assert!(clipped.iter().all(|v| v.abs() <= 1.0));
        let at_rail = clipped.iter().filter(|v| v.abs() == 1.0).count();
        assert!(at_rail > SR as usize / 10, "{at_rail}");
        let quiet = Condition::QuietMic.apply(&x, SR, "me", &pool(), 0).unwrap();
        let speech = SR as usize / 2..SR as usize * 3 / 2;
        let drop = 10.0 * (mean_power(&quiet[speech.clone()]) / mean_power(&x[speech])).log10();
        assert!((drop + 26.0).abs() < 0.5, "{drop}");
        // The noise floor is there in the silence.
        let floor = 10.0 * mean_power(&quiet[..4000]).log10();
        assert!((floor + 70.0).abs() < 1.0, "{floor}");
    }

    #[test]
    fn babble_never_uses_the_speakers_own_voice() {
        let pool: BabblePool = vec![("me".into(), vec![0.5; 100])];
        let err = babble(&pool, "me", 4, 100, &mut ChaCha8Rng::seed_from_u64(0)).unwrap_err();
        assert!(err.to_string().contains("'me'"), "{err}");
    }

    /// A narrow line leaves a copy alone at probability 0, always narrows it at 1 (no
    /// energy left above 4 kHz, by either kind), is deterministic, and refuses a probability
    /// outside 0..=1 by name.
    #[test]
    fn narrow_line_narrows_as_often_as_asked() {
        // The test utterance's tones (150 and 1200 Hz) over white noise, which fills the band.
        let rng = &mut ChaCha8Rng::seed_from_u64(3);
        let white = noise(NoiseColour::White, SR as usize * 2, rng);
        let x: Vec<f32> = utterance()
            .iter()
            .zip(&white)
            .map(|(s, w)| s + 0.1 * w)
            .collect();
        let high = |y: &[f32]| {
            let above = band_limit(y, 4200.0, 8000.0, SR).unwrap();
            mean_power(&above) / mean_power(y)
        };
        assert!(high(&x) > 1e-3, "the test clip has energy above 4 kHz");
        let mut kinds = std::collections::BTreeSet::new();
        for seed in 0..16 {
            assert_eq!(narrow_line(&x, SR, 0.0, seed).unwrap(), x);
            let y = narrow_line(&x, SR, 1.0, seed).unwrap();
            assert_eq!(y, narrow_line(&x, SR, 1.0, seed).unwrap());
            assert_eq!(y.len(), x.len());
            assert!(high(&y) < 1e-3, "seed {seed}: {}", high(&y));
            // The telephone band also removes what lies under 200 Hz.
            let low = band_limit(&y, 0.0, 150.0, SR).unwrap();
            kinds.insert(mean_power(&low) / mean_power(&y) < 1e-4);
        }
        assert_eq!(kinds.len(), 2, "both kinds are drawn");
        let err = narrow_line(&x, SR, 1.5, 0).unwrap_err().to_string();
        assert!(
            err.contains("band_probability") && err.contains("1.5"),
            "{err}"
        );
    }

    #[test]
    fn room_augment_validates_and_never_fails_on_its_own_draws() {
        let room = RoomAugment {
            probability: 1.0,
            ..RoomAugment::default()
        };
        room.validate().unwrap();
        let x = utterance();
        let mut changed = 0;
        for seed in 0..40 {
            let y = room.apply(&x, SR, "me", &pool(), seed).unwrap();
            assert_eq!(y.len(), x.len());
            assert!(y.iter().all(|v| v.is_finite()));
            changed += usize::from(y != x);
        }
        assert!(changed >= 38, "{changed}");
        // Without a pool, no babble is drawn and nothing fails.
        room.apply(&x, SR, "me", &Vec::new(), 5).unwrap();
        let off = RoomAugment::default();
        assert_eq!(off.apply(&x, SR, "me", &pool(), 1).unwrap(), x);
        let bad = RoomAugment {
            rt60: (0.9, 0.2),
            ..RoomAugment::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("rt60"));
        assert!(
            reverberate(&x, f64::NAN, 0.0, SR, &mut ChaCha8Rng::seed_from_u64(0))
                .unwrap_err()
                .to_string()
                .contains("rt60")
        );
    }
}
