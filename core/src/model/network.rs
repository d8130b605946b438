//! The network: [`FusedLstm`] layers, the dense layer and two heads.

use super::*;

/// Shape of the model. Saved as `model` inside the training config next to the weights.
#[derive(Config, Debug, PartialEq)]
pub struct EmotionModelConfig {
    /// Features per input step.
    pub n_features: usize,
    /// Units of the first LSTM layer.
    #[config(default = 128)]
    pub hidden_1: usize,
    /// Units of the second LSTM layer.
    #[config(default = 64)]
    pub hidden_2: usize,
    /// Units of the dense layer before the heads.
    #[config(default = 128)]
    pub dense: usize,
    /// Dropout probability between layers (training only).
    #[config(default = 0.3)]
    pub dropout: f64,
    /// What the dense layer reads of the top LSTM layer's outputs; `None` (every model before
    /// the field was written): [`Pooling::Last`].
    pub pooling: Option<Pooling>,
}

/// What the dense layer reads of the top LSTM layer's outputs over an utterance's steps. Both
/// can be updated step by step as audio arrives (the streaming path).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The state at the utterance's last step.
    #[default]
    Last,
    /// Attention pooling: the outputs weighted by the softmax over the steps of a learnt
    /// score, one weight vector `w` (`score_t = w . h_t`). Causal: a running maximum, sum of
    /// weights and weighted sum update it step by step.
    Attention,
    /// Both side by side: the last state, then the attention-pooled outputs (the dense layer
    /// reads `2 * hidden_2` values).
    LastAndAttention,
}

impl Pooling {
    /// Whether the dense layer reads the last state.
    #[must_use]
    pub fn reads_last(self) -> bool {
        matches!(self, Self::Last | Self::LastAndAttention)
    }

    /// Whether it has a learnt attention score.
    #[must_use]
    pub fn reads_attention(self) -> bool {
        matches!(self, Self::Attention | Self::LastAndAttention)
    }

    /// Values the dense layer reads from a top layer of `hidden` units.
    #[must_use]
    pub fn width(self, hidden: usize) -> usize {
        hidden * (usize::from(self.reads_last()) + usize::from(self.reads_attention()))
    }
}

impl EmotionModelConfig {
    /// Builds a randomly initialised model on `device`.
    pub fn init(&self, device: &Device) -> EmotionModel {
        let pooling = self.pooling.unwrap_or_default();
        EmotionModel {
            lstm_1: FusedLstm::new(self.n_features, self.hidden_1, device),
            lstm_2: FusedLstm::new(self.hidden_1, self.hidden_2, device),
            dropout: DropoutConfig::new(self.dropout).init(),
            dense: LinearConfig::new(pooling.width(self.hidden_2), self.dense).init(device),
            emotion_head: LinearConfig::new(self.dense, Emotion::COUNT).init(device),
            intensity_head: LinearConfig::new(self.dense, Intensity::COUNT).init(device),
            attention: pooling.reads_attention().then(|| {
                LinearConfig::new(self.hidden_2, 1)
                    .with_bias(false)
                    .init(device)
            }),
        }
    }
}

/// An LSTM layer with fused gates (order: input, forget, output, cell).
#[derive(Module, Debug)]
pub struct FusedLstm {
    /// Input to the four gates, for all time steps at once.
    pub(super) input: Linear,
    /// Hidden state to the four gates (no bias: `input` has it).
    pub(super) recurrent: Linear,
    pub(super) hidden: usize,
}

