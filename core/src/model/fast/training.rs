//! The LSTM layers' training pass without burn's autodiff: [`FastLstmTrainer`].
//!
//! Through burn a training step costs about 35 small tensor operations per time step forward
//! and as many backward, each reading and writing a whole `[batch, 4 * hidden]` tensor, with
//! the gates' sigmoids and tanhs called value by value (`docs/architecture.md`, "Training
//! speed"). Here both layers run forward and backward in the fast path's layout and kernels:
//! each layer's input projections for all steps and all sequences are one matrix product,
//! the recurrence one `[batch, hidden] x [hidden, 4 * hidden]` product a step, the cell one
//! vectorised pass that keeps its activations for the backward pass; backward, the recurrent
//! gradient is one product a step and the weight gradients are three products over all steps
//! at once. The batch is cut into one part per thread.
//!
//! The dense layer, the heads and the losses stay in burn: the trainer hands the second
//! layer's last states to burn as a leaf tensor, and burn's gradient with respect to it back
//! to [`FastLstmTrainer::backward`]. `tests/fast_training.rs` checks the gradients against
//! burn's autodiff.

use burn::optim::GradientsParams;
use pulp::{Simd, WithSimd};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::kernels::{sigmoid, tanh};
use super::*;

/// One LSTM layer's weights in the layouts its training pass reads.
#[derive(Debug, Clone)]
struct TrainLayer {
    hidden: usize,
    inputs: usize,
    /// Inputs to gates, with the gates' bias (forward).
    input: Dense,
    /// Hidden state to gates (forward).
    recurrent: Dense,
    /// Gates to hidden state: `recurrent` transposed (backward).
    recurrent_t: Dense,
    /// Gates to inputs: `input` transposed, for a layer whose inputs need a gradient.
    input_t: Option<Dense>,
}

