//! Helpers shared by the end-to-end tests in `tests/tests/`.
#![warn(missing_docs)]
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::PathBuf;
use std::sync::Arc;

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;
use bevy_voice_emotion::testing::MessageLogPlugin;
use bevy_voice_emotion::voice_emotion;
use voice_emotion::audio::load_clip;
use voice_emotion::engine::{BaseModel, EngineConfig, ModelSource};
use voice_emotion::model::InputExtractor;
use voice_emotion::player::adapt::{Adapter, PlayerModel, PlayerState};
use voice_emotion::player::profile::BaseModelRef;
use voice_emotion::training::dataset::RavdessName;

/// The RAVDESS directory from `RAVDESS_DIR`.
///
/// # Panics
/// Loudly, when it is unset or not a directory: these tests never pass without the data.
#[must_use]
pub fn ravdess_dir() -> PathBuf {
    let dir = std::env::var_os("RAVDESS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "RAVDESS_DIR is not set: this test needs the RAVDESS speech set \
             (CI sets RAVDESS_DIR=../shared/data/ravdess)"
            )
        });
    assert!(
        dir.join("Actor_01").is_dir(),
        "RAVDESS_DIR={} does not hold Actor_01/ ... Actor_24/",
        dir.display()
    );
    dir
}

/// A clip: its path, its labels and its 16 kHz samples, zero-padded to whole 10 ms frames.
#[derive(Debug, Clone)]
pub struct Clip {
    /// The file.
    pub path: PathBuf,
    /// Its labels.
    pub name: RavdessName,
    /// 16 kHz mono samples, padded with zeros to a multiple of 160.
    pub samples: Arc<Vec<f32>>,
}

/// `per_emotion` clips of each emotion spoken by `actor` (sorted by file name).
#[must_use]
pub fn clips(actor: u8, per_emotion: usize) -> Vec<Clip> {
    let dir = ravdess_dir().join(format!("Actor_{actor:02}"));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    paths.sort();
    let mut taken = [0usize; Emotion::COUNT];
    let mut out = Vec::new();
    for path in paths {
        let name = RavdessName::parse(&path).unwrap();
        if taken[name.emotion.index()] >= per_emotion {
            continue;
        }
        taken[name.emotion.index()] += 1;
        let mut samples = load_clip(&path).unwrap();
        samples.resize(samples.len().div_ceil(160) * 160, 0.0);
        out.push(Clip {
            path,
            name,
            samples: Arc::new(samples),
        });
    }
    out
}

/// The shipped base model as the plugin embeds it.
#[must_use]
pub fn base_model() -> BaseModel {
    BaseModel::load(
        &ModelSource::Embedded(bevy_voice_emotion::BASE_MODEL),
        &voice_emotion::model::default_device(),
    )
    .unwrap()
}

/// What profiles made by the plugin's default model record as their base.
#[must_use]
pub fn base_ref() -> BaseModelRef {
    BaseModelRef::of_bytes("base", bevy_voice_emotion::BASE_MODEL.weights)
}

/// The core's own view of a player, for comparison with the plugin: the same model and
/// adaptation settings as the engine's defaults.
pub struct Reference {
    /// The base model.
    pub base: BaseModel,
    /// The adapter built from it.
    pub adapter: Arc<Adapter>,
    /// The feature extractor.
    pub extractor: InputExtractor,
}

impl Default for Reference {
    fn default() -> Self {
        let base = base_model();
        let adapter = Arc::new(Adapter::new(
            &base.classifier,
            &base.anchors,
            EngineConfig::default().adapt,
        ));
        let extractor = InputExtractor::new(base.classifier.input_config().clone()).unwrap();
        Self {
            base,
            adapter,
            extractor,
        }
    }
}

impl Reference {
    /// A fresh player on the base weights.
    #[must_use]
    pub fn fresh_player(&self) -> PlayerModel {
        PlayerModel::new(Arc::clone(&self.adapter), PlayerState::default(), None)
    }
}

/// A headless app with the plugin, its message log, and `plugin`'s settings.
pub fn app(plugin: VoiceEmotionPlugin) -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(plugin)
        .add_plugins(MessageLogPlugin);
    app
}

/// Whether the engine has loaded the model and a player.
#[must_use]
pub fn ready(world: &World) -> bool {
    world.resource::<ActivePlayer>().id.is_some()
}
