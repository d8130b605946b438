//! `trainer evaluate`: a model on RAVDESS actors or a labelled manifest; prints the
//! classification report, the confusion matrix and last `accuracy: 0.xxxx`.

use std::path::PathBuf;

use voice_emotion::model::EmotionClassifier;
use voice_emotion::model::default_device;
use voice_emotion::training::Normaliser;
use voice_emotion::training::data::examples;
use voice_emotion::training::dataset::{Dataset, Sample};

use super::CmdResult;

/// Where labelled clips come from: RAVDESS actors or a manifest (shared by the subcommands
/// that evaluate).
#[derive(Debug, clap::Args)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["data", "manifest"])))]
pub struct Source {
    /// A RAVDESS folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// RAVDESS actors, e.g. `21-24` or `1,3,5-8`.
    #[arg(long, default_value = "21-24", requires = "data")]
    pub actors: String,
    /// A labelled manifest (TSV: path, emotion, speaker, ...).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
}

impl Source {
    /// The samples the selection names.
    ///
    /// # Errors
    /// A bad actor list, or a folder or manifest that cannot be read.
    pub fn samples(&self) -> Result<Vec<Sample>, Box<dyn std::error::Error>> {
        self.samples_of_all_actors(false)
    }

    /// [`Source::samples`], or with `all_actors` every RAVDESS actor whatever `--actors` says.
    ///
    /// # Errors
    /// As [`Source::samples`].
    pub fn samples_of_all_actors(
        &self,
        all_actors: bool,
    ) -> Result<Vec<Sample>, Box<dyn std::error::Error>> {
        match (&self.data, &self.manifest) {
            (Some(dir), _) => {
                let actors = if all_actors {
                    (1..=24).collect()
                } else {
                    parse_actors(&self.actors)?
                };
                let dataset = Dataset::from_ravdess_dir(dir)?;
                Ok(dataset
                    .samples()
                    .iter()
                    .filter(|s| s.actor.is_some_and(|a| actors.contains(&a)))
                    .cloned()
                    .collect())
            }
            (None, Some(m)) => Ok(Dataset::from_manifest(m)?.into_samples()),
            (None, None) => Err("give --data or --manifest".into()),
        }
    }
}

/// Arguments of `trainer evaluate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// The clips to evaluate on.
    #[command(flatten)]
    pub source: Source,
    /// Normalise with the training set's statistics only (a new player's first words),
    /// instead of each speaker's own statistics from their (unlabelled) clips.
    #[arg(long)]
    pub cold: bool,
    /// Worker threads for feature extraction.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

/// Parses `21-24` or `1,3,5-8` into actor numbers (1-24).
pub fn parse_actors(spec: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("--actors: '{part}' is not an actor number or range (1-24)");
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<u8>().map_err(|_| bad())?,
                b.trim().parse::<u8>().map_err(|_| bad())?,
            ),
            None => {
                let a = part.parse::<u8>().map_err(|_| bad())?;
                (a, a)
            }
        };
        if lo == 0 || hi > 24 || lo > hi {
            return Err(bad());
        }
        out.extend(lo..=hi);
    }
    if out.is_empty() {
        return Err(format!("--actors: '{spec}' names no actor"));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Runs the subcommand.
pub fn run(args: &Args) -> CmdResult {
    let classifier = EmotionClassifier::load(&args.model, &default_device())?;
    let samples = args.source.samples()?;
    let data = examples(
        &samples,
        classifier.input_config(),
        None,
        args.threads,
        &|_| {},
    )?;
    let speakers = Normaliser::fit(&data, classifier.training_config().model.n_features).speakers;
    let evaluation = classifier.evaluate(&data, (!args.cold).then_some(&speakers));
    println!(
        "{} clips, {} speakers, normalisation: {}\n",
        data.len(),
        speakers.len(),
        if args.cold {
            "cold (training-set statistics)"
        } else {
            "each speaker's own statistics"
        }
    );
    print!("{}", evaluation.confusion.report());
    if data.iter().any(|e| e.intensity.is_some()) {
        println!("\nintensity accuracy: {:.4}", evaluation.intensity_accuracy);
    } else {
        println!("\nintensity accuracy: n/a (no clip has an intensity label)");
    }
    println!("accuracy: {:.4}", evaluation.confusion.accuracy());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_actors;

    #[test]
    fn actor_ranges() {
        assert_eq!(parse_actors("21-24").unwrap(), vec![21, 22, 23, 24]);
        assert_eq!(parse_actors("1,3, 5-6,3").unwrap(), vec![1, 3, 5, 6]);
        for bad in ["0", "25", "4-2", "x", "", "1-"] {
            assert!(parse_actors(bad).is_err(), "{bad}");
        }
    }
}
