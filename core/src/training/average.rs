//! An exponential moving average of a model's weights over the optimisation steps
//! ([`crate::model::TrainingConfig::weight_average`]).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

use crate::model::EmotionModel;

/// The running average `avg = d * avg + (1 - d) * weights` of every float parameter, with
/// the decay warmed up as `d = min(decay, (1 + n) / (10 + n))` after `n` updates, so the first
/// steps' random weights fade fast. Holds inference-mode models.
#[derive(Debug)]
pub struct WeightAverage {
    decay: f64,
    updates: usize,
    average: Option<EmotionModel>,
}

impl WeightAverage {
    /// An empty average with the given per-step decay (clamped to `0..=1`).
    #[must_use]
    pub fn new(decay: f64) -> Self {
        Self {
            decay: decay.clamp(0.0, 1.0),
            updates: 0,
            average: None,
        }
    }

    /// Blends `model` (inference mode, the same shape every call) into the average; the first
    /// call copies it.
    pub fn update(&mut self, model: &EmotionModel) {
        let n = self.updates as f64;
        let decay = self.decay.min((1.0 + n) / (10.0 + n));
        self.updates += 1;
        self.average = Some(match self.average.take() {
            None => model.clone(),
            Some(average) => {
                let mut collect = Collect(Vec::new());
                model.visit(&mut collect);
                average.map(&mut Blend {
                    weights: collect.0.into_iter(),
                    decay: decay as f32,
                })
            }
        });
    }

    /// The average so far, `None` before the first update.
    #[must_use]
    pub fn model(&self) -> Option<&EmotionModel> {
        self.average.as_ref()
    }
}

/// Every float parameter, flattened, in visiting order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let n = value.shape().num_elements();
        self.0.push(value.reshape([n]));
    }
}

/// Blends each float parameter with the next of `weights` (the same visiting order).
struct Blend {
    weights: std::vec::IntoIter<Tensor<1>>,
    decay: f32,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(weights) = self.weights.next() else {
            return param;
        };
        let decay = self.decay;
        param.map(|average| {
            let shape = average.shape();
            average.mul_scalar(decay) + weights.reshape(shape).mul_scalar(1.0 - decay)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EmotionModelConfig, default_device};

    fn weights(model: &EmotionModel) -> Vec<f32> {
        let mut collect = Collect(Vec::new());
        model.visit(&mut collect);
        collect
            .0
            .into_iter()
            .flat_map(|t| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap())
            .collect()
    }

    #[test]
    fn the_average_follows_the_warmed_up_decay_parameter_by_parameter() {
        let device = default_device();
        let config = EmotionModelConfig::new(6)
            .with_hidden_1(4)
            .with_hidden_2(3)
            .with_dense(5);
        let models: Vec<EmotionModel> = (0..4).map(|_| config.init(&device)).collect();
        let w: Vec<Vec<f32>> = models.iter().map(weights).collect();
        assert!(w[0].len() > 100);
        assert_ne!(w[0], w[1]);

        let mut average = WeightAverage::new(0.5);
        assert!(average.model().is_none());
        let mut expected = w[0].clone();
        average.update(&models[0]);
        for (k, model) in models.iter().enumerate().skip(1) {
            // Decays after 1, 2, 3 updates: min(0.5, 2/11), min(0.5, 3/12), min(0.5, 4/13).
            let d = (0.5f64).min((1.0 + k as f64) / (10.0 + k as f64)) as f32;
            for (e, &v) in expected.iter_mut().zip(&w[k]) {
                *e = d * *e + (1.0 - d) * v;
            }
            average.update(model);
        }
        let got = weights(average.model().unwrap());
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            assert!((g - e).abs() < 1e-6, "{g} vs {e}");
        }
        // The averaged model still runs.
        let input = Tensor::<3>::ones([1, 2, 6], &device);
        let mask = Tensor::<3>::ones([1, 2, 1], &device);
        let out = average.model().unwrap().forward(input, mask);
        assert_eq!(out.emotion.dims(), [1, 8]);
    }
}
