//! The learned detector's pitch features ([`FramePitch`]): whether each frame is periodic, and
//! whether its pitch holds (a music note, a hum) or glides (a voice) from the frame before.
//!
//! The detector's band levels see a held note's partials much as they see a voiced syllable,
//! most of all through a narrow band; a voice's pitch moves by a few percent every 10 ms, a
//! note's not at all. Per frame, from YIN (de Cheveigné and Kawahara, 2002: the difference
//! function, its cumulative-mean normalisation, the absolute threshold, parabolic
//! interpolation) over the newest 40 ms of the stream, taken down to about 8 kHz:
//! * the periodicity, `1 - d'` at the period found (1 for a pure tone, near 0 for noise);
//! * *holding*: when this frame and the one before are voiced and the period moved by less
//!   than 0.5%, the smaller of the two periodicities, else 0;
//! * *gliding*: the same when it moved by 0.5% to 6% (more is a jump, not a glide).
//!
//! It only looks back, so it adds no latency.

use crate::features::pitch::{normalise_differences, parabolic, yin_choice};

/// Values per frame: periodicity, holding, gliding.
pub const PITCH_FEATURES: usize = 3;

/// The rate the tracker works at, about: the stream is averaged over
/// `round(rate / PITCH_RATE)` samples (at least 1).
const PITCH_RATE: u32 = 8_000;
/// Lowest and highest fundamental searched (Hz).
const F0_LOWEST: f32 = 60.0;
const F0_HIGHEST: f32 = 500.0;
/// The integration window (s).
const WINDOW_S: f32 = 0.04;
/// YIN's absolute threshold: the first period whose normalised difference is below it
/// (the pitch features' [`crate::features::YIN_THRESHOLD`]).
const THRESHOLD: f32 = crate::features::YIN_THRESHOLD;
/// A frame is voiced when the normalised difference at its period is below this.
const VOICED: f32 = 0.25;
/// Octaves within which a period holds (0.5%), and up to which it glides (6%).
const HOLD_OCTAVES: f32 = 0.007_2;
const GLIDE_OCTAVES: f32 = 0.084;

/// The tracker's state over a stream; see the module docs.
#[derive(Debug, Clone)]
pub struct FramePitch {
    /// Stream samples averaged into one.
    factor: usize,
    /// The average being filled, and how many samples it holds.
    partial: f32,
    filled: usize,
    /// Averaged samples, the newest last; the analysis reads the last `window + tau_max`.
    samples: Vec<f32>,
    window: usize,
    tau_min: usize,
    tau_max: usize,
    /// The difference function, lags `0..=tau_max`.
    diff: Vec<f32>,
    /// The previous frame's `log2` period and periodicity, when it was voiced.
    previous: Option<(f32, f32)>,
}

impl FramePitch {
    /// A tracker for a stream at `sample_rate` Hz.
    #[must_use]
    pub fn new(sample_rate: u32) -> Self {
        let factor = ((sample_rate as f32 / PITCH_RATE as f32).round() as usize).max(1);
        let rate = sample_rate as f32 / factor as f32;
        let tau_min = ((rate / F0_HIGHEST).floor() as usize).max(2);
        let tau_max = ((rate / F0_LOWEST).ceil() as usize).max(tau_min + 2);
        let window = ((rate * WINDOW_S).round() as usize).max(1);
        Self {
            factor,
            partial: 0.0,
            filled: 0,
            samples: Vec::with_capacity(2 * (window + tau_max)),
            window,
            tau_min,
            tau_max,
            diff: vec![0.0; tau_max + 1],
            previous: None,
        }
    }

    /// Forgets the stream.
    pub fn reset(&mut self) {
        self.partial = 0.0;
        self.filled = 0;
        self.samples.clear();
        self.previous = None;
    }

    /// Takes the next frame's samples (non-finite ones count as 0) and writes its features
    /// into `out`: all 0 until 40 ms and the longest period have been heard.
    pub fn next(&mut self, frame: &[f32], out: &mut [f32; PITCH_FEATURES]) {
        let needed = self.window + self.tau_max;
        for &x in frame {
            self.partial += if x.is_finite() { x } else { 0.0 };
            self.filled += 1;
            if self.filled == self.factor {
                if self.samples.len() == self.samples.capacity() {
                    self.samples.drain(..self.samples.len() - needed);
                }
                self.samples.push(self.partial / self.factor as f32);
                self.partial = 0.0;
                self.filled = 0;
            }
        }
        *out = [0.0; PITCH_FEATURES];
        let Some(x) = self
            .samples
            .len()
            .checked_sub(needed)
            .map(|s| &self.samples[s..])
        else {
            self.previous = None;
            return;
        };
        let found = yin(x, self.window, self.tau_min, self.tau_max, &mut self.diff);
        let current = found.filter(|&(_, d)| d < VOICED).map(|(lag, d)| {
            let p = (1.0 - d).clamp(0.0, 1.0);
            (lag.log2(), p)
        });
        out[0] = found.map_or(0.0, |(_, d)| (1.0 - d).clamp(0.0, 1.0));
        if let (Some((now, p)), Some((before, q))) = (current, self.previous) {
            let moved = (now - before).abs();
            if moved < HOLD_OCTAVES {
                out[1] = p.min(q);
            } else if moved < GLIDE_OCTAVES {
                out[2] = p.min(q);
            }
        }
        self.previous = current;
    }
}

