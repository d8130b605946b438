//! `trainer evaluate`: a model on RAVDESS actors or a labelled manifest; prints the
//! classification report, the confusion matrix and last `accuracy: 0.xxxx`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use voice_emotion::audio::load_clip;
use voice_emotion::model::default_device;
use voice_emotion::model::{EmotionClassifier, NormStats, Prediction};
use voice_emotion::training::data::{Listening, SpeechCut, examples_in};
use voice_emotion::training::dataset::{Dataset, FOLDS, Sample, actors_of_fold};
use voice_emotion::training::degrade::{BabblePool, Condition};
use voice_emotion::training::{Evaluation, Example, Normaliser, ensemble};

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
    /// The model directory. Given more than once (`--model A --model B`), the ensemble of
    /// the models: each clip's emotion and intensity probabilities averaged over them (each
    /// model with its own temperature). The models must share one input pipeline.
    #[arg(long, required_unless_present = "folds", conflicts_with = "folds")]
    pub model: Vec<PathBuf>,
    /// Instead of `--model`: the output of `train --protocol cv`; each `foldK` model is
    /// evaluated on its own fold's actors (RAVDESS only; `--actors` is ignored) and the
    /// predictions of all folds are pooled into one report (more clips than one fold's, so
    /// a steadier calibration error).
    #[arg(long)]
    pub folds: Option<PathBuf>,
    /// The clips to evaluate on.
    #[command(flatten)]
    pub source: Source,
    /// Normalise with the training set's statistics only (a new player's first words),
    /// instead of each speaker's own statistics from their (unlabelled) clips.
    #[arg(long)]
    pub cold: bool,
    /// With `--cold`: the training set's statistics at the speaker's level, as the engine
    /// normalises a new player before it trusts their own statistics (`NormStats::gain_db_against`:
    /// a microphone's gain taken away, nothing else of the speaker's statistics used).
    /// `speaker`: the level of all the speaker's clips (a player after a few sentences);
    /// `utterance`: each clip's own.
    #[arg(long, requires = "cold")]
    pub level: Option<LevelScope>,
    /// Worker threads for feature extraction (default: every core).
    #[arg(long, default_value_t = super::all_cores())]
    pub threads: usize,
    /// Hear the test audio through a degraded condition first (`trainer robustness` lists
    /// them): clean, pink, babble, reverb, telephone, quiet-mic, clipping, 8khz, hum, music.
    #[arg(long, default_value = "clean")]
    pub condition: Condition,
    /// Seed of the condition's noise.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Cut each clip, once heard through `--condition`, to the speech the engine's detector
    /// finds in it, as the engine's model hears an utterance (`ClassifiedSpan::Speech`);
    /// clips in which it finds none are heard whole (and counted).
    #[arg(long)]
    pub speech_only: bool,
    /// With `--speech-only`: the speech-detection settings (JSON, a partial `VadConfig`: the
    /// fields it leaves out keep the engine's settings); the engine's settings if absent.
    #[arg(long, requires = "speech_only")]
    pub vad: Option<PathBuf>,
}

/// Clips for babble: up to `n` clips, spread evenly over the speakers *not* evaluated when
/// the source has others (RAVDESS), else over the evaluated ones (the babble never uses the
/// speaker's own voice either way).
///
/// # Errors
/// A clip that cannot be read.
pub fn babble_pool(
    source: &Source,
    evaluated: &[Sample],
    n: usize,
) -> Result<BabblePool, Box<dyn std::error::Error>> {
    let all = source.samples_of_all_actors(true)?;
    let others: Vec<&Sample> = all
        .iter()
        .filter(|s| !evaluated.iter().any(|e| e.speaker == s.speaker))
        .collect();
    let candidates: Vec<&Sample> = if others.is_empty() {
        evaluated.iter().collect()
    } else {
        others
    };
    let keep = n.min(candidates.len());
    (0..keep)
        .map(|k| {
            let s = candidates[(2 * k + 1) * candidates.len() / (2 * keep)];
            Ok((s.speaker.clone(), load_clip(&s.path)?))
        })
        .collect()
}

