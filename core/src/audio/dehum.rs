//! Removing hum: mains hum, a console's power supply or a ground loop put a steady tone and
//! its overtones under everything the microphone hears, in the low bands where speech's own
//! pitch and first harmonics live. The model never heard it in training.
//!
//! [`HumCanceller`] listens to the first half second of an utterance (in the engine, the
//! pre-roll: the room just before the player speaks) and looks for a fundamental between 45
//! and 130 Hz with at least three overtones below 1 kHz standing 20 dB out of the spectrum
//! beside them. When it finds one, it measures the fundamental to a thousandth of a hertz
//! from the overtones' peaks, fits the amplitude and phase of every overtone standing 10 dB
//! out (up to 4 kHz) over that half second by least squares, and subtracts those sinusoids,
//! continued at exactly their frequencies, from the whole utterance. A hum is steady, speech
//! is not: what is subtracted is the hum's alone, so speech, whose harmonics glide with its
//! pitch, keeps its whole spectrum. (A canceller that kept adapting its amplitudes during
//! speech, with a time constant of 1 or 4 seconds, took speech for hum and cost 18 and 8
//! points of accuracy under hum on folds 0-4.) Audio without hum passes through unchanged.
//! Each utterance is measured afresh, so a hum that changes between utterances is followed;
//! one whose pitch drifts within an utterance is cancelled less in its high overtones.
//!
//! It works on a stream, as [`Declipper`](super::Declipper) does:
//! [`push`](HumCanceller::push) blocks as they come and [`finish`](HumCanceller::finish) at
//! the end; the output is the same however the stream is split. The first half second is
//! held back until the hum is known; after that nothing is. [`dehum`] does a whole signal.

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

/// What the canceller listens to before it decides, in seconds.
const LEARN_SECONDS: f64 = 0.5;
/// Less than this at the end of a stream: too short to tell a hum, passed through.
const MIN_LEARN_SECONDS: f64 = 0.25;
/// The range searched for a fundamental, in Hz.
const F0_MIN: f64 = 45.0;
const F0_MAX: f64 = 130.0;
/// Step of the search for the fundamental, in Hz (refined afterwards).
const F0_STEP: f64 = 0.25;
/// Overtones are looked for, and cancelled, below this (and below 45% of the rate), in Hz.
const TOP_HZ: f64 = 4000.0;
/// The search for the fundamental scores its overtones below this, in Hz.
const SCORE_HZ: f64 = 1000.0;
/// An overtone is there when its peak stands this far (in dB) above the spectrum's median
/// beside it.
const PRESENT_DB: f64 = 20.0;
/// Once a hum is found, its overtones standing this far out are cancelled (weaker than those
/// that find it: a hum's high overtones are faint).
const CANCEL_DB: f64 = 10.0;
/// Beside: from this far ...
const SIDE_FROM_HZ: f64 = 5.0;
/// ... to this far from the overtone, in Hz, on both sides.
const SIDE_TO_HZ: f64 = 12.0;
/// A peak is looked for within this of an overtone's expected frequency, in Hz.
const PEAK_HZ: f64 = 1.5;
/// A hum needs this many overtones present below [`SCORE_HZ`] (the fundamental counts).
const MIN_PRESENT: usize = 3;
/// What an absent overtone costs a candidate fundamental's score, in dB (so that a
/// fundamental half the true one, whose odd overtones are missing, loses).
const ABSENT_COST_DB: f64 = 3.0;
/// Fitted over each half of what is listened to, an overtone's two amplitudes (as complex
/// numbers) may differ by at most this share of the whole's.
const COHERENCE: f64 = 0.25;
/// Overtones this far (in dB) below the strongest are left alone.
const RANGE_DB: f64 = 50.0;
/// The oscillators are put back on the unit circle this often, in samples.
const RENORMALISE_EVERY: usize = 4096;

/// The hum a [`HumCanceller`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hum {
    /// Its fundamental, in Hz.
    pub f0: f64,
    /// How many of its overtones (the fundamental included) are cancelled.
    pub overtones: usize,
}