impl TrainLayer {
    fn new(
        layer: &FusedLstm,
        panel: usize,
        names: [&'static str; 2],
        input_gradient: bool,
    ) -> Result<Self, FastNetworkError> {
        let hidden = layer.hidden();
        let (w_in, bias, inputs, _) = read_linear(&layer.input, names[0])?;
        let (w_rec, _, _, _) = read_linear(&layer.recurrent, names[1])?;
        let blocked =
            |w: &[f32], rows: usize, b: &[f32]| Dense::from_rows(w, b, rows, hidden, 4, panel);
        Ok(Self {
            hidden,
            inputs,
            input: blocked(&w_in, inputs, &bias),
            recurrent: blocked(&w_rec, hidden, &vec![0.0; 4 * hidden]),
            recurrent_t: transposed(&w_rec, hidden, hidden, panel),
            input_t: input_gradient.then(|| transposed(&w_in, inputs, hidden, panel)),
        })
    }

    fn padded_hidden(&self) -> usize {
        padded(self.hidden)
    }

    /// Values in one row of gates (four padded blocks).
    fn gate_width(&self) -> usize {
        4 * self.padded_hidden()
    }
}

/// `W^T` of a gate-blocked weight `[inputs][4 * hidden]`, as a [`Dense`] whose inputs are the
/// padded gate columns (`4 * padded(hidden)`, padding rows zero) and whose outputs are the
/// `inputs` (padded to a multiple of 16).
fn transposed(weight: &[f32], inputs: usize, hidden: usize, panel: usize) -> Dense {
    let hp = padded(hidden);
    let mut t = vec![0.0f32; 4 * hp * inputs];
    for (k, row) in weight.chunks_exact(4 * hidden).take(inputs).enumerate() {
        for (o, &v) in row.iter().enumerate() {
            let (q, j) = (o / hidden, o % hidden);
            t[(q * hp + j) * inputs + k] = v;
        }
    }
    Dense::from_rows(&t, &vec![0.0; inputs], 4 * hp, inputs, 1, panel)
}

/// What one layer keeps between its forward and backward pass, and its gradients.
#[derive(Debug, Default)]
struct LayerPass {
    /// Gate activations `[i | f | o | g]`, `steps * batch` rows of 4 padded blocks.
    gates: AlignedBuf,
    /// Cell states, then their `tanh`, `steps * batch` rows of `padded(hidden)`.
    cells: AlignedBuf,
    tanh_cells: AlignedBuf,
    /// Outputs (hidden states).
    hidden: AlignedBuf,
    /// The loss's gradient with respect to the gates before their activations.
    d_gates: AlignedBuf,
    /// The recurrent part of the hidden state's gradient, and the cell's, one row a sequence.
    d_hidden: AlignedBuf,
    d_cell: AlignedBuf,
    /// Weight gradients in the padded layout: `[inputs][4 * padded]`, `[4 * padded]`,
    /// `[hidden][4 * padded]`.
    d_input: Vec<f32>,
    d_bias: Vec<f32>,
    d_recurrent: Vec<f32>,
}

/// One thread's share of a batch: its sequences, time-major.
#[derive(Debug, Default)]
struct Part {
    /// Sequences and padded steps.
    batch: usize,
    steps: usize,
    lengths: Vec<usize>,
    /// Inputs, row `t * batch + b` is sequence `b`'s step `t` (zeros past its end).
    x: AlignedBuf,
    layers: [LayerPass; 2],
    /// Dropout's multipliers on the first layer's outputs (0 or `1 / (1 - p)`), and what the
    /// second layer reads.
    keep: AlignedBuf,
    dropped: AlignedBuf,
    /// Gradient with respect to a layer's outputs (from above), and the second layer's
    /// inputs' gradient.
    d_outputs: AlignedBuf,
    d_inputs: AlignedBuf,
    /// The second layer's states at each sequence's last step.
    last: Vec<f32>,
    zeros: Vec<f32>,
}

/// Gradients of one LSTM layer's weights in burn's layout (gate blocks of `hidden` columns).
#[derive(Debug, Clone, PartialEq)]
pub struct LstmLayerGradients {
    /// `[inputs, 4 * hidden]`, as `FusedLstm`'s input weight.
    pub input_weight: Vec<f32>,
    /// `[4 * hidden]`.
    pub input_bias: Vec<f32>,
    /// `[hidden, 4 * hidden]`, as the recurrent weight.
    pub recurrent_weight: Vec<f32>,
}

/// Gradients of both LSTM layers' weights from [`FastLstmTrainer::backward`].
#[derive(Debug, Clone, PartialEq)]
pub struct LstmGradients {
    /// The first layer's, then the second's.
    pub layers: [LstmLayerGradients; 2],
}

impl LstmGradients {
    /// Adds the gradients to `grads` under `model`'s LSTM parameters (as tensors on
    /// `device`, burn's gradient device: the model's device without autodiff), for an
    /// optimiser step.
    pub fn register(self, model: &EmotionModel, grads: &mut GradientsParams, device: &Device) {
        for (layer, g) in [&model.lstm_1, &model.lstm_2].into_iter().zip(self.layers) {
            let (inputs, h4) = (layer.input.weight.dims()[0], 4 * layer.hidden());
            let tensor2 = |v: Vec<f32>, rows: usize| {
                Tensor::<2>::from_data(TensorData::new(v, [rows, h4]), device)
            };
            grads.register(layer.input.weight.id, tensor2(g.input_weight, inputs));
            grads.register(
                layer.recurrent.weight.id,
                tensor2(g.recurrent_weight, layer.hidden()),
            );
            if let Some(bias) = &layer.input.bias {
                grads.register(
                    bias.id,
                    Tensor::<1>::from_data(TensorData::new(g.input_bias, [h4]), device),
                );
            }
        }
    }
}

/// Errors of [`FastLstmTrainer`].
#[derive(Debug, thiserror::Error)]
pub enum FastTrainingError {
    /// The model's weights could not be read, or the SIMD level is not available.
    #[error(transparent)]
    Network(#[from] FastNetworkError),
    /// An input's width is not the model's.
    #[error("input {index}: {found} features a step, the model takes {expected}")]
    InputWidth {
        /// The input's position in the batch.
        index: usize,
        /// The model's input width.
        expected: usize,
        /// The input's.
        found: usize,
    },
    /// [`FastLstmTrainer::backward`] without a forward pass before it, or with a gradient of
    /// the wrong size.
    #[error("backward: {found} gradient values, the last forward pass gives {expected}")]
    Gradient {
        /// Values the last forward pass's output has (0: no forward pass).
        expected: usize,
        /// Values given.
        found: usize,
    },
}

/// The two LSTM layers of an [`EmotionModel`], trained outside burn's autodiff (see the
/// module docs): [`FastLstmTrainer::forward`] runs them over a batch with the model's current
/// weights and dropout between them, keeping what the backward pass needs;
/// [`FastLstmTrainer::backward`] turns the loss's gradient with respect to the second layer's
/// last states into the weights' gradients.
#[derive(Debug)]
pub struct FastLstmTrainer {
    simd: SimdLevel,
    threads: usize,
    rng: ChaCha8Rng,
    layers: Option<[TrainLayer; 2]>,
    parts: Vec<Part>,
    /// Sequences of each part in the last forward pass.
    sizes: Vec<usize>,
}

impl FastLstmTrainer {
    /// A trainer running on `threads` threads (at least 1) with the widest SIMD this CPU
    /// runs; dropout's masks are drawn from `seed`.
    #[must_use]
    pub fn new(threads: usize, seed: u64) -> Self {
        Self {
            simd: SimdLevel::detect(),
            threads: threads.max(1),
            rng: ChaCha8Rng::seed_from_u64(seed),
            layers: None,
            parts: Vec::new(),
            sizes: Vec::new(),
        }
    }

    /// [`FastLstmTrainer::new`] with a chosen SIMD level (to test each on one machine).
    ///
    /// # Errors
    /// [`FastNetworkError::SimdUnavailable`] if this CPU cannot run `simd`.
    pub fn with_simd(threads: usize, seed: u64, simd: SimdLevel) -> Result<Self, FastNetworkError> {
        if !simd.is_available() {
            return Err(FastNetworkError::SimdUnavailable { level: simd });
        }
        Ok(Self {
            simd,
            ..Self::new(threads, seed)
        })
    }

