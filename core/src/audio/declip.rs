//! Restoring clipped speech: a microphone whose gain is too high (a player shouting into a
//! headset) flattens every peak at full scale, and the flattened peaks add harmonics the
//! model never heard in training.
//!
//! [`Declipper`] finds the runs of samples held at full scale ([`CLIP_LEVEL`]) and replaces
//! them with what a short-term linear predictor of the speech around them says they were
//! (least-squares autoregressive interpolation, after Janssen, Veldhuis and Vries, 1986): in
//! frames of 32 ms (half overlapping), it fits an all-pole model of order
//! [`Declipper::order`] to the frame, chooses the clipped samples that minimise the model's
//! prediction error over the frame, and keeps each at least as far from zero as it was read;
//! four times over, each fit on the frame as last restored. Audio without such a run passes
//! through unchanged.
//!
//! Clipping happens at the microphone's rate, where the runs are flat; resampled, they are
//! not, so the engine restores them before it resamples (`EngineConfig::declip`).
//!
//! It works on a stream, as [`StreamResampler`](super::StreamResampler) does:
//! [`push`](Declipper::push) blocks as they come and [`finish`](Declipper::finish) at the end;
//! the output is the same however the stream is split, and all but the last 24 ms at most
//! are out before the end. [`declip`] does a whole signal at once.

/// Samples whose magnitude reaches this, beside a neighbour of the same value, are taken as
/// clipped: full scale, less the rounding of 16-bit audio (`32767 / 32768`).
pub const CLIP_LEVEL: f32 = 0.999;

/// Frame length, in seconds (halves overlap).
const FRAME_SECONDS: f64 = 0.032;
/// Predictor order at 16 kHz; scaled with the rate, within [`MIN_ORDER`]..=[`MAX_ORDER`].
const ORDER_AT_16K: f64 = 24.0;
const MIN_ORDER: usize = 8;
const MAX_ORDER: usize = 32;
/// Refits of the predictor to the restored frame.
const ITERATIONS: usize = 4;

/// What a [`Declipper`] found so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClipReport {
    /// Samples read.
    pub samples: usize,
    /// Samples at full scale among them (restored where the frame around them allowed).
    pub clipped: usize,
}

impl ClipReport {
    /// The share of samples that were clipped (0 for none).
    #[must_use]
    pub fn share(&self) -> f32 {
        if self.samples == 0 {
            0.0
        } else {
            self.clipped as f32 / self.samples as f32
        }
    }
}

/// Restores clipped samples in a stream (see the module's documentation). Allocation-free
/// once its buffers have grown to a frame.
#[derive(Debug, Clone)]
pub struct Declipper {
    frame: usize,
    hop: usize,
    order: usize,
    /// Input not yet out, from stream position `base`; restored values written in place.
    buf: Vec<f32>,
    /// The same input as read.
    raw: Vec<f32>,
    base: usize,
    /// Start of the next frame to restore (stream position).
    next_frame: usize,
    /// Stream position up to which the output is final (and out).
    out_to: usize,
    report: ClipReport,
    scratch: Scratch,
}

#[derive(Debug, Clone, Default)]
struct Scratch {
    work: Vec<f64>,
    /// The Hann window of the last frame length.
    window: Vec<f64>,
    windowed: Vec<f64>,
    unknown: Vec<usize>,
    /// The unknowns' values as read (at the rail).
    rail: Vec<f64>,
    band: Vec<f64>,
    /// Per unknown, the first unknown within the predictor's reach (its row's envelope).
    first: Vec<usize>,
    rhs: Vec<f64>,
    lpc: Vec<f64>,
    lpc_prev: Vec<f64>,
    corr: Vec<f64>,
}

impl Declipper {
    /// A declipper for audio at `sample_rate` Hz (any rate above 0; at 0 it passes audio
    /// through).
    #[must_use]
    pub fn new(sample_rate: u32) -> Self {
        let frame = ((f64::from(sample_rate) * FRAME_SECONDS) as usize / 4 * 4).max(4);
        let order = ((ORDER_AT_16K * f64::from(sample_rate) / 16_000.0).round() as usize)
            .clamp(MIN_ORDER, MAX_ORDER);
        Self {
            frame,
            hop: frame / 2,
            order,
            buf: Vec::new(),
            raw: Vec::new(),
            base: 0,
            next_frame: 0,
            out_to: 0,
            report: ClipReport::default(),
            scratch: Scratch::default(),
        }
    }

    /// The predictor's order at this rate.
    #[must_use]
    pub fn order(&self) -> usize {
        self.order
    }

