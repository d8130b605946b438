//! The base model: compiled in or read from a folder, loaded once per engine.

use super::*;

/// A model directory's files compiled into the game (`include_bytes!`).
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedModel {
    /// A name for profiles and logs.
    pub name: &'static str,
    /// `config.json`.
    pub config: &'static [u8],
    /// `input.json`.
    pub input: &'static [u8],
    /// `norm.json`.
    pub norm: &'static [u8],
    /// `model.bpk`.
    pub weights: &'static [u8],
    /// `anchors.bin`.
    pub anchors: &'static [u8],
}

/// Where the base model comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// Compiled into the program.
    Embedded(EmbeddedModel),
    /// A model directory written by `trainer train` (and `trainer anchors`).
    Directory(PathBuf),
}

/// A loaded base model with what adaptation needs.
#[derive(Debug)]
pub struct BaseModel {
    /// The classifier.
    pub classifier: EmotionClassifier,
    /// The anchor set replayed by adaptation.
    pub anchors: AnchorSet,
    /// What player profiles record as their base.
    pub reference: BaseModelRef,
}

impl BaseModel {
    /// Loads a base model onto `device`.
    ///
    /// # Errors
    /// [`EngineError::Model`] or [`EngineError::Adapt`] naming the file at fault.
    pub fn load(source: &ModelSource, device: &Device) -> Result<Self, EngineError> {
        match source {
            ModelSource::Embedded(m) => {
                let dir = PathBuf::from(format!("<embedded model {}>", m.name));
                let classifier = EmotionClassifier::from_files(
                    &dir,
                    &ModelFiles {
                        config: m.config,
                        input: m.input,
                        norm: m.norm,
                        weights: m.weights,
                    },
                    device,
                )?;
                let anchors =
                    AnchorSet::from_bytes(m.anchors).map_err(|reason| AdaptError::Anchors {
                        path: dir.join(crate::player::adapt::ANCHORS_FILE),
                        reason,
                    })?;
                Ok(Self {
                    classifier,
                    anchors,
                    reference: BaseModelRef::of_bytes(m.name, m.weights),
                })
            }
            ModelSource::Directory(dir) => {
                let classifier = EmotionClassifier::load(dir, device)?;
                let anchors = AnchorSet::read(&dir.join(crate::player::adapt::ANCHORS_FILE))?;
                let name = dir
                    .file_name()
                    .map_or_else(|| "model".to_owned(), |n| n.to_string_lossy().into_owned());
                let reference = BaseModelRef::of_file(name, dir.join(crate::model::WEIGHTS_FILE))?;
                Ok(Self {
                    classifier,
                    anchors,
                    reference,
                })
            }
        }
    }
}
