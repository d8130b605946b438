//! A model directory's `config.json`: the model's shape and the settings it was trained with.

use super::*;

/// Settings of a training run. Saved as `config.json` next to the weights.
#[derive(Config, Debug)]
pub struct TrainingConfig {
    /// The model's shape.
    pub model: EmotionModelConfig,
    /// Examples per optimisation step.
    #[config(default = 32)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Most epochs.
    #[config(default = 100)]
    pub max_epochs: usize,
    /// Stop after this many epochs without a better validation accuracy.
    #[config(default = 5)]
    pub patience: usize,
    /// Seed of initialisation, shuffling and augmentation.
    #[config(default = 42)]
    pub seed: u64,
    /// Weight of the intensity head's loss.
    #[config(default = 0.5)]
    pub intensity_weight: f32,
    /// Augmented copies of each training clip (noise, pitch, stretch, gain), never of
    /// validation or test clips.
    #[config(default = 1)]
    pub augment_copies: usize,
    /// Probability that a training example is normalised with its speaker's own statistics
    /// rather than the training set's, so the model works both cold and once it knows the
    /// speaker.
    #[config(default = 0.5)]
    pub speaker_norm_probability: f64,
    /// Batches drawn from one pool of shuffled examples sorted by length, so a batch holds
    /// utterances of similar length and little padding (1: plain shuffled batches, the
    /// default; 8 pads less, so epochs are faster: 9.3 s an epoch in one run here, against
    /// 17 to 18 s with 1 measured while other builds ran).
    #[config(default = 1)]
    pub length_pool: usize,
    /// Probability that an augmented copy also goes through a random room or microphone
    /// (noise, babble, reverb, band limits, a quiet microphone, clipping, a low sample rate;
    /// `training::degrade::RoomAugment`). `None` (configs that predate it): 0.
    pub room_probability: Option<f64>,
    /// Probability that an augmented copy is then heard through a narrow line: a telephone
    /// band or a microphone at 8 kHz, equally often (after the room, if any;
    /// `training::degrade::narrow_line`). `None` (the default, and configs that predate it):
    /// 0, and the copies are exactly those of a config without the field.
    pub band_probability: Option<f64>,
    /// SpecAugment-style masking of each training example's normalised input, drawn afresh
    /// every epoch ([`SpecAugmentConfig`]). `None` (the default, and configs that predate it):
    /// no masking.
    pub spec_augment: Option<SpecAugmentConfig>,
    /// Label smoothing of the emotion loss: the target puts `1 - ε` on the labelled emotion
    /// and spreads `ε` evenly over the emotions the clip's corpus labels. `None` (the
    /// default): 0, the plain cross-entropy.
    pub label_smoothing: Option<f32>,
    /// Per-step decay of an exponential moving average of the weights (e.g. 0.99; the
    /// decay is warmed up over the first steps): validation, the kept epoch and the saved
    /// model use the average rather than the last step's weights, which smooths out the last
    /// few batches' noise. `None` (the default): no average.
    pub weight_average: Option<f64>,
    /// Which validation figure picks the kept epoch and drives early stopping. `None` (the
    /// default, and configs that predate it): [`Selection::Accuracy`].
    pub selection: Option<Selection>,
    /// How the learning rate changes over the run ([`LrSchedule`]). `None` (the default, and
    /// configs that predate it): constant.
    pub lr_schedule: Option<LrSchedule>,
    /// Knowledge distillation ([`DistillationConfig`]): part of the emotion loss is the
    /// cross-entropy against teacher models' probabilities (`trainer train --teachers`),
    /// which carry what a larger ensemble learnt about how alike the emotions sound. `None`
    /// (the default): labels only.
    pub distillation: Option<DistillationConfig>,
    /// Mixup (Zhang et al., 2018): each batch's normalised inputs are mixed with those of a
    /// shuffled copy of the batch, `λ x + (1 − λ) x'` over `x`'s frames (`x'` cut to them or
    /// padded with zeros, the normalised mean), and the loss weighs both examples' labels likewise; `λ` is drawn
    /// per batch from Beta(α, α) with this α, and the larger of `λ` and `1 − λ` is kept. Not
    /// with [`distillation`](Self::distillation). `None` (the default, and configs that
    /// predate it): no mixing.
    pub mixup: Option<f64>,
    /// How the LSTM layers' gradients are computed ([`LstmPass`]). `None` (configs that
    /// predate it): [`LstmPass::Burn`].
    pub lstm_pass: Option<LstmPass>,
    /// Softmax temperature of the emotion head, fitted after training on the validation
    /// speakers (temperature scaling) so that confidences match accuracies. `None` (models
    /// that predate it): 1, the raw softmax.
    pub temperature: Option<f64>,
}

