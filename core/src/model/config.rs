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
    /// Softmax temperature of the emotion head, fitted after training on the validation
    /// speakers (temperature scaling) so that confidences match accuracies. `None` (models
    /// that predate it): 1, the raw softmax.
    pub temperature: Option<f64>,
}
