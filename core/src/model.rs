//! The emotion model: a stacked LSTM over normalised feature sequences, with two heads
//! (8 emotions, 2 intensities). burn 0.22; the backend is chosen by the [`Device`].
//!
//! The LSTM is written here rather than taken from `burn::nn::Lstm`, which runs eight small
//! matrix products per time step: [`FusedLstm`] projects the inputs of every time step in one
//! product before the recurrence and computes all four gates with one recurrent product per
//! step. Variable lengths are handled by masking: past a sequence's last valid step its state
//! is carried unchanged, so the final state is the state at the last valid step and padding is
//! never read as speech.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use crate::dataset::{Emotion, Intensity};

/// CPU backends the engine can run on, chosen by the [`Device`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Backend {
    /// burn's pure-Rust `flex` backend (the default: fastest here for this LSTM).
    #[default]
    Flex,
    /// burn's deprecated `ndarray` backend (cargo feature `ndarray`), kept for comparison.
    #[cfg(feature = "ndarray")]
    NdArray,
}

impl Backend {
    /// The device of this backend.
    #[must_use]
    pub fn device(self) -> Device {
        match self {
            Backend::Flex => Device::flex(),
            // Deprecated by burn, kept on purpose: the feature exists to compare against it.
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Backend::NdArray => Device::ndarray(),
        }
    }
}

/// The default device ([`Backend::Flex`]).
#[must_use]
pub fn default_device() -> Device {
    Backend::default().device()
}

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
}

impl EmotionModelConfig {
    /// Builds a randomly initialised model on `device`.
    pub fn init(&self, device: &Device) -> EmotionModel {
        EmotionModel {
            lstm_1: FusedLstm::new(self.n_features, self.hidden_1, device),
            lstm_2: FusedLstm::new(self.hidden_1, self.hidden_2, device),
            dropout: DropoutConfig::new(self.dropout).init(),
            dense: LinearConfig::new(self.hidden_2, self.dense).init(device),
            emotion_head: LinearConfig::new(self.dense, Emotion::COUNT).init(device),
            intensity_head: LinearConfig::new(self.dense, Intensity::COUNT).init(device),
        }
    }
}

/// An LSTM layer with fused gates (order: input, forget, output, cell).
#[derive(Module, Debug)]
pub struct FusedLstm {
    /// Input to the four gates, for all time steps at once.
    input: Linear,
    /// Hidden state to the four gates (no bias: `input` has it).
    recurrent: Linear,
    hidden: usize,
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

    /// Runs the layer.
    ///
    /// - `x`: `[batch, steps, d_input]`
    /// - `mask`: `[batch, steps, 1]`, 1.0 for valid steps, 0.0 for padding (valid steps first)
    ///
    /// Returns the outputs `[batch, steps, hidden]` (padding steps repeat the last valid state)
    /// and the final hidden state `[batch, hidden]` (the state at each sequence's last valid
    /// step).
    pub fn forward(&self, x: Tensor<3>, mask: Tensor<3>) -> (Tensor<3>, Tensor<2>) {
        let [batch, steps, _] = x.dims();
        let device = x.device();
        let h = self.hidden;
        let projected = self.input.forward(x);
        // 1 - mask, for all steps at once.
        let keep_all = mask.clone().neg().add_scalar(1.0);
        let mut hidden = Tensor::<2>::zeros([batch, h], &device);
        let mut cell = Tensor::<2>::zeros([batch, h], &device);
        let mut outputs = Vec::with_capacity(steps);
        for t in 0..steps {
            let gates: Tensor<2> = projected.clone().slice(s![.., t, ..]).squeeze_dim(1)
                + self.recurrent.forward(hidden.clone());
            // Gate order: input, forget, output (one sigmoid for the three), then cell.
            let sig = sigmoid(gates.clone().narrow(1, 0, 3 * h));
            let (i, f, o) = (
                sig.clone().narrow(1, 0, h),
                sig.clone().narrow(1, h, h),
                sig.narrow(1, 2 * h, h),
            );
            let g = gates.narrow(1, 3 * h, h).tanh();
            let new_cell = f * cell.clone() + i * g;
            let new_hidden = o * new_cell.clone().tanh();
            let m: Tensor<2> = mask.clone().slice(s![.., t, ..]).squeeze_dim(1);
            let keep: Tensor<2> = keep_all.clone().slice(s![.., t, ..]).squeeze_dim(1);
            cell = new_cell * m.clone() + cell * keep.clone();
            hidden = new_hidden * m + hidden * keep;
            outputs.push(hidden.clone().unsqueeze_dim::<3>(1));
        }
        (Tensor::cat(outputs, 1), hidden)
    }
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
    lstm_1: FusedLstm,
    lstm_2: FusedLstm,
    dropout: Dropout,
    dense: Linear,
    emotion_head: Linear,
    intensity_head: Linear,
}

impl EmotionModel {
    /// Runs the model.
    ///
    /// - `x`: `[batch, steps, n_features]`, normalised features
    /// - `mask`: `[batch, steps, 1]`, 1.0 on each sequence's valid steps (a prefix)
    pub fn forward(&self, x: Tensor<3>, mask: Tensor<3>) -> EmotionOutput {
        let (out_1, _) = self.lstm_1.forward(x, mask.clone());
        let (_, last) = self.lstm_2.forward(self.dropout.forward(out_1), mask);
        let z = relu(self.dense.forward(self.dropout.forward(last)));
        let z = self.dropout.forward(z);
        EmotionOutput {
            emotion: self.emotion_head.forward(z.clone()),
            intensity: self.intensity_head.forward(z),
        }
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
        let model = EmotionModelConfig::new(6).init(&device).valid();
        let short = input(1, 4, 6, 1.0);
        let ones = Tensor::<3>::ones([1, 4, 1], &device);
        let a = model.forward(short.clone(), ones).emotion.into_data();
        // The same 4 steps followed by 5 steps of garbage, masked out.
        let garbage = input(1, 5, 6, 9.0).mul_scalar(50.0);
        let padded = Tensor::cat(vec![short, garbage], 1);
        let mask: Vec<f32> = (0..9).map(|t| if t < 4 { 1.0 } else { 0.0 }).collect();
        let mask = Tensor::<3>::from_data(TensorData::new(mask, [1, 9, 1]), &device);
        let b = model.forward(padded, mask).emotion.into_data();
        let (a, b): (Vec<f32>, Vec<f32>) = (a.try_to_vec().unwrap(), b.try_to_vec().unwrap());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    /// The same weights give the same outputs on the default `flex` backend and on the
    /// deprecated `ndarray` one (`cargo test -p voice_emotion --features ndarray`).
    #[cfg(feature = "ndarray")]
    #[test]
    fn flex_and_ndarray_agree_on_the_same_weights() {
        let flex = Backend::Flex.device();
        let nd = Backend::NdArray.device();
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