/// One overtone being cancelled.
#[derive(Debug, Clone)]
struct Overtone {
    /// Rotation per sample.
    step: (f64, f64),
    /// `cos` and `sin` of the phase at the next sample.
    phase: (f64, f64),
    /// Amplitudes of the `cos` and `sin` parts.
    amplitude: (f64, f64),
}

/// Removes a steady hum and its overtones from a stream: mains hum, a ground loop, a power
/// supply. It listens to the stream's first half second (in the engine, the room before the
/// player speaks) for a fundamental of 45 to 130 Hz whose overtones stand out as sharp,
/// steady lines, fits each overtone's amplitude and phase there, and subtracts those
/// sinusoids, continued at exactly their frequencies, from the whole stream; audio without a
/// hum passes through unchanged. [`push`](Self::push) blocks as they come and
/// [`finish`](Self::finish) at the end: the output is the same however the stream is split;
/// the first half second is held back until the hum is known, nothing after it. [`dehum`]
/// does a whole signal.
#[derive(Debug, Clone)]
pub struct HumCanceller {
    sample_rate: u32,
    learn: usize,
    /// Samples held back until the hum is known.
    pending: Vec<f32>,
    /// `None` until the hum is known; then the overtones cancelled (empty: no hum).
    overtones: Option<Vec<Overtone>>,
    hum: Option<Hum>,
    since_renormalised: usize,
}

impl HumCanceller {
    /// A canceller for audio at `sample_rate` Hz (a rate of 0 passes audio through).
    #[must_use]
    pub fn new(sample_rate: u32) -> Self {
        let rate = f64::from(sample_rate.max(1));
        Self {
            sample_rate,
            learn: (LEARN_SECONDS * rate).round() as usize,
            pending: Vec::new(),
            overtones: None,
            hum: None,
            since_renormalised: 0,
        }
    }

    /// The hum found, once known (`None`: none, or not yet known).
    #[must_use]
    pub fn hum(&self) -> Option<Hum> {
        self.hum
    }

    /// Forgets the stream: the next sample starts a new one.
    pub fn reset(&mut self) {
        self.pending.clear();
        self.overtones = None;
        self.hum = None;
        self.since_renormalised = 0;
    }

    /// The room just before the stream (the same rate; in the engine, the pre-roll before the
    /// detected speech): when it holds at least a quarter of a second, the hum is found in
    /// its last half second instead of the stream's first, and nothing is held back. Call it
    /// before the stream's first sample; later, or with a shorter room, it changes nothing.
    pub fn set_room(&mut self, room: &[f32]) {
        let rate = f64::from(self.sample_rate);
        if self.overtones.is_some()
            || !self.pending.is_empty()
            || self.sample_rate == 0
            || (room.len() as f64) < MIN_LEARN_SECONDS * rate
        {
            return;
        }
        let window = &room[room.len() - room.len().min(self.learn)..];
        let mut overtones = self.learn_from(window);
        // The fits are phased from the window's first sample: move on to the stream's.
        for o in &mut overtones {
            let w = o.step.1.atan2(o.step.0) * window.len() as f64;
            o.phase = (w.cos(), w.sin());
        }
        self.overtones = Some(overtones);
    }

