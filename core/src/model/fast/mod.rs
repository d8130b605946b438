//! The fast inference path: [`FastNetwork`], the network of an [`EmotionModel`] as plain `f32`
//! arithmetic over one utterance at a time.
//!
//! burn stays the reference implementation (`training/` runs the LSTM layers' training pass
//! on the same kernels, [`FastLstmTrainer`]). At inference its cost is per
//! operation: about 35 small tensor operations per time step (dispatch, allocation, shape
//! checks) cost more than the arithmetic. This module does the same arithmetic without
//! them:
//!
//! - each LSTM layer's four gates are one fused matrix (`4 * hidden` columns, gate order input,
//!   forget, output, cell, as in [`FusedLstm`]), cut into panels of eight vectors of columns
//!   (64 with AVX2, 128 with AVX-512), each stored input row after input row, so a product
//!   reads the matrix as one contiguous stream;
//! - the input projections of all time steps of a layer are one matrix product, computed
//!   strip of columns by strip (the strip's weights stay in L1 cache while every step passes
//!   over them), in register tiles of 6 steps by 64 gate values with AVX-512, 4 by 16 with
//!   AVX2 ([`project`]);
//! - the recurrent product of each step reads the previous hidden state (at most a few hundred
//!   values, in L1 cache) and streams the recurrent matrix once ([`accumulate`]);
//! - the gate activations use a rational `tanh` (at most 3e-7 from `tanh`), vectorised like
//!   the rest;
//! - every row and gate block is padded to 16 values and starts 64-byte aligned, so all loops
//!   run over whole vectors; padding lanes hold zeros and stay zero.
//!
//! SIMD is `pulp`'s, chosen at run time ([`SimdLevel::detect`]: AVX-512 where the CPU has
//! it, else AVX2 and FMA, NEON on ARM, scalar code otherwise), without `unsafe` in this
//! crate. A 3.5 s clip took 0.56 ms here with AVX-512, 0.97 ms with AVX2, against 4.4 to
//! 5.1 ms through burn (`benches/inference.rs`; where the time goes:
//! `docs/architecture.md`); `tests/fast_inference.rs` checks every level this CPU runs
//! against burn on real clips and on every shape the config allows.

use std::sync::{Mutex, TryLockError};

use pulp::{Simd, WithSimd};

use super::*;
use crate::features::FeatureMatrix;

mod kernels;
mod pool;
mod state;
mod training;
use kernels::*;
use pool::AttentionSum;
pub use state::FastState;
pub use training::{FastLstmTrainer, FastTrainingError, LstmGradients, LstmLayerGradients};

/// Values in 64 bytes: rows and gate blocks are padded to a multiple of this.
const ALIGN: usize = 16;

/// The SIMD instruction set a [`FastNetwork`] runs with. [`SimdLevel::detect`] picks the
/// widest the CPU has; the others are there to compare (benches) and to test every path on
/// one machine. Results agree across levels to rounding (a test checks each against burn).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SimdLevel {
    /// Plain `f32` code, one value at a time: every CPU.
    Scalar,
    /// AVX2 and FMA, 8 values a vector (x86-64-v3).
    Avx2,
    /// AVX-512, 16 values a vector (x86-64-v4).
    Avx512,
    /// What `pulp` finds on other architectures (NEON on ARM, else scalar code).
    Portable,
}

impl SimdLevel {
    /// The widest level this CPU runs: AVX-512, else AVX2 with FMA on x86-64, else
    /// [`SimdLevel::Portable`].
    #[must_use]
    pub fn detect() -> Self {
        [Self::Avx512, Self::Avx2]
            .into_iter()
            .find(|l| l.is_available())
            .unwrap_or(Self::Portable)
    }

