//! The anchor set: training utterances of the base model's speakers, the voice heads' prior.

use super::*;

/// An anchor utterance: a base training example, already normalised model input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anchor {
    /// Normalised model input, `steps x n_features`, 8 bits a value.
    pub input: QuantisedMatrix,
    /// Emotion label.
    pub emotion: Emotion,
    /// Intensity label.
    pub intensity: Option<Intensity>,
}

/// The shipped anchor set ([`ANCHORS_FILE`] in a model directory, written by
/// `trainer anchors`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnchorSet {
    /// The anchors.
    pub anchors: Vec<Anchor>,
}

/// Anchor file in a model directory.
pub const ANCHORS_FILE: &str = "anchors.bin";

impl AnchorSet {
    /// Reads `path` (bincode).
    ///
    /// # Errors
    /// [`AdaptError::Anchors`] naming the file.
    pub fn read(path: &std::path::Path) -> Result<Self, AdaptError> {
        let bytes = std::fs::read(path).map_err(|e| AdaptError::Anchors {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::from_bytes(&bytes).map_err(|reason| AdaptError::Anchors {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Decodes an anchor set.
    ///
    /// # Errors
    /// The decoder's message.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        bincode::serde::decode_from_slice(bytes, bincode::config::standard())
            .map(|(set, _)| set)
            .map_err(|e| e.to_string())
    }

    /// Writes `path` (bincode).
    ///
    /// # Errors
    /// [`AdaptError::Anchors`] naming the file.
    pub fn write(&self, path: &std::path::Path) -> Result<(), AdaptError> {
        let err = |reason: String| AdaptError::Anchors {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = bincode::serde::encode_to_vec(self, bincode::config::standard())
            .map_err(|e| err(e.to_string()))?;
        std::fs::write(path, bytes).map_err(|e| err(e.to_string()))
    }
}