    /// Reads `samples` and appends to `out` what can be given out of the stream so far.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) {
        if self.overtones.is_some() {
            self.cancel(samples, out);
            return;
        }
        let wanted = self.learn - self.pending.len().min(self.learn);
        let (learnt, rest) = samples.split_at(wanted.min(samples.len()));
        self.pending.extend_from_slice(learnt);
        if self.pending.len() >= self.learn {
            self.decide(out);
            self.cancel(rest, out);
        }
    }

    /// Ends the stream: appends what was held back to `out`, and is ready for a new stream.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if self.overtones.is_none() {
            self.decide(out);
        }
        self.overtones = None;
        self.since_renormalised = 0;
    }

    /// Finds the hum in the held-back samples and gives them out, cancelled.
    fn decide(&mut self, out: &mut Vec<f32>) {
        let pending = std::mem::take(&mut self.pending);
        self.overtones = Some(self.learn_from(&pending));
        self.cancel(&pending, out);
    }

    /// The overtones of the hum in `window` (none when it has none, is too short to tell or
    /// holds a broken sample), phased from its first sample; notes the hum found.
    fn learn_from(&mut self, window: &[f32]) -> Vec<Overtone> {
        let rate = f64::from(self.sample_rate);
        let found = if self.sample_rate > 0
            && window.len() as f64 >= MIN_LEARN_SECONDS * rate
            && window.iter().all(|v| v.is_finite())
        {
            find_hum(window, rate)
        } else {
            None
        };
        self.hum = found.as_ref().map(|(f0, overtones)| Hum {
            f0: *f0,
            overtones: overtones.len(),
        });
        found.map(|(_, overtones)| overtones).unwrap_or_default()
    }

    /// Cancels the known overtones from `samples` into `out`.
    fn cancel(&mut self, samples: &[f32], out: &mut Vec<f32>) {
        let Some(overtones) = self.overtones.as_mut() else {
            return;
        };
        if overtones.is_empty() {
            out.extend_from_slice(samples);
            return;
        }
        out.reserve(samples.len());
        for &x in samples {
            let hum: f64 = overtones
                .iter()
                .map(|o| o.amplitude.0 * o.phase.0 + o.amplitude.1 * o.phase.1)
                .sum();
            out.push((f64::from(x) - hum) as f32);
            for o in overtones.iter_mut() {
                let (c, s) = o.phase;
                o.phase = (c * o.step.0 - s * o.step.1, s * o.step.0 + c * o.step.1);
            }
            self.since_renormalised += 1;
            if self.since_renormalised >= RENORMALISE_EVERY {
                self.since_renormalised = 0;
                for o in overtones.iter_mut() {
                    let r = o.phase.0.hypot(o.phase.1);
                    o.phase = (o.phase.0 / r, o.phase.1 / r);
                }
            }
        }
    }
}

/// `samples` at `sample_rate` Hz with their hum removed, and the hum found.
#[must_use]
pub fn dehum(samples: &[f32], sample_rate: u32) -> (Vec<f32>, Option<Hum>) {
    dehum_in_room(samples, &[], sample_rate)
}

/// [`dehum`], the hum learnt from the `room` just before `samples` when it is long enough
/// ([`HumCanceller::set_room`]).
#[must_use]
pub fn dehum_in_room(samples: &[f32], room: &[f32], sample_rate: u32) -> (Vec<f32>, Option<Hum>) {
    let mut canceller = HumCanceller::new(sample_rate);
    canceller.set_room(room);
    let mut out = Vec::with_capacity(samples.len());
    canceller.push(samples, &mut out);
    canceller.finish(&mut out);
    let hum = canceller.hum();
    (out, hum)
}

/// Least-squares amplitudes of the `cos` and `sin` parts at `w` radians a sample over `x`,
/// whose first sample is sample `start` of the stream (the phase is 0 at sample 0).
fn fit(x: &[f32], start: usize, w: f64) -> (f64, f64) {
    // The 2x2 normal equations: cos and sin are not quite orthogonal over a window that
    // holds no whole number of periods.
    let (mut cc, mut ss, mut cs, mut xc, mut xs) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let step = (w.cos(), w.sin());
    let (s0, c0) = (w * start as f64).sin_cos();
    let mut phase = (c0, s0);
    for &v in x {
        let (c, s) = phase;
        let v = f64::from(v);
        cc += c * c;
        ss += s * s;
        cs += c * s;
        xc += v * c;
        xs += v * s;
        phase = (c * step.0 - s * step.1, s * step.0 + c * step.1);
    }
    let det = cc * ss - cs * cs;
    if det.abs() <= 1e-9 * cc * ss {
        return (0.0, 0.0);
    }
    ((xc * ss - xs * cs) / det, (xs * cc - xc * cs) / det)
}

