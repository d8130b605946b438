//! The spectral frame classifier: per-band signal-to-noise ratios against per-band noise
//! estimates, so that noise concentrated in some bands (hum, rumble, a fan's hiss) does not
//! mask speech in the others.
//!
//! Every frame (one hop of [`VadConfig::frame_ms`]) it takes a Hann-windowed analysis window
//! of three hops (30 ms by default), its power spectrum, and the power in
//! [`SPECTRAL_BANDS`] bands spaced evenly on the mel scale between [`LOWEST_BAND_HZ`] and
//! [`HIGHEST_BAND_HZ`] (or 45% of the sample rate if lower). The frame's *score* is the mean
//! over bands of the band's level above its noise estimate, in dB, each clamped to
//! `0..=`[`BAND_SNR_CAP_DB`]: about 1 dB for noise alone, whatever its colour or level.
//!
//! Each band's noise estimate starts as the band's mean power over the first
//! [`WARM_UP_S`] seconds (a stream normally opens before anyone speaks); then, band by band
//! and whatever the other bands do, it
//! * moves towards the band's power (a 200 ms time constant at 10 ms hops) in frames where
//!   that power is less than [`NOISE_LIKE_DB`] above it, so speech, which rises further,
//!   barely moves it,
//! * follows the band's slowly smoothed power down at once, and
//! * is never below the smallest slowly smoothed power of the last [`NOISE_WINDOW_S`]
//!   seconds (of all the history, once [`MIN_HISTORY_S`] of it exist, until the window is
//!   full), so a noise that steps up is followed within that time even while speech seems
//!   to go on (minimum statistics, after R. Martin, "Noise power spectral density estimation
//!   based on optimal smoothing and minimum statistics", IEEE Trans. Speech Audio Process.
//!   9(5), 2001).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// Bands the spectrum is divided into.
pub const SPECTRAL_BANDS: usize = 12;
/// Lower edge of the lowest band, in Hz (below it: rumble and mains hum's fundamental).
pub const LOWEST_BAND_HZ: f32 = 150.0;
/// Upper edge of the highest band, in Hz (at most 45% of the sample rate).
pub const HIGHEST_BAND_HZ: f32 = 5_000.0;
/// Largest level above the noise estimate a band contributes to the score, in dB.
pub const BAND_SNR_CAP_DB: f32 = 30.0;
/// The noise estimate is never below the quietest smoothed power of this many seconds.
pub const NOISE_WINDOW_S: f32 = 3.0;
/// Minimum statistics bound the noise estimates once this many seconds of history exist
/// (the quietest smoothed power of the history so far, until [`NOISE_WINDOW_S`] of it
/// exist). Chosen on the design actors' streams (`trainer segment-eval --actors 19-20
/// --utterances 2 --snrs 10`, noise seeds 4-23): against waiting for the full window, music
/// alone gave 5 false detections in 200 minutes instead of 7 (and 8 instead of 10 in another
/// 200 minutes), most of the difference in the first two seconds; every other noise, and
/// the utterances of seeds 1-3, were detected the same.
pub const MIN_HISTORY_S: f32 = 1.0;
/// The noise estimates start as the mean power of this many seconds.
pub const WARM_UP_S: f32 = 0.25;
/// Hops in the analysis window.
const WINDOW_HOPS: usize = 3;
/// A band's frame counts as noise-like when its power is less than this many dB above the
/// band's noise estimate.
pub const NOISE_LIKE_DB: f32 = 4.0;
/// Weight of the newest frame in the slowly smoothed band powers (a 100 ms time constant
/// at 10 ms hops).
const SMOOTHING: f32 = 0.1;
/// Weight of a noise-like frame in the noise estimate's update.
const NOISE_UPDATE: f32 = 0.05;
/// Least mean rise of the bands' smoothed powers over their noise estimates, in dB, that
/// counts as a noise stepping up.
pub const STEP_RISE_DB: f32 = 6.0;
/// Largest spread (standard deviation over the bands) of that rise, in dB, for a step.
pub const STEP_SPREAD_DB: f32 = 3.0;
/// Consecutive frames of a uniform rise after which the noise estimates follow it.
pub const STEP_FRAMES: u32 = 15;
/// Largest sample magnitude taken as it is (audio is nominally within ±1).
const MAX_SAMPLE: f32 = 1e6;
/// Power below which a band counts as empty.
const TINY: f32 = 1e-20;