    /// What was found since the declipper was made or last [`reset`](Self::reset) (a
    /// sample counts once the frame that owns it is restored, at most 24 ms after it was
    /// pushed, and by [`finish`](Self::finish) at the latest).
    #[must_use]
    pub fn report(&self) -> ClipReport {
        self.report
    }

    /// Starts a new stream.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.raw.clear();
        self.base = 0;
        self.next_frame = 0;
        self.out_to = 0;
        self.report = ClipReport::default();
    }

    /// Takes `samples`, the next block of the stream, and appends to `out` the restored
    /// samples that no later input can change.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) {
        self.report.samples += samples.len();
        self.buf.extend_from_slice(samples);
        self.raw.extend_from_slice(samples);
        let end = self.base + self.buf.len();
        while self.next_frame + self.frame <= end {
            self.restore_frame(self.next_frame, self.next_frame + self.frame);
            self.next_frame += self.hop;
        }
        // Frame k rewrites up to its start + 3/4 of a frame; the next frame, not yet run,
        // rewrites from its start + 1/4, the same point.
        let final_to = if self.next_frame == 0 {
            0
        } else {
            self.next_frame + self.frame / 4
        };
        self.emit(final_to.min(end), out);
    }

    /// Restores what is left and appends it to `out`; a new stream can then be pushed
    /// ([`report`](Self::report) goes on counting until [`reset`](Self::reset)).
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        let end = self.base + self.buf.len();
        // The remaining frames: each until the end; the last ends where the stream does.
        while self.next_frame == 0 || self.next_frame + self.frame / 4 < end {
            if end == 0 {
                break;
            }
            self.restore_frame(self.next_frame, end.min(self.next_frame + self.frame));
            self.next_frame += self.hop;
        }
        self.emit(end, out);
        self.buf.clear();
        self.raw.clear();
        self.base = 0;
        self.next_frame = 0;
        self.out_to = 0;
    }

    fn emit(&mut self, to: usize, out: &mut Vec<f32>) {
        if to <= self.out_to {
            return;
        }
        out.extend_from_slice(&self.buf[self.out_to - self.base..to - self.base]);
        self.out_to = to;
        // Keep from the next frame's start (it reads the samples the last one restored).
        let keep_from = self.next_frame.min(self.out_to);
        if keep_from > self.base {
            self.buf.drain(..keep_from - self.base);
            self.raw.drain(..keep_from - self.base);
            self.base = keep_from;
        }
    }

    /// Restores the clipped samples of the frame `start..end` (stream positions) that it
    /// owns: from a quarter into it (the first frame: from its start) to three quarters (the
    /// last: to its end).
    fn restore_frame(&mut self, start: usize, end: usize) {
        let len = end - start;
        let from = start - self.base;
        let p = self.order;
        let s = &mut self.scratch;
        let raw = &self.raw[from..from + len];
        s.unknown.clear();
        s.unknown.extend((0..len).filter(|&i| on_plateau(raw, i)));
        s.rail.clear();
        s.rail.extend(s.unknown.iter().map(|&i| f64::from(raw[i])));
        let own_from = if start == 0 { 0 } else { self.frame / 4 };
        let own_to = if end < start + self.frame {
            len
        } else {
            3 * self.frame / 4
        };
        // Each clipped sample counts once: in the part of the frame no later frame owns (the
        // last frames of a stream all own its end).
        let count_to = if start + self.hop + self.frame / 4 < end {
            (3 * self.frame / 4).min(len)
        } else {
            own_to
        };
        self.report.clipped += s
            .unknown
            .iter()
            .filter(|i| (own_from..count_to).contains(i))
            .count();
        // Too short or too little known to fit a predictor: left as it is.
        if s.unknown.is_empty()
            || len < 4 * p
            || len - s.unknown.len() < 2 * p
            || self.buf[from..from + len].iter().any(|v| !v.is_finite())
        {
            return;
        }
        s.work.clear();
        s.work
            .extend(self.buf[from..from + len].iter().map(|&v| f64::from(v)));
        for _ in 0..ITERATIONS {
            if !solve_frame(s, p) {
                break;
            }
        }
        for &i in &s.unknown {
            if (own_from..own_to).contains(&i) {
                self.buf[from + i] = s.work[i] as f32;
            }
        }
    }
}

/// Whether `frame[i]` is clipped: at full scale, beside a neighbour in the frame of the same
/// value (within about 3 steps of 16-bit audio). A peak past full scale in floating-point
/// audio that was never clipped has no such plateau and is left alone.
fn on_plateau(frame: &[f32], i: usize) -> bool {
    let v = frame[i];
    let same = |j: usize| frame.get(j).is_some_and(|&w| (w - v).abs() <= 1e-4);
    v.abs() >= CLIP_LEVEL && ((i > 0 && same(i - 1)) || same(i + 1))
}