    /// Whether this CPU can run the level.
    #[must_use]
    pub fn is_available(self) -> bool {
        match self {
            Self::Scalar | Self::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => pulp::x86::V3::try_new().is_some(),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => pulp::x86::V4::try_new().is_some(),
            #[cfg(not(target_arch = "x86_64"))]
            Self::Avx2 | Self::Avx512 => false,
        }
    }

    /// Every level this CPU can run, narrowest first.
    #[must_use]
    pub fn available() -> Vec<Self> {
        [Self::Scalar, Self::Portable, Self::Avx2, Self::Avx512]
            .into_iter()
            .filter(|l| l.is_available())
            .collect()
    }

    /// Runs `op` with this level's SIMD (scalar code where the CPU lacks it; a
    /// [`FastNetwork`] only holds levels it was checked to run).
    fn dispatch<Op: WithSimd>(self, op: Op) -> Op::Output {
        match self {
            Self::Scalar => Simd::vectorize(pulp::Scalar::new(), op),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => match pulp::x86::V4::try_new() {
                Some(simd) => Simd::vectorize(simd, op),
                None => Simd::vectorize(pulp::Scalar::new(), op),
            },
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => match pulp::x86::V3::try_new() {
                Some(simd) => Simd::vectorize(simd, op),
                None => Simd::vectorize(pulp::Scalar::new(), op),
            },
            #[cfg(not(target_arch = "x86_64"))]
            Self::Avx2 | Self::Avx512 => Simd::vectorize(pulp::Scalar::new(), op),
            Self::Portable => pulp::Arch::new().dispatch(op),
        }
    }

    /// Values in one vector of this level.
    fn lanes(self) -> usize {
        struct Lanes;
        impl WithSimd for Lanes {
            type Output = usize;
            #[inline(always)]
            fn with_simd<S: Simd>(self, _: S) -> usize {
                S::F32_LANES
            }
        }
        self.dispatch(Lanes)
    }

    /// Columns of a weight panel ([`Dense`]): eight vectors (64 with AVX2, 128 with AVX-512),
    /// the outputs one pass of a matrix-vector product keeps in registers; at least
    /// [`ALIGN`].
    fn panel_width(self) -> usize {
        (8 * self.lanes()).max(ALIGN)
    }
}

impl std::fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Scalar => "scalar",
            Self::Avx2 => "AVX2",
            Self::Avx512 => "AVX-512",
            Self::Portable => "portable",
        })
    }
}

/// `n` rounded up to a multiple of [`ALIGN`].
fn padded(n: usize) -> usize {
    n.next_multiple_of(ALIGN)
}

/// Errors building a [`FastNetwork`] from a burn model.
#[derive(Debug, thiserror::Error)]
pub enum FastNetworkError {
    /// A weight tensor could not be read back from burn.
    #[error("{layer}: cannot read the weights: {reason}")]
    Data {
        /// The layer.
        layer: &'static str,
        /// What burn reported.
        reason: String,
    },
    /// The CPU cannot run the SIMD level asked for.
    #[error("this CPU cannot run the fast path with {level}")]
    SimdUnavailable {
        /// The level asked for.
        level: SimdLevel,
    },
    /// A weight tensor has an unexpected shape.
    #[error("{layer}: {found} values, expected {expected}")]
    Shape {
        /// The layer.
        layer: &'static str,
        /// Values expected.
        expected: usize,
        /// Values found.
        found: usize,
    },
}

/// A buffer of `f32` whose first value is 64-byte aligned, without `unsafe`: the vector holds
/// up to 15 more values than needed and the slice starts at the first aligned one.
#[derive(Debug, Default)]
struct AlignedBuf {
    buf: Vec<f32>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// `len` zeros.
    fn zeros(len: usize) -> Self {
        let mut b = Self::default();
        b.resize(len);
        b
    }