impl FusedLstm {
    /// A layer from `d_input` to `hidden` units; gate biases start at 0 except the forget
    /// gate's, at 1 (so the cell remembers at first).
    pub fn new(d_input: usize, hidden: usize, device: &Device) -> Self {
        let mut input = LinearConfig::new(d_input, 4 * hidden).init(device);
        let bias: Vec<f32> = (0..4 * hidden) // forget gate: second block
            .map(|k| {
                if (hidden..2 * hidden).contains(&k) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        input.bias = Some(burn::module::Param::from_tensor(Tensor::from_data(
            TensorData::new(bias, [4 * hidden]),
            device,
        )));
        Self {
            input,
            recurrent: LinearConfig::new(hidden, 4 * hidden)
                .with_bias(false)
                .init(device),
            hidden,
        }
    }

    /// One time step: `x_proj` is this step's input projection `[batch, 4 * hidden]` (from
    /// [`FusedLstm::project`]), `hidden` and `cell` the previous state `[batch, hidden]`.
    /// Returns the new `(hidden, cell)`.
    pub fn step(
        &self,
        x_proj: Tensor<2>,
        hidden: Tensor<2>,
        cell: Tensor<2>,
    ) -> (Tensor<2>, Tensor<2>) {
        let h = self.hidden;
        let gates = x_proj + self.recurrent.forward(hidden);
        // Gate order: input, forget, output (one sigmoid for the three), then cell.
        let sig = sigmoid(gates.clone().narrow(1, 0, 3 * h));
        let (i, f, o) = (
            sig.clone().narrow(1, 0, h),
            sig.clone().narrow(1, h, h),
            sig.narrow(1, 2 * h, h),
        );
        let g = gates.narrow(1, 3 * h, h).tanh();
        let cell = f * cell + i * g;
        (o * cell.clone().tanh(), cell)
    }

    /// The input projection of one step or of all steps at once: `[..., d_input]` to
    /// `[..., 4 * hidden]`.
    pub fn project<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.input.forward(x)
    }

    /// Units.
    #[must_use]
    pub fn hidden(&self) -> usize {
        self.hidden
    }
}

/// Each sequence's output at its last valid step, `[batch, hidden]`, from the outputs at every
/// step `[batch, steps, hidden]` and the prefix `mask` `[batch, steps, 1]`: `mask[t] -
/// mask[t + 1]` is 1 exactly there. The LSTM is causal, so outputs at valid steps never depend
/// on padding.
pub(super) fn select_last(outputs: Tensor<3>, mask: Tensor<3>) -> Tensor<2> {
    let [batch, steps, hidden] = outputs.dims();
    if steps <= 1 {
        // An input without steps (only padding) gives zeros, as below.
        return (outputs * mask).reshape([batch, hidden]);
    }
    let device = mask.device();
    let next = Tensor::cat(
        vec![
            mask.clone().slice(s![.., 1.., ..]),
            Tensor::<3>::zeros([batch, 1, 1], &device),
        ],
        1,
    );
    (outputs * (mask - next))
        .sum_dim(1)
        .reshape([batch, hidden])
}

/// The attention-pooled outputs, `[batch, hidden]`: `outputs` `[batch, steps, hidden]`
/// weighted by the softmax over each sequence's valid steps (`mask` `[batch, steps, 1]`) of
/// `score`'s projection of them.
pub(super) fn attention_pool(score: &Linear, outputs: Tensor<3>, mask: Tensor<3>) -> Tensor<2> {
    let [batch, _, hidden] = outputs.dims();
    // Padding steps get a score far below any real one: their weight underflows to zero.
    let scores = score.forward(outputs.clone()) + (mask.clone() - 1.0).mul_scalar(1e9);
    // The mask again for an input without steps, whose softmax spreads over its padding: it
    // gives zeros, as the last state does (and the fast training pass).
    let weights = burn::tensor::activation::softmax(scores, 1) * mask;
    (outputs * weights).sum_dim(1).reshape([batch, hidden])
}

/// Output of [`EmotionModel::forward`].
#[derive(Debug, Clone)]
pub struct EmotionOutput {
    /// Emotion logits, `[batch, 8]` (order of [`Emotion::ALL`]).
    pub emotion: Tensor<2>,
    /// Intensity logits, `[batch, 2]` (order of [`Intensity::ALL`]).
    pub intensity: Tensor<2>,
}

/// The emotion model (see the module docs).
#[derive(Module, Debug)]
pub struct EmotionModel {
    pub(super) lstm_1: FusedLstm,
    pub(super) lstm_2: FusedLstm,
    pub(super) dropout: Dropout,
    pub(super) dense: Linear,
    pub(super) emotion_head: Linear,
    pub(super) intensity_head: Linear,
    /// The score of attention pooling ([`Pooling::Attention`] and
    /// [`Pooling::LastAndAttention`]); `None`: the last state alone.
    pub(super) attention: Option<Linear>,
}

impl EmotionModel {
    /// Runs the model.
    ///
    /// - `x`: `[batch, steps, n_features]`, normalised features
    /// - `mask`: `[batch, steps, 1]`, 1.0 on each sequence's valid steps (a prefix: padding
    ///   comes last)
    ///
    /// Returns logits `[batch, 8]` and `[batch, 2]` computed from each sequence's state at its
    /// last valid step, or its attention-pooled outputs ([`Pooling`]).
    ///
    /// Both layers advance together, one time step at a time. Under autodiff each step's
    /// input projection is computed from that step's slice of `x` (which carries no gradient):
    /// slicing one all-steps projection would make every step's backward pass write a
    /// zero-filled gradient of the whole `[batch, steps, 4 * hidden]` tensor, a cost that grows
    /// with the square of the length. Without autodiff the first layer's projection is one
    /// matrix product over all steps.
    pub fn forward(&self, x: Tensor<3>, mask: Tensor<3>) -> EmotionOutput {
        let [batch, steps, d] = x.dims();
        let device = x.device();
        let tracked = self.lstm_1.input.weight.val().is_require_grad();
        let projected = (!tracked).then(|| self.lstm_1.project(x.clone()));
        let (h_1, h_2) = (self.lstm_1.hidden(), self.lstm_2.hidden());
        let (mut hidden_1, mut cell_1) = (
            Tensor::<2>::zeros([batch, h_1], &device),
            Tensor::<2>::zeros([batch, h_1], &device),
        );
        let (mut hidden_2, mut cell_2) = (
            Tensor::<2>::zeros([batch, h_2], &device),
            Tensor::<2>::zeros([batch, h_2], &device),
        );
        let mut outputs = Vec::with_capacity(steps);
        for t in 0..steps {
            let p_1 = match &projected {
                Some(p) => p.clone().slice(s![.., t, ..]).reshape([batch, 4 * h_1]),
                None => self
                    .lstm_1
                    .project(x.clone().slice(s![.., t, ..]).reshape([batch, d])),
            };
            (hidden_1, cell_1) = self.lstm_1.step(p_1, hidden_1, cell_1);
            let p_2 = self.lstm_2.project(self.dropout.forward(hidden_1.clone()));
            (hidden_2, cell_2) = self.lstm_2.step(p_2, hidden_2, cell_2);
            outputs.push(hidden_2.clone().unsqueeze_dim::<3>(1));
        }
        let pooled = self.pool(Tensor::cat(outputs, 1), mask);
        self.heads(pooled)
    }