/// One refit of the predictor on `s.work` and one least-squares choice of its unknown
/// samples; `false` (the frame left as it was) when the fit or the solve fails.
fn solve_frame(s: &mut Scratch, p: usize) -> bool {
    let len = s.work.len();
    // The predictor from the Hann-windowed frame (autocorrelation method).
    if s.window.len() != len {
        s.window.clear();
        s.window.extend(
            (0..len)
                .map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / (len - 1) as f64).cos()),
        );
    }
    s.windowed.clear();
    s.windowed
        .extend(s.work.iter().zip(&s.window).map(|(v, w)| v * w));
    s.corr.clear();
    s.corr
        .extend((0..=p).map(|lag| dot(&s.windowed[lag..], &s.windowed)));
    if !levinson(&s.corr, &mut s.lpc, &mut s.lpc_prev) {
        return false;
    }
    // The prediction error's energy over the frame is x' Q x with Q Toeplitz:
    // Q[i][j] = r_a(|i - j|), the predictor's own autocorrelation (zero beyond lag p).
    let ra: [f64; MAX_ORDER + 1] = std::array::from_fn(|d| {
        if d > p {
            0.0
        } else {
            s.lpc[d..].iter().zip(&s.lpc).map(|(a, b)| a * b).sum()
        }
    });
    let n = s.unknown.len();
    let width = p + 1;
    // The unknowns' block of Q is banded: positions more than p apart do not meet, and
    // unknowns u < v lie at least v - u apart. Row u holds Q[u][u - j] at u * width + j.
    s.band.clear();
    s.band.resize(n * width, 0.0);
    s.rhs.clear();
    s.rhs.resize(n, 0.0);
    s.first.clear();
    let ridge = 1e-9 * ra[0];
    let mut first = 0;
    for u in 0..n {
        let iu = s.unknown[u];
        while iu - s.unknown[first] > p {
            first += 1;
        }
        s.first.push(first);
        for v in first..=u {
            s.band[u * width + (u - v)] = ra[iu - s.unknown[v]];
        }
        s.band[u * width] += ridge;
        // Minus the known samples' part: -sum over known k within p of Q[iu][k] x[k].
        let lo = iu.saturating_sub(p);
        let hi = (iu + p).min(len - 1);
        let mut acc = 0.0;
        for k in lo..=hi {
            acc += ra[k.abs_diff(iu)] * s.work[k];
        }
        // The unknowns' own terms were included above: take them out.
        for &k in s.unknown[first..].iter().take_while(|&&k| k <= hi) {
            acc -= ra[k.abs_diff(iu)] * s.work[k];
        }
        s.rhs[u] = -acc;
    }
    if !banded_cholesky_solve(&mut s.band, &s.first, &mut s.rhs, width) {
        return false;
    }
    for (u, (&i, &read)) in s.unknown.iter().zip(&s.rail).enumerate() {
        let x = s.rhs[u];
        // At least as far from zero as it was read: the true sample went past the rail.
        s.work[i] = if read > 0.0 { x.max(read) } else { x.min(read) };
    }
    true
}

/// Levinson-Durbin: the prediction-error filter `a` (`a[0] = 1`) from the autocorrelation
/// `r[0..=p]`; `false` for a silent or unstable frame.
fn levinson(r: &[f64], a: &mut Vec<f64>, prev: &mut Vec<f64>) -> bool {
    let p = r.len() - 1;
    a.clear();
    a.resize(p + 1, 0.0);
    a[0] = 1.0;
    let mut err = r[0] * (1.0 + 1e-9);
    if err <= 0.0 || !err.is_finite() {
        return false;
    }
    for i in 1..=p {
        let acc: f64 = r[i] + (1..i).map(|j| a[j] * r[i - j]).sum::<f64>();
        let k = -acc / err;
        prev.clear();
        prev.extend_from_slice(&a[..=i]);
        for j in 1..i {
            a[j] = prev[j] + k * prev[i - j];
        }
        a[i] = k;
        err *= 1.0 - k * k;
        if err <= 0.0 {
            return false;
        }
    }
    true
}