/// The examples of `samples` heard through `condition` (noise seeded by `seed`), each cut to
/// its detected speech with `speech`.
///
/// # Errors
/// A clip that cannot be read or degraded.
pub fn examples_under(
    samples: &[Sample],
    classifier: &EmotionClassifier,
    condition: Condition,
    pool: &BabblePool,
    seed: u64,
    threads: usize,
    speech: Option<&SpeechCut>,
) -> Result<Vec<Example>, Box<dyn std::error::Error>> {
    let listening = (condition != Condition::Clean || speech.is_some()).then_some(Listening {
        condition,
        pool,
        seed,
        speech,
    });
    Ok(examples_in(
        samples,
        classifier.input_config(),
        None,
        listening,
        threads,
        &|_| {},
    )?)
}

/// Evaluates `data` with each speaker's own statistics (fitted on the same, possibly
/// degraded, audio: a player's room is the same for all their speech) and cold.
#[must_use]
pub fn both_normalisations(
    classifier: &EmotionClassifier,
    data: &[Example],
) -> (Evaluation, Evaluation) {
    let speakers = Normaliser::fit(data, classifier.training_config().model.n_features).speakers;
    (
        classifier.evaluate(data, Some(&speakers)),
        classifier.evaluate(data, None),
    )
}

/// Parses `21-24` or `1,3,5-8` into actor numbers (1-24).
pub fn parse_actors(spec: &str) -> Result<Vec<u8>, String> {
    let actors = parse_numbers(spec, "--actors", "an actor", 1..=24)?;
    // Every number is at most 24.
    Ok(actors.into_iter().map(|a| a as u8).collect())
}

/// Parses a list of numbers and ranges (`1,3,5-8`) within `allowed`, sorted and without
/// repeats, for the command-line option `flag`; `what` names one number in errors (`an
/// actor`, `a fold`).
pub fn parse_numbers(
    spec: &str,
    flag: &str,
    what: &str,
    allowed: std::ops::RangeInclusive<usize>,
) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || {
            format!(
                "{flag}: '{part}' is not {what} number or range ({}-{})",
                allowed.start(),
                allowed.end()
            )
        };
        let number = |text: &str| text.trim().parse::<usize>().map_err(|_| bad());
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(part)?, number(part)?),
        };
        if !allowed.contains(&lo) || !allowed.contains(&hi) || lo > hi {
            return Err(bad());
        }
        out.extend(lo..=hi);
    }
    if out.is_empty() {
        let noun = what.rsplit(' ').next().unwrap_or(what);
        return Err(format!("{flag}: '{spec}' names no {noun}"));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The examples of `samples` through `--condition` (babble of clips of other speakers).
fn heard(
    args: &Args,
    samples: &[Sample],
    classifier: &EmotionClassifier,
) -> Result<Vec<Example>, Box<dyn std::error::Error>> {
    let pool = if args.condition == Condition::Babble {
        babble_pool(&args.source, samples, 32)?
    } else {
        BabblePool::new()
    };
    let cut = args
        .speech_only
        .then(|| super::read_vad(args.vad.as_deref()))
        .transpose()?
        .map(SpeechCut::with_vad)
        .transpose()?;
    let examples = examples_under(
        samples,
        classifier,
        args.condition,
        &pool,
        args.seed,
        args.threads,
        cut.as_ref(),
    )?;
    if let Some(cut) = &cut {
        println!(
            "speech found in {} of {} clips (the rest heard whole)",
            samples.len() - cut.missed(),
            samples.len()
        );
    }
    Ok(examples)
}

/// What `evaluate` reports on.
struct Evaluated {
    /// The clips.
    data: Vec<Example>,
    /// Their predictions, scored.
    evaluation: Evaluation,
    /// Speakers among the clips.
    speakers: usize,
    /// Each model's temperature.
    temperatures: Vec<f64>,
}

/// The pooled evaluation of the fold models in `dir`, each on its own fold's actors.
fn pooled_folds(args: &Args, dir: &Path) -> Result<Evaluated, Box<dyn std::error::Error>> {
    if args.source.data.is_none() {
        return Err("--folds evaluates each fold model on its RAVDESS actors: give --data".into());
    }
    let all = args.source.samples_of_all_actors(true)?;
    let (mut data, mut predictions, mut speakers, mut temperatures) =
        (Vec::new(), Vec::new(), 0usize, Vec::new());
    for k in 0..FOLDS {
        let fold = dir.join(format!("fold{k}"));
        let Some(actors) = actors_of_fold(k).filter(|_| fold.is_dir()) else {
            continue;
        };
        let classifier = EmotionClassifier::load(&fold, &default_device())?;
        let samples: Vec<Sample> = all
            .iter()
            .filter(|s| s.actor.is_some_and(|a| actors.contains(&a)))
            .cloned()
            .collect();
        let mut fold_data = heard(args, &samples, &classifier)?;
        let fold_speakers = own_speakers(args, &mut fold_data);
        let stats =
            Normaliser::fit(&fold_data, classifier.training_config().model.n_features).speakers;
        let levelled = level_stats(args, &classifier, &stats);
        let evaluation = classifier.evaluate(
            &fold_data,
            levelled.as_ref().or((!args.cold).then_some(&stats)),
        );
        println!(
            "{}: actors {}-{}, {} clips, accuracy {:.4}",
            fold.display(),
            actors.start(),
            actors.end(),
            fold_data.len(),
            evaluation.confusion.accuracy()
        );
        speakers += fold_speakers;
        temperatures.push(classifier.temperature());
        predictions.extend(evaluation.predictions);
        data.extend(fold_data);
    }
    if temperatures.is_empty() {
        return Err(format!(
            "no fold0 .. fold{} model folders in {}",
            FOLDS - 1,
            dir.display()
        )
        .into());
    }
    println!("pooled over {} folds:\n", temperatures.len());
    let evaluation = Evaluation::of(&data, predictions);
    Ok(Evaluated {
        data,
        evaluation,
        speakers,
        temperatures,
    })
}

/// Runs the subcommand.
pub fn run(args: &Args) -> CmdResult {
    let evaluated = match &args.folds {
        Some(dir) => pooled_folds(args, dir)?,
        None => one_model(args)?,
    };
    report(args, &evaluated);
    Ok(())
}

/// Where `--level` takes a speaker's level from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LevelScope {
    /// All the speaker's clips.
    Speaker,
    /// Each clip's own.
    Utterance,
}

