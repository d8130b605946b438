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
//! to [`FastLstmTrainer::backward`]. Its tests check the gradients against
//! burn's autodiff; `passes.rs` holds the passes over one part of a batch.

use burn::optim::GradientsParams;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

mod passes;
use passes::{BackwardPass, ForwardPass};

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
    /// Steps of the last forward pass's outputs when it returned every step's
    /// ([`FastLstmTrainer::forward_outputs`]); `None`: the last states.
    all_steps: Option<usize>,
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
            all_steps: None,
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
        self.run_forward(model, inputs, dropout)?;
        self.all_steps = None;
        let h2 = self.layers.as_ref().map_or(0, |l| l[1].hidden);
        let mut last = Vec::with_capacity(inputs.len() * h2);
        for part in &self.parts[..self.sizes.len()] {
            last.extend_from_slice(&part.last);
        }
        Ok(last)
    }

    /// [`FastLstmTrainer::forward`], returning the second layer's outputs at every step
    /// instead of its last states (for a model that pools them, [`Pooling::Attention`] and
    /// [`Pooling::LastAndAttention`]):
    /// `inputs.len() x steps x hidden_2` values, input by input, where `steps` (returned
    /// beside them) is the longest input's (at least 1, as burn's padding gives); zeros past
    /// an input's end.
    ///
    /// # Errors
    /// As [`FastLstmTrainer::forward`].
    pub fn forward_outputs(
        &mut self,
        model: &EmotionModel,
        inputs: &[&FeatureMatrix],
        dropout: f64,
    ) -> Result<(Vec<f32>, usize), FastTrainingError> {
        self.run_forward(model, inputs, dropout)?;
        let Some(layers) = &self.layers else {
            return Ok((Vec::new(), 0));
        };
        let (h2, hp2) = (layers[1].hidden, layers[1].padded_hidden());
        let parts = &self.parts[..self.sizes.len()];
        let steps = parts
            .iter()
            .flat_map(|p| p.lengths.iter().copied())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut all = vec![0.0f32; inputs.len() * steps * h2];
        let mut row = 0;
        for part in parts {
            let out = part.layers[1].hidden.as_slice();
            for (i, &len) in part.lengths.iter().enumerate() {
                for t in 0..len {
                    let r = t * part.batch + i;
                    all[((row + i) * steps + t) * h2..][..h2]
                        .copy_from_slice(&out[r * hp2..r * hp2 + h2]);
                }
            }
            row += part.batch;
        }
        self.all_steps = Some(steps);
        Ok((all, steps))
    }

    fn run_forward(
        &mut self,
        model: &EmotionModel,
        inputs: &[&FeatureMatrix],
        dropout: f64,
    ) -> Result<(), FastTrainingError> {
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
        if inputs.is_empty() {
            self.sizes.clear();
        }
        self.layers = Some(layers);
        Ok(())
    }

    /// The weights' gradients given `d_last`, the loss's gradient with respect to the last
    /// forward pass's output ([`FastLstmTrainer::forward`]'s or
    /// [`FastLstmTrainer::forward_outputs`]'s, same shape), for the weights and inputs of
    /// that pass.
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
        let all_steps = self.all_steps;
        let h2 = layers[1].hidden * all_steps.unwrap_or(1);
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
                all_steps,
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
        if model.pooling() != Pooling::Last {
            // Every step's outputs, pooled by burn.
            let (all, steps) = trainer.forward_outputs(model, inputs, 0.0).unwrap();
            let n = inputs.len();
            let all = Tensor::<3>::from_data(TensorData::new(all, [n, steps, h2]), &device)
                .require_grad();
            let mask = pad(inputs, &device).mask;
            assert_eq!(mask.dims(), [n, steps, 1]);
            let grads = loss(model.heads(model.pool(all.clone(), mask))).backward();
            let d_all = values(all.grad(&grads).unwrap());
            return trainer.backward(&d_all).unwrap();
        }
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
        check(odd.clone(), &[1, 4, 7, 7, 3]);
        // An input without steps inside longer ones: zeros from both; and beside inputs of
        // one step, where burn's padded batch has a single step.
        check(odd.clone(), &[4, 0, 7]);
        check(odd, &[1, 0, 1]);
        let tiny = EmotionModelConfig::new(1)
            .with_hidden_1(1)
            .with_hidden_2(1)
            // Wide enough that some ReLU unit is alive whatever the random weights (with 6,
            // one run in many had all dead and no gradient at all).
            .with_dense(32)
            .with_dropout(0.0);
        check(tiny, &[2, 5, 1]);
    }

    /// With attention pooling the loss reaches every step's outputs, and the trainer's
    /// gradients still match burn's.
    #[test]
    fn gradients_match_burns_autodiff_with_attention_pooling() {
        let odd = EmotionModelConfig::new(13)
            .with_hidden_1(20)
            .with_hidden_2(9)
            .with_dense(24)
            .with_dropout(0.0)
            .with_pooling(Some(Pooling::Attention));
        check(odd.clone(), &[1, 4, 7, 7, 3]);
        // An input without steps inside longer ones: burn's softmax would spread over its
        // padding; both give zeros.
        check(odd, &[4, 0, 7]);
        let shipped = EmotionModelConfig::new(240)
            .with_dropout(0.0)
            .with_pooling(Some(Pooling::Attention));
        check(shipped, &[30, 12, 30, 25, 1, 17]);
        // The last state and the attention pooling side by side.
        let both = EmotionModelConfig::new(13)
            .with_hidden_1(20)
            .with_hidden_2(9)
            .with_dense(24)
            .with_dropout(0.0)
            .with_pooling(Some(Pooling::LastAndAttention));
        check(both.clone(), &[1, 4, 7, 7, 3]);
        check(both, &[4, 0, 7]);
        // Inputs without steps give one step of zeros, as burn's padded batch has one step.
        let model = EmotionModelConfig::new(6)
            .with_hidden_2(5)
            .with_pooling(Some(Pooling::Attention))
            .init(&default_device());
        let empty = matrix(0, 6, 0.0);
        let mut trainer = FastLstmTrainer::new(1, 0);
        let (all, steps) = trainer
            .forward_outputs(&model, &[&empty, &empty], 0.0)
            .unwrap();
        assert_eq!((all, steps), (vec![0.0; 10], 1));
        assert_eq!(
            trainer.backward(&[0.0; 10]).unwrap().layers[1]
                .input_bias
                .len(),
            20
        );
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