    /// Makes the buffer `len` long. Reallocates (zeroed) only when it grows past what it holds;
    /// otherwise the contents are left as they are.
    fn resize(&mut self, len: usize) {
        if self.start + len > self.buf.len() {
            let buf = vec![0.0f32; len + ALIGN - 1];
            // For `f32` an aligned position always exists within the first 16.
            let start = buf.as_ptr().align_offset(64);
            self.start = if start < ALIGN { start } else { 0 };
            self.buf = buf;
        }
        self.len = len;
    }

    fn as_slice(&self) -> &[f32] {
        &self.buf[self.start..self.start + self.len]
    }

    fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

impl Clone for AlignedBuf {
    // A cloned `Vec` lands at another address: align the copy afresh.
    fn clone(&self) -> Self {
        let mut b = Self::zeros(self.len);
        b.as_mut_slice().copy_from_slice(self.as_slice());
        b
    }
}

/// A dense layer `y = b + x W` in the fast layout. The columns are the `blocks` column blocks
/// of the layer (the four gates of an LSTM), each padded to a multiple of 16 (`stride =
/// blocks * width`; padding columns are zero), cut into panels of [`PANEL`] columns (the last
/// one may be narrower). Each panel is stored input row after input row, so a product reads
/// `W` as one contiguous stream, panel after panel, whatever its shape.
#[derive(Debug, Clone)]
struct Dense {
    inputs: usize,
    /// Columns of each block, padded.
    width: usize,
    stride: usize,
    /// Columns of a panel ([`SimdLevel::panel_width`]).
    panel: usize,
    weight: AlignedBuf,
    bias: AlignedBuf,
}

impl Dense {
    /// The layout of burn's `linear` (weight `[d_input, d_output]`), whose outputs are
    /// `blocks` equal blocks (the four gates of an LSTM; 1 for a plain layer).
    fn from_linear(
        linear: &Linear,
        blocks: usize,
        panel: usize,
        layer: &'static str,
    ) -> Result<Self, FastNetworkError> {
        let (weight, bias, inputs, outputs) = read_linear(linear, layer)?;
        if outputs % blocks != 0 {
            return Err(FastNetworkError::Shape {
                layer,
                expected: outputs.next_multiple_of(blocks),
                found: outputs,
            });
        }
        Ok(Self::from_rows(
            &weight,
            &bias,
            inputs,
            outputs / blocks,
            blocks,
            panel,
        ))
    }

    /// From a row-major `[inputs][blocks * per_block]` weight and its bias, in panels of
    /// `full` columns.
    fn from_rows(
        weight: &[f32],
        bias: &[f32],
        inputs: usize,
        per_block: usize,
        blocks: usize,
        full: usize,
    ) -> Self {
        let width = padded(per_block);
        let stride = blocks * width;
        let outputs = blocks * per_block;
        let mut w = AlignedBuf::zeros(inputs * stride);
        let mut b = AlignedBuf::zeros(stride);
        // The padded column of each of the layer's outputs.
        let column = |o: usize| (o / per_block.max(1)) * width + o % per_block.max(1);
        let place = |dst: &mut [f32], src: &[f32]| {
            for (o, &v) in src.iter().enumerate() {
                dst[column(o)] = v;
            }
        };
        let dst = w.as_mut_slice();
        for (k, src) in weight.chunks_exact(outputs.max(1)).enumerate() {
            for (o, &v) in src.iter().enumerate() {
                let c = column(o);
                let (panel, within) = (c / full, c % full);
                let panel_width = full.min(stride - panel * full);
                dst[panel * full * inputs + k * panel_width + within] = v;
            }
        }
        place(b.as_mut_slice(), bias);
        Self {
            inputs,
            width,
            stride,
            panel: full,
            weight: w,
            bias: b,
        }
    }