    /// Runs both LSTM layers of `model` over `inputs` (normalised, `n_frames x n_features`
    /// each), with dropout of probability `dropout` on the first layer's outputs as
    /// [`EmotionModel::forward`] applies in training (0: none). Returns each input's
    /// second-layer state at its last step, `inputs.len()` rows of `hidden_2` values (zeros
    /// for an input without steps, as burn's batch gives).
    ///
    /// # Errors
    /// [`FastTrainingError`] if the weights cannot be read or an input's width is not the
    /// model's.
    pub fn forward(
        &mut self,
        model: &EmotionModel,
        inputs: &[&FeatureMatrix],
        dropout: f64,
    ) -> Result<Vec<f32>, FastTrainingError> {
        let panel = self.simd.panel_width();
        let layers = [
            TrainLayer::new(
                &model.lstm_1,
                panel,
                ["lstm_1.input", "lstm_1.recurrent"],
                false,
            )?,
            TrainLayer::new(
                &model.lstm_2,
                panel,
                ["lstm_2.input", "lstm_2.recurrent"],
                true,
            )?,
        ];
        let d = layers[0].inputs;
        if let Some((index, m)) = inputs
            .iter()
            .enumerate()
            .find(|(_, m)| m.n_frames > 0 && m.n_features != d)
        {
            return Err(FastTrainingError::InputWidth {
                index,
                expected: d,
                found: m.n_features,
            });
        }
        let parts = self.threads.min(inputs.len()).max(1);
        let size = inputs.len().div_ceil(parts).max(1);
        self.parts
            .resize_with(parts.max(self.parts.len()), Part::default);
        self.sizes = inputs.chunks(size).map(<[_]>::len).collect();
        let keep = if dropout > 0.0 {
            (1.0 - dropout.clamp(0.0, 1.0)) as f32
        } else {
            1.0
        };
        let seeds: Vec<u64> = self.sizes.iter().map(|_| self.rng.random()).collect();
        let simd = self.simd;
        let run = |part: &mut Part, chunk: &[&FeatureMatrix], seed: u64| {
            part.load(chunk, d);
            simd.dispatch(ForwardPass {
                layers: &layers,
                part,
                keep,
                rng: ChaCha8Rng::seed_from_u64(seed),
            });
        };
        let chunks: Vec<&[&FeatureMatrix]> = inputs.chunks(size).collect();
        if chunks.len() <= 1 {
            if let (Some(part), Some(chunk)) = (self.parts.first_mut(), chunks.first()) {
                run(part, chunk, seeds[0]);
            }
        } else {
            std::thread::scope(|scope| {
                for ((part, chunk), &seed) in self.parts.iter_mut().zip(&chunks).zip(&seeds) {
                    let run = &run;
                    scope.spawn(move || run(part, chunk, seed));
                }
            });
        }
        let h2 = layers[1].hidden;
        let mut last = Vec::with_capacity(inputs.len() * h2);
        for part in &self.parts[..self.sizes.len()] {
            last.extend_from_slice(&part.last);
        }
        if inputs.is_empty() {
            self.sizes.clear();
        }
        self.layers = Some(layers);
        Ok(last)
    }

