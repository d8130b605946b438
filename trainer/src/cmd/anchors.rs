//! `trainer anchors`: picks the anchor set a model ships for per-player adaptation (base
//! training utterances: the prior of every player's voice head, `voice_emotion::player::voice`) and
//! writes it into the model directory.

use std::collections::BTreeMap;
use std::path::PathBuf;

use voice_emotion::model::NormStats;
use voice_emotion::training::Example;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use voice_emotion::labels::Emotion;
use voice_emotion::model::EmotionClassifier;
use voice_emotion::model::default_device;
use voice_emotion::model::normalised;
use voice_emotion::player::adapt::{ANCHORS_FILE, Anchor, AnchorSet};
use voice_emotion::player::profile::QuantisedMatrix;
use voice_emotion::training::Normaliser;
use voice_emotion::training::data::examples;
use voice_emotion::training::dataset::{Dataset, Split, load_manifests};

use super::CmdResult;
use super::evaluate::parse_actors;

/// Arguments of `trainer anchors`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["data", "manifest"])))]
pub struct Args {
    /// The model directory (the anchor file is written into it).
    #[arg(long)]
    pub model: PathBuf,
    /// The RAVDESS folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Actors to draw from: the model's training actors only.
    #[arg(long, default_value = "1-18", requires = "data")]
    pub actors: String,
    /// Instead of RAVDESS: the manifests of the model's training speakers (as given to
    /// `train --manifest`; `train` already writes anchors for a model it trains from
    /// manifests). Rows with split `test` or `calibrate` are left out; give only training
    /// speakers' rows otherwise, since a speaker the anchors come from is no longer unseen.
    #[arg(long, value_name = "FILE")]
    pub manifest: Vec<PathBuf>,
    /// Anchors per emotion.
    #[arg(long, default_value_t = 8)]
    pub per_class: usize,
    /// Seed of the choice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> CmdResult {
    let classifier = EmotionClassifier::load(&args.model, &default_device())?;
    let (pool, from): (Vec<_>, String) = match &args.data {
        Some(dir) => {
            let actors = parse_actors(&args.actors)?;
            let dataset = Dataset::from_ravdess_dir(dir)?;
            let pool = dataset
                .samples()
                .iter()
                .filter(|s| s.actor.is_some_and(|a| actors.contains(&a)))
                .cloned()
                .collect();
            (pool, format!("actors {}", args.actors))
        }
        None => {
            let pool: Vec<_> = load_manifests(&args.manifest)?
                .into_iter()
                .filter(|s| !matches!(s.split, Some(Split::Test | Split::Calibrate)))
                .collect();
            if pool.is_empty() {
                return Err(
                    "the manifests have no rows outside the test and calibrate splits".into(),
                );
            }
            (pool, format!("{} manifest(s)", args.manifest.len()))
        }
    };
    // Each speaker's statistics from all their clips, as in training.
    let all = examples(&pool, classifier.input_config(), None, 2, &|_| {})?;
    let stats = Normaliser::fit(&all, classifier.training_config().model.n_features).speakers;
    let refs: Vec<&Example> = all.iter().collect();
    let set = pick(&refs, &stats, args.per_class, args.seed);
    let path = args.model.join(ANCHORS_FILE);
    set.write(&path)?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "{}: {} anchors from {from}, {} bytes",
        path.display(),
        set.anchors.len(),
        size
    );
    Ok(())
}

/// `per_class` utterances of each emotion drawn from `examples` (seeded), each normalised
/// with its speaker's statistics from `stats`, as the model saw them in training.
pub fn pick(
    examples: &[&Example],
    stats: &BTreeMap<String, NormStats>,
    per_class: usize,
    seed: u64,
) -> AnchorSet {
    let mut by_class: BTreeMap<Emotion, Vec<usize>> = BTreeMap::new();
    for (i, e) in examples.iter().enumerate() {
        by_class.entry(e.emotion).or_default().push(i);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut set = AnchorSet::default();
    for idx in by_class.values_mut() {
        idx.shuffle(&mut rng);
        for &i in idx.iter().take(per_class) {
            let e = examples[i];
            let Some(s) = stats.get(&e.speaker) else {
                continue;
            };
            set.anchors.push(Anchor {
                input: QuantisedMatrix::encode(&normalised(&e.features, s)),
                emotion: e.emotion,
                intensity: e.intensity,
            });
        }
    }
    set
}