impl TrainingConfig {
    /// Checks the configuration against the input pipeline it will train on: the model's
    /// input width, the coefficients the masks assume, and the ranges of label smoothing and
    /// of the weights' average.
    ///
    /// # Errors
    /// [`TrainingConfigError`], naming the field and its value.
    pub fn check(&self, input: &InputConfig) -> Result<(), TrainingConfigError> {
        if self.model.n_features != input.n_features() {
            return Err(TrainingConfigError::InputWidth {
                config: self.model.n_features,
                input: input.n_features(),
            });
        }
        if let Some(masks) = &self.spec_augment
            && masks.coefficients != input.frame_width()
        {
            return Err(TrainingConfigError::MaskCoefficients {
                config: masks.coefficients,
                input: input.frame_width(),
            });
        }
        let check =
            |field: &'static str, value: Option<f64>, fits: fn(f64) -> bool, range| match value {
                Some(value) if !fits(value) => Err(TrainingConfigError::OutOfRange {
                    field,
                    value,
                    range,
                }),
                _ => Ok(()),
            };
        let below_one: fn(f64) -> bool = |v| (0.0..1.0).contains(&v);
        check(
            "label_smoothing",
            self.label_smoothing.map(f64::from),
            below_one,
            "[0, 1)",
        )?;
        check("weight_average", self.weight_average, below_one, "[0, 1)")?;
        check(
            "band_probability",
            self.band_probability,
            |v| (0.0..=1.0).contains(&v),
            "[0, 1]",
        )?;
        check(
            "mixup",
            self.mixup,
            |v| v > 0.0 && v.is_finite(),
            "(0, inf)",
        )?;
        if self.mixup.is_some() && self.distillation.is_some() {
            return Err(TrainingConfigError::Together {
                first: "mixup",
                second: "distillation",
            });
        }
        if let Some(d) = &self.distillation {
            check(
                "distillation.weight",
                Some(f64::from(d.weight)),
                |v| (0.0..=1.0).contains(&v),
                "[0, 1]",
            )?;
            check(
                "distillation.temperature",
                Some(f64::from(d.temperature)),
                |v| v > 0.0 && v.is_finite(),
                "(0, inf)",
            )?;
        }
        Ok(())
    }
}

/// A training configuration that does not fit its input pipeline, or a value out of range
/// ([`TrainingConfig::check`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainingConfigError {
    /// `model.n_features` differs from what the input pipeline gives.
    #[error("config: model.n_features = {config} but the input pipeline gives {input}")]
    InputWidth {
        /// The configuration's width.
        config: usize,
        /// The input pipeline's.
        input: usize,
    },
    /// `spec_augment.coefficients` differs from the input's values a frame
    /// ([`InputConfig::frame_width`]: `n_mfcc`, plus 2 with pitch features).
    #[error(
        "config: spec_augment.coefficients = {config} but the input has {input} coefficients a frame"
    )]
    MaskCoefficients {
        /// The configuration's coefficients.
        config: usize,
        /// The input's values a frame.
        input: usize,
    },
    /// A value outside its range.
    #[error("config: {field} = {value} is not in {range}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// Its value.
        value: f64,
        /// The values it may take, e.g. `[0, 1)`.
        range: &'static str,
    },
    /// Two settings that do not go together.
    #[error("config: {first} and {second} cannot be used together")]
    Together {
        /// The first setting.
        first: &'static str,
        /// The second.
        second: &'static str,
    },
}

/// SpecAugment-style masks over a training example's normalised model input (Park et al.,
/// 2019), where 0 is the training set's mean: runs of whole steps (time masks), and bands of
/// cepstral coefficients (coefficient masks), each band masked in the coefficients and their
/// deltas of every stacked frame. Widths are drawn uniformly from 0 to the most.
#[derive(Config, Debug, PartialEq)]
pub struct SpecAugmentConfig {
    /// Time masks per example.
    #[config(default = 2)]
    pub time_masks: usize,
    /// Most steps one time mask covers (a step is `stack` frames of 10 ms).
    #[config(default = 8)]
    pub max_time_width: usize,
    /// Coefficient masks per example.
    #[config(default = 2)]
    pub coefficient_masks: usize,
    /// Most coefficients one coefficient mask covers.
    #[config(default = 6)]
    pub max_coefficient_width: usize,
    /// Values per frame: the input's `n_mfcc`, plus 2 with pitch features
    /// ([`InputConfig::frame_width`]; the trainer checks it against `input.json`). Column `j`
    /// of a step is value `j % coefficients` of its frame (or that value's delta), so a band
    /// of masked coefficients masks their deltas too (and the pitch values when it reaches
    /// them).
    #[config(default = 40)]
    pub coefficients: usize,
}

/// Knowledge distillation from teacher models (Hinton et al., 2015): the emotion loss is
/// `(1 - weight)` times the loss against the labels plus `weight` times `temperature²` times
/// the cross-entropy between the teachers' probabilities and the network's, both softened by
/// `temperature` (teacher probabilities `p` become `p^(1/T)` renormalised over the classes the
/// clip's corpus labels). The intensity head learns from the labels only.
#[derive(Config, Debug, PartialEq)]
pub struct DistillationConfig {
    /// Share of the emotion loss that comes from the teachers, in `[0, 1]`.
    #[config(default = 0.5)]
    pub weight: f32,
    /// Softening temperature, above 0 (1: the teachers' probabilities as they are).
    #[config(default = 2.0)]
    pub temperature: f32,
}