fn hz_to_mel(hz: f32) -> f32 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel_to_hz(mel: f32) -> f32 {
    700.0 * (10f32.powf(mel / 2595.0) - 1.0)
}

/// Spectral speech/noise scoring of successive frames; see the module docs.
#[derive(Clone)]
pub struct SpectralScorer {
    hop: usize,
    window: Vec<f32>,
    /// The last `window.len()` samples, oldest first.
    input: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    buffer: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    bands: Vec<Range<usize>>,
    power: Vec<f32>,
    /// The last frame's level above the noise estimate per band, in dB (clamped).
    excess_db: Vec<f32>,
    smoothed: Vec<f32>,
    noise: Vec<f32>,
    /// `history_frames` rows of `bands.len()` smoothed powers (a ring).
    history: Vec<f32>,
    history_frames: usize,
    history_pos: usize,
    history_len: usize,
    /// Rows of history from which minimum statistics bound the noise estimates.
    min_history_frames: usize,
    warm_up_frames: u64,
    frames: u64,
    /// Consecutive frames in which every band rose above its noise estimate by about the
    /// same amount ([`STEP_RISE_DB`], [`STEP_SPREAD_DB`]).
    uniform_frames: u32,
    /// Whether the last frame's noise estimates jumped to a noise that stepped up.
    stepped: bool,
}

