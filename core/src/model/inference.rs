//! Inference: a self-describing model directory and the classifier that loads it.
//!
//! A model directory holds the weights (`model.bpk`, burn's burnpack format), the training
//! configuration with the model's shape (`config.json`), the input pipeline (`input.json`) and
//! the training set's normalisation statistics (`norm.json`, the cold-start normalisation).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::{BurnpackStore, ModuleSnapshot, SafetensorsStore};

use crate::audio::AudioError;
use crate::features::{FeatureError, FeatureMatrix};
use crate::labels::{Emotion, EmotionFamily, Intensity};
use crate::model::fast::{SharedScratch, steps_of};
use crate::model::{EmotionModel, FastNetwork, FastNetworkError, Logits};
use crate::model::{InputConfig, InputExtractor, NormStats, TrainingConfig};

/// Weights file in a model directory.
pub const WEIGHTS_FILE: &str = "model.bpk";
/// Training configuration (with the model's shape).
pub const CONFIG_FILE: &str = "config.json";
/// Input pipeline configuration.
pub const INPUT_FILE: &str = "input.json";
/// Training-set normalisation statistics.
pub const NORM_FILE: &str = "norm.json";

/// Errors loading, saving or running a model. Each names the file or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file is malformed or does not match.
    #[error("{path} is not a valid model file: {reason}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// The weights could not be loaded or saved.
    #[error("model weights {path}: {reason}")]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// What burn reported.
        reason: String,
    },
    /// The normalisation statistics do not fit the model's input.
    #[error("{path}: statistics of {found} features, the model takes {expected}")]
    Shape {
        /// The statistics file.
        path: PathBuf,
        /// Features the model takes.
        expected: usize,
        /// Features in the file.
        found: usize,
    },
    /// Features could not be computed.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// Audio could not be read.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// The weights could not be copied into the fast inference path.
    #[error(transparent)]
    Fast(#[from] FastNetworkError),
}

/// The contents of a model directory's files (see [`EmotionClassifier::from_files`]).
#[derive(Debug, Clone, Copy)]
pub struct ModelFiles<'a> {
    /// [`CONFIG_FILE`].
    pub config: &'a [u8],
    /// [`INPUT_FILE`].
    pub input: &'a [u8],
    /// [`NORM_FILE`].
    pub norm: &'a [u8],
    /// [`WEIGHTS_FILE`].
    pub weights: &'a [u8],
}

/// One utterance's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The most likely emotion.
    pub emotion: Emotion,
    /// Its probability.
    pub confidence: f32,
    /// All 8 probabilities, in the order of [`Emotion::ALL`].
    pub probabilities: [f32; Emotion::COUNT],
    /// The more likely intensity.
    pub intensity: Intensity,
    /// Both intensity probabilities, in the order of [`Intensity::ALL`].
    pub intensity_probabilities: [f32; Intensity::COUNT],
}

impl Prediction {
    /// How much confirming this utterance would teach the player's model: its doubt,
    /// `1 - confidence` (0 when sure). Confirming the utterances the model is least sure of
    /// teaches most: `trainer adapt-eval --strategy uncertain` (`docs/adaptation.md`).
    #[must_use]
    pub fn teach_score(&self) -> f32 {
        (1.0 - self.confidence).clamp(0.0, 1.0)
    }

    /// Expected `(arousal, valence)` over the emotion probabilities, each in `[-1, 1]`
    /// ([`Emotion::arousal_valence`]): continuous values that move smoothly between classes.
    #[must_use]
    pub fn arousal_valence(&self) -> (f32, f32) {
        Emotion::ALL
            .iter()
            .zip(&self.probabilities)
            .fold((0.0, 0.0), |(a, v), (e, p)| {
                let (ea, ev) = e.arousal_valence();
                (a + p * ea, v + p * ev)
            })
    }

    /// The most likely [`EmotionFamily`] and its probability (the sum of its members').
    #[must_use]
    pub fn family(&self) -> (EmotionFamily, f32) {
        let p = EmotionFamily::probabilities(&self.probabilities);
        EmotionFamily::ALL
            .into_iter()
            .map(|f| (f, p[f.index()]))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((EmotionFamily::Calm, 0.0))
    }