/// Which validation figure picks the kept epoch ([`TrainingConfig::selection`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// The highest emotion accuracy, ties to the lower loss (the shipped recipe).
    #[default]
    Accuracy,
    /// The lowest emotion loss (negative log-likelihood): smoother than the accuracy of a
    /// few validation speakers, so one lucky epoch is less often the one kept.
    Loss,
    /// The last epoch: the run goes on to `max_epochs` (no early stopping), and the
    /// validation speakers choose nothing (with [`LrSchedule::Cosine`], the end of a planned
    /// run).
    Last,
}

/// A learning-rate schedule ([`TrainingConfig::lr_schedule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// Cosine decay from `learning_rate` at the first step to 0 after `max_epochs` epochs:
    /// `lr * (1 + cos(pi * step / steps)) / 2`.
    Cosine,
}

impl LrSchedule {
    /// The rate at optimisation step `step` (from 0) of `steps` in the run, from `base`.
    #[must_use]
    pub fn rate(self, base: f64, step: usize, steps: usize) -> f64 {
        match self {
            Self::Cosine => {
                let done = step as f64 / steps.max(1) as f64;
                base * 0.5 * (1.0 + (std::f64::consts::PI * done.min(1.0)).cos())
            }
        }
    }
}

/// How training computes the LSTM layers' forward and backward pass
/// ([`TrainingConfig::lstm_pass`]). Both give the same gradients to rounding (a test checks
/// them against each other); they draw the dropout between the layers from different random
/// streams, so runs with the same seed differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LstmPass {
    /// burn's autodiff over [`EmotionModel::forward`], data-parallel over the training
    /// devices (the shipped model was trained so).
    #[default]
    Burn,
    /// [`FastLstmTrainer`]: the fast path's kernels with their own backward pass, one part
    /// of each batch per training device (thread); burn keeps the dense layer, the heads, the
    /// losses and Adam. CPU only.
    Fast,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cosine_schedule_falls_from_the_base_rate_to_zero() {
        let rate = |step| LrSchedule::Cosine.rate(1e-3, step, 100);
        assert!((rate(0) - 1e-3).abs() < 1e-12);
        assert!((rate(50) - 5e-4).abs() < 1e-12);
        assert!(rate(100).abs() < 1e-12 && rate(150).abs() < 1e-12);
        assert!((1..=100).all(|s| rate(s) <= rate(s - 1)));
    }

    #[test]
    fn check_names_the_field_that_does_not_fit() {
        let input = InputConfig::default();
        let config = || TrainingConfig::new(EmotionModelConfig::new(input.n_features()));
        assert_eq!(config().check(&input), Ok(()));
        let mut wide = config();
        wide.model.n_features += 1;
        assert!(matches!(
            wide.check(&input),
            Err(TrainingConfigError::InputWidth { .. })
        ));
        let mut masks = config();
        masks.spec_augment = Some(SpecAugmentConfig::new().with_coefficients(13));
        assert_eq!(
            masks.check(&input),
            Err(TrainingConfigError::MaskCoefficients {
                config: 13,
                input: input.frame_width()
            })
        );
        let mut smooth = config();
        smooth.label_smoothing = Some(1.0);
        let err = smooth.check(&input).unwrap_err();
        assert!(err.to_string().contains("label_smoothing = 1"), "{err}");
        let mut average = config();
        average.weight_average = Some(-0.5);
        assert_eq!(
            average.check(&input),
            Err(TrainingConfigError::OutOfRange {
                field: "weight_average",
                value: -0.5,
                range: "[0, 1)"
            })
        );
        let mut band = config();
        band.band_probability = Some(1.5);
        assert_eq!(
            band.check(&input),
            Err(TrainingConfigError::OutOfRange {
                field: "band_probability",
                value: 1.5,
                range: "[0, 1]"
            })
        );
        band.band_probability = Some(1.0);
        assert_eq!(band.check(&input), Ok(()));
        let mut mixup = config();
        mixup.mixup = Some(0.0);
        assert_eq!(
            mixup.check(&input),
            Err(TrainingConfigError::OutOfRange {
                field: "mixup",
                value: 0.0,
                range: "(0, inf)"
            })
        );
        mixup.mixup = Some(0.4);
        assert_eq!(mixup.check(&input), Ok(()));
        mixup.distillation = Some(DistillationConfig::new());
        let err = mixup.check(&input).unwrap_err();
        assert!(err.to_string().contains("mixup and distillation"), "{err}");
        let mut teachers = config();
        teachers.distillation = Some(DistillationConfig::new().with_weight(1.0));
        assert_eq!(teachers.check(&input), Ok(()));
        teachers.distillation = Some(DistillationConfig::new().with_temperature(0.0));
        let err = teachers.check(&input).unwrap_err();
        assert!(
            err.to_string()
                .contains("distillation.temperature = 0 is not in (0, inf)"),
            "{err}"
        );
        teachers.distillation = Some(DistillationConfig::new().with_weight(1.5));
        assert!(matches!(
            teachers.check(&input),
            Err(TrainingConfigError::OutOfRange {
                field: "distillation.weight",
                ..
            })
        ));
    }
}