    /// The weight panels: (first column, columns, `inputs x columns` values).
    fn panels(&self) -> impl Iterator<Item = (usize, usize, &[f32])> {
        let w = self.weight.as_slice();
        let full = self.panel;
        (0..self.stride.div_ceil(full)).map(move |p| {
            let columns = full.min(self.stride - p * full);
            let start = p * full * self.inputs;
            (p * full, columns, &w[start..start + columns * self.inputs])
        })
    }
}

/// `linear`'s weight (row-major `[inputs][outputs]`), bias (zeros without one), inputs and
/// outputs.
fn read_linear(
    linear: &Linear,
    layer: &'static str,
) -> Result<(Vec<f32>, Vec<f32>, usize, usize), FastNetworkError> {
    let [inputs, outputs] = linear.weight.val().dims();
    let read = |t: Tensor<1>| {
        t.into_data()
            .try_into_vec::<f32>()
            .map_err(|e| FastNetworkError::Data {
                layer,
                reason: format!("{e:?}"),
            })
    };
    let weight = read(linear.weight.val().reshape([inputs * outputs]))?;
    let bias = match &linear.bias {
        Some(b) => read(b.val())?,
        None => vec![0.0; outputs],
    };
    if bias.len() != outputs {
        return Err(FastNetworkError::Shape {
            layer,
            expected: outputs,
            found: bias.len(),
        });
    }
    Ok((weight, bias, inputs, outputs))
}

/// A linear layer's values: row-major weight `[inputs][outputs]`, bias, inputs, outputs.
pub type LinearValues = (Vec<f32>, Vec<f32>, usize, usize);

impl EmotionModel {
    /// The dense layer's and the emotion head's values (what a player's own copy of the
    /// upper layers, [`crate::player::copy::UpperCopy`], is made of).
    ///
    /// # Errors
    /// [`FastNetworkError`] if burn cannot hand back a weight tensor as `f32`.
    pub fn upper_values(&self) -> Result<(LinearValues, LinearValues), FastNetworkError> {
        Ok((
            read_linear(&self.dense, "dense")?,
            read_linear(&self.emotion_head, "emotion_head")?,
        ))
    }
}

/// One LSTM layer in the fast layout.
#[derive(Debug, Clone)]
struct Lstm {
    hidden: usize,
    /// Input to the four gates, with the gates' bias.
    input: Dense,
    /// Hidden state to the four gates (bias zero).
    recurrent: Dense,
}

/// What the network outputs for one utterance, before any softmax.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Logits {
    /// Emotion logits, in the order of [`Emotion::ALL`].
    pub emotion: [f32; Emotion::COUNT],
    /// Intensity logits, in the order of [`Intensity::ALL`].
    pub intensity: [f32; Intensity::COUNT],
}

impl Logits {
    /// The probabilities: `softmax(emotion / temperature)` and `softmax(intensity)`. The one
    /// place logits become probabilities ([`EmotionClassifier::prediction`] passes the model's
    /// fitted temperature; a `temperature` that is not finite and positive counts as 1).
    #[must_use]
    pub fn probabilities(
        &self,
        temperature: f64,
    ) -> ([f32; Emotion::COUNT], [f32; Intensity::COUNT]) {
        let t = if temperature.is_finite() && temperature > 0.0 {
            temperature
        } else {
            1.0
        };
        (softmax(self.emotion, t), softmax(self.intensity, 1.0))
    }
}

/// `softmax(logits / t)` in `f64`.
fn softmax<const N: usize>(logits: [f32; N], t: f64) -> [f32; N] {
    let scaled = logits.map(|l| f64::from(l) / t);
    let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp = scaled.map(|l| (l - max).exp());
    let sum: f64 = exp.iter().sum();
    exp.map(|e| (e / sum) as f32)
}

