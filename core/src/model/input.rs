//! Model input: an utterance's features as the model sees them, and normalisation statistics.
//!
//! Pipeline ([`InputExtractor::extract`]): trim leading and trailing silence
//! ([`crate::speech::trim_silence`]), optionally scale to a fixed speech level, reference MFCCs ([`crate::features`]; optionally with the room's
//! steady noise subtracted, [`InputConfig::noise_suppression`]), their deltas
//! (librosa's `delta`, width 9), then `stack` consecutive frames concatenated into one model step
//! (100 frames/s become 33 steps/s with the default of 3: the LSTM runs three times fewer
//! steps and still sees every frame), capped at `max_steps`.
//!
//! Normalisation ([`NormStats`]): per-feature mean and standard deviation, accumulated over the
//! steps of many utterances: a training set, or one speaker's own unlabelled speech (the
//! per-speaker statistics a player's profile learns).

use serde::{Deserialize, Serialize};

use crate::audio::level_gain;
use crate::features::{
    FeatureError, FeatureMatrix, Mfcc, MfccConfig, NoiseSuppression, PITCH_VALUES, PitchTracker,
};
use crate::speech::{VadConfig, trim_silence};

/// How model inputs are computed. Saved with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InputConfig {
    /// The MFCC front end.
    pub mfcc: MfccConfig,
    /// Append delta coefficients.
    pub deltas: bool,
    /// Frames concatenated into one model step.
    pub stack: usize,
    /// Longest input in steps (longer utterances keep their first `max_steps`).
    pub max_steps: usize,
    /// Trim leading and trailing silence first.
    pub trim: bool,
    /// Scale each utterance (after trimming) to this active speech level in dBFS before the
    /// MFCCs ([`crate::audio::normalise_level`]), so a quiet or a loud microphone gives the
    /// same input. `None` (the value of a model directory whose `input.json` predates it): as
    /// recorded.
    #[serde(default)]
    pub level_db: Option<f32>,
    /// Subtract the steady noise of the room from the mel power before the MFCCs
    /// ([`NoiseSuppression`]), estimated from the room's sound alone where the caller has it
    /// ([`InputExtractor::mfcc_in_room`]: the engine passes the pre-roll before the detected
    /// speech), otherwise from the utterance's quietest frames. `None` (the default, and the
    /// value of a model directory whose `input.json` predates it): as recorded. Not combined
    /// with `level_db`. An [`InputStream`](crate::model::InputStream) with it streams once it
    /// is given the room ([`InputStream::set_room`](crate::model::InputStream::set_room));
    /// without one it computes the whole utterance at `finish`.
    #[serde(default)]
    pub noise_suppression: Option<NoiseSuppression>,
    /// Append pitch features to each MFCC frame ([`PitchTracker`]: `log2(f0 / 100 Hz)`, held
    /// through unvoiced frames, and periodicity), so a frame holds `n_mfcc + 2` values
    /// ([`InputConfig::frame_width`]) and their deltas. `false` (the default, and the value of
    /// a model directory whose `input.json` predates it): MFCCs alone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pitch: bool,
}

impl Default for InputConfig {
    fn default() -> Self {
        Self {
            mfcc: MfccConfig::default(),
            deltas: true,
            stack: 3,
            max_steps: 200,
            trim: true,
            level_db: None,
            noise_suppression: None,
            pitch: false,
        }
    }
}

impl InputConfig {
    /// Features per model step.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.frame_width() * if self.deltas { 2 } else { 1 } * self.stack.max(1)
    }

    /// Values per frame of [`InputExtractor::mfcc`]: the cepstral coefficients, and the pitch
    /// features after them with [`InputConfig::pitch`].
    #[must_use]
    pub fn frame_width(&self) -> usize {
        self.mfcc.n_mfcc + if self.pitch { PITCH_VALUES } else { 0 }
    }

    /// Deltas and frame stacking of MFCC frames from [`InputExtractor::mfcc`]: the second half
    /// of [`InputExtractor::extract`], which needs no extractor state. A matrix with another
    /// number of coefficients, or none, gives one step of zeros.
    #[must_use]
    pub fn finish(&self, mfcc: &FeatureMatrix) -> FeatureMatrix {
        let width = self.frame_width();
        let per_frame = if self.deltas { 2 * width } else { width };
        let stack = self.stack;
        let frames: &[f32] = if mfcc.n_features == width && mfcc.data.len() >= width {
            &mfcc.data[..mfcc.n_frames.min(mfcc.data.len() / width) * width]
        } else {
            &[]
        };
        let n_frames = frames.len() / width.max(1);
        let steps = n_frames.div_ceil(stack).clamp(1, self.max_steps);
        let mut data = vec![0.0f32; steps * per_frame * stack];
        if n_frames > 0 {
            // Under `pulp`'s dispatch so the deltas vectorise for the widest SIMD the CPU
            // has; lane-wise arithmetic, so the values are the same at every width.
            struct Op<'a> {
                config: &'a InputConfig,
                frames: &'a [f32],
                n_frames: usize,
                data: &'a mut [f32],
                step_len: usize,
            }
            impl pulp::WithSimd for Op<'_> {
                type Output = ();
                #[inline(always)]
                fn with_simd<S: pulp::Simd>(self, _: S) {
                    for (step, dst) in self.data.chunks_exact_mut(self.step_len).enumerate() {
                        self.config.fill_step(self.frames, self.n_frames, step, dst);
                    }
                }
            }
            pulp::Arch::new().dispatch(Op {
                config: self,
                frames,
                n_frames,
                data: &mut data,
                step_len: per_frame * stack,
            });
        }
        FeatureMatrix {
            data,
            n_frames: steps,
            n_features: per_frame * stack,
        }
    }
}