    /// The weights' gradients given `d_last`, the loss's gradient with respect to
    /// [`FastLstmTrainer::forward`]'s output (same shape), for the weights and inputs of that
    /// last forward pass.
    ///
    /// # Errors
    /// [`FastTrainingError::Gradient`] without a forward pass, or if `d_last` is not the size
    /// of its output.
    pub fn backward(&mut self, d_last: &[f32]) -> Result<LstmGradients, FastTrainingError> {
        let Some(layers) = &self.layers else {
            return Err(FastTrainingError::Gradient {
                expected: 0,
                found: d_last.len(),
            });
        };
        let h2 = layers[1].hidden;
        let expected = self.sizes.iter().sum::<usize>() * h2;
        if d_last.len() != expected {
            return Err(FastTrainingError::Gradient {
                expected,
                found: d_last.len(),
            });
        }
        let simd = self.simd;
        let run = |part: &mut Part, d: &[f32]| {
            simd.dispatch(BackwardPass {
                layers,
                part,
                d_last: d,
            });
        };
        let mut slices = Vec::with_capacity(self.sizes.len());
        let mut rest = d_last;
        for &n in &self.sizes {
            let (now, later) = rest.split_at(n * h2);
            slices.push(now);
            rest = later;
        }
        let parts = &mut self.parts[..self.sizes.len()];
        if parts.len() <= 1 {
            if let (Some(part), Some(d)) = (parts.first_mut(), slices.first()) {
                run(part, d);
            }
        } else {
            std::thread::scope(|scope| {
                for (part, d) in parts.iter_mut().zip(&slices) {
                    let run = &run;
                    scope.spawn(move || run(part, d));
                }
            });
        }
        let gradients = |l: usize| {
            let layer = &layers[l];
            let (h, hp) = (layer.hidden, layer.padded_hidden());
            let sum = |pick: fn(&LayerPass) -> &Vec<f32>, rows: usize| {
                let mut out = vec![0.0f32; rows * 4 * h];
                for part in parts.iter() {
                    let g = pick(&part.layers[l]);
                    for (r, row) in g.chunks_exact(4 * hp).take(rows).enumerate() {
                        for q in 0..4 {
                            let dst = &mut out[r * 4 * h + q * h..][..h];
                            for (o, &v) in dst.iter_mut().zip(&row[q * hp..q * hp + h]) {
                                *o += v;
                            }
                        }
                    }
                }
                out
            };
            LstmLayerGradients {
                input_weight: sum(|p| &p.d_input, layer.inputs),
                input_bias: sum(|p| &p.d_bias, 1),
                recurrent_weight: sum(|p| &p.d_recurrent, h),
            }
        };
        Ok(LstmGradients {
            layers: [gradients(0), gradients(1)],
        })
    }
}

impl Part {
    /// Copies `chunk` time-major into `x` (`d` features a step).
    fn load(&mut self, chunk: &[&FeatureMatrix], d: usize) {
        self.batch = chunk.len();
        self.lengths = chunk.iter().map(|m| m.n_frames).collect();
        self.steps = self.lengths.iter().copied().max().unwrap_or(0).max(1);
        let b = self.batch;
        self.x.resize(self.steps * b * d);
        let x = self.x.as_mut_slice();
        x.fill(0.0);
        for (i, m) in chunk.iter().enumerate() {
            for (t, step) in steps_of(m).chunks_exact(d.max(1)).enumerate() {
                x[(t * b + i) * d..][..d].copy_from_slice(step);
            }
        }
    }
}

/// Both layers forward over one part, monomorphised for each SIMD level.
struct ForwardPass<'a> {
    layers: &'a [TrainLayer; 2],
    part: &'a mut Part,
    /// Probability of keeping a first-layer output (1: no dropout).
    keep: f32,
    rng: ChaCha8Rng,
}

impl WithSimd for ForwardPass<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let ForwardPass {
            layers,
            part,
            keep,
            mut rng,
        } = self;
        let (b, steps) = (part.batch, part.steps);
        let rows = b * steps;
        let [first, second] = &mut part.layers;
        let d = layers[0].inputs;
        layer_forward(simd, &layers[0], part.x.as_slice(), d, b, steps, first);
        // Dropout between the layers, drawn per value as burn's `Dropout` does.
        let hp1 = layers[0].padded_hidden();
        part.keep.resize(rows * hp1);
        part.dropped.resize(rows * hp1);
        let scale = 1.0 / keep;
        for (k, (x, h)) in part.keep.as_mut_slice().chunks_exact_mut(hp1).zip(
            part.dropped
                .as_mut_slice()
                .chunks_exact_mut(hp1)
                .zip(first.hidden.as_slice().chunks_exact(hp1)),
        ) {
            for j in 0..hp1 {
                let kept = if j >= layers[0].hidden {
                    0.0
                } else if keep >= 1.0 || rng.random::<f32>() < keep {
                    scale
                } else {
                    0.0
                };
                k[j] = kept;
                x[j] = h[j] * kept;
            }
        }
        layer_forward(
            simd,
            &layers[1],
            part.dropped.as_slice(),
            hp1,
            b,
            steps,
            second,
        );
        let (h2, hp2) = (layers[1].hidden, layers[1].padded_hidden());
        part.last.clear();
        part.last.resize(b * h2, 0.0);
        let out = second.hidden.as_slice();
        for (i, &len) in part.lengths.iter().enumerate() {
            if len > 0 {
                let r = (len - 1) * b + i;
                part.last[i * h2..(i + 1) * h2].copy_from_slice(&out[r * hp2..r * hp2 + h2]);
            }
        }
    }
}

/// One layer forward over `steps` steps of `b` sequences (`x` rows `stride` apart, time-major).
#[inline(always)]
fn layer_forward<S: Simd>(
    simd: S,
    w: &TrainLayer,
    x: &[f32],
    stride: usize,
    b: usize,
    steps: usize,
    pass: &mut LayerPass,
) {
    let (hp, n) = (w.padded_hidden(), w.gate_width());
    let rows = b * steps;
    pass.gates.resize(rows * n);
    pass.cells.resize(rows * hp);
    pass.tanh_cells.resize(rows * hp);
    pass.hidden.resize(rows * hp);
    let gates = pass.gates.as_mut_slice();
    project(simd, x, stride, w.inputs, rows, &w.input, gates);
    let cells = pass.cells.as_mut_slice();
    let tanh_cells = pass.tanh_cells.as_mut_slice();
    let hidden = pass.hidden.as_mut_slice();
    for t in 0..steps {
        let (before, now) = hidden.split_at_mut(t * b * hp);
        let step_gates = &mut gates[t * b * n..(t + 1) * b * n];
        if t > 0 {
            let previous = &before[(t - 1) * b * hp..];
            project_or_add(
                simd,
                previous,
                hp,
                w.hidden,
                b,
                &w.recurrent,
                step_gates,
                true,
            );
        }
        let (done, current) = cells.split_at_mut(t * b * hp);
        let previous = (t > 0).then(|| &done[(t - 1) * b * hp..]);
        for i in 0..b {
            let c_prev = previous.map(|p| &p[i * hp..(i + 1) * hp]);
            cell_forward(
                simd,
                &mut step_gates[i * n..(i + 1) * n],
                hp,
                c_prev,
                &mut current[i * hp..(i + 1) * hp],
                &mut tanh_cells[(t * b + i) * hp..][..hp],
                &mut now[i * hp..(i + 1) * hp],
            );
        }
    }
}