impl fmt::Debug for SpectralScorer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpectralScorer")
            .field("hop", &self.hop)
            .field("fft_len", &self.buffer.len())
            .field("bands", &self.bands)
            .field("noise", &self.noise)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl SpectralScorer {
    /// A scorer for frames of `hop` samples at `sample_rate` Hz (both at least 1), with
    /// [`SPECTRAL_BANDS`] bands from [`LOWEST_BAND_HZ`] to [`HIGHEST_BAND_HZ`].
    #[must_use]
    pub fn new(hop: usize, sample_rate: u32) -> Self {
        Self::with_bands(
            hop,
            sample_rate,
            SPECTRAL_BANDS,
            LOWEST_BAND_HZ..HIGHEST_BAND_HZ,
        )
    }

    /// A scorer with `n_bands` bands (at least 1) spaced evenly on the mel scale over
    /// `range` Hz, whose top is lowered to 45% of the sample rate where that is lower. At low
    /// rates narrow bands may merge, so [`band_powers`](Self::band_powers) can be shorter.
    #[must_use]
    pub fn with_bands(hop: usize, sample_rate: u32, n_bands: usize, range: Range<f32>) -> Self {
        let n_bands = n_bands.max(1);
        let lowest = range.start.max(1.0);
        let hop = hop.max(1);
        let win_len = WINDOW_HOPS * hop;
        let fft_len = win_len.next_power_of_two().max(16);
        let window: Vec<f32> = (0..win_len)
            .map(|i| {
                let phase = std::f32::consts::TAU * (i as f32 + 0.5) / win_len as f32;
                0.5 - 0.5 * phase.cos()
            })
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(fft_len);
        let spectrum = fft.make_output_vec();
        let scratch = fft.make_scratch_vec();
        let rate = sample_rate.max(1) as f32;
        let bin_hz = rate / fft_len as f32;
        let top = range.end.min(0.45 * rate).max(lowest + 1.0);
        let (lo_mel, hi_mel) = (hz_to_mel(lowest), hz_to_mel(top));
        let edges: Vec<usize> = (0..=n_bands)
            .map(|b| {
                let mel = lo_mel + (hi_mel - lo_mel) * b as f32 / n_bands as f32;
                ((mel_to_hz(mel) / bin_hz).round() as usize).min(spectrum.len() - 1)
            })
            .collect();
        // Every band gets at least one bin of its own.
        let mut bands = Vec::with_capacity(n_bands);
        let mut start = edges[0].max(1);
        for &edge in &edges[1..] {
            let end = edge.max(start + 1).min(spectrum.len());
            if start < end {
                bands.push(start..end);
            }
            start = end;
        }
        let n_bands = bands.len();
        let frames_per_s = rate / hop as f32;
        let history_frames = ((NOISE_WINDOW_S * frames_per_s).ceil() as usize).max(1);
        Self {
            hop,
            input: vec![0.0; win_len],
            window,
            fft,
            buffer: vec![0.0; fft_len],
            spectrum,
            scratch,
            bands,
            power: vec![0.0; n_bands],
            excess_db: vec![0.0; n_bands],
            smoothed: vec![0.0; n_bands],
            noise: vec![0.0; n_bands],
            history: vec![0.0; history_frames * n_bands],
            history_frames,
            history_pos: 0,
            history_len: 0,
            min_history_frames: ((MIN_HISTORY_S * frames_per_s).ceil() as usize)
                .clamp(1, history_frames),
            uniform_frames: 0,
            stepped: false,
            warm_up_frames: (WARM_UP_S * frames_per_s).ceil() as u64,
            frames: 0,
        }
    }

    /// The frame length it expects, in samples.
    #[must_use]
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// The bands' power in the last scored frame (arbitrary units, the same for every band).
    #[must_use]
    pub fn band_powers(&self) -> &[f32] {
        &self.power
    }

    /// The bands' level above their noise estimates in the last scored frame, in dB, within
    /// `-`[`BAND_SNR_CAP_DB`]`..=`[`BAND_SNR_CAP_DB`] (the score clamps these at 0).
    #[must_use]
    pub fn band_excess_db(&self) -> &[f32] {
        &self.excess_db
    }

    /// Forgets the signal (noise estimates included).
    pub fn reset(&mut self) {
        self.input.fill(0.0);
        self.history_pos = 0;
        self.history_len = 0;
        self.frames = 0;
        self.uniform_frames = 0;
        self.stepped = false;
    }

    /// Forgets the samples of its analysis window but not the noise estimates: the next frame
    /// is analysed as if silence preceded it (after [`Segmenter::flush`](super::Segmenter::flush)).
    pub fn forget_samples(&mut self) {
        self.input.fill(0.0);
    }

    /// Scores the next frame (its samples; a shorter frame is zero-padded, a longer one
    /// truncated): the mean level of the bands above their noise estimates, in dB.
    pub fn score(&mut self, frame: &[f32]) -> f32 {
        let hop = self.hop;
        self.input.copy_within(hop.., 0);
        let tail = self.input.len() - hop;
        for (i, slot) in self.input[tail..].iter_mut().enumerate() {
            // Clamped so that no power overflows.
            *slot = frame
                .get(i)
                .copied()
                .filter(|x| x.is_finite())
                .map_or(0.0, |x| x.clamp(-MAX_SAMPLE, MAX_SAMPLE));
        }
        for ((b, x), w) in self.buffer.iter_mut().zip(&self.input).zip(&self.window) {
            *b = x * w;
        }
        self.buffer[self.input.len()..].fill(0.0);
        if self
            .fft
            .process_with_scratch(&mut self.buffer, &mut self.spectrum, &mut self.scratch)
            .is_err()
        {
            return 0.0;
        }
        for (p, band) in self.power.iter_mut().zip(&self.bands) {
            *p = self.spectrum[band.clone()]
                .iter()
                .map(|c| c.norm_sqr())
                .sum::<f32>()
                / band.len() as f32
                + TINY;
        }
        // Until the analysis window is full of signal, the estimates start over each frame.
        if self.frames < WINDOW_HOPS as u64 {
            self.smoothed.copy_from_slice(&self.power);
            self.noise.copy_from_slice(&self.power);
        }
        self.frames += 1;
        for ((e, p), n) in self.excess_db.iter_mut().zip(&self.power).zip(&self.noise) {
            let ratio = p / n;
            *e = if ratio.is_nan() {
                0.0
            } else {
                (10.0 * ratio.log10()).clamp(-BAND_SNR_CAP_DB, BAND_SNR_CAP_DB)
            };
        }
        let score =
            self.excess_db.iter().map(|e| e.max(0.0)).sum::<f32>() / self.power.len().max(1) as f32;
        self.update_noise();
        score
    }

    fn update_noise(&mut self) {
        let noise_like = 10f32.powf(NOISE_LIKE_DB / 10.0);
        // Frames counted since the window filled (`frames` counts from 1 here).
        let warm = self.frames.saturating_sub(WINDOW_HOPS as u64);
        for ((n, s), p) in self
            .noise
            .iter_mut()
            .zip(&mut self.smoothed)
            .zip(&self.power)
        {
            *s += SMOOTHING * (p - *s);
            if warm > 0 && warm <= self.warm_up_frames {
                *n += (p - *n) / warm as f32;
            } else if *p < noise_like * *n {
                *n += NOISE_UPDATE * (p - *n);
            }
            if *s < *n {
                *n = *s;
            }
        }
        self.follow_steps();
        let n_bands = self.bands.len();
        let row = self.history_pos * n_bands;
        self.history[row..row + n_bands].copy_from_slice(&self.smoothed);
        self.history_pos = (self.history_pos + 1) % self.history_frames;
        self.history_len = (self.history_len + 1).min(self.history_frames);
        // Minimum statistics: the quietest smoothed power of the window (of the history, while
        // it is shorter) bounds it from below.
        if self.history_len >= self.min_history_frames {
            let rows = self.history_len * n_bands;
            for b in 0..n_bands {
                let quietest = self.history[..rows]
                    .iter()
                    .skip(b)
                    .step_by(n_bands)
                    .fold(f32::INFINITY, |m, &v| m.min(v));
                if quietest > self.noise[b] {
                    self.noise[b] = quietest;
                }
            }
        }
    }
}