/// The spectrum of `x` for the hum search: power per bin of a Hann-windowed, four times
/// zero-padded transform, up to `top` Hz, and the bin width in Hz.
fn spectrum(x: &[f32], rate: f64, top: f64) -> (Vec<f64>, f64) {
    let n = x.len();
    let m = (4 * n).next_power_of_two();
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let mut buf: Vec<Complex<f64>> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos();
            Complex::new((f64::from(v) - mean) * hann, 0.0)
        })
        .collect();
    buf.resize(m, Complex::new(0.0, 0.0));
    FftPlanner::new().plan_fft_forward(m).process(&mut buf);
    let df = rate / m as f64;
    let bins = ((top / df).ceil() as usize + 1).min(m / 2 + 1);
    (buf[..bins].iter().map(Complex::norm_sqr).collect(), df)
}

/// How far (in dB) the strongest bin within [`PEAK_HZ`] of `f` stands above the median of
/// the bins [`SIDE_FROM_HZ`] to [`SIDE_TO_HZ`] away on both sides, and that bin.
fn prominence(p: &[f64], df: f64, f: f64, side: &mut Vec<f64>) -> Option<(f64, usize)> {
    let bin = |hz: f64| (hz / df).round() as isize;
    let hi = bin(f + SIDE_TO_HZ);
    if bin(f - SIDE_TO_HZ) < 1 || hi as usize >= p.len() {
        return None;
    }
    let (lo_peak, hi_peak) = (bin(f - PEAK_HZ) as usize, bin(f + PEAK_HZ) as usize);
    let (peak_bin, peak) = (lo_peak..=hi_peak)
        .map(|i| (i, p[i]))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    side.clear();
    for (from, to) in [
        (f - SIDE_TO_HZ, f - SIDE_FROM_HZ),
        (f + SIDE_FROM_HZ, f + SIDE_TO_HZ),
    ] {
        side.extend_from_slice(&p[bin(from) as usize..=bin(to) as usize]);
    }
    let mid = side.len() / 2;
    let (_, median, _) = side.select_nth_unstable_by(mid, f64::total_cmp);
    let floor = median.max(f64::MIN_POSITIVE);
    Some((
        10.0 * (peak.max(f64::MIN_POSITIVE) / floor).log10(),
        peak_bin,
    ))
}