/// With `--level utterance`, each clip its own speaker, so that its statistics are its own.
/// Returns how many speakers there were.
fn own_speakers(args: &Args, data: &mut [Example]) -> usize {
    let n = data
        .iter()
        .map(|e| e.speaker.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if args.level == Some(LevelScope::Utterance) {
        for (i, e) in data.iter_mut().enumerate() {
            e.speaker = format!("{} #{i}", e.speaker);
        }
    }
    n
}

/// With `--level`: per speaker, the training-set statistics moved to the speaker's level.
fn level_stats(
    args: &Args,
    classifier: &EmotionClassifier,
    speakers: &BTreeMap<String, NormStats>,
) -> Option<BTreeMap<String, NormStats>> {
    args.level?;
    let input = classifier.input_config();
    let global = classifier.global_stats();
    Some(
        speakers
            .iter()
            .map(|(name, s)| {
                let gain = s.gain_db_against(global, input).unwrap_or(0.0);
                (name.clone(), global.with_gain_db(input, gain))
            })
            .collect(),
    )
}

/// `--model` (one or an ensemble) on `--actors` or the manifest.
fn one_model(args: &Args) -> Result<Evaluated, Box<dyn std::error::Error>> {
    let classifiers = args
        .model
        .iter()
        .map(|dir| EmotionClassifier::load(dir, &default_device()))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(classifier) = classifiers.first() else {
        return Err("give at least one --model".into());
    };
    for (other, dir) in classifiers.iter().zip(&args.model).skip(1) {
        if other.input_config() != classifier.input_config() {
            return Err(format!(
                "{}: its input.json differs from {}'s: an ensemble needs one input pipeline",
                dir.display(),
                args.model[0].display()
            )
            .into());
        }
    }
    let mut data = heard(args, &args.source.samples()?, classifier)?;
    let n_speakers = own_speakers(args, &mut data);
    let speakers = Normaliser::fit(&data, classifier.training_config().model.n_features).speakers;
    let levelled = level_stats(args, classifier, &speakers);
    let stats = levelled.as_ref().or((!args.cold).then_some(&speakers));
    let evaluation = if classifiers.len() == 1 {
        classifier.evaluate(&data, stats)
    } else {
        let runs: Vec<Vec<Prediction>> = classifiers
            .iter()
            .zip(&args.model)
            .map(|(c, dir)| {
                let single = c.evaluate(&data, stats);
                println!(
                    "{}: accuracy {:.4}",
                    dir.display(),
                    single.confusion.accuracy()
                );
                single.predictions
            })
            .collect();
        println!("ensemble of {} models:\n", runs.len());
        Evaluation::of(&data, ensemble(&runs))
    };
    Ok(Evaluated {
        temperatures: classifiers
            .iter()
            .map(EmotionClassifier::temperature)
            .collect(),
        speakers: n_speakers,
        data,
        evaluation,
    })
}

/// Prints the report of `evaluation` on `data`, last `accuracy: 0.xxxx`.
fn report(args: &Args, evaluated: &Evaluated) {
    let Evaluated {
        data,
        evaluation,
        speakers: n_speakers,
        temperatures,
    } = evaluated;
    println!(
        "{} clips, {} speakers, condition: {} ({}), normalisation: {}\n",
        data.len(),
        n_speakers,
        args.condition,
        args.condition.description(),
        match (args.cold, args.level) {
            (true, None) => "cold (training-set statistics)",
            (true, Some(LevelScope::Speaker)) => {
                "cold at each speaker's level (training-set statistics, the level of all their clips)"
            }
            (true, Some(LevelScope::Utterance)) => {
                "cold at each clip's level (training-set statistics, the clip's own level)"
            }
            (false, _) => "each speaker's own statistics",
        }
    );
    print!("{}", evaluation.confusion.report());
    if data.iter().any(|e| e.intensity.is_some()) {
        println!("\nintensity accuracy: {:.4}", evaluation.intensity_accuracy);
    } else {
        println!("\nintensity accuracy: n/a (no clip has an intensity label)");
    }
    let family_right = evaluation
        .predictions
        .iter()
        .zip(data)
        .filter(|(p, e)| p.family().0 == e.emotion.family())
        .count();
    println!(
        "family accuracy: {:.4} (calm = neutral + calm, happy, sad, tense = angry + disgust, afraid, surprised)",
        family_right as f64 / data.len().max(1) as f64
    );
    let (class, share) = evaluation.confusion.largest_share();
    println!("largest class share: {share:.3} ({class})");
    let temperatures: Vec<String> = temperatures.iter().map(|t| format!("{t:.3}")).collect();
    println!(
        "ECE ({} bins): {:.4} (temperature {})",
        voice_emotion::training::metrics::ECE_BINS,
        evaluation.ece,
        temperatures.join(", ")
    );
    let confidences: Vec<f64> = evaluation
        .predictions
        .iter()
        .map(|p| f64::from(p.confidence))
        .collect();
    let (floor, floor_p90) = voice_emotion::training::metrics::calibrated_ece_floor(
        &confidences,
        voice_emotion::training::metrics::ECE_BINS,
        1000,
        1,
    );
    println!(
        "ECE a perfectly calibrated model would read on these {} clips with the same confidences: mean {floor:.4}, 90th percentile {floor_p90:.4}",
        confidences.len()
    );
    let bins = voice_emotion::training::metrics::reliability(
        evaluation
            .predictions
            .iter()
            .zip(data)
            .map(|(p, e)| (f64::from(p.confidence), p.emotion == e.emotion)),
        10,
    );
    let cells: Vec<String> = bins
        .iter()
        .filter(|b| b.count > 0)
        .map(|b| {
            format!(
                "{:.2} -> {:.2} ({})",
                b.mean_confidence, b.accuracy, b.count
            )
        })
        .collect();
    println!(
        "reliability (confidence -> accuracy (clips), 10 bins): {}",
        cells.join(", ")
    );
    println!("accuracy: {:.4}", evaluation.confusion.accuracy());
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