    /// The pooled embedding (see [`Pooling`]), `[batch, width]` (`hidden_2` values, or twice
    /// as many for [`Pooling::LastAndAttention`]), from the top layer's outputs at every step
    /// `[batch, steps, hidden_2]` and the prefix `mask`. Also what the LSTM layers' fast
    /// training pass ([`FastLstmTrainer`]) hands to burn for a model with attention pooling.
    pub fn pool(&self, outputs: Tensor<3>, mask: Tensor<3>) -> Tensor<2> {
        match (&self.attention, self.pooling()) {
            (Some(score), Pooling::LastAndAttention) => Tensor::cat(
                vec![
                    select_last(outputs.clone(), mask.clone()),
                    attention_pool(score, outputs, mask),
                ],
                1,
            ),
            (Some(score), _) => attention_pool(score, outputs, mask),
            (None, _) => select_last(outputs, mask),
        }
    }

    /// How the top layer's outputs are pooled: with an attention score, both side by side
    /// when the dense layer reads twice the top layer's width.
    #[must_use]
    pub fn pooling(&self) -> Pooling {
        match &self.attention {
            None => Pooling::Last,
            Some(_) if self.dense_inputs() == 2 * self.lstm_2.hidden() => Pooling::LastAndAttention,
            Some(_) => Pooling::Attention,
        }
    }