/// The fundamental of a hum in `x` and the overtones to cancel from `x`'s first sample on, or
/// `None` when there is no hum.
fn find_hum(x: &[f32], rate: f64) -> Option<(f64, Vec<Overtone>)> {
    let top = TOP_HZ.min(0.45 * rate);
    let (p, df) = spectrum(x, rate, top + SIDE_TO_HZ + 1.0);
    let mut side = Vec::new();
    let score_top = SCORE_HZ.min(top);
    // The candidate whose overtones below SCORE_HZ stand out most.
    let mut best: Option<(f64, f64)> = None;
    let steps = ((F0_MAX - F0_MIN) / F0_STEP).round() as usize;
    for i in 0..=steps {
        let f0 = F0_MIN + i as f64 * F0_STEP;
        let (mut score, mut present) = (0.0, 0);
        for k in 1.. {
            let f = f0 * f64::from(k);
            if f >= score_top {
                break;
            }
            match prominence(&p, df, f, &mut side) {
                Some((db, _)) if db >= PRESENT_DB => {
                    score += db.min(40.0);
                    present += 1;
                }
                _ => score -= ABSENT_COST_DB,
            }
        }
        if present >= MIN_PRESENT && best.is_none_or(|(_, s)| score > s) {
            best = Some((f0, score));
        }
    }
    let (coarse, _) = best?;
    // Refine: each present overtone's peak, interpolated, gives k * f0; each is looked for
    // where the overtones below it put it.
    let (mut num, mut den) = (0.0, 0.0);
    for k in 1usize.. {
        let estimate = if den > 0.0 { num / den } else { coarse };
        let f = estimate * k as f64;
        if f >= score_top {
            break;
        }
        if let Some((db, i)) = prominence(&p, df, f, &mut side)
            && db >= PRESENT_DB
            && i > 0
            && i + 1 < p.len()
            && p[i] >= p[i - 1]
            && p[i] >= p[i + 1]
        {
            let (a, b, c) = (p[i - 1].ln(), p[i].ln(), p[i + 1].ln());
            let curvature = a - 2.0 * b + c;
            let offset = if curvature < 0.0 {
                (0.5 * (a - c) / curvature).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            let fk = (i as f64 + offset) * df;
            let kf = k as f64;
            num += kf * fk;
            den += kf * kf;
        }
    }
    let f0 = if den > 0.0 { num / den } else { coarse };
    let present: Vec<(usize, f64)> = (1usize..)
        .take_while(|&k| f0 * (k as f64) < top)
        .filter_map(|k| match prominence(&p, df, f0 * k as f64, &mut side) {
            Some((db, i)) if db >= CANCEL_DB => Some((k, p[i])),
            _ => None,
        })
        .collect();
    let strongest = present.iter().map(|&(_, v)| v).fold(0.0, f64::max);
    // A hum is steady: fitted over each half of the window, an overtone must come out the
    // same (speech whose pitch held for a moment does not, with its jitter).
    let half = x.len() / 2;
    let overtones: Vec<Overtone> = present
        .into_iter()
        .filter(|&(_, v)| 10.0 * (strongest / v.max(f64::MIN_POSITIVE)).log10() <= RANGE_DB)
        .filter_map(|(k, _)| {
            let w = 2.0 * std::f64::consts::PI * f0 * k as f64 / rate;
            let whole = fit(x, 0, w);
            let first = fit(&x[..half], 0, w);
            let second = fit(&x[half..], half, w);
            let apart = (first.0 - second.0).hypot(first.1 - second.1);
            (apart <= COHERENCE * whole.0.hypot(whole.1)).then_some(Overtone {
                step: (w.cos(), w.sin()),
                phase: (1.0, 0.0),
                amplitude: whole,
            })
        })
        .collect();
    (overtones.len() >= MIN_PRESENT).then_some((f0, overtones))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hum as `trainer evaluate --condition hum` makes it: `f0` and its overtones up to
    /// 2 kHz, amplitudes falling as 1/k, fixed phases; unit mean power.
    fn hum(f0: f64, n: usize, rate: u32) -> Vec<f32> {
        let ks: Vec<f64> = (1..)
            .map(f64::from)
            .take_while(|k| k * f0 < 2000.0_f64.min(f64::from(rate) / 2.0))
            .collect();
        let x: Vec<f64> = (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                ks.iter()
                    .map(|k| (2.0 * std::f64::consts::PI * k * f0 * t + k * 1.3).sin() / k)
                    .sum()
            })
            .collect();
        let p = x.iter().map(|v| v * v).sum::<f64>() / n as f64;
        x.iter().map(|v| (v / p.sqrt()) as f32).collect()
    }

    /// White noise in [-1, 1] from a fixed generator.
    fn noise(n: usize) -> Vec<f32> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// A vowel-like signal: a gliding pitch with formant-shaped harmonics, 0.3 peak.
    fn vowel(seconds: f64, rate: u32) -> Vec<f32> {
        let n = (seconds * f64::from(rate)) as usize;
        let mut phase = 0.0f64;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                let f0 = 140.0 + 40.0 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
                phase += 2.0 * std::f64::consts::PI * f0 / f64::from(rate);
                let v: f64 = (1..30)
                    .map(|k| {
                        let f = f0 * f64::from(k);
                        let formant = (-((f - 700.0) / 400.0).powi(2)).exp()
                            + 0.5 * (-((f - 1800.0) / 500.0).powi(2)).exp();
                        formant * (phase * f64::from(k)).sin()
                    })
                    .sum();
                (0.1 * v) as f32
            })
            .collect()
    }

    fn power(x: &[f32]) -> f64 {
        x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64
    }

    fn snr_db(clean: &[f32], got: &[f32]) -> f64 {
        let err: Vec<f32> = clean.iter().zip(got).map(|(a, b)| a - b).collect();
        10.0 * (power(clean) / power(&err)).log10()
    }

    /// Silence, then speech, under hum at `snr` dB below the speech.
    fn hummed(rate: u32, f0: f64) -> (Vec<f32>, Vec<f32>) {
        let mut clean = vec![0.0f32; rate as usize];
        clean.extend(vowel(2.0, rate));
        let h = hum(f0, clean.len(), rate);
        let scale = (power(&clean[rate as usize..]) / 10.0).sqrt() as f32;
        let noisy = clean.iter().zip(&h).map(|(c, h)| c + scale * h).collect();
        (clean, noisy)
    }

    #[test]
    fn hum_is_found_and_removed_at_any_rate() {
        for (rate, f0) in [
            (16_000, 60.0),
            (48_000, 50.0),
            (44_100, 120.0),
            (8000, 60.0),
        ] {
            let (clean, noisy) = hummed(rate, f0);
            let (out, found) = dehum(&noisy, rate);
            let found = found.unwrap_or_else(|| panic!("{rate} Hz: no hum found"));
            assert!((found.f0 - f0).abs() < 0.01, "{rate} Hz: {found:?}");
            assert_eq!(out.len(), noisy.len());
            let speech = rate as usize + rate as usize / 4..;
            let before = snr_db(&clean[speech.clone()], &noisy[speech.clone()]);
            let after = snr_db(&clean[speech.clone()], &out[speech]);
            let room = rate as usize / 4..rate as usize;
            println!(
                "{rate} Hz: {found:?}, speech to what is left {before:.1} -> {after:.1} dB; hum alone left {:.1} dB",
                10.0 * (power(&out[room.clone()]) / power(&noisy[room])).log10()
            );
            assert!(
                after > before + 15.0,
                "{rate} Hz: {before:.1} -> {after:.1} dB"
            );
        }
    }

    #[test]
    fn audio_without_hum_passes_unchanged() {
        let mut clean = vec![0.0f32; 8000];
        clean.extend(vowel(2.0, 16_000));
        // Room noise under it.
        let signal: Vec<f32> = clean
            .iter()
            .zip(noise(clean.len()))
            .map(|(c, n)| c + 0.003 * n)
            .collect();
        for x in [&clean, &signal, &vowel(2.0, 16_000)] {
            let (out, found) = dehum(x, 16_000);
            assert_eq!(found, None);
            assert_eq!(&out, x);
        }
    }

    /// A hum as a real room has it: its fundamental drifting by 0.002 Hz a second, under
    /// room noise at 40 dB below the speech, is still cut by more than 15 dB over the speech.
    #[test]
    fn a_drifting_hum_under_room_noise_is_still_removed() {
        let rate = 16_000;
        let mut clean = vec![0.0f32; rate as usize];
        clean.extend(vowel(2.5, rate));
        let n = clean.len();
        let mut phase = 0.0f64;
        let h: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                phase += 2.0 * std::f64::consts::PI * (50.0 + 0.002 * t) / f64::from(rate);
                (1..40)
                    .map(|k| (phase * f64::from(k) + f64::from(k)).sin() / f64::from(k))
                    .sum::<f64>() as f32
            })
            .collect();
        let speech = power(&clean[rate as usize..]);
        let hum_scale = (speech / 10.0 / power(&h)).sqrt() as f32;
        let noise = noise(n);
        let noise_scale = (speech / 1e4 / power(&noise)).sqrt() as f32;
        let room: Vec<f32> = (0..n)
            .map(|i| hum_scale * h[i] + noise_scale * noise[i])
            .collect();
        let noisy: Vec<f32> = clean.iter().zip(&room).map(|(c, r)| c + r).collect();
        let (out, found) = dehum(&noisy, rate);
        let found = found.expect("no hum found");
        let left: Vec<f32> = out.iter().zip(&clean).map(|(o, c)| o - c).collect();
        let speech = rate as usize..;
        let cut = 10.0 * (power(&room[speech.clone()]) / power(&left[speech])).log10();
        println!("{found:?}: hum and noise cut by {cut:.1} dB");
        assert!((found.f0 - 50.0).abs() < 0.01, "{found:?}");
        assert!(cut > 15.0, "{cut:.1} dB");
    }

    /// A voice that starts at once, without room before it, is not taken for a hum; nor is a
    /// note sung for the whole half second, with a voice's wander. (A note held steadier than
    /// a voice holds one would be: nothing tells it from a hum in half a second.)
    #[test]
    fn speech_at_the_start_is_not_taken_for_hum() {
        let rate = 16_000;
        let jitter = noise(rate as usize);
        let mut phase = 0.0f64;
        let mut held = 0.0f64;
        let sung: Vec<f32> = (0..rate as usize)
            .map(|i| {
                // 110 Hz wandering by 1% (standard deviation) over some 50 ms, as a held
                // note's pitch does.
                held = 0.9987 * held + 0.088 * f64::from(jitter[i]);
                phase += 2.0 * std::f64::consts::PI * 110.0 * (1.0 + 0.01 * held) / f64::from(rate);
                (1..20)
                    .map(|k| (phase * f64::from(k)).sin() / f64::from(k))
                    .sum::<f64>() as f32
                    * 0.1
            })
            .collect();
        for x in [vowel(2.0, rate), sung] {
            let (out, found) = dehum(&x, rate);
            assert_eq!(found, None);
            assert_eq!(out, x);
        }
    }

    /// Learnt from the room before the stream, the hum is removed from the first sample on,
    /// with nothing held back, however the stream is split.
    #[test]
    fn a_hum_learnt_from_the_room_before_is_removed_at_once() {
        let rate = 16_000;
        let (clean, noisy) = hummed(rate, 60.0);
        // The room: the first second; the stream: the speech after it.
        let (room, stream) = noisy.split_at(rate as usize);
        let (whole, found) = dehum_in_room(stream, room, rate);
        assert!((found.expect("hum found").f0 - 60.0).abs() < 0.01);
        let speech = &clean[rate as usize..];
        let (before, after) = (snr_db(speech, stream), snr_db(speech, &whole));
        assert!(after > before + 40.0, "{before:.1} -> {after:.1} dB");
        for block in [1, 160, 8000] {
            let mut c = HumCanceller::new(rate);
            c.set_room(room);
            let mut out = Vec::new();
            c.push(&stream[..block], &mut out);
            assert_eq!(out.len(), block, "nothing held back");
            c.push(&stream[block..], &mut out);
            c.finish(&mut out);
            assert_eq!(out, whole, "blocks of {block}");
        }
        // Too short a room: learnt from the stream, as without one.
        assert_eq!(
            dehum_in_room(stream, &room[..1000], rate),
            dehum(stream, rate)
        );
    }

    #[test]
    fn the_same_output_however_the_stream_is_split() {
        let (_, noisy) = hummed(16_000, 60.0);
        let (whole, _) = dehum(&noisy, 16_000);
        for block in [1, 7, 160, 4799, 8000, 8001, 50_000] {
            let mut c = HumCanceller::new(16_000);
            let mut out = Vec::new();
            for chunk in noisy.chunks(block) {
                c.push(chunk, &mut out);
            }
            c.finish(&mut out);
            assert_eq!(out, whole, "blocks of {block}");
            // Ready for the next stream.
            let mut again = Vec::new();
            c.push(&noisy, &mut again);
            c.finish(&mut again);
            assert_eq!(again, whole);
        }
    }

    #[test]
    fn short_and_broken_input_never_panics() {
        for x in [
            vec![],
            vec![0.0; 10],
            vec![f32::NAN; 9000],
            vec![1.0; 20_000],
            (0..9000)
                .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
                .collect(),
        ] {
            for rate in [0, 1, 8000, 16_000] {
                let (out, _) = dehum(&x, rate);
                assert_eq!(out.len(), x.len());
            }
        }
        let (_, noisy) = hummed(16_000, 60.0);
        let mut broken = noisy.clone();
        broken[12_000] = f32::NAN;
        let (out, found) = dehum(&broken, 16_000);
        assert!(found.is_some());
        assert!(out[12_000].is_nan());
        assert!(
            out.iter()
                .enumerate()
                .all(|(i, v)| i == 12_000 || v.is_finite())
        );
    }
}