/// Working memory of [`FastNetwork::forward_into`]: grows to the longest utterance seen and
/// is reused, so a forward pass allocates nothing once it has seen one as long.
#[derive(Debug, Default, Clone)]
pub struct FastScratch {
    /// Gate values of every step of the current layer, `steps x 4 * padded(hidden)`.
    gates: AlignedBuf,
    /// Outputs of every step of the current and previous layers, `steps x padded(hidden)`.
    outputs: [AlignedBuf; 2],
    cell: AlignedBuf,
    dense: AlignedBuf,
    emotion: AlignedBuf,
    intensity: AlignedBuf,
    /// The first layer's mean output (see [`FastNetwork::forward_described`]).
    mean: Vec<f32>,
    /// The top layer's pooled output, the dense layer's input (see
    /// [`FastNetwork::forward_analysed`]).
    top: Vec<f32>,
    /// Attention pooling's running sums ([`Pooling::Attention`]).
    attention: AttentionSum,
}

/// The network of an [`EmotionModel`] (stacked LSTM layers, the dense layer and both heads)
/// as plain `f32` arithmetic for one utterance at a time (see the module docs). Built from a
/// model's weights by [`FastNetwork::from_model`]; gives the same logits as
/// [`EmotionModel::forward`] to about 1e-6.
#[derive(Debug)]
pub struct FastNetwork {
    n_features: usize,
    layers: Vec<Lstm>,
    dense: Dense,
    emotion: Dense,
    intensity: Dense,
    /// Attention pooling's score weights over the top layer's outputs; `None`: the last state.
    attention: Option<Vec<f32>>,
    /// What the dense layer reads of the top layer's outputs.
    pooling: Pooling,
    /// The SIMD it runs with (the panels are laid out for it).
    simd: SimdLevel,
    /// Scratch for the convenience calls, taken with `try_lock` (a caller that finds it busy
    /// uses a fresh one).
    scratch: Mutex<FastScratch>,
}

impl Clone for FastNetwork {
    fn clone(&self) -> Self {
        Self {
            n_features: self.n_features,
            layers: self.layers.clone(),
            dense: self.dense.clone(),
            emotion: self.emotion.clone(),
            intensity: self.intensity.clone(),
            attention: self.attention.clone(),
            pooling: self.pooling,
            simd: self.simd,
            scratch: Mutex::default(),
        }
    }
}

impl FastNetwork {
    /// Copies `model`'s weights into the fast layout, for the widest SIMD this CPU runs
    /// ([`SimdLevel::detect`]).
    ///
    /// # Errors
    /// [`FastNetworkError`] if burn cannot hand back a weight tensor as `f32`.
    pub fn from_model(model: &EmotionModel) -> Result<Self, FastNetworkError> {
        Self::from_model_with(model, SimdLevel::detect())
    }

    /// [`FastNetwork::from_model`] for a chosen SIMD level (to compare levels, or to test
    /// each on one machine).
    ///
    /// # Errors
    /// [`FastNetworkError::SimdUnavailable`] if this CPU cannot run `simd`;
    /// [`FastNetworkError`] if burn cannot hand back a weight tensor as `f32`.
    pub fn from_model_with(
        model: &EmotionModel,
        simd: SimdLevel,
    ) -> Result<Self, FastNetworkError> {
        if !simd.is_available() {
            return Err(FastNetworkError::SimdUnavailable { level: simd });
        }
        let panel = simd.panel_width();
        let lstm = |l: &FusedLstm, input: &'static str, recurrent: &'static str| {
            Ok::<_, FastNetworkError>(Lstm {
                hidden: l.hidden(),
                input: Dense::from_linear(&l.input, 4, panel, input)?,
                recurrent: Dense::from_linear(&l.recurrent, 4, panel, recurrent)?,
            })
        };
        let layers = vec![
            lstm(&model.lstm_1, "lstm_1.input", "lstm_1.recurrent")?,
            lstm(&model.lstm_2, "lstm_2.input", "lstm_2.recurrent")?,
        ];
        let n_features = layers[0].input.inputs;
        let attention = match &model.attention {
            Some(score) => Some(read_linear(score, "attention")?.0),
            None => None,
        };
        Ok(Self {
            n_features,
            layers,
            dense: Dense::from_linear(&model.dense, 1, panel, "dense")?,
            emotion: Dense::from_linear(&model.emotion_head, 1, panel, "emotion_head")?,
            intensity: Dense::from_linear(&model.intensity_head, 1, panel, "intensity_head")?,
            attention,
            pooling: model.pooling(),
            simd,
            scratch: Mutex::default(),
        })
    }