    /// Values the dense layer reads (the pooled embedding's width).
    #[must_use]
    pub fn dense_inputs(&self) -> usize {
        self.dense.weight.dims()[0]
    }

    /// The first LSTM layer's outputs at every step, `[batch, steps, hidden_1]`, for
    /// [`EmotionModel::forward_from_first_layer`]. Meant for a model without autodiff;
    /// padding steps give outputs nobody reads.
    pub fn first_layer(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, steps, _] = x.dims();
        let device = x.device();
        let h_1 = self.lstm_1.hidden();
        let projected = self.lstm_1.project(x);
        let (mut hidden, mut cell) = (
            Tensor::<2>::zeros([batch, h_1], &device),
            Tensor::<2>::zeros([batch, h_1], &device),
        );
        let mut outputs = Vec::with_capacity(steps);
        for t in 0..steps {
            let p = projected
                .clone()
                .slice(s![.., t, ..])
                .reshape([batch, 4 * h_1]);
            (hidden, cell) = self.lstm_1.step(p, hidden, cell);
            outputs.push(hidden.clone().unsqueeze_dim::<3>(1));
        }
        Tensor::cat(outputs, 1)
    }

    /// The rest of [`EmotionModel::forward`] from the first layer's outputs `first`
    /// `[batch, steps, hidden_1]` (which carry no gradient): the second layer and the heads.
    pub fn forward_from_first_layer(&self, first: Tensor<3>, mask: Tensor<3>) -> EmotionOutput {
        let last = self.embedding_from_first_layer(first, mask);
        self.heads(last)
    }

    /// The second layer's pooled outputs (its state at each sequence's last valid step, or
    /// their attention pooling, or both: [`Pooling`]), `[batch, width]`, from the first layer's outputs (see [`EmotionModel::forward_from_first_layer`]).
    pub fn embedding_from_first_layer(&self, first: Tensor<3>, mask: Tensor<3>) -> Tensor<2> {
        let [batch, steps, h_1] = first.dims();
        let device = first.device();
        let h_2 = self.lstm_2.hidden();
        let (mut hidden, mut cell) = (
            Tensor::<2>::zeros([batch, h_2], &device),
            Tensor::<2>::zeros([batch, h_2], &device),
        );
        let mut outputs = Vec::with_capacity(steps);
        for t in 0..steps {
            let x = first.clone().slice(s![.., t, ..]).reshape([batch, h_1]);
            let p = self.lstm_2.project(self.dropout.forward(x));
            (hidden, cell) = self.lstm_2.step(p, hidden, cell);
            outputs.push(hidden.clone().unsqueeze_dim::<3>(1));
        }
        self.pool(Tensor::cat(outputs, 1), mask)
    }

    /// [`EmotionModel::forward`] for a model without autodiff, also returning the mean of the
    /// first layer's outputs over each sequence's valid steps, `[batch, hidden_1]` (what the
    /// per-player voice head describes an utterance by, [`crate::player::voice::describe`]).
    pub fn forward_described(&self, x: Tensor<3>, mask: Tensor<3>) -> (EmotionOutput, Tensor<2>) {
        let first = self.first_layer(x);
        let [batch, _, h_1] = first.dims();
        let valid = mask.clone().sum_dim(1).clamp_min(1.0);
        let mean = (first.clone() * mask.clone())
            .sum_dim(1)
            .div(valid)
            .reshape([batch, h_1]);
        (self.forward_from_first_layer(first, mask), mean)
    }

    /// Units of the first LSTM layer.
    #[must_use]
    pub fn first_layer_units(&self) -> usize {
        self.lstm_1.hidden()
    }