/// YIN on `x` (`window + tau_max` samples): the period in samples (interpolated) and the
/// normalised difference there, `None` when `x` is silent.
fn yin(
    x: &[f32],
    window: usize,
    tau_min: usize,
    tau_max: usize,
    diff: &mut [f32],
) -> Option<(f32, f32)> {
    let head = &x[..window];
    for (tau, d) in diff.iter_mut().enumerate().skip(1) {
        *d = squared_distance(head, &x[tau..tau + window]);
    }
    if !normalise_differences(diff) {
        return None;
    }
    let (dip, lowest) = yin_choice(diff, tau_min, tau_max, THRESHOLD);
    let best = dip.unwrap_or(lowest);
    let lag = if best > tau_min && best < tau_max {
        parabolic(diff, best)
    } else {
        best as f32
    };
    Some((lag, diff[best]))
}

/// `sum (a - b)^2`, in eight lanes that the compiler vectorises.
fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    for (x, y) in a8.iter().zip(b8) {
        for ((l, p), q) in lanes.iter_mut().zip(x).zip(y) {
            *l += (p - q) * (p - q);
        }
    }
    let rest: f32 = a_rest
        .iter()
        .zip(b_rest)
        .map(|(p, q)| (p - q) * (p - q))
        .sum();
    lanes.iter().sum::<f32>() + rest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(signal: &[f32], rate: u32) -> Vec<[f32; PITCH_FEATURES]> {
        let hop = rate as usize / 100;
        let mut p = FramePitch::new(rate);
        signal
            .chunks_exact(hop)
            .map(|f| {
                let mut out = [0.0; PITCH_FEATURES];
                p.next(f, &mut out);
                out
            })
            .collect()
    }

    fn harmonic(f0: impl Fn(f32) -> f32, seconds: f32, rate: u32) -> Vec<f32> {
        let n = (seconds * rate as f32) as usize;
        let mut phase = 0.0f32;
        (0..n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                phase += std::f32::consts::TAU * f0(t) / rate as f32;
                (1..=5)
                    .map(|h| (phase * h as f32).sin() / h as f32)
                    .sum::<f32>()
                    * 0.1
            })
            .collect()
    }

    #[test]
    fn a_held_note_holds_and_a_gliding_voice_glides_at_any_rate() {
        for rate in [8_000, 16_000, 44_100, 48_000] {
            let held = features(&harmonic(|_| 220.0, 1.0, rate), rate);
            let late = &held[20..];
            assert!(
                late.iter().all(|f| f[0] > 0.9 && f[1] > 0.9 && f[2] == 0.0),
                "{rate}"
            );
            // 150 Hz rising by a factor 2 a second: 0.7% a frame.
            let glide = features(&harmonic(|t| 150.0 * 2f32.powf(t), 1.0, rate), rate);
            let late = &glide[20..];
            let gliding = late.iter().filter(|f| f[2] > 0.8).count();
            assert!(
                gliding * 10 >= late.len() * 9,
                "{rate}: {gliding} of {}",
                late.len()
            );
        }
    }

    #[test]
    fn noise_and_silence_are_not_periodic_and_bad_samples_are_harmless() {
        let mut state = 7u32;
        let noise: Vec<f32> = (0..16_000)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        let f = features(&noise, 16_000);
        let mean = f[10..].iter().map(|f| f[0]).sum::<f32>() / (f.len() - 10) as f32;
        assert!(mean < 0.5, "{mean}");
        assert!(f.iter().all(|f| f[1] == 0.0));
        for f in features(&vec![0.0; 8_000], 16_000) {
            assert_eq!(f, [0.0; PITCH_FEATURES]);
        }
        for f in features(&[f32::NAN, f32::INFINITY, 1e30].repeat(2_000), 16_000) {
            assert!(f.iter().all(|v| v.is_finite()));
        }
    }
}