    /// The SIMD level it runs with.
    #[must_use]
    pub fn simd_level(&self) -> SimdLevel {
        self.simd
    }

    /// Features per input step.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Units of the first LSTM layer (the width of [`FastNetwork::forward_described`]'s mean).
    #[must_use]
    pub fn first_layer_units(&self) -> usize {
        self.layers.first().map_or(0, |l| l.hidden)
    }

    /// The logits of one normalised model input (`steps x n_features`), using the network's
    /// own scratch (or a fresh one when another thread holds it).
    #[must_use]
    pub fn forward(&self, input: &FeatureMatrix) -> Logits {
        self.with_scratch(|s| self.forward_into(steps_of(input), s))
    }

    /// [`FastNetwork::forward`], also returning the mean of the first layer's outputs over
    /// the steps, `first_layer_units` values: [`EmotionModel::forward_described`] for one
    /// utterance.
    #[must_use]
    pub fn forward_described(&self, input: &FeatureMatrix) -> (Logits, Vec<f32>) {
        self.with_scratch(|s| {
            let logits = self.run(steps_of(input), s, true);
            (logits, s.mean.clone())
        })
    }

    /// [`FastNetwork::forward_described`], also returning the top LSTM layer's pooled output
    /// (its last hidden state, or the attention pooling of its outputs, or both: the dense
    /// layer's input, `hidden_2` values or twice as many): what a player's own copy of the
    /// upper layers ([`crate::player::copy::UpperCopy`]) reads.
    #[must_use]
    pub fn forward_analysed(&self, input: &FeatureMatrix) -> (Logits, Vec<f32>, Vec<f32>) {
        self.with_scratch(|s| {
            let logits = self.run(steps_of(input), s, true);
            (logits, s.mean.clone(), s.top.clone())
        })
    }

    /// The logits of one normalised model input given as its values, step after step
    /// (`steps * n_features` values; a partial last step is ignored and no step at all counts
    /// as one step of zeros, as a padded batch of burn would). Allocates nothing once
    /// `scratch` has seen an input as long.
    pub fn forward_into(&self, input: &[f32], scratch: &mut FastScratch) -> Logits {
        self.run(input, scratch, false)
    }

    fn with_scratch<R>(&self, f: impl FnOnce(&mut FastScratch) -> R) -> R {
        match self.scratch.try_lock() {
            Ok(mut s) => f(&mut s),
            Err(TryLockError::Poisoned(p)) => f(&mut p.into_inner()),
            Err(TryLockError::WouldBlock) => f(&mut FastScratch::default()),
        }
    }

    fn run(&self, input: &[f32], scratch: &mut FastScratch, describe: bool) -> Logits {
        let d = self.n_features.max(1);
        let steps = input.len() / d;
        let zeros;
        let (input, steps) = if steps == 0 {
            zeros = vec![0.0; d];
            (&zeros[..], 1)
        } else {
            (&input[..steps * d], steps)
        };
        self.simd.dispatch(Forward {
            net: self,
            input,
            steps,
            scratch,
            describe,
        })
    }
}

/// The values of `m`'s `n_frames` steps (what burn's `pad` reads of it).
pub(crate) fn steps_of(m: &FeatureMatrix) -> &[f32] {
    &m.data[..(m.n_frames * m.n_features).min(m.data.len())]
}

/// One forward pass, monomorphised for each SIMD level.
struct Forward<'a> {
    net: &'a FastNetwork,
    input: &'a [f32],
    steps: usize,
    scratch: &'a mut FastScratch,
    describe: bool,
}