    /// Dense layer and both heads on the pooled LSTM outputs `[batch, width]` (from
    /// [`EmotionModel::embedding_from_first_layer`]).
    pub fn heads(&self, last: Tensor<2>) -> EmotionOutput {
        let z = relu(self.dense.forward(self.dropout.forward(last)));
        let z = self.dropout.forward(z);
        EmotionOutput {
            emotion: self.emotion_head.forward(z.clone()),
            intensity: self.intensity_head.forward(z),
        }
    }

    /// The dropout probability between layers while training.
    #[must_use]
    pub fn dropout_probability(&self) -> f64 {
        self.dropout.prob
    }

    /// Number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.num_params()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(batch: usize, steps: usize, d: usize, seed: f32) -> Tensor<3> {
        let data: Vec<f32> = (0..batch * steps * d)
            .map(|i| (i as f32 * 0.37 + seed).sin())
            .collect();
        Tensor::from_data(TensorData::new(data, [batch, steps, d]), &default_device())
    }

    /// `short` (one sequence of 4 steps of 6 features) followed by 5 steps of large garbage,
    /// and the mask that leaves the garbage out.
    fn padded_with_garbage(short: Tensor<3>, seed: f32) -> (Tensor<3>, Tensor<3>) {
        let device = short.device();
        let garbage = input(1, 5, 6, seed).mul_scalar(50.0);
        let mask: Vec<f32> = (0..9).map(|t| if t < 4 { 1.0 } else { 0.0 }).collect();
        (
            Tensor::cat(vec![short, garbage], 1),
            Tensor::<3>::from_data(TensorData::new(mask, [1, 9, 1]), &device),
        )
    }

    #[test]
    fn output_shapes_and_parameter_count() {
        let device = default_device();
        let model = EmotionModelConfig::new(240).init(&device).valid();
        let mask = Tensor::<3>::ones([3, 7, 1], &device);
        let out = model.forward(input(3, 7, 240, 0.0), mask);
        assert_eq!(out.emotion.dims(), [3, 8]);
        assert_eq!(out.intensity.dims(), [3, 2]);
        // 4*128*(240+128+1) + 4*64*(128+64+1) + 64*128+128 + 128*8+8 + 128*2+2
        let expected = 4 * 128 * (240 + 128 + 1)
            + 4 * 64 * (128 + 64 + 1)
            + 64 * 128
            + 128
            + 128 * 8
            + 8
            + 128 * 2
            + 2;
        assert_eq!(model.parameter_count(), expected);
        assert!(expected < 1_000_000);
    }

    #[test]
    fn padding_is_never_read() {
        let device = default_device();
        for pooling in [Pooling::Last, Pooling::Attention, Pooling::LastAndAttention] {
            let model = EmotionModelConfig::new(6)
                .with_pooling(Some(pooling))
                .init(&device)
                .valid();
            let short = input(1, 4, 6, 1.0);
            let ones = Tensor::<3>::ones([1, 4, 1], &device);
            let a = model.forward(short.clone(), ones).emotion.into_data();
            // The same 4 steps followed by 5 steps of garbage, masked out.
            let (padded, mask) = padded_with_garbage(short, 9.0);
            let b = model.forward(padded, mask).emotion.into_data();
            let (a, b): (Vec<f32>, Vec<f32>) = (a.try_to_vec().unwrap(), b.try_to_vec().unwrap());
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-5, "{pooling:?}: {a:?} vs {b:?}");
            }
        }
    }

    /// Both side by side: the dense layer reads the last state, then the attention pooling,
    /// and the model says which pooling it has from its weights alone.
    #[test]
    fn last_and_attention_is_the_two_side_by_side() {
        let device = default_device();
        let model = EmotionModelConfig::new(6)
            .with_hidden_2(5)
            .with_pooling(Some(Pooling::LastAndAttention))
            .init(&device)
            .valid();
        assert_eq!(model.pooling(), Pooling::LastAndAttention);
        assert_eq!(model.dense_inputs(), 10);
        let outputs = input(2, 7, 5, 3.0);
        let mask: Vec<f32> = (0..14)
            .map(|k| f32::from(u8::from(k % 7 < 4 + k / 7)))
            .collect();
        let mask = Tensor::<3>::from_data(TensorData::new(mask, [2, 7, 1]), &device);
        let both = model.pool(outputs.clone(), mask.clone()).into_data();
        let last = select_last(outputs.clone(), mask.clone()).into_data();
        let score = model.attention.as_ref().unwrap();
        let pooled = attention_pool(score, outputs, mask).into_data();
        let (both, last, pooled): (Vec<f32>, Vec<f32>, Vec<f32>) = (
            both.try_to_vec().unwrap(),
            last.try_to_vec().unwrap(),
            pooled.try_to_vec().unwrap(),
        );
        for b in 0..2 {
            assert_eq!(both[b * 10..b * 10 + 5], last[b * 5..b * 5 + 5]);
            assert_eq!(both[b * 10 + 5..b * 10 + 10], pooled[b * 5..b * 5 + 5]);
        }
        for (pooling, width) in [(Pooling::Last, 5), (Pooling::Attention, 5)] {
            let m = EmotionModelConfig::new(6)
                .with_hidden_2(5)
                .with_pooling(Some(pooling))
                .init(&device);
            assert_eq!((m.pooling(), m.dense_inputs()), (pooling, width));
        }
    }

    #[test]
    fn forward_described_is_forward_and_its_mean_skips_padding() {
        let device = default_device();
        let model = EmotionModelConfig::new(6).init(&device).valid();
        let short = input(1, 4, 6, 2.0);
        let ones = Tensor::<3>::ones([1, 4, 1], &device);
        let plain = model.forward(short.clone(), ones).emotion.into_data();
        let first_mean = model.first_layer(short.clone()).mean_dim(1).into_data();
        let (padded, mask) = padded_with_garbage(short, 7.0);
        let (out, mean) = model.forward_described(padded, mask);
        let close = |a: TensorData, b: TensorData| {
            let (a, b): (Vec<f32>, Vec<f32>) = (a.try_to_vec().unwrap(), b.try_to_vec().unwrap());
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
            }
        };
        close(out.emotion.into_data(), plain);
        assert_eq!(mean.dims(), [1, 128]);
        close(mean.into_data(), first_mean);
    }

    /// The same weights give the same outputs on the default `flex` backend and on the
    /// deprecated `ndarray` one (`cargo test -p voice_emotion --features ndarray`).
    #[cfg(feature = "ndarray")]
    #[test]
    fn flex_and_ndarray_agree_on_the_same_weights() {
        let flex = DeviceSpec::Cpu.device().unwrap();
        let nd = DeviceSpec::NdArray.device().unwrap();
        let model = EmotionModelConfig::new(12).init(&flex).valid();
        let other = model.clone().to_device(&nd);
        let data: Vec<f32> = (0..2 * 9 * 12).map(|i| (i as f32 * 0.21).cos()).collect();
        let mask: Vec<f32> = (0..18)
            .map(|t| if t % 9 < 7 || t < 9 { 1.0 } else { 0.0 })
            .collect();
        let run = |m: &EmotionModel, device: &Device| -> Vec<f32> {
            let x = Tensor::<3>::from_data(TensorData::new(data.clone(), [2, 9, 12]), device);
            let k = Tensor::<3>::from_data(TensorData::new(mask.clone(), [2, 9, 1]), device);
            let o = m.forward(x, k);
            let mut v: Vec<f32> = o.emotion.into_data().try_to_vec().unwrap();
            v.extend(o.intensity.into_data().try_to_vec::<f32>().unwrap());
            v
        };
        let (a, b) = (run(&model, &flex), run(&other, &nd));
        assert_eq!(a.len(), 20);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-4, "flex {a:?}\nndarray {b:?}");
        }
    }
}