/// The LSTM cell forward on one row of gate values (replaced by their activations), keeping
/// the cell state and its `tanh` for the backward pass.
#[inline(always)]
fn cell_forward<S: Simd>(
    simd: S,
    gates: &mut [f32],
    hp: usize,
    c_prev: Option<&[f32]>,
    cell: &mut [f32],
    tanh_cell: &mut [f32],
    hidden: &mut [f32],
) {
    let (gi, rest) = gates.split_at_mut(hp);
    let (gf, rest) = rest.split_at_mut(hp);
    let (go, gg) = rest.split_at_mut(hp);
    let (gi, _) = S::as_mut_simd_f32s(gi);
    let (gf, _) = S::as_mut_simd_f32s(gf);
    let (go, _) = S::as_mut_simd_f32s(go);
    let (gg, _) = S::as_mut_simd_f32s(gg);
    let (cv, _) = S::as_mut_simd_f32s(cell);
    let (tv, _) = S::as_mut_simd_f32s(tanh_cell);
    let (hv, _) = S::as_mut_simd_f32s(hidden);
    let zero = simd.splat_f32s(0.0);
    let prev = c_prev.map(|p| S::as_simd_f32s(p).0);
    for k in 0..cv.len() {
        let i = sigmoid(simd, gi[k]);
        let f = sigmoid(simd, gf[k]);
        let o = sigmoid(simd, go[k]);
        let g = tanh(simd, gg[k]);
        let c_prev = prev.map_or(zero, |p| p[k]);
        let c = simd.mul_add_e_f32s(f, c_prev, simd.mul_f32s(i, g));
        let tc = tanh(simd, c);
        (gi[k], gf[k], go[k], gg[k]) = (i, f, o, g);
        cv[k] = c;
        tv[k] = tc;
        hv[k] = simd.mul_f32s(o, tc);
    }
}

/// Both layers backward over one part, monomorphised for each SIMD level.
struct BackwardPass<'a> {
    layers: &'a [TrainLayer; 2],
    part: &'a mut Part,
    /// Gradient with respect to the part's last states, `batch x hidden_2`.
    d_last: &'a [f32],
}

impl WithSimd for BackwardPass<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let BackwardPass {
            layers,
            part,
            d_last,
        } = self;
        let (b, steps) = (part.batch, part.steps);
        let rows = b * steps;
        let [first, second] = &mut part.layers;
        // The second layer: its outputs' gradient is `d_last` at each sequence's last step.
        let (h2, hp2) = (layers[1].hidden, layers[1].padded_hidden());
        part.d_outputs.resize(rows * hp2);
        let d_out = part.d_outputs.as_mut_slice();
        d_out.fill(0.0);
        for (i, &len) in part.lengths.iter().enumerate() {
            if len > 0 {
                let r = (len - 1) * b + i;
                d_out[r * hp2..r * hp2 + h2].copy_from_slice(&d_last[i * h2..(i + 1) * h2]);
            }
        }
        part.zeros.clear();
        part.zeros
            .resize(layers[0].gate_width().max(layers[1].gate_width()), 0.0);
        let hp1 = layers[0].padded_hidden();
        layer_backward(
            simd,
            &layers[1],
            part.dropped.as_slice(),
            hp1,
            b,
            steps,
            part.d_outputs.as_slice(),
            &part.zeros,
            second,
        );
        // Its inputs' gradient, through dropout, is the first layer's outputs' gradient.
        let n2 = layers[1].gate_width();
        part.d_inputs.resize(rows * hp1);
        if let Some(input_t) = &layers[1].input_t {
            project(
                simd,
                second.d_gates.as_slice(),
                n2,
                n2,
                rows,
                input_t,
                part.d_inputs.as_mut_slice(),
            );
        }
        part.d_outputs.resize(rows * hp1);
        for ((d, &g), &k) in part
            .d_outputs
            .as_mut_slice()
            .iter_mut()
            .zip(part.d_inputs.as_slice())
            .zip(part.keep.as_slice())
        {
            *d = g * k;
        }
        let d = layers[0].inputs;
        layer_backward(
            simd,
            &layers[0],
            part.x.as_slice(),
            d,
            b,
            steps,
            part.d_outputs.as_slice(),
            &part.zeros,
            first,
        );
    }
}

/// One layer backward: from `d_out` (its outputs' gradient from above, `padded(hidden)` a
/// row) to its gates' gradient and its weights' gradients; `x` is what its forward pass read.
#[inline(always)]
#[expect(clippy::too_many_arguments, reason = "the pass's operands")]
fn layer_backward<S: Simd>(
    simd: S,
    w: &TrainLayer,
    x: &[f32],
    stride: usize,
    b: usize,
    steps: usize,
    d_out: &[f32],
    zeros: &[f32],
    pass: &mut LayerPass,
) {
    let (h, hp, n) = (w.hidden, w.padded_hidden(), w.gate_width());
    let rows = b * steps;
    pass.d_gates.resize(rows * n);
    pass.d_hidden.resize(b * hp);
    pass.d_cell.resize(b * hp);
    pass.d_hidden.as_mut_slice().fill(0.0);
    pass.d_cell.as_mut_slice().fill(0.0);
    let d_gates = pass.d_gates.as_mut_slice();
    let (cells, tanh_cells, gates) = (
        pass.cells.as_slice(),
        pass.tanh_cells.as_slice(),
        pass.gates.as_slice(),
    );
    for t in (0..steps).rev() {
        for i in 0..b {
            let r = t * b + i;
            let c_prev = if t > 0 {
                &cells[(r - b) * hp..][..hp]
            } else {
                &zeros[..hp]
            };
            cell_backward(
                simd,
                CellSaved {
                    gates: &gates[r * n..][..n],
                    c_prev,
                    tanh_cell: &tanh_cells[r * hp..][..hp],
                },
                &d_out[r * hp..][..hp],
                &pass.d_hidden.as_slice()[i * hp..][..hp],
                &mut pass.d_cell.as_mut_slice()[i * hp..][..hp],
                &mut d_gates[r * n..][..n],
            );
        }
        if t > 0 {
            project(
                simd,
                &d_gates[t * b * n..(t + 1) * b * n],
                n,
                n,
                b,
                &w.recurrent_t,
                pass.d_hidden.as_mut_slice(),
            );
        }
    }
    // Weight gradients: all steps at once.
    let d_gates = pass.d_gates.as_slice();
    pass.d_bias.clear();
    pass.d_bias.resize(n, 0.0);
    for row in d_gates.chunks_exact(n) {
        for (s, &g) in pass.d_bias.iter_mut().zip(row) {
            *s += g;
        }
    }
    pass.d_input.clear();
    pass.d_input.resize(w.inputs * n, 0.0);
    transposed_product(
        simd,
        x,
        stride,
        w.inputs,
        d_gates,
        n,
        rows,
        &mut pass.d_input,
    );
    pass.d_recurrent.clear();
    pass.d_recurrent.resize(h * n, 0.0);
    if steps > 1 {
        transposed_product(
            simd,
            pass.hidden.as_slice(),
            hp,
            h,
            &d_gates[b * n..],
            n,
            rows - b,
            &mut pass.d_recurrent,
        );
    }
}