impl WithSimd for Forward<'_> {
    type Output = Logits;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Logits {
        let Forward {
            net,
            input,
            steps,
            scratch,
            describe,
        } = self;
        let FastScratch {
            gates,
            outputs: [even, odd],
            cell,
            dense,
            emotion,
            intensity,
            mean,
            top: pooled,
            attention,
        } = scratch;
        // The current layer's input: values, the stride between steps, values used per step.
        let mut last_width = net.n_features;
        for (l, layer) in net.layers.iter().enumerate() {
            let (x, stride, current) = net.layer_io(l, input, even, odd);
            cell.resize(layer.recurrent.width);
            cell.as_mut_slice().fill(0.0);
            lstm_layer(
                simd, layer, x, stride, last_width, steps, gates, cell, current, None,
            );
            if l == 0 && describe {
                mean_of_steps(
                    current.as_slice(),
                    layer.recurrent.width,
                    layer.hidden,
                    steps,
                    mean,
                );
            }
            last_width = layer.hidden;
        }
        let top = if net.layers.len() % 2 == 1 {
            &*even
        } else {
            &*odd
        };
        let width = net.layers.last().map_or(0, |l| l.recurrent.width);
        pooled.clear();
        if net.pooling.reads_last() {
            pooled.extend_from_slice(&top.as_slice()[(steps - 1) * width..][..last_width]);
        }
        if let Some(w) = &net.attention {
            attention.reset(last_width);
            for row in top.as_slice().chunks_exact(width).take(steps) {
                attention.add(w, &row[..last_width]);
            }
            attention.append_pooled(pooled);
        }
        heads(simd, net, pooled, dense, emotion, intensity)
    }
}

impl FastNetwork {
    /// Layer `l`'s input (the model input for the first, the previous layer's outputs,
    /// padded rows apart, for the others) with the stride between its steps, and the buffer
    /// its outputs go to: layers alternate between `even` and `odd`.
    #[inline(always)]
    fn layer_io<'a>(
        &self,
        l: usize,
        input: &'a [f32],
        even: &'a mut AlignedBuf,
        odd: &'a mut AlignedBuf,
    ) -> (&'a [f32], usize, &'a mut AlignedBuf) {
        let (previous, current) = if l.is_multiple_of(2) {
            (&*odd, even)
        } else {
            (&*even, odd)
        };
        if l == 0 {
            (input, self.n_features, current)
        } else {
            (
                previous.as_slice(),
                self.layers[l - 1].recurrent.width,
                current,
            )
        }
    }
}

/// The dense layer and both heads on the top layer's pooled output.
#[inline(always)]
fn heads<S: Simd>(
    simd: S,
    net: &FastNetwork,
    last: &[f32],
    dense: &mut AlignedBuf,
    emotion: &mut AlignedBuf,
    intensity: &mut AlignedBuf,
) -> Logits {
    dense_layer(simd, &net.dense, last, dense, true);
    let hidden = &dense.as_slice()[..net.emotion.inputs];
    dense_layer(simd, &net.emotion, hidden, emotion, false);
    dense_layer(simd, &net.intensity, hidden, intensity, false);
    let mut logits = Logits {
        emotion: [0.0; Emotion::COUNT],
        intensity: [0.0; Intensity::COUNT],
    };
    let n = logits.emotion.len();
    logits.emotion.copy_from_slice(&emotion.as_slice()[..n]);
    let n = logits.intensity.len();
    logits.intensity.copy_from_slice(&intensity.as_slice()[..n]);
    logits
}

/// A [`FastScratch`] shared by the callers of one model, each call taking it with `try_lock`
/// (a caller that finds it busy uses a fresh one): what [`EmotionClassifier`] keeps.
#[derive(Debug, Default)]
pub(crate) struct SharedScratch(Mutex<(FastScratch, FeatureMatrix)>);