/// Solves `Q x = rhs` in place for a symmetric positive-definite `Q` given by its lower band
/// (row `u` holds `Q[u][u - j]` at `u * width + j`), zero left of `first[u]` in row `u`
/// (`first` non-decreasing, `u - first[u] < width`: the factor keeps that envelope); `false`
/// when `Q` is not positive definite.
fn banded_cholesky_solve(band: &mut [f64], first: &[usize], rhs: &mut [f64], width: usize) -> bool {
    let n = rhs.len();
    // Factor: band becomes L, Q = L L', with 1 / L[i][i] in the diagonal's place (no sum
    // reads the diagonal), so every entry is a product rather than a division.
    for i in 0..n {
        for c in first[i]..=i {
            // Entry L[i][c].
            let j = i - c;
            // Minus the sum over k < c within both envelopes of L[i][k] L[c][k]: two
            // contiguous runs of the band (k descending).
            let k0 = first[i].max(first[c]);
            let row_i = &band[i * width + j + 1..=i * width + (i - k0)];
            let row_c = &band[c * width + 1..=c * width + (c - k0)];
            let sum = band[i * width + j] - dot(row_i, row_c);
            if j == 0 {
                if sum <= 0.0 || !sum.is_finite() {
                    return false;
                }
                band[i * width] = 1.0 / sum.sqrt();
            } else {
                band[i * width + j] = sum * band[c * width];
            }
        }
    }
    // L y = rhs.
    for i in 0..n {
        let mut sum = rhs[i];
        for k in first[i]..i {
            sum -= band[i * width + (i - k)] * rhs[k];
        }
        rhs[i] = sum * band[i * width];
    }
    // L' x = y.
    for i in (0..n).rev() {
        let mut sum = rhs[i];
        for k in (i + 1..n).take_while(|&k| first[k] <= i) {
            sum -= band[k * width + (k - i)] * rhs[k];
        }
        rhs[i] = sum * band[i * width];
    }
    rhs.iter().all(|v| v.is_finite())
}

/// The samples of `samples` held at full scale: those a [`Declipper`] takes as clipped
/// (counted over the whole signal rather than frame by frame).
#[must_use]
pub fn clipped_samples(samples: &[f32]) -> usize {
    (0..samples.len())
        .filter(|&i| on_plateau(samples, i))
        .count()
}

/// `a · b` with four running sums (so the compiler can keep them in one vector).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (a4, a_rest) = a.as_chunks::<4>();
    let (b4, b_rest) = b.as_chunks::<4>();
    for (x, y) in a4.iter().zip(b4) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f64 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// [`Declipper`] over a whole signal at `sample_rate`: the restored signal and what was found.