/// What a cell's backward pass reads from its forward pass.
struct CellSaved<'a> {
    /// Activations `[i | f | o | g]`.
    gates: &'a [f32],
    c_prev: &'a [f32],
    tanh_cell: &'a [f32],
}

/// The LSTM cell backward on one row: from the hidden state's gradient (`d_out` from above
/// plus `d_rec` through the next step) and the cell's gradient from the next step (`d_cell`,
/// replaced by the gradient it passes to the step before) to the gates' gradient before their
/// activations, `[di | df | do | dg]`.
#[inline(always)]
fn cell_backward<S: Simd>(
    simd: S,
    saved: CellSaved<'_>,
    d_out: &[f32],
    d_rec: &[f32],
    d_cell: &mut [f32],
    d_gates: &mut [f32],
) {
    let hp = saved.c_prev.len();
    let (gi, rest) = saved.gates.split_at(hp);
    let (gf, rest) = rest.split_at(hp);
    let (go, gg) = rest.split_at(hp);
    fn v<S: Simd>(s: &[f32]) -> &[S::f32s] {
        S::as_simd_f32s(s).0
    }
    let (gi, gf, go, gg) = (v::<S>(gi), v::<S>(gf), v::<S>(go), v::<S>(gg));
    let (cp, tc, dout, drec) = (
        v::<S>(saved.c_prev),
        v::<S>(saved.tanh_cell),
        v::<S>(d_out),
        v::<S>(d_rec),
    );
    let (dc, _) = S::as_mut_simd_f32s(d_cell);
    let (di, rest) = d_gates.split_at_mut(hp);
    let (df, rest) = rest.split_at_mut(hp);
    let (dov, dg) = rest.split_at_mut(hp);
    let (di, _) = S::as_mut_simd_f32s(di);
    let (df, _) = S::as_mut_simd_f32s(df);
    let (dov, _) = S::as_mut_simd_f32s(dov);
    let (dg, _) = S::as_mut_simd_f32s(dg);
    let one = simd.splat_f32s(1.0);
    // `x (1 - x)`: the sigmoid's derivative from its value.
    let slope = |x: S::f32s| simd.mul_f32s(x, simd.sub_f32s(one, x));
    for k in 0..dc.len() {
        let (i, f, o, g, t) = (gi[k], gf[k], go[k], gg[k], tc[k]);
        let dh = simd.add_f32s(dout[k], drec[k]);
        // dc = dc_next + dh o (1 - tanh(c)^2)
        let d_tanh = simd.sub_f32s(one, simd.mul_f32s(t, t));
        let c = simd.mul_add_e_f32s(simd.mul_f32s(dh, o), d_tanh, dc[k]);
        dov[k] = simd.mul_f32s(simd.mul_f32s(dh, t), slope(o));
        di[k] = simd.mul_f32s(simd.mul_f32s(c, g), slope(i));
        dg[k] = simd.mul_f32s(simd.mul_f32s(c, i), simd.sub_f32s(one, simd.mul_f32s(g, g)));
        df[k] = simd.mul_f32s(simd.mul_f32s(c, cp[k]), slope(f));
        dc[k] = simd.mul_f32s(c, f);
    }
}

/// `c[k] += sum over r < rows of a[r][k] b[r]` for `k < width`: `c` is `width` rows of `n`
/// values, `a`'s rows `stride` apart, `b`'s `n` apart (`n` a multiple of 16). The weight
/// gradients' product `A^T B` over all steps, without transposing `A`: register tiles of 6
/// rows of `c` by 4 vectors with AVX-512 (4 by 2 with AVX2), over chunks of rows whose strip of
/// `b` stays in L1 cache.
#[inline(always)]
#[expect(clippy::too_many_arguments, reason = "a matrix product's operands")]
fn transposed_product<S: Simd>(
    simd: S,
    a: &[f32],
    stride: usize,
    width: usize,
    b: &[f32],
    n: usize,
    rows: usize,
    c: &mut [f32],
) {
    if S::F32_LANES >= 16 {
        transposed_tiled::<S, 6, 4>(simd, a, stride, width, b, n, rows, c);
    } else {
        transposed_tiled::<S, 4, 2>(simd, a, stride, width, b, n, rows, c);
    }
}