impl SpectralScorer {
    /// A noise that steps up raises every band by about the same amount at once, which
    /// speech never does (it raises the bands of its formants and fricatives, not a copy of
    /// the room's spectrum): after [`STEP_FRAMES`] such frames the noise estimates jump to the
    /// smoothed powers instead of waiting up to [`NOISE_WINDOW_S`] for minimum statistics.
    fn follow_steps(&mut self) {
        // One pass over the bands (a logarithm each): the rise's mean and spread.
        let (sum, sum_sq) = self
            .smoothed
            .iter()
            .zip(&self.noise)
            .map(|(s, n)| 10.0 * (s / n).log10())
            .fold((0.0f32, 0.0f32), |(a, q), r| (a + r, q + r * r));
        let n = self.noise.len().max(1) as f32;
        let mean = sum / n;
        let spread = (sum_sq / n - mean * mean).max(0.0).sqrt();
        if mean >= STEP_RISE_DB && spread <= STEP_SPREAD_DB {
            self.uniform_frames += 1;
        } else {
            self.uniform_frames = 0;
        }
        self.stepped = self.uniform_frames >= STEP_FRAMES;
        if self.stepped {
            self.noise.copy_from_slice(&self.smoothed);
            self.uniform_frames = 0;
        }
    }

    /// Whether the last scored frame's noise estimates jumped to a noise that had stepped up
    /// (see [`STEP_FRAMES`]): what the frames since the step looked like was the noise.
    #[must_use]
    pub fn followed_a_step(&self) -> bool {
        self.stepped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg_noise(n: usize, amplitude: f32, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                amplitude * (((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0)
            })
            .collect()
    }

    fn scores(scorer: &mut SpectralScorer, x: &[f32]) -> Vec<f32> {
        x.chunks(scorer.hop()).map(|f| scorer.score(f)).collect()
    }

    #[test]
    fn minimum_statistics_bound_the_estimates_once_a_second_of_history_exists() {
        // Music-like: a new decaying note every quarter second over quiet noise, so that
        // bands the first notes left quiet fill up later.
        let rate = 16_000usize;
        let mut x = lcg_noise(rate * 4, 0.001, 11);
        let mut pick = 7u64;
        for note in 0..16 {
            pick = pick.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let hz = 200.0 * 2f32.powf(((pick >> 40) % 36) as f32 / 12.0);
            let start = note * rate / 4;
            for (i, v) in x[start..].iter_mut().take(rate / 2).enumerate() {
                let t = i as f32 / rate as f32;
                *v += 0.1 * (-t / 0.3).exp() * (std::f32::consts::TAU * hz * t).sin();
            }
        }
        let mut s = SpectralScorer::new(160, 16_000);
        // One second of 10 ms frames.
        let bound_frames = 100;
        let mut smoothed: Vec<Vec<f32>> = Vec::new();
        let mut raised = 0;
        for (t, frame) in x.chunks(160).enumerate() {
            let before = s.noise.clone();
            s.score(frame);
            smoothed.push(s.smoothed.clone());
            if smoothed.len() < bound_frames {
                continue;
            }
            let window = &smoothed[smoothed.len().saturating_sub(s.history_frames)..];
            for (b, n) in s.noise.iter().enumerate() {
                let quietest = window
                    .iter()
                    .map(|row| row[b])
                    .fold(f32::INFINITY, f32::min);
                assert!(
                    *n >= quietest * (1.0 - 1e-5),
                    "frame {t}, band {b}: estimate {n} under the history's quietest {quietest}"
                );
                if t < 290 && *n > before[b] * 1.001 && *n == quietest {
                    raised += 1;
                }
            }
        }
        assert!(
            raised > 0,
            "the bound never raised an estimate before the window filled"
        );
    }

    #[test]
    fn a_noise_that_steps_up_is_followed_at_once_and_a_tone_is_not() {
        let mut s = SpectralScorer::with_bands(160, 16_000, 24, 100.0..7_000.0);
        let mut x = lcg_noise(16_000 * 4, 0.01, 3);
        x.extend(lcg_noise(16_000 * 2, 0.0316, 5));
        let mut followed = Vec::new();
        for (t, frame) in x.chunks(160).enumerate() {
            s.score(frame);
            if s.followed_a_step() {
                followed.push(t);
            }
        }
        // The step is at frame 400: followed once, within 300 ms, never before.
        assert_eq!(followed.len(), 1, "{followed:?}");
        assert!((400..430).contains(&followed[0]), "{followed:?}");
        let after = scores(&mut s, &lcg_noise(16_000, 0.0316, 7));
        assert!(
            after.iter().all(|&v| v < 2.0),
            "the louder noise is noise: {after:?}"
        );

        // A loud tone over the noise raises a few bands only: never a step, however long.
        let mut s = SpectralScorer::with_bands(160, 16_000, 24, 100.0..7_000.0);
        let noise = lcg_noise(16_000 * 6, 0.01, 3);
        let toned: Vec<f32> = noise
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let on = i >= 16_000 * 4;
                n + if on {
                    0.3 * (std::f32::consts::TAU * 440.0 * i as f32 / 16e3).sin()
                } else {
                    0.0
                }
            })
            .collect();
        for frame in toned.chunks(160) {
            s.score(frame);
            assert!(!s.followed_a_step());
        }
    }

    #[test]
    fn bands_cover_the_speech_range_at_every_rate() {
        for rate in [8_000, 16_000, 44_100, 48_000, 192_000] {
            let hop = (rate / 100) as usize;
            let s = SpectralScorer::new(hop, rate);
            assert_eq!(s.bands.len(), SPECTRAL_BANDS, "{rate} Hz: {:?}", s.bands);
            let bin_hz = rate as f32 / s.buffer.len() as f32;
            let first = s.bands[0].start as f32 * bin_hz;
            let last = s.bands[SPECTRAL_BANDS - 1].end as f32 * bin_hz;
            assert!(
                (100.0..200.0).contains(&first),
                "{rate} Hz starts at {first}"
            );
            assert!(last > 3_000.0 && last < 5_200.0, "{rate} Hz ends at {last}");
        }
    }

    #[test]
    fn steady_noise_of_any_level_scores_low_and_a_tone_burst_high() {
        for amplitude in [1e-4, 1e-2, 0.5] {
            let mut s = SpectralScorer::new(160, 16_000);
            let noise = lcg_noise(16_000 * 4, amplitude, 3);
            let quiet = scores(&mut s, &noise);
            let mean = quiet[100..].iter().sum::<f32>() / (quiet.len() - 100) as f32;
            assert!(mean < 2.0, "noise at {amplitude} scores {mean}");
            let tone: Vec<f32> = noise
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    n + 3.0 * amplitude * (std::f32::consts::TAU * 440.0 * i as f32 / 16e3).sin()
                })
                .take(16_000)
                .collect();
            let loud = scores(&mut s, &tone);
            let mean = loud[5..].iter().sum::<f32>() / (loud.len() - 5) as f32;
            assert!(mean > 1.5, "tone over noise at {amplitude} scores {mean}");
        }
    }

    #[test]
    fn a_noise_that_steps_up_is_followed_within_the_window() {
        let mut s = SpectralScorer::new(160, 16_000);
        let quiet = lcg_noise(16_000 * 4, 0.01, 5);
        scores(&mut s, &quiet);
        let loud = lcg_noise(16_000 * 5, 0.1, 6);
        let after = scores(&mut s, &loud);
        let hops_per_s = 100;
        let late = &after[(NOISE_WINDOW_S as usize + 1) * hops_per_s..];
        let mean = late.iter().sum::<f32>() / late.len() as f32;
        assert!(mean < 2.0, "after the step the noise scores {mean}");
    }

    #[test]
    fn hostile_frames_never_panic_or_give_nan() {
        let mut s = SpectralScorer::new(7, 8_000);
        for frame in [
            vec![],
            vec![f32::NAN; 7],
            vec![f32::INFINITY; 3],
            vec![0.0; 100],
            vec![1e30; 7],
        ] {
            let score = s.score(&frame);
            assert!(score.is_finite(), "{frame:?} gave {score}");
        }
    }
}
