//! What classifies the detected utterances (`--model`, `--stats`).

use std::sync::Arc;

use voice_emotion::engine::{BaseModel, EngineConfig, ModelSource};
use voice_emotion::labels::Emotion;
use voice_emotion::model::{EmotionClassifier, InputExtractor, NormStats, default_device};
use voice_emotion::player::adapt::{Adapter, PlayerModel, PlayerState};

/// What classifies the detected utterances, with the statistics of `--stats`.
pub(super) enum Classifier {
    /// The training set's statistics, or (`speaker`) those of all the audio classified.
    Model {
        classifier: Box<EmotionClassifier>,
        speaker: bool,
    },
    /// The engine's path for a new player: its player model learns the voice statistics
    /// from each utterance after classifying it.
    Player {
        adapter: Arc<Adapter>,
        extractor: Box<InputExtractor>,
    },
}

impl Classifier {
    pub(super) fn load(
        dir: &std::path::Path,
        stats: &str,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let device = default_device();
        Ok(if stats == "player" {
            let base = BaseModel::load(&ModelSource::Directory(dir.to_path_buf()), &device)?;
            Self::Player {
                adapter: Arc::new(Adapter::new(
                    &base.classifier,
                    &base.anchors,
                    EngineConfig::default().adapt,
                )),
                extractor: Box::new(InputExtractor::new(base.classifier.input_config().clone())?),
            }
        } else {
            Self::Model {
                classifier: Box::new(EmotionClassifier::load(dir, &device)?),
                speaker: stats == "speaker",
            }
        })
    }

    /// The emotions of `audio` (16 kHz utterances, in the stream's order).
    pub(super) fn emotions(
        &mut self,
        audio: &[&[f32]],
    ) -> Result<Vec<Emotion>, Box<dyn std::error::Error>> {
        match self {
            Self::Model {
                classifier,
                speaker,
            } => {
                let features = audio
                    .iter()
                    .map(|a| classifier.features(a))
                    .collect::<Result<Vec<_>, _>>()?;
                let stats = speaker.then(|| {
                    let mut stats = NormStats::new(features.first().map_or(0, |f| f.n_features));
                    for f in &features {
                        stats.add(f);
                    }
                    stats
                });
                let inputs: Vec<_> = features.iter().collect();
                Ok(classifier
                    .classify_features(&inputs, stats.as_ref())
                    .into_iter()
                    .map(|p| p.emotion)
                    .collect())
            }
            Self::Player { adapter, extractor } => {
                let player = PlayerModel::new(Arc::clone(adapter), PlayerState::default(), None);
                audio
                    .iter()
                    .map(|a| {
                        let mfcc = extractor.mfcc(a)?;
                        let emotion = player.classify(&mfcc)?.emotion;
                        player.observe(&mfcc)?;
                        Ok(emotion)
                    })
                    .collect()
            }
        }
    }
}