#[inline(always)]
#[expect(clippy::too_many_arguments, reason = "a matrix product's operands")]
fn transposed_tiled<S: Simd, const R: usize, const C: usize>(
    simd: S,
    a: &[f32],
    stride: usize,
    width: usize,
    b: &[f32],
    n: usize,
    rows: usize,
    c: &mut [f32],
) {
    const CHUNK: usize = 128;
    let nv = n / S::F32_LANES;
    let (bv, _) = S::as_simd_f32s(&b[..rows * n]);
    let (cv, _) = S::as_mut_simd_f32s(&mut c[..width * n]);
    let mut r0 = 0;
    while r0 < rows {
        let r1 = (r0 + CHUNK).min(rows);
        let mut c0 = 0;
        while c0 < nv {
            let cw = if c0 + C <= nv { C } else { 1 };
            let mut k0 = 0;
            while k0 < width {
                let kw = if k0 + R <= width { R } else { 1 };
                let at = At {
                    a,
                    stride,
                    bv,
                    nv,
                    k0,
                    c0,
                    rows: r0..r1,
                };
                match (kw == R, cw == C) {
                    (true, true) => at.tile::<S, R, C>(simd, cv),
                    (true, false) => at.tile::<S, R, 1>(simd, cv),
                    (false, true) => at.tile::<S, 1, C>(simd, cv),
                    (false, false) => at.tile::<S, 1, 1>(simd, cv),
                }
                k0 += kw;
            }
            c0 += cw;
        }
        r0 = r1;
    }
}

/// One register tile of [`transposed_product`].
struct At<'a, V> {
    a: &'a [f32],
    stride: usize,
    bv: &'a [V],
    nv: usize,
    k0: usize,
    c0: usize,
    rows: std::ops::Range<usize>,
}