impl SharedScratch {
    /// Runs `f` with the scratch and a normalisation buffer.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut FastScratch, &mut FeatureMatrix) -> R) -> R {
        match self.0.try_lock() {
            Ok(mut guard) => {
                let (s, m) = &mut *guard;
                f(s, m)
            }
            Err(TryLockError::Poisoned(p)) => {
                let mut guard = p.into_inner();
                let (s, m) = &mut *guard;
                f(s, m)
            }
            Err(TryLockError::WouldBlock) => {
                f(&mut FastScratch::default(), &mut FeatureMatrix::default())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::kernels::{sigmoid, tanh};
    use super::*;

    /// `tanh` and `sigmoid` on every 1e-4 from -12 to 12, at every SIMD level this CPU runs:
    /// within 3e-7 with fused multiply-adds, 5e-7 in scalar code.
    #[test]
    fn activations_are_within_3e_7() {
        struct Check;
        impl WithSimd for Check {
            type Output = (f32, f32);
            #[inline(always)]
            fn with_simd<S: Simd>(self, simd: S) -> (f32, f32) {
                let xs: Vec<f32> = (-120_000..=120_000).map(|i| i as f32 * 1e-4).collect();
                let mut t = xs.clone();
                let mut s = xs.clone();
                let (tv, _) = S::as_mut_simd_f32s(&mut t);
                for v in tv {
                    *v = tanh(simd, *v);
                }
                let (sv, _) = S::as_mut_simd_f32s(&mut s);
                for v in sv {
                    *v = sigmoid(simd, *v);
                }
                // The values past the last whole vector were left as they were.
                let n = xs.len() / S::F32_LANES * S::F32_LANES;
                let (mut et, mut es) = (0.0f32, 0.0f32);
                for ((&x, &t), &s) in xs.iter().zip(&t).zip(&s).take(n) {
                    let x = f64::from(x);
                    et = et.max((f64::from(t) - x.tanh()).abs() as f32);
                    es = es.max((f64::from(s) - 1.0 / (1.0 + (-x).exp())).abs() as f32);
                }
                (et, es)
            }
        }
        for level in SimdLevel::available() {
            let (et, es) = level.dispatch(Check);
            // Scalar code rounds each product and sum apart (no fused multiply-add).
            let bound = if level == SimdLevel::Scalar {
                5e-7
            } else {
                3e-7
            };
            assert!(et < bound, "{level}: tanh off by {et}");
            assert!(es < bound, "{level}: sigmoid off by {es}");
        }
    }

    #[test]
    fn aligned_buffers_start_on_64_bytes_also_when_cloned() {
        for len in [1, 15, 16, 17, 1000] {
            let mut b = AlignedBuf::zeros(len);
            b.as_mut_slice()[len - 1] = 3.0;
            let c = b.clone();
            for buf in [&b, &c] {
                assert_eq!(buf.as_slice().as_ptr().align_offset(64), 0);
                assert_eq!(buf.as_slice().len(), len);
                assert_eq!(buf.as_slice()[len - 1], 3.0);
            }
        }
    }

    #[test]
    fn temperature_divides_the_emotion_logits_only() {
        let logits = Logits {
            emotion: [1.0, 2.0, 0.5, -1.0, 0.0, 3.0, 1.5, -0.5],
            intensity: [0.2, -0.4],
        };
        let (p1, i1) = logits.probabilities(1.0);
        let (p2, i2) = logits.probabilities(2.0);
        assert_eq!(i1, i2);
        assert!((p1.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // softmax(l / 2) is the temperature applied to softmax(l) (`with_temperature`).
        let reference = with_temperature(p1, 2.0);
        for (a, b) in p2.iter().zip(&reference) {
            assert!((a - b).abs() < 1e-6, "{p2:?} vs {reference:?}");
        }
        assert_eq!(logits.probabilities(f64::NAN), logits.probabilities(1.0));
    }
}