#[must_use]
pub fn declip(samples: &[f32], sample_rate: u32) -> (Vec<f32>, ClipReport) {
    let mut d = Declipper::new(sample_rate);
    let mut out = Vec::with_capacity(samples.len());
    d.push(samples, &mut out);
    d.finish(&mut out);
    (out, d.report())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A voiced sound: a 140 Hz pulse train through two resonances, with a slow swell, the
    /// kind of waveform a loud vowel has.
    fn vowel(rate: u32, seconds: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        let fs = f64::from(rate);
        let mut out = vec![0.0f64; n];
        let (mut y1, mut y2, mut z1, mut z2) = (0.0, 0.0, 0.0, 0.0);
        let res = |f: f64, bw: f64| {
            let r = (-std::f64::consts::PI * bw / fs).exp();
            (2.0 * r * (std::f64::consts::TAU * f / fs).cos(), -r * r)
        };
        let (a1, a2) = res(700.0, 90.0);
        let (b1, b2) = res(1200.0, 110.0);
        let period = fs / 140.0;
        for (i, o) in out.iter_mut().enumerate() {
            let pulse = if (i as f64 % period) < 1.0 { 1.0 } else { 0.0 };
            let y = pulse + a1 * y1 + a2 * y2;
            (y2, y1) = (y1, y);
            let z = y + b1 * z1 + b2 * z2;
            (z2, z1) = (z1, z);
            let swell = 0.6 + 0.4 * (std::f64::consts::TAU * i as f64 / n as f64 * 1.5).sin();
            *o = z * swell;
        }
        let peak = out.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        out.iter().map(|v| (v / peak) as f32).collect()
    }

    fn overdriven(clean: &[f32], db: f32) -> (Vec<f32>, Vec<f32>) {
        let g = 10f32.powf(db / 20.0);
        let reference: Vec<f32> = clean.iter().map(|v| v * g).collect();
        let clipped = reference.iter().map(|v| v.clamp(-1.0, 1.0)).collect();
        (reference, clipped)
    }

    fn sdr_db(reference: &[f32], x: &[f32]) -> f64 {
        let (mut s, mut e) = (0.0f64, 0.0f64);
        for (r, v) in reference.iter().zip(x) {
            s += f64::from(*r).powi(2);
            e += f64::from(r - v).powi(2);
        }
        10.0 * (s / e).log10()
    }

    #[test]
    fn audio_below_full_scale_passes_unchanged() {
        for rate in [8_000, 16_000, 44_100, 48_000] {
            let x: Vec<f32> = vowel(rate, 0.7).iter().map(|v| v * 0.9).collect();
            let (y, report) = declip(&x, rate);
            assert_eq!(y, x, "{rate} Hz");
            assert_eq!(report.clipped, 0);
            assert_eq!(report.samples, x.len());
            assert_eq!(report.share(), 0.0);
        }
    }

    #[test]
    fn clipped_peaks_come_back_closer_to_the_true_ones() {
        for rate in [8_000, 16_000, 44_100, 48_000] {
            let (reference, clipped) = overdriven(&vowel(rate, 1.0), 12.0);
            let (restored, report) = declip(&clipped, rate);
            assert_eq!(restored.len(), clipped.len());
            let share = report.share();
            assert!(share > 0.05 && share < 0.6, "{rate} Hz: {share}");
            let (before, after) = (sdr_db(&reference, &clipped), sdr_db(&reference, &restored));
            // This vowel's pulses fill the band to 4 kHz at 8 kHz, which leaves little to
            // predict a missing sample from; speech through such a line is band-limited.
            let gain = if rate == 8_000 { 0.3 } else { 12.0 };
            assert!(
                after > before + gain,
                "{rate} Hz: {before:.1} dB -> {after:.1} dB"
            );
            // Never pulled back inside the rail.
            for (c, r) in clipped.iter().zip(&restored) {
                if c.abs() >= CLIP_LEVEL {
                    assert!(r.abs() >= c.abs() && r.signum() == c.signum(), "{c} -> {r}");
                } else {
                    assert_eq!(c, r);
                }
            }
        }
    }

    #[test]
    fn peaks_past_full_scale_that_were_never_clipped_pass_unchanged() {
        let x: Vec<f32> = vowel(16_000, 0.5).iter().map(|v| v * 1.5).collect();
        let (y, report) = declip(&x, 16_000);
        assert_eq!(y, x);
        assert_eq!(report.clipped, 0);
    }

    #[test]
    fn the_output_does_not_depend_on_how_the_stream_is_split() {
        let (_, clipped) = overdriven(&vowel(16_000, 1.3), 10.0);
        let (whole, _) = declip(&clipped, 16_000);
        let mut d = Declipper::new(16_000);
        for block in [1, 7, 160, 511, 512, 513, 4800] {
            let mut out = Vec::new();
            for chunk in clipped.chunks(block) {
                d.push(chunk, &mut out);
            }
            // Most of it is out before the end.
            assert!(
                out.len() + 24 * 16 >= clipped.len(),
                "{block}: {}",
                out.len()
            );
            d.finish(&mut out);
            assert_eq!(out, whole, "blocks of {block}");
        }
        // Each clipped sample counted once, over every pass, and whatever the stream's
        // length (the last frames of a stream overlap).
        assert_eq!(d.report().clipped, 7 * clipped_samples(&clipped));
        assert_eq!(d.report().samples, 7 * clipped.len());
        for cut in (0..256).step_by(16) {
            let x = &clipped[..clipped.len() - cut];
            let (_, report) = declip(x, 16_000);
            assert_eq!(report.clipped, clipped_samples(x), "{} samples", x.len());
        }
        // After finish the declipper starts a new stream.
        let mut again = Vec::new();
        d.reset();
        d.push(&clipped, &mut again);
        d.finish(&mut again);
        assert_eq!(again, whole);
    }

    #[test]
    fn short_silent_square_and_broken_input_do_not_fail() {
        for x in [
            vec![],
            vec![1.0; 3],
            vec![0.0; 2000],
            (0..4000)
                .map(|i| if (i / 40) % 2 == 0 { 1.0 } else { -1.0 })
                .collect(),
            {
                let (_, mut c) = overdriven(&vowel(16_000, 0.5), 12.0);
                c[3000] = f32::NAN;
                c
            },
        ] {
            let (y, _) = declip(&x, 16_000);
            assert_eq!(y.len(), x.len());
            for (a, b) in x.iter().zip(&y) {
                assert!(a == b || (a.is_nan() && b.is_nan()) || b.abs() >= a.abs());
            }
        }
        let (y, _) = declip(&[1.0, -1.0, 0.5], 0);
        assert_eq!(y, [1.0, -1.0, 0.5]);
    }
}