impl<V: Copy> At<'_, V> {
    #[inline(always)]
    fn tile<S: Simd<f32s = V>, const R: usize, const C: usize>(&self, simd: S, cv: &mut [V]) {
        let (nv, k0, c0) = (self.nv, self.k0, self.c0);
        let mut acc = [[simd.splat_f32s(0.0); C]; R];
        for (i, row) in acc.iter_mut().enumerate() {
            row.copy_from_slice(&cv[(k0 + i) * nv + c0..][..C]);
        }
        for r in self.rows.clone() {
            let ar = &self.a[r * self.stride + k0..][..R];
            let br = &self.bv[r * nv + c0..][..C];
            for (row, &x) in acc.iter_mut().zip(ar) {
                let x = simd.splat_f32s(x);
                for (s, &y) in row.iter_mut().zip(br) {
                    *s = simd.mul_add_e_f32s(x, y, *s);
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            cv[(k0 + i) * nv + c0..][..C].copy_from_slice(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic input of `steps` steps of `d` features.
    fn matrix(steps: usize, d: usize, seed: f32) -> FeatureMatrix {
        let data: Vec<f32> = (0..steps * d)
            .map(|i| (i as f32 * 0.37 + seed).sin() * 1.5)
            .collect();
        FeatureMatrix {
            data,
            n_frames: steps,
            n_features: d,
        }
    }

    /// A scalar loss of the heads' outputs with gradients in every direction.
    fn loss(out: EmotionOutput) -> Tensor<1> {
        let [b, e] = out.emotion.dims();
        let device = out.emotion.device();
        let w: Vec<f32> = (0..b * e).map(|i| (i as f32 * 0.71).cos()).collect();
        let w = Tensor::<2>::from_data(TensorData::new(w, [b, e]), &device);
        (out.emotion.clone() * w).sum()
            + out.emotion.powi_scalar(2).sum().mul_scalar(0.05)
            + out.intensity.sum().mul_scalar(0.3)
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    /// burn's gradients of `loss` for the LSTM weights, in [`LstmGradients`]' layout.
    fn burn_gradients(model: &EmotionModel, inputs: &[&FeatureMatrix]) -> LstmGradients {
        let device = model.lstm_1.input.weight.device();
        let batch = pad(inputs, &device);
        let grads = loss(model.forward(batch.inputs, batch.mask)).backward();
        let layer = |l: &FusedLstm| LstmLayerGradients {
            input_weight: values(l.input.weight.grad(&grads).unwrap()),
            input_bias: values(l.input.bias.as_ref().unwrap().grad(&grads).unwrap()),
            recurrent_weight: values(l.recurrent.weight.grad(&grads).unwrap()),
        };
        LstmGradients {
            layers: [layer(&model.lstm_1), layer(&model.lstm_2)],
        }
    }

    /// Ours: the trainer's layers, burn's heads and loss.
    fn fast_gradients(
        trainer: &mut FastLstmTrainer,
        model: &EmotionModel,
        inputs: &[&FeatureMatrix],
    ) -> LstmGradients {
        let device = model.lstm_1.input.weight.device();
        let h2 = model.lstm_2.hidden();
        let last = trainer.forward(model, inputs, 0.0).unwrap();
        let last = Tensor::<2>::from_data(TensorData::new(last, [inputs.len(), h2]), &device)
            .require_grad();
        let grads = loss(model.heads(last.clone())).backward();
        let d_last = values(last.grad(&grads).unwrap());
        trainer.backward(&d_last).unwrap()
    }

    fn largest_gap(a: &LstmGradients, b: &LstmGradients) -> (f32, f32) {
        let (mut gap, mut scale) = (0.0f32, 0.0f32);
        for (x, y) in a.layers.iter().zip(&b.layers) {
            for (u, v) in [
                (&x.input_weight, &y.input_weight),
                (&x.input_bias, &y.input_bias),
                (&x.recurrent_weight, &y.recurrent_weight),
            ] {
                assert_eq!(u.len(), v.len());
                for (p, q) in u.iter().zip(v) {
                    gap = gap.max((p - q).abs());
                    scale = scale.max(q.abs());
                }
            }
        }
        (gap, scale)
    }

    fn check(config: EmotionModelConfig, lengths: &[usize]) {
        let device = default_device().autodiff();
        let model = config.init(&device);
        let d = config.n_features;
        let owned: Vec<FeatureMatrix> = lengths
            .iter()
            .enumerate()
            .map(|(i, &n)| matrix(n, d, i as f32))
            .collect();
        let inputs: Vec<&FeatureMatrix> = owned.iter().collect();
        let reference = burn_gradients(&model, &inputs);
        for level in SimdLevel::available() {
            for threads in [1, 2, 3] {
                let mut trainer = FastLstmTrainer::with_simd(threads, 7, level).unwrap();
                let ours = fast_gradients(&mut trainer, &model, &inputs);
                let (gap, scale) = largest_gap(&ours, &reference);
                assert!(scale > 1e-3, "the loss must reach every layer: {scale}");
                assert!(
                    gap <= 1e-5 * scale.max(1.0),
                    "{level}, {threads} threads, lengths {lengths:?}: gradients differ by \
                     {gap} (largest {scale})"
                );
            }
        }
    }

    #[test]
    fn gradients_match_burns_autodiff_on_odd_shapes_and_ragged_lengths() {
        let odd = EmotionModelConfig::new(13)
            .with_hidden_1(20)
            .with_hidden_2(9)
            .with_dense(24)
            .with_dropout(0.0);
        check(odd, &[1, 4, 7, 7, 3]);
        let tiny = EmotionModelConfig::new(1)
            .with_hidden_1(1)
            .with_hidden_2(1)
            // Wide enough that some ReLU unit is alive whatever the random weights (with 6,
            // one run in many had all dead and no gradient at all).
            .with_dense(32)
            .with_dropout(0.0);
        check(tiny, &[2, 5, 1]);
    }

    #[test]
    fn gradients_match_burns_autodiff_at_the_shipped_shape() {
        let shipped = EmotionModelConfig::new(240).with_dropout(0.0);
        check(shipped, &[30, 12, 30, 25, 1, 17]);
    }

    #[test]
    fn dropout_is_drawn_from_the_seed_and_scales_what_it_keeps() {
        let device = default_device();
        let model = EmotionModelConfig::new(6).with_hidden_1(64).init(&device);
        let input = matrix(9, 6, 0.5);
        let inputs = [&input, &input];
        let run = |seed: u64, p: f64| {
            let mut t = FastLstmTrainer::new(1, seed);
            let last = t.forward(&model, &inputs, p).unwrap();
            let keep = t.parts[0].keep.as_slice().to_vec();
            (last, keep)
        };
        let (plain, keep_all) = run(1, 0.0);
        assert!(keep_all.chunks(64).all(|r| r.iter().all(|&k| k == 1.0)));
        let (a, keep) = run(1, 0.3);
        let (b, _) = run(1, 0.3);
        let (c, _) = run(2, 0.3);
        assert_eq!(a, b, "the same seed draws the same masks");
        assert_ne!(a, c);
        assert_ne!(a, plain);
        let dropped = keep.iter().filter(|&&k| k == 0.0).count() as f64 / keep.len() as f64;
        assert!((0.2..0.4).contains(&dropped), "{dropped}");
        assert!(
            keep.iter()
                .all(|&k| k == 0.0 || (k - 1.0 / 0.7).abs() < 1e-6)
        );
    }

    #[test]
    fn bad_calls_are_errors() {
        let device = default_device();
        let model = EmotionModelConfig::new(6).init(&device);
        let mut t = FastLstmTrainer::new(2, 0);
        assert!(matches!(
            t.backward(&[0.0; 64]),
            Err(FastTrainingError::Gradient { expected: 0, .. })
        ));
        let wrong = matrix(3, 5, 0.0);
        let right = matrix(3, 6, 0.0);
        assert!(matches!(
            t.forward(&model, &[&right, &wrong], 0.0),
            Err(FastTrainingError::InputWidth {
                index: 1,
                expected: 6,
                found: 5
            })
        ));
        t.forward(&model, &[&right, &right, &right], 0.0).unwrap();
        assert!(matches!(
            t.backward(&[0.0; 5]),
            Err(FastTrainingError::Gradient {
                expected: 192,
                found: 5
            })
        ));
        assert_eq!(
            t.backward(&[0.0; 192]).unwrap().layers[0].input_bias,
            vec![0.0; 512]
        );
    }
}