impl InputConfig {
    /// Step `step` of the model input of `n_frames` MFCC `frames` (`n_frames *`
    /// [`InputConfig::frame_width`] values, `n_frames >= 1`) into `dst` (`n_features`
    /// values): what [`InputConfig::finish`] writes there. A step past the last frames
    /// repeats it. Frames up to `step`'s last plus 4 (the deltas' reach) are read, so a step
    /// whose reach stays below `n_frames` is the same for every longer clip with these
    /// frames.
    #[inline(always)]
    pub(crate) fn fill_step(&self, frames: &[f32], n_frames: usize, step: usize, dst: &mut [f32]) {
        let width = self.frame_width();
        let per_frame = if self.deltas { 2 * width } else { width };
        for (k, dst) in dst.chunks_exact_mut(per_frame).take(self.stack).enumerate() {
            // A short last step repeats the clip's last frame.
            let t = (step * self.stack + k).min(n_frames - 1);
            dst[..width].copy_from_slice(&frames[t * width..(t + 1) * width]);
            if self.deltas {
                delta_into(frames, n_frames, width, t, &mut dst[width..]);
            }
        }
    }
}

/// The quantile of the per-band level differences that [`NormStats::gain_db_against`] takes
/// as the gain between two voices (chosen on folds 0-4 among 0.5, 0.75 and 0.9:
/// `models/base/README.md`, "A new player's level").
pub const LEVEL_QUANTILE: f64 = 0.75;

/// Where MFCC 0 (the energy coefficient) sits in a model step of `config` that is `width`
/// features wide: once per stacked frame. `None` when `width` is not `config`'s.
fn level_indices(config: &InputConfig, width: usize) -> Option<Vec<usize>> {
    if width != config.n_features() || width == 0 {
        return None;
    }
    let per_frame = width / config.stack.max(1);
    Some((0..config.stack.max(1)).map(|k| k * per_frame).collect())
}

/// Frames of a room's sound alone (20: 200 ms at the default hop) that
/// [`InputExtractor::mfcc_in_room`] needs to estimate the noise from it rather than from the
/// speech.
pub const MIN_ROOM_FRAMES: usize = 20;

/// Computes model inputs; keeps the MFCC extractor and scratch between calls.
#[derive(Debug)]
pub struct InputExtractor {
    pub(super) config: InputConfig,
    pub(super) mfcc: Mfcc,
    pub(super) vad: VadConfig,
    pub(super) pitch: Option<PitchTracker>,
    frames: Vec<f32>,
    pitches: Vec<f32>,
    levelled: Vec<f32>,
}