    /// A prediction from emotion and intensity probabilities.
    #[must_use]
    pub fn from_probabilities(e: [f32; Emotion::COUNT], i: [f32; Intensity::COUNT]) -> Self {
        let best = (0..Emotion::COUNT)
            .max_by(|&a, &b| e[a].total_cmp(&e[b]))
            .unwrap_or(0);
        Self {
            emotion: Emotion::from_index(best).unwrap_or(Emotion::Neutral),
            confidence: e[best],
            probabilities: e,
            intensity: if i[1] > i[0] {
                Intensity::Strong
            } else {
                Intensity::Normal
            },
            intensity_probabilities: i,
        }
    }
}

/// A loaded model with its input pipeline and statistics.
///
/// Classification runs on [`FastNetwork`], a copy of the weights for plain `f32` arithmetic;
/// the burn model ([`EmotionClassifier::model`]) is the reference it is tested against.
#[derive(Debug)]
pub struct EmotionClassifier {
    model: EmotionModel,
    fast: FastNetwork,
    /// Reused by [`EmotionClassifier::classify_features`].
    scratch: SharedScratch,
    training: TrainingConfig,
    input: InputExtractor,
    norm: NormStats,
    device: Device,
}

fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, ModelError> {
    serde_json::from_slice(bytes).map_err(|e| ModelError::Json {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), ModelError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ModelError::Json {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl EmotionClassifier {
    /// Wraps a trained model.
    ///
    /// # Errors
    /// [`ModelError::Features`] for a bad input configuration, [`ModelError::Fast`] if the
    /// weights cannot be read back from burn.
    pub fn new(
        model: EmotionModel,
        training: TrainingConfig,
        input: InputConfig,
        norm: NormStats,
        device: Device,
    ) -> Result<Self, ModelError> {
        // A model trained on a GPU comes over to the classifier's device.
        let model = model.valid().to_device(&device);
        Ok(Self {
            fast: FastNetwork::from_model(&model)?,
            scratch: SharedScratch::default(),
            model,
            training,
            input: InputExtractor::new(input)?,
            norm,
            device,
        })
    }

    /// Loads a model directory onto `device`.
    ///
    /// # Errors
    /// A [`ModelError`] naming the missing or malformed file.
    pub fn load(dir: impl AsRef<Path>, device: &Device) -> Result<Self, ModelError> {
        let dir = dir.as_ref();
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| ModelError::Io { path, source })
        };
        let config = read(CONFIG_FILE)?;
        let input = read(INPUT_FILE)?;
        let norm = read(NORM_FILE)?;
        let weights = read(WEIGHTS_FILE)?;
        Self::from_files(
            dir,
            &ModelFiles {
                config: &config,
                input: &input,
                norm: &norm,
                weights: &weights,
            },
            device,
        )
    }

    /// A model from the contents of its directory's files (a model embedded in a game with
    /// `include_bytes!`). Errors name the files as if they were in `dir`.
    ///
    /// # Errors
    /// A [`ModelError`] naming the malformed file.
    pub fn from_files(
        dir: impl AsRef<Path>,
        files: &ModelFiles<'_>,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let dir = dir.as_ref();
        let training: TrainingConfig = parse_json(&dir.join(CONFIG_FILE), files.config)?;
        let input: InputConfig = parse_json(&dir.join(INPUT_FILE), files.input)?;
        let norm_path = dir.join(NORM_FILE);
        let norm: NormStats = parse_json(&norm_path, files.norm)?;
        if norm.n_features() != training.model.n_features
            || input.n_features() != training.model.n_features
        {
            return Err(ModelError::Shape {
                path: norm_path,
                expected: training.model.n_features,
                found: norm.n_features(),
            });
        }
        let weights = dir.join(WEIGHTS_FILE);
        let mut model = training.model.init(device);
        let mut store = BurnpackStore::from_bytes(Some(burn::tensor::Bytes::from_bytes_vec(
            files.weights.to_vec(),
        )));
        model
            .load_from(&mut store)
            .map_err(|e| ModelError::Weights {
                path: weights.clone(),
                reason: format!("{e:?}"),
            })?;
        Self::new(model, training, input, norm, device.clone())
    }

    /// Saves the model directory (creating `dir`).
    ///
    /// # Errors
    /// A [`ModelError`] naming the file that could not be written.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<(), ModelError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let weights = dir.join(WEIGHTS_FILE);
        let mut store = BurnpackStore::from_file(&weights).overwrite(true);
        self.model
            .save_into(&mut store)
            .map_err(|e| ModelError::Weights {
                path: weights,
                reason: format!("{e:?}"),
            })?;
        write_json(&dir.join(CONFIG_FILE), &self.training)?;
        write_json(&dir.join(INPUT_FILE), self.input.config())?;
        write_json(&dir.join(NORM_FILE), &self.norm)
    }

    /// Writes the weights to a safetensors file at `path` (what PyTorch and numpy read): every
    /// tensor under its burn name (`lstm_1.input.weight`, ...) in burn's layout, a linear
    /// layer being `y = x W + b` with `W` of shape `[inputs, outputs]`, an LSTM layer's gates
    /// in the order input, forget, output, cell (both written into the file's metadata).
    ///
    /// # Errors
    /// [`ModelError::Weights`] naming `path`.
    pub fn export_safetensors(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let path = path.as_ref();
        let mut store = SafetensorsStore::from_file(path)
            .overwrite(true)
            .metadata("layout", "y = x W + b, W [inputs, outputs]")
            .metadata("gate_order", "input, forget, output, cell");
        self.model
            .save_into(&mut store)
            .map_err(|e| ModelError::Weights {
                path: path.to_path_buf(),
                reason: format!("{e:?}"),
            })
    }

    /// The burn model (the reference implementation; classification runs on
    /// [`EmotionClassifier::fast_network`]).
    #[must_use]
    pub fn model(&self) -> &EmotionModel {
        &self.model
    }

    /// The same network as plain `f32` arithmetic, what classification runs on.
    #[must_use]
    pub fn fast_network(&self) -> &FastNetwork {
        &self.fast
    }

    /// The training configuration it was trained with.
    #[must_use]
    pub fn training_config(&self) -> &TrainingConfig {
        &self.training
    }

    /// The input pipeline's configuration.
    #[must_use]
    pub fn input_config(&self) -> &InputConfig {
        self.input.config()
    }

    /// The training set's statistics (cold-start normalisation).
    #[must_use]
    pub fn global_stats(&self) -> &NormStats {
        &self.norm
    }

    /// The device it runs on.
    #[must_use]
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Model input of a 16 kHz utterance, not normalised.
    ///
    /// # Errors
    /// [`ModelError::Features`] for an empty or non-finite signal.
    pub fn features(&mut self, signal: &[f32]) -> Result<FeatureMatrix, ModelError> {
        Ok(self.input.extract(signal)?)
    }

    /// Classifies unnormalised model inputs, normalising each with `stats` (a speaker's own)
    /// or, when `None`, the training set's. One utterance at a time through
    /// [`FastNetwork`]; after the first call nothing is allocated but the result (unless two
    /// threads classify with the same classifier at once: the second then uses fresh buffers).
    #[must_use]
    pub fn classify_features(
        &self,
        inputs: &[&FeatureMatrix],
        stats: Option<&NormStats>,
    ) -> Vec<Prediction> {
        let stats = stats
            .filter(|s| s.n_features() == self.norm.n_features() && s.count > 0)
            .unwrap_or(&self.norm);
        self.scratch.with(|scratch, normed| {
            inputs
                .iter()
                .map(|m| {
                    stats.apply_into(m, normed);
                    self.prediction(&self.fast.forward_into(steps_of(normed), scratch))
                })
                .collect()
        })
    }

    /// The prediction from the network's logits: the emotion logits divided by the model's
    /// temperature ([`EmotionClassifier::temperature`]) before their softmax, the intensity
    /// logits' plain softmax ([`Logits::probabilities`]).
    #[must_use]
    pub fn prediction(&self, logits: &Logits) -> Prediction {
        let (emotion, intensity) = logits.probabilities(self.temperature());
        Prediction::from_probabilities(emotion, intensity)
    }

    /// The emotion head's softmax temperature (the training config's, else 1).
    #[must_use]
    pub fn temperature(&self) -> f64 {
        self.training
            .temperature
            .filter(|t| t.is_finite() && *t > 0.0)
            .unwrap_or(1.0)
    }

    /// Sets the emotion head's softmax temperature (saved in `config.json`): what temperature
    /// scaling fits after training.
    pub fn set_temperature(&mut self, temperature: f64) {
        self.training.temperature = Some(temperature);
    }

    /// Classifies one 16 kHz utterance.
    ///
    /// # Errors
    /// [`ModelError::Features`] for an empty or non-finite signal.
    pub fn classify(
        &mut self,
        signal: &[f32],
        stats: Option<&NormStats>,
    ) -> Result<Prediction, ModelError> {
        let f = self.features(signal)?;
        self.classify_features(&[&f], stats)
            .pop()
            .ok_or(ModelError::Features(FeatureError::EmptySignal))
    }
}