impl InputExtractor {
    /// An extractor for `config`.
    ///
    /// # Errors
    /// [`FeatureError::InvalidConfig`] for a bad MFCC configuration, `stack == 0`, bad
    /// noise-suppression settings or noise suppression with `level_db`.
    pub fn new(config: InputConfig) -> Result<Self, FeatureError> {
        if let Some(suppression) = &config.noise_suppression {
            suppression.validate()?;
            if let Some(level) = config.level_db {
                return Err(FeatureError::InvalidConfig {
                    field: "level_db",
                    value: level.to_string(),
                    reason: "cannot be combined with noise_suppression",
                });
            }
        }
        if config.stack == 0 || config.max_steps == 0 {
            return Err(FeatureError::InvalidConfig {
                field: if config.stack == 0 {
                    "stack"
                } else {
                    "max_steps"
                },
                value: "0".to_owned(),
                reason: "must be >= 1",
            });
        }
        Ok(Self {
            mfcc: Mfcc::new(config.mfcc.clone())?,
            vad: VadConfig::default(),
            pitch: if config.pitch {
                Some(PitchTracker::new(config.mfcc.clone())?)
            } else {
                None
            },
            frames: Vec::new(),
            pitches: Vec::new(),
            levelled: Vec::new(),
            config,
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &InputConfig {
        &self.config
    }

    /// The model input of a 16 kHz utterance: `steps x n_features` (at least one step).
    /// The same as [`InputExtractor::mfcc`] then [`InputExtractor::finish`].
    ///
    /// # Errors
    /// [`FeatureError::EmptySignal`] or [`FeatureError::NonFinite`].
    pub fn extract(&mut self, signal: &[f32]) -> Result<FeatureMatrix, FeatureError> {
        let mfcc = self.mfcc(signal)?;
        Ok(self.finish(&mfcc))
    }

    /// [`InputExtractor::extract`] of speech heard in `room` ([`InputExtractor::mfcc_in_room`]).
    ///
    /// # Errors
    /// As [`InputExtractor::mfcc_in_room`].
    pub fn extract_in_room(
        &mut self,
        signal: &[f32],
        room: &[f32],
    ) -> Result<FeatureMatrix, FeatureError> {
        let mfcc = self.mfcc_in_room(signal, room)?;
        Ok(self.finish(&mfcc))
    }

    /// The first half of [`InputExtractor::extract`]: the utterance's MFCC frames
    /// (`frames x n_mfcc`, silence trimmed, at most `max_steps * stack` frames). Three times
    /// smaller than the model input: what a player profile stores of a confirmed utterance.
    ///
    /// # Errors
    /// [`FeatureError::EmptySignal`] or [`FeatureError::NonFinite`].
    pub fn mfcc(&mut self, signal: &[f32]) -> Result<FeatureMatrix, FeatureError> {
        self.mfcc_in_room(signal, &[])
    }

    /// [`InputExtractor::mfcc`] of speech heard in a room whose sound alone is `room` (e.g. the
    /// engine's pre-roll before the detected speech): with
    /// [`InputConfig::noise_suppression`] or [`InputConfig::pitch`], the noise estimates
    /// (the mel powers' and the pitch tracker's, [`crate::features::PitchNoise`]) come from
    /// `room` when it holds at least [`MIN_ROOM_FRAMES`] frames, otherwise from `signal`
    /// itself, before trimming. With neither, `room` is not used.
    ///
    /// # Errors
    /// [`FeatureError::EmptySignal`] or [`FeatureError::NonFinite`] (of `signal`, or of a
    /// `room` long enough to be used).
    pub fn mfcc_in_room(
        &mut self,
        signal: &[f32],
        room: &[f32],
    ) -> Result<FeatureMatrix, FeatureError> {
        let subtraction = match &self.config.noise_suppression {
            Some(settings) => {
                let source = if self.room_is_enough(room) {
                    room
                } else {
                    signal
                };
                Some(settings.subtraction(&self.mfcc.noise_estimate(source, settings.quietest)?))
            }
            None => None,
        };
        let range = if self.config.trim {
            let r = trim_silence(signal, self.config.mfcc.sample_rate, &self.vad);
            // Keep the whole clip when nearly nothing is left (silence or a click).
            if r.len() < self.config.mfcc.hop_length * 10 {
                0..signal.len()
            } else {
                r
            }
        } else {
            0..signal.len()
        };
        // The steady noise under the pitch, from the room or the whole signal (its pauses),
        // before trimming: as the suppression's. From the whole signal at its own level the
        // tracker reuses the frames the estimate computed (`process_trimmed_into`).
        let use_room = self.room_is_enough(room);
        let source = if use_room { room } else { signal };
        if self.pitch.is_some() {
            crate::features::check_signal(source)?;
        }
        let reuse = !use_room && self.config.level_db.is_none();
        let pitch_noise = match &mut self.pitch {
            Some(tracker) if !reuse => Some(tracker.noise_estimate(source)),
            _ => None,
        };
        let untrimmed = signal;
        let trimmed = range.clone();
        let (signal, gain) = match self.config.level_db {
            Some(target) => {
                self.levelled.clear();
                self.levelled.extend_from_slice(&signal[range]);
                let gain = level_gain(
                    &self.levelled,
                    self.config.mfcc.sample_rate,
                    f64::from(target),
                );
                self.levelled.iter_mut().for_each(|s| *s *= gain);
                (&self.levelled[..], gain)
            }
            None => (&untrimmed[range], 1.0),
        };
        let n_mfcc = self.config.mfcc.n_mfcc;
        let n_frames = self.mfcc.n_frames(signal.len());
        self.frames.resize(n_frames * n_mfcc, 0.0);
        match &subtraction {
            Some(sub) => self
                .mfcc
                .process_suppressed_into(signal, sub, &mut self.frames)?,
            None => self.mfcc.process_into(signal, &mut self.frames)?,
        };
        let kept = n_frames
            .min(self.config.max_steps * self.config.stack)
            .max(1);
        let Some(tracker) = &mut self.pitch else {
            return Ok(FeatureMatrix {
                data: self.frames[..kept * n_mfcc].to_vec(),
                n_frames: kept,
                n_features: n_mfcc,
            });
        };
        // Only the kept frames' pitch: each frame's depends on those before it alone.
        self.pitches.resize(kept * PITCH_VALUES, 0.0);
        let pitched = match pitch_noise {
            Some(noise) => {
                tracker.process_frames_into(signal, kept, &noise.scaled(gain), &mut self.pitches)?
            }
            None => tracker.process_trimmed_into(untrimmed, trimmed, kept, &mut self.pitches)?,
        };
        let width = n_mfcc + PITCH_VALUES;
        let mut data = Vec::with_capacity(kept * width);
        for t in 0..kept {
            if t < pitched {
                data.extend_from_slice(&self.frames[t * n_mfcc..(t + 1) * n_mfcc]);
                data.extend_from_slice(&self.pitches[t * PITCH_VALUES..(t + 1) * PITCH_VALUES]);
            } else {
                data.extend(std::iter::repeat_n(0.0, width));
            }
        }
        Ok(FeatureMatrix {
            data,
            n_frames: kept,
            n_features: width,
        })
    }

    /// Whether `room` is long enough to estimate the noise from ([`MIN_ROOM_FRAMES`]).
    pub(super) fn room_is_enough(&self, room: &[f32]) -> bool {
        self.mfcc.n_frames(room.len()) >= MIN_ROOM_FRAMES
    }

    /// The second half of [`InputExtractor::extract`]: [`InputConfig::finish`].
    #[must_use]
    pub fn finish(&self, mfcc: &FeatureMatrix) -> FeatureMatrix {
        self.config.finish(mfcc)
    }
}

/// Delta of frame `t` as `librosa.feature.delta(width=9)` (a Savitzky–Golay first
/// derivative over 9 frames, edges by interpolation) approximated by the regression formula
/// with edge frames repeated: `sum_n n (x[t+n] - x[t-n]) / (2 sum_n n^2)`, n = 1..4.
#[inline(always)]
fn delta_into(frames: &[f32], n_frames: usize, n: usize, t: usize, out: &mut [f32]) {
    const HALF: usize = 4;
    const DENOM: f32 = 2.0 * (1.0 + 4.0 + 9.0 + 16.0);
    out.fill(0.0);
    for k in 1..=HALF {
        let next = (t + k).min(n_frames - 1);
        let prev = t.saturating_sub(k);
        let w = k as f32 / DENOM;
        let (a, b) = (
            &frames[next * n..(next + 1) * n],
            &frames[prev * n..(prev + 1) * n],
        );
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o += w * (x - y);
        }
    }
}

/// Running per-feature mean and variance (sums in f64).
///
/// Deserialising checks the parts fit together (as many sums as sums of squares, all finite,
/// squares not negative), so a damaged `norm.json` or profile cannot normalise with NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NormStatsParts")]
pub struct NormStats {
    /// Steps accumulated.
    pub count: u64,
    /// Per-feature sum.
    pub sum: Vec<f64>,
    /// Per-feature sum of squares.
    pub sum_sq: Vec<f64>,
}

/// The serialised fields of [`NormStats`], checked before they become one.
#[derive(Deserialize)]
struct NormStatsParts {
    count: u64,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
}

impl TryFrom<NormStatsParts> for NormStats {
    type Error = String;

    fn try_from(p: NormStatsParts) -> Result<Self, Self::Error> {
        if p.sum.len() != p.sum_sq.len() {
            return Err(format!(
                "normalisation statistics with {} sums but {} sums of squares",
                p.sum.len(),
                p.sum_sq.len()
            ));
        }
        if !p.sum.iter().all(|v| v.is_finite())
            || !p.sum_sq.iter().all(|v| v.is_finite() && *v >= 0.0)
        {
            return Err("non-finite or negative value in normalisation statistics".to_owned());
        }
        // The means and variances are used as f32: they must fit.
        let n = p.count.max(1) as f64;
        let fits = |v: f64| ((v / n) as f32).is_finite() && ((v / n) * (v / n)).is_finite();
        if p.count > 0 && !(p.sum.iter().all(|&v| fits(v)) && p.sum_sq.iter().all(|&v| fits(v))) {
            return Err("normalisation statistics out of range".to_owned());
        }
        Ok(Self {
            count: p.count,
            sum: p.sum,
            sum_sq: p.sum_sq,
        })
    }
}

impl NormStats {
    /// Empty statistics for `n_features` features.
    #[must_use]
    pub fn new(n_features: usize) -> Self {
        Self {
            count: 0,
            sum: vec![0.0; n_features],
            sum_sq: vec![0.0; n_features],
        }
    }

    /// Features per step.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.sum.len()
    }

    /// Adds every step of `m` (ignored when its width differs).
    pub fn add(&mut self, m: &FeatureMatrix) {
        if m.n_features != self.sum.len() {
            return;
        }
        for frame in m.frames() {
            for ((s, q), &v) in self.sum.iter_mut().zip(&mut self.sum_sq).zip(frame) {
                let v = f64::from(v);
                *s += v;
                *q += v * v;
            }
        }
        self.count += m.n_frames as u64;
    }

    /// Adds another set of statistics.
    pub fn merge(&mut self, other: &NormStats) {
        if other.sum.len() != self.sum.len() {
            return;
        }
        for (a, b) in self.sum.iter_mut().zip(&other.sum) {
            *a += b;
        }
        for (a, b) in self.sum_sq.iter_mut().zip(&other.sum_sq) {
            *a += b;
        }
        self.count += other.count;
    }

    /// The mean log-mel spectrum (dB, one value per mel band) of the speech these statistics
    /// describe, rebuilt from the means of the first stacked frame's cepstral coefficients (the
    /// inverse of the orthonormal DCT, the coefficients past `n_mfcc` taken as 0: a smoothed
    /// spectrum). `None` when empty or not of `config`'s width.
    #[must_use]
    pub fn mean_log_mel(&self, config: &InputConfig) -> Option<Vec<f64>> {
        level_indices(config, self.sum.len())?;
        if self.count == 0 {
            return None;
        }
        let n = config.mfcc.n_mels;
        let c: Vec<f64> = (0..config.mfcc.n_mfcc)
            .map(|k| self.sum[k] / self.count as f64)
            .collect();
        Some(
            (0..n)
                .map(|b| {
                    c.iter()
                        .enumerate()
                        .map(|(k, &ck)| {
                            let w = if k == 0 {
                                (1.0 / n as f64).sqrt()
                            } else {
                                (2.0 / n as f64).sqrt()
                                    * (std::f64::consts::PI * k as f64 * (2 * b + 1) as f64
                                        / (2 * n) as f64)
                                        .cos()
                            };
                            w * ck
                        })
                        .sum()
                })
                .collect(),
        )
    }

    /// How many dB louder the speech these statistics describe is than `reference`'s, as a
    /// microphone's gain would make it: the [`LEVEL_QUANTILE`] quantile, over the mel bands,
    /// of the difference between the two mean spectra ([`NormStats::mean_log_mel`]). A gain
    /// moves every band alike; a band-limited line or microphone empties some bands without
    /// changing the others, which an upper quantile ignores (the mean, MFCC 0 itself, would
    /// read a telephone line as a quiet microphone). `None` when either is empty or not of
    /// `config`'s width.
    #[must_use]
    pub fn gain_db_against(&self, reference: &NormStats, config: &InputConfig) -> Option<f64> {
        let own = self.mean_log_mel(config)?;
        let other = reference.mean_log_mel(config)?;
        let mut diffs: Vec<f64> = own.iter().zip(&other).map(|(a, b)| a - b).collect();
        diffs.sort_by(f64::total_cmp);
        let at = ((diffs.len() - 1) as f64 * LEVEL_QUANTILE).round() as usize;
        diffs.get(at).copied()
    }

    /// These statistics as if their speech were `db` dB louder: the energy coefficient's mean
    /// (MFCC 0 of every stacked frame) moved by what that gain moves it, every spread and
    /// every other feature as they are. A gain moves only MFCC 0 (the orthonormal DCT of a
    /// constant shift of the log-mel bands) and leaves the deltas alone. Unchanged when not
    /// of `config`'s width.
    #[must_use]
    pub fn with_gain_db(&self, config: &InputConfig, db: f64) -> NormStats {
        let mut out = self.clone();
        let Some(indices) = level_indices(config, self.sum.len()) else {
            return out;
        };
        let shift = db * (config.mfcc.n_mels as f64).sqrt();
        let n = self.count as f64;
        for j in indices {
            // Sums of x + shift over the same steps.
            out.sum_sq[j] += 2.0 * shift * self.sum[j] + n * shift * shift;
            out.sum[j] += n * shift;
        }
        out
    }

    /// Per-feature mean and standard deviation (floored at 1e-3); zeros and ones when empty.
    #[must_use]
    pub fn mean_std(&self) -> (Vec<f32>, Vec<f32>) {
        (0..self.sum.len()).map(|j| self.mean_std_of(j)).unzip()
    }

    /// Mean and standard deviation of feature `j` (see [`NormStats::mean_std`]).
    fn mean_std_of(&self, j: usize) -> (f32, f32) {
        if self.count == 0 {
            return (0.0, 1.0);
        }
        let n = self.count as f64;
        let mean = self.sum[j] / n;
        let var = (self.sum_sq[j] / n - mean * mean).max(0.0);
        (mean as f32, var.sqrt().max(1e-3) as f32)
    }

    /// Normalises `m` in place: `(x - mean) / std`.
    pub fn apply(&self, m: &mut FeatureMatrix) {
        let (mean, std) = self.mean_std();
        if m.n_features != mean.len() {
            return;
        }
        for frame in m.data.chunks_exact_mut(mean.len()) {
            for ((v, &mu), &sd) in frame.iter_mut().zip(&mean).zip(&std) {
                *v = (*v - mu) / sd;
            }
        }
    }

    /// Writes `m` normalised into `out`: the same values as [`NormStats::apply`] on a copy of
    /// `m`, but allocation-free once `out` has held an input as large (its memory is reused).
    /// A matrix of another width is copied as it is, as `apply` leaves it.
    pub fn apply_into(&self, m: &FeatureMatrix, out: &mut FeatureMatrix) {
        /// Features whose mean and deviation are worked out at once (on the stack).
        const BLOCK: usize = 16;
        out.data.clear();
        out.data.extend_from_slice(&m.data);
        out.n_frames = m.n_frames;
        out.n_features = m.n_features;
        let d = self.sum.len();
        if m.n_features != d || d == 0 {
            return;
        }
        for j0 in (0..d).step_by(BLOCK) {
            let width = BLOCK.min(d - j0);
            let (mut mean, mut std) = ([0.0f32; BLOCK], [1.0f32; BLOCK]);
            for (k, (mu, sd)) in mean.iter_mut().zip(&mut std).take(width).enumerate() {
                (*mu, *sd) = self.mean_std_of(j0 + k);
            }
            for frame in out.data.chunks_exact_mut(d) {
                for ((v, &mu), &sd) in frame[j0..j0 + width].iter_mut().zip(&mean).zip(&std) {
                    *v = (*v - mu) / sd;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(seconds: f32, hz: f32, amp: f32) -> Vec<f32> {
        (0..(seconds * 16_000.0) as usize)
            .map(|i| amp * (2.0 * std::f32::consts::PI * hz * i as f32 / 16_000.0).sin())
            .collect()
    }

    /// Harmonics of 150 Hz between `low` and `high` Hz, each of amplitude `amp`, over a
    /// second inside silence.
    fn harmonics(low: f32, high: f32, amp: f32) -> Vec<f32> {
        let mut signal = vec![0.0f32; 16_000];
        let mut f = 150.0;
        while f < high {
            if f >= low {
                for (v, t) in signal.iter_mut().zip(tone(1.0, f, amp)) {
                    *v += t;
                }
            }
            f += 150.0;
        }
        let silence = vec![0.0; 4_800];
        [&silence[..], &signal, &silence].concat()
    }

    fn stats_of(signal: &[f32]) -> NormStats {
        let mut x = InputExtractor::new(InputConfig::default()).unwrap();
        let input = x.extract(signal).unwrap();
        let mut stats = NormStats::new(input.n_features);
        stats.add(&input);
        stats
    }

    #[test]
    fn a_voices_gain_is_measured_and_taken_away_but_a_narrow_band_is_no_gain() {
        let config = InputConfig::default();
        let full = stats_of(&harmonics(0.0, 7_000.0, 0.01));
        // The same sound 20 dB quieter: a quiet microphone.
        let quiet = stats_of(&harmonics(0.0, 7_000.0, 0.001));
        let gain = quiet.gain_db_against(&full, &config).unwrap();
        assert!((gain + 20.0).abs() < 0.5, "{gain}");
        // Taking the gain back gives the louder sound's level statistics, and leaves every
        // spread and every other feature as it was.
        let back = quiet.with_gain_db(&config, -gain);
        let (m_full, _) = full.mean_std();
        let (m_back, sd_back) = back.mean_std();
        let (m_quiet, sd_quiet) = quiet.mean_std();
        let per_frame = config.n_features() / config.stack;
        for j in 0..config.n_features() {
            assert!(
                (sd_back[j] - sd_quiet[j]).abs() < 1e-2 * sd_quiet[j].max(1.0),
                "{j}"
            );
            if j % per_frame == 0 {
                assert!(
                    (m_back[j] - m_full[j]).abs() < 4.0,
                    "{j}: {} {}",
                    m_back[j],
                    m_full[j]
                );
            } else {
                assert_eq!(m_back[j], m_quiet[j], "{j}");
            }
        }
        // A telephone line: the bands outside 300-3400 Hz emptied, the others as they were.
        // Not a gain, though MFCC 0's mean (the mean level over all bands) falls far.
        let phone = stats_of(&harmonics(300.0, 3_400.0, 0.01));
        let gain = phone.gain_db_against(&full, &config).unwrap();
        assert!(gain.abs() < 3.0, "{gain}");
        let mean_fall = (phone.mean_std().0[0] - m_full[0]) / (config.mfcc.n_mels as f32).sqrt();
        assert!(mean_fall < -10.0, "{mean_fall}");
        // Statistics of another width have no level.
        assert_eq!(NormStats::new(3).gain_db_against(&full, &config), None);
        assert_eq!(full.gain_db_against(&NormStats::new(240), &config), None);
    }

    #[test]
    fn pitch_features_follow_the_cepstra_in_each_frame() {
        let plain = InputConfig::default();
        let config = InputConfig {
            pitch: true,
            ..InputConfig::default()
        };
        assert_eq!(config.frame_width(), 42);
        assert_eq!(config.n_features(), 252);
        // Off by default, and a config without the field reads as off and is written as
        // before (so the feature cache's keys of existing front ends do not move).
        assert!(!serde_json::to_string(&plain).unwrap().contains("pitch"));
        let read: InputConfig = serde_json::from_str(r#"{"stack": 3}"#).unwrap();
        assert!(!read.pitch);
        // A steady tone inside silence, as an utterance is (the tracker takes the quietest
        // frames for the noise).
        let silence = vec![0.0; 4_800];
        let signal = [&silence[..], &tone(1.0, 220.0, 0.3), &silence].concat();
        let mut with = InputExtractor::new(config.clone()).unwrap();
        let mut without = InputExtractor::new(plain).unwrap();
        let (m, base) = (with.mfcc(&signal).unwrap(), without.mfcc(&signal).unwrap());
        assert_eq!((m.n_frames, m.n_features), (base.n_frames, 42));
        for (frame, cepstra) in m.data.chunks_exact(42).zip(base.data.chunks_exact(40)) {
            assert_eq!(&frame[..40], cepstra);
        }
        // A steady tone: its pitch and full periodicity in the middle frames.
        let middle = &m.data[50 * 42..51 * 42];
        assert!(
            (100.0 * middle[40].exp2() - 220.0).abs() < 2.0,
            "{}",
            middle[40]
        );
        assert!(middle[41] > 0.95, "{}", middle[41]);
        let input = with.finish(&m);
        assert_eq!(input.n_features, 252);
        assert_eq!(input, with.extract(&signal).unwrap());
        // The pitch's delta sits after the cepstra's deltas: zero for a steady tone.
        assert!(input.data[10 * 252 + 82].abs() < 1e-3);
        // A matrix without the pitch columns is not this model's input.
        assert_eq!(with.finish(&base).data, vec![0.0; 252]);
        // Past `max_steps` only the kept frames are computed, pitch included.
        let long = with
            .mfcc(&[&[0.0; 32_000][..], &tone(7.0, 220.0, 0.3)].concat())
            .unwrap();
        assert_eq!((long.n_frames, long.n_features), (600, 42));
        let last = &long.data[599 * 42..];
        assert!(
            (100.0 * last[40].exp2() - 220.0).abs() < 2.0,
            "{}",
            last[40]
        );
    }

    #[test]
    fn shapes_follow_the_config() {
        let mut x = InputExtractor::new(InputConfig::default()).unwrap();
        let m = x.extract(&tone(1.0, 300.0, 0.3)).unwrap();
        assert_eq!(m.n_features, 240);
        assert_eq!(m.n_frames, 101usize.div_ceil(3));
        let long = x.extract(&tone(12.0, 300.0, 0.3)).unwrap();
        assert_eq!(long.n_frames, 200);
        let cfg = InputConfig {
            deltas: false,
            stack: 1,
            trim: false,
            ..InputConfig::default()
        };
        assert_eq!(cfg.n_features(), 40);
        let m = InputExtractor::new(cfg)
            .unwrap()
            .extract(&[0.0; 1600])
            .unwrap();
        assert_eq!((m.n_frames, m.n_features), (11, 40));
        assert!(
            InputExtractor::new(InputConfig {
                stack: 0,
                ..InputConfig::default()
            })
            .is_err()
        );
    }

    #[test]
    fn noise_suppression_is_off_for_old_configs_and_checked_when_on() {
        // An `input.json` written before the field existed.
        let old: InputConfig = serde_json::from_str(r#"{"deltas": true, "stack": 3}"#).unwrap();
        assert_eq!(old.noise_suppression, None);
        assert_eq!(InputConfig::default().noise_suppression, None);
        let with = |suppression, level_db| InputConfig {
            noise_suppression: Some(suppression),
            level_db,
            ..InputConfig::default()
        };
        let bad = NoiseSuppression {
            floor: 0.0,
            ..NoiseSuppression::default()
        };
        assert!(matches!(
            InputExtractor::new(with(bad, None)),
            Err(FeatureError::InvalidConfig {
                field: "noise_suppression.floor",
                ..
            })
        ));
        assert!(matches!(
            InputExtractor::new(with(NoiseSuppression::default(), Some(-23.0))),
            Err(FeatureError::InvalidConfig {
                field: "level_db",
                ..
            })
        ));
    }

    #[test]
    fn noise_suppression_lowers_steady_noise_under_a_tone() {
        // A tone in 1 s of low hiss on each side; suppression takes the hiss out of the
        // cepstra's level (the first coefficient) where the tone is not.
        let mut seed = 3u64;
        let mut hiss = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            0.02 * (((seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0)
        };
        let t = tone(1.0, 300.0, 0.3);
        let signal: Vec<f32> = (0..48_000)
            .map(|i| {
                hiss()
                    + if (16_000..32_000).contains(&i) {
                        t[i - 16_000]
                    } else {
                        0.0
                    }
            })
            .collect();
        let config = InputConfig {
            trim: false,
            ..InputConfig::default()
        };
        let plain = InputExtractor::new(config.clone())
            .unwrap()
            .mfcc(&signal)
            .unwrap();
        let suppressed = InputExtractor::new(InputConfig {
            noise_suppression: Some(NoiseSuppression::default()),
            ..config
        })
        .unwrap()
        .mfcc(&signal)
        .unwrap();
        assert_eq!(plain.n_frames, suppressed.n_frames);
        let c0 = |m: &FeatureMatrix, t: usize| m.data[t * m.n_features];
        // The hiss alone falls (the first coefficient is 8 times the mean dB of the 64
        // bands), and the tone stands out further from the room.
        assert!(c0(&suppressed, 50) < c0(&plain, 50) - 40.0);
        let contrast = |m: &FeatureMatrix| c0(m, 150) - c0(m, 50);
        assert!(
            contrast(&suppressed) > contrast(&plain) + 3.0,
            "{} against {}",
            contrast(&suppressed),
            contrast(&plain)
        );
    }

    #[test]
    fn deltas_of_a_ramp_are_its_slope() {
        // 3 coefficients rising by 2 per frame: delta 2 away from the edges.
        let n_frames = 20;
        let frames: Vec<f32> = (0..n_frames)
            .flat_map(|t| [2.0 * t as f32, -(t as f32), 5.0])
            .collect();
        let mut out = [0.0; 3];
        delta_into(&frames, n_frames, 3, 10, &mut out);
        assert!((out[0] - 2.0).abs() < 1e-5 && (out[1] + 1.0).abs() < 1e-5 && out[2] == 0.0);
    }

    /// `apply_into` gives exactly `apply`'s values, also over more features than one block of
    /// its loop and into a buffer that held a larger input.
    #[test]
    fn apply_into_equals_apply() {
        let d = 37;
        let m = FeatureMatrix {
            data: (0..5 * d)
                .map(|i| (i as f32 * 0.37).sin() * 4.0 + 1.0)
                .collect(),
            n_frames: 5,
            n_features: d,
        };
        let mut s = NormStats::new(d);
        s.add(&m);
        s.add(&FeatureMatrix {
            data: m.data.iter().map(|v| v * 0.5 - 2.0).collect(),
            ..m.clone()
        });
        let mut expected = m.clone();
        s.apply(&mut expected);
        let mut out = FeatureMatrix {
            data: vec![9.0; 100 * d],
            n_frames: 100,
            n_features: d,
        };
        s.apply_into(&m, &mut out);
        assert_eq!(out, expected);
        // Another width is copied as it is, as `apply` leaves it.
        let narrow = FeatureMatrix {
            data: vec![1.0, 2.0],
            n_frames: 1,
            n_features: 2,
        };
        s.apply_into(&narrow, &mut out);
        assert_eq!(out, narrow);
    }

    #[test]
    fn stats_normalise_to_zero_mean_unit_std() {
        let m = FeatureMatrix {
            data: vec![1.0, 10.0, 3.0, 10.0, 5.0, 10.0],
            n_frames: 3,
            n_features: 2,
        };
        let mut s = NormStats::new(2);
        s.add(&m);
        let (mean, std) = s.mean_std();
        assert_eq!(mean, vec![3.0, 10.0]);
        assert!((std[0] - (8.0f32 / 3.0).sqrt()).abs() < 1e-5);
        assert_eq!(std[1], 1e-3);
        let mut n = m.clone();
        s.apply(&mut n);
        assert!((n.data[0] + n.data[4]).abs() < 1e-5 && n.data[1] == 0.0);
        let mut into = FeatureMatrix::default();
        s.apply_into(&m, &mut into);
        assert_eq!(into, n);
        let mut t = NormStats::new(2);
        t.merge(&s);
        t.merge(&s);
        assert_eq!(t.mean_std(), s.mean_std());
    }
}
