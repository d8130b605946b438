//! `trainer adapt-eval`: each speaker as a new player, through the same confirm API the game
//! uses: calibration clips confirmed one by one (taking the emotions in turn, as a calibration
//! screen does), then accuracy on the speaker's test clips after each, printed as a learning
//! curve. `--condition` puts the player in a room: the same degradation of `evaluate` applies
//! to their calibration and test audio alike.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use voice_emotion::audio::{SAMPLE_RATE, declip, dehum, load_clip};
use voice_emotion::features::FeatureMatrix;
use voice_emotion::labels::{Emotion, Intensity};
use voice_emotion::model::default_device;
use voice_emotion::model::{EmotionClassifier, Prediction};
use voice_emotion::model::{InputExtractor, NormStats};
use voice_emotion::player::adapt::{
    ANCHORS_FILE, AdaptConfig, Adapter, AnchorSet, PlayerHeads, PlayerModel, PlayerState,
    calibration_order,
};
use voice_emotion::training::dataset::{FOLDS, RavdessName, Sample, Split, actors_of_fold};
use voice_emotion::training::degrade::{BabblePool, Condition};
use voice_emotion::training::upper::UpperTuning;

use super::CmdResult;
use super::adapt_copy::{AnchorStates, CopyOutcome};
use super::evaluate::{Source, babble_pool};

/// Arguments of `trainer adapt-eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The base model directory (with `anchors.bin`, the voice heads' prior).
    #[arg(long, required_unless_present = "folds", conflicts_with = "folds")]
    pub model: Option<PathBuf>,
    /// Instead of one model: the folder of a `train --protocol cv` run. Each `foldK` model in
    /// it adapts to the actors of fold K, whom it never heard (RAVDESS only; `--actors` is
    /// not used).
    #[arg(long, requires = "data")]
    pub folds: Option<PathBuf>,
    /// The speakers. RAVDESS: calibration = statement 01 repetition 01 (15 clips per actor;
    /// with `--calibrate 30` both repetitions), test = statement 02 (30 clips). A manifest: calibration = rows with split `calibrate`
    /// (or `train`), test = rows with split `test`; or see `--per-class`.
    #[command(flatten)]
    pub source: Source,
    /// With a manifest: the first K clips of each emotion of each speaker calibrate, the
    /// rest test (instead of the split column).
    #[arg(long, requires = "manifest")]
    pub per_class: Option<usize>,
    /// RAVDESS: calibration clips per actor, 15 (statement 01, repetition 01) or 30
    /// (statement 01, both repetitions).
    #[arg(long, default_value_t = 15, value_parser = calibration_count)]
    pub calibrate: usize,
    /// Which utterances the player confirms: `turns` (the calibration set, each emotion in
    /// turn, as a calibration screen asks), or from a pool of statement 01's two repetitions
    /// (30 clips a speaker): `uncertain` (each time the one the player's model is least sure
    /// of), `random`, `screen-then-uncertain` (`--screen` in turns, then the least sure), or
    /// `all` (the whole pool, in turns).
    #[arg(long, value_enum, default_value_t = Strategy::Turns)]
    pub strategy: Strategy,
    /// With `uncertain`, `random` or `screen-then-uncertain`: how many the player confirms.
    #[arg(long, default_value_t = 15)]
    pub confirm: usize,
    /// With `screen-then-uncertain`: how many of them a calibration screen asks first, in
    /// turns (8: one of each emotion).
    #[arg(long, default_value_t = 8)]
    pub screen: usize,
    /// Emotions the player never confirms (comma-separated names, e.g. `calm,surprised`):
    /// dropped from the calibration clips, kept in the test clips, so the output also shows
    /// what adaptation does to the emotions a player never uses.
    #[arg(long, value_delimiter = ',')]
    pub unused: Vec<Emotion>,
    /// The player's room and microphone (`evaluate --condition`), applied to calibration and
    /// test audio alike.
    #[arg(long, default_value = "clean")]
    pub condition: Condition,
    /// Seed of the condition's noise.
    #[arg(long, default_value_t = 7)]
    pub condition_seed: u64,
    /// Fraction of calibration labels replaced by a wrong emotion (poisoning), e.g. 0.2.
    #[arg(long, default_value_t = 0.0)]
    pub wrong_labels: f64,
    /// Seed of the wrong-label choice (and of `--fine-tune`'s dropout).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// An adaptation configuration (JSON); defaults otherwise.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Also measure the player's own weight copy: after the last confirmation, the network's
    /// dense layer and heads fine-tuned on the player's samples with the anchors replayed
    /// (`voice_emotion::training::upper`), fused with the voice head, guarded like it.
    #[arg(long)]
    pub fine_tune: bool,
    /// `--fine-tune`: Adam steps.
    #[arg(long, default_value_t = UpperTuning::default().steps)]
    pub tune_steps: usize,
    /// `--fine-tune`: Adam learning rate.
    #[arg(long, default_value_t = UpperTuning::default().learning_rate)]
    pub tune_rate: f64,
    /// `--fine-tune`: total weight of the anchors against the player's samples.
    #[arg(long, default_value_t = UpperTuning::default().anchor_weight)]
    pub tune_anchors: f32,
    /// Where to write the learning-curve chart (PNG).
    #[arg(long, default_value = "adapt-eval.png")]
    pub plot: PathBuf,
}

/// How a simulated player picks the utterances they confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// The calibration set, each emotion in turn.
    Turns,
    /// From the pool, the utterance the player's current model is least sure of.
    Uncertain,
    /// From the pool, at random (`--seed`).
    Random,
    /// From the pool, first `--screen` in turns (a calibration screen), then each time the
    /// one the player's model is least sure of (asked in play).
    ScreenThenUncertain,
    /// The whole pool, each emotion in turn.
    All,
}

/// One speaker's clips.
struct Speaker {
    name: String,
    calibration: Vec<(FeatureMatrix, Sample)>,
    test: Vec<(FeatureMatrix, Sample)>,
}

fn repetition(sample: &Sample) -> Option<u8> {
    RavdessName::parse(&sample.path).ok().map(|n| n.repetition)
}

/// Each speaker's calibration and test clips as MFCC frames from the model's own front end.
fn speakers(
    args: &Args,
    samples: Vec<Sample>,
    extractor: &mut InputExtractor,
    pool: &BabblePool,
) -> Result<Vec<Speaker>, Box<dyn std::error::Error>> {
    let mut by_speaker: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for s in samples {
        by_speaker.entry(s.speaker.clone()).or_default().push(s);
    }
    let mut out = Vec::new();
    for (name, clips) in by_speaker {
        let (calibration, test): (Vec<Sample>, Vec<Sample>) = if args.source.data.is_some() {
            let both = args.calibrate == 30 || args.strategy != Strategy::Turns;
            let cal = |s: &Sample| s.statement == Some(1) && (both || repetition(s) == Some(1));
            let (c, rest): (Vec<Sample>, Vec<Sample>) = clips.into_iter().partition(cal);
            (
                c,
                rest.into_iter()
                    .filter(|s| s.statement == Some(2))
                    .collect(),
            )
        } else if let Some(k) = args.per_class {
            let mut taken: BTreeMap<Emotion, usize> = BTreeMap::new();
            clips.into_iter().partition(|s| {
                let n = taken.entry(s.emotion).or_default();
                *n += 1;
                *n <= k
            })
        } else {
            let (c, rest): (Vec<Sample>, Vec<Sample>) = clips
                .into_iter()
                .partition(|s| matches!(s.split, Some(Split::Calibrate | Split::Train)));
            (
                c,
                rest.into_iter()
                    .filter(|s| s.split == Some(Split::Test))
                    .collect(),
            )
        };
        let calibration: Vec<Sample> = calibration
            .into_iter()
            .filter(|s| !args.unused.contains(&s.emotion))
            .collect();
        let calibration = in_turns(calibration);
        if calibration.is_empty() || test.is_empty() {
            eprintln!(
                "{name}: skipped ({} calibration, {} test clips)",
                calibration.len(),
                test.len()
            );
            continue;
        }
        out.push((name, calibration, test));
    }
    let mut speakers = Vec::new();
    let mut clip_no = 0u64;
    for (name, calibration, test) in out {
        let mut mfcc = |s: Sample| -> Result<(FeatureMatrix, Sample), Box<dyn std::error::Error>> {
            let mut signal = load_clip(&s.path)?;
            if args.condition != Condition::Clean {
                clip_no += 1;
                let seed = args
                    .condition_seed
                    .wrapping_mul(1_000_003)
                    .wrapping_add(clip_no);
                signal = args
                    .condition
                    .apply(&signal, SAMPLE_RATE, &s.speaker, pool, seed)
                    .map_err(|e| format!("{}: {e}", s.path.display()))?;
                // As the engine hears it: clipped samples restored, a hum removed.
                signal = dehum(&declip(&signal, SAMPLE_RATE).0, SAMPLE_RATE).0;
            }
            Ok((extractor.mfcc(&signal)?, s))
        };
        let calibration = calibration
            .into_iter()
            .map(&mut mfcc)
            .collect::<Result<Vec<_>, _>>()?;
        let test = test
            .into_iter()
            .map(&mut mfcc)
            .collect::<Result<Vec<_>, _>>()?;
        speakers.push(Speaker {
            name,
            calibration,
            test,
        });
    }
    Ok(speakers)
}

/// `--calibrate`: 15 or 30.
fn calibration_count(s: &str) -> Result<usize, String> {
    match s.trim() {
        "15" => Ok(15),
        "30" => Ok(30),
        other => Err(format!("{other:?} is not 15 or 30")),
    }
}

/// The calibration screen's order ([`calibration_order`]), clips of the same emotion and
/// intensity by file name (a manifest's clip without an intensity counts as normal).
fn in_turns(mut clips: Vec<Sample>) -> Vec<Sample> {
    clips.sort_by(|a, b| a.path.cmp(&b.path));
    calibration_order(clips, |s| {
        (s.emotion, s.intensity.unwrap_or(Intensity::Normal))
    })
}

/// The confirmation counts the learning-curve table shows.
const CURVE_POINTS: [usize; 6] = [1, 2, 4, 8, 15, 30];

/// Prints accuracy after 0 (base), 1, 2, 4, 8, 15 and 30 confirmations (those there are) per
/// speaker and their mean, then the largest fall of the mean from one confirmation to the next.
fn print_learning_curve(curves: &[(String, Vec<f64>)]) {
    let len = curves.iter().map(|(_, c)| c.len()).min().unwrap_or(0);
    let points: Vec<usize> = std::iter::once(0)
        .chain(CURVE_POINTS.into_iter().filter(|&k| k < len))
        .collect();
    let mut header = format!("{:<12}", "confirmed");
    for k in &points {
        header.push_str(&format!(
            " {:>6}",
            if *k == 0 {
                "base".to_owned()
            } else {
                k.to_string()
            }
        ));
    }
    println!("\nlearning curve: accuracy after k confirmations\n{header}");
    for (name, curve) in curves {
        let mut line = format!("{name:<12}");
        for &k in &points {
            line.push_str(&format!(" {:>6.3}", curve[k]));
        }
        println!("{line}");
    }
    let mean: Vec<f64> = (0..len)
        .map(|i| curves.iter().map(|(_, c)| c[i]).sum::<f64>() / curves.len().max(1) as f64)
        .collect();
    let mut line = format!("{:<12}", "mean");
    for &k in &points {
        line.push_str(&format!(" {:>6.3}", mean[k]));
    }
    println!("{line}");
    let dip = (1..len)
        .map(|k| (mean[k - 1] - mean[k], k))
        .fold((0.0f64, 0usize), |a, b| if b.0 > a.0 { b } else { a });
    if dip.1 > 0 {
        println!(
            "largest fall of the mean: {:.1} points (after {} confirmations)",
            dip.0 * 100.0,
            dip.1
        );
    } else {
        println!("largest fall of the mean: none");
    }
    if let Some((k, low)) = lowest_after_base(&mean) {
        println!(
            "lowest mean after a confirmation: {low:.3} (after {k}), {:+.1} points from the base",
            (low - mean[0]) * 100.0
        );
    }
}

/// The lowest point of a learning curve after the base (`curve[0]`), with its confirmation
/// count: whether adaptation ever left the player worse off than the base network.
fn lowest_after_base(curve: &[f64]) -> Option<(usize, f64)> {
    curve
        .iter()
        .copied()
        .enumerate()
        .skip(1)
        .fold(None, |low: Option<(usize, f64)>, (k, a)| match low {
            Some((_, l)) if l <= a => low,
            _ => Some((k, a)),
        })
}

/// Accuracy of `heads` and `stats` on `test`: over the 8 emotions, and over their families.
fn accuracies(
    adapter: &Adapter,
    heads: &PlayerHeads,
    stats: &NormStats,
    test: &[(FeatureMatrix, Sample)],
) -> (f64, f64) {
    let mfcc: Vec<&FeatureMatrix> = test.iter().map(|(m, _)| m).collect();
    let predictions = adapter.classify(heads, &mfcc, stats);
    let (mut hits, mut family_hits) = (0usize, 0usize);
    for (p, (_, s)) in predictions.iter().zip(test) {
        hits += usize::from(p.emotion == s.emotion);
        family_hits += usize::from(p.family().0 == s.emotion.family());
    }
    let n = test.len().max(1) as f64;
    (hits as f64 / n, family_hits as f64 / n)
}

/// With `--unused`: over the test clips of the unused emotions, how many are recognised, and
/// over all test clips, how many are predicted as an unused emotion (counts).
fn unused_counts(
    adapter: &Adapter,
    heads: &PlayerHeads,
    stats: &NormStats,
    test: &[(FeatureMatrix, Sample)],
    unused: &[Emotion],
) -> (usize, usize, usize) {
    let mfcc: Vec<&FeatureMatrix> = test.iter().map(|(m, _)| m).collect();
    let predictions = adapter.classify(heads, &mfcc, stats);
    let (mut clips, mut hits, mut predicted) = (0, 0, 0);
    for (p, (_, s)) in predictions.iter().zip(test) {
        if unused.contains(&s.emotion) {
            clips += 1;
            hits += usize::from(p.emotion == s.emotion);
        }
        predicted += usize::from(unused.contains(&p.emotion));
    }
    (clips, hits, predicted)
}

/// Accuracy over the 8 emotions of `heads` and `stats` on `test`.
fn accuracy(
    adapter: &Adapter,
    heads: &PlayerHeads,
    stats: &NormStats,
    test: &[(FeatureMatrix, Sample)],
) -> f64 {
    accuracies(adapter, heads, stats, test).0
}

/// Runs the subcommand.
pub fn run(args: &Args) -> CmdResult {
    if !(0.0..=1.0).contains(&args.wrong_labels) {
        return Err(format!(
            "--wrong-labels {} is not a fraction between 0 and 1",
            args.wrong_labels
        )
        .into());
    }
    let config = match &args.config {
        Some(path) => read_config(path)?,
        None => AdaptConfig::new(),
    };
    // (model directory, the actors it adapts to: `None` for those `--actors` names).
    let jobs: Vec<(PathBuf, Option<Vec<u8>>)> = match (&args.model, &args.folds) {
        (Some(model), _) => vec![(model.clone(), None)],
        (None, Some(dir)) => (0..FOLDS)
            .filter_map(|k| {
                let fold = dir.join(format!("fold{k}"));
                let actors = actors_of_fold(k)?.collect();
                fold.is_dir().then_some((fold, Some(actors)))
            })
            .collect(),
        (None, None) => return Err("give --model or --folds".into()),
    };
    if jobs.is_empty() {
        return Err(format!(
            "no fold0 .. fold{} model folders in {}",
            FOLDS - 1,
            args.folds.as_deref().unwrap_or(Path::new("")).display()
        )
        .into());
    }
    let all_samples = args.source.samples_of_all_actors(args.folds.is_some())?;
    let pool = if args.condition == Condition::Babble {
        babble_pool(&args.source, &all_samples, 16)?
    } else {
        BabblePool::new()
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let (mut cold_sum, mut stats_sum, mut adapted_sum) = (0.0, 0.0, 0.0);
    let mut family_sums = (0.0, 0.0);
    let mut curves: Vec<(String, Vec<f64>)> = Vec::new();
    let mut update_seconds = Vec::new();
    let tuning = UpperTuning {
        steps: args.tune_steps,
        learning_rate: args.tune_rate,
        anchor_weight: args.tune_anchors,
        seed: args.seed,
    };
    let mut copies: Vec<CopyOutcome> = Vec::new();
    // With `--unused`: test clips of the unused emotions, recognised cold and adapted; test
    // clips, and those predicted as an unused emotion cold and adapted.
    let mut unused_sums = [0usize; 5];
    let mut total_test_clips = 0usize;
    println!(
        "condition: {} ({})",
        args.condition,
        args.condition.description()
    );
    match args.strategy {
        Strategy::Turns => println!("confirmed: the calibration set, each emotion in turn"),
        Strategy::All => println!("confirmed: the whole pool (statement 01), each emotion in turn"),
        Strategy::Uncertain => println!(
            "confirmed: {} of the pool (statement 01), each the least sure",
            args.confirm
        ),
        Strategy::Random => println!(
            "confirmed: {} of the pool (statement 01), at random (seed {})",
            args.confirm, args.seed
        ),
        Strategy::ScreenThenUncertain => println!(
            "confirmed: {} of the pool (statement 01), the first {} in turns, then each the \
             least sure",
            args.confirm,
            args.screen.min(args.confirm)
        ),
    }
    println!(
        "wrong calibration labels: {:.0}%\n\n{:<12} {:>5} {:>5} {:>8} {:>8} {:>8} {:>9} {:>14}",
        args.wrong_labels * 100.0,
        "speaker",
        "calib",
        "test",
        "cold",
        "stats",
        "adapted",
        "accepted",
        "mean update s"
    );
    for (model, actors) in &jobs {
        let device = default_device();
        let classifier = EmotionClassifier::load(model, &device)?;
        let anchors_path = model.join(ANCHORS_FILE);
        let anchors = if anchors_path.is_file() {
            AnchorSet::read(&anchors_path)?
        } else {
            eprintln!(
                "warning: {} is missing: voice heads without the training speakers' prior",
                anchors_path.display()
            );
            AnchorSet::default()
        };
        let adapter = Arc::new(Adapter::new(&classifier, &anchors, config.clone()));
        let anchor_states = args
            .fine_tune
            .then(|| AnchorStates::new(&classifier, &anchors));
        let mut extractor = InputExtractor::new(classifier.input_config().clone())?;
        let samples: Vec<Sample> = all_samples
            .iter()
            .filter(|s| {
                actors
                    .as_ref()
                    .is_none_or(|a| s.actor.is_some_and(|x| a.contains(&x)))
            })
            .cloned()
            .collect();
        let speakers = speakers(args, samples, &mut extractor, &pool)?;
        if speakers.is_empty() {
            return Err(format!(
                "{}: no speaker has both calibration and test clips",
                model.display()
            )
            .into());
        }
        if args.folds.is_some() {
            println!("{}: {} speakers", model.display(), speakers.len());
        }
        let global = adapter.blended_stats(None);
        for speaker in &speakers {
            // Which calibration labels are wrong.
            let n = speaker.calibration.len();
            let n_wrong = (args.wrong_labels * n as f64).round() as usize;
            let mut idx: Vec<usize> = (0..n).collect();
            idx.shuffle(&mut rng);
            let wrong: Vec<usize> = idx.into_iter().take(n_wrong).collect();

            let cold = accuracy(&adapter, &PlayerHeads::default(), &global, &speaker.test);
            let player = PlayerModel::new(Arc::clone(&adapter), PlayerState::default(), None);
            // Statistics only: the calibration speech, no labels.
            let mut own = NormStats::new(classifier.training_config().model.n_features);
            for (m, _) in &speaker.calibration {
                own.add(&extractor.finish(m));
            }
            let stats_only = accuracy(
                &adapter,
                &PlayerHeads::default(),
                &adapter.blended_stats(Some(&own)),
                &speaker.test,
            );
            let mut curve = vec![cold];
            let mut accepted = 0usize;
            let mut updates = 0usize;
            let mut speaker_seconds = Vec::new();
            let budget = match args.strategy {
                Strategy::Turns | Strategy::All => n,
                Strategy::Uncertain | Strategy::Random | Strategy::ScreenThenUncertain => {
                    args.confirm.min(n)
                }
            };
            let mut remaining: Vec<usize> = (0..n).collect();
            let mut confirmed: Vec<(&FeatureMatrix, Emotion)> = Vec::new();

            for asked in 0..budget {
                let k = match args.strategy {
                    Strategy::Turns | Strategy::All => remaining.remove(0),
                    Strategy::ScreenThenUncertain if asked < args.screen => remaining.remove(0),
                    Strategy::Random => remaining.swap_remove(rng.random_range(0..remaining.len())),
                    Strategy::Uncertain | Strategy::ScreenThenUncertain => {
                        let mfcc: Vec<&FeatureMatrix> = remaining
                            .iter()
                            .map(|&i| &speaker.calibration[i].0)
                            .collect();
                        let predictions = adapter.classify(&player.heads(), &mfcc, &player.stats());
                        let scores: Vec<f32> =
                            predictions.iter().map(Prediction::teach_score).collect();
                        let best = scores
                            .iter()
                            .enumerate()
                            .max_by(|a, b| a.1.total_cmp(b.1))
                            .map_or(0, |(j, _)| j);
                        remaining.remove(best)
                    }
                };
                let (m, s) = &speaker.calibration[k];
                let label = if wrong.contains(&k) {
                    let others: Vec<Emotion> = Emotion::ALL
                        .into_iter()
                        .filter(|e| *e != s.emotion)
                        .collect();
                    others[rng.random_range(0..others.len())]
                } else {
                    s.emotion
                };
                player.confirm(m.clone(), label, s.intensity)?;
                confirmed.push((m, label));

                player.wait_idle();
                for r in player.take_outcomes() {
                    updates += 1;
                    if r.accepted {
                        accepted += 1;
                    }
                    if r.samples_used >= adapter.config().min_samples {
                        speaker_seconds.push(r.seconds);
                    }
                }
                curve.push(accuracy(
                    &adapter,
                    &player.heads(),
                    &player.stats(),
                    &speaker.test,
                ));
            }
            let adapted = curve.last().copied().unwrap_or(cold);
            let mean_update =
                speaker_seconds.iter().sum::<f64>() / speaker_seconds.len().max(1) as f64;
            update_seconds.extend(speaker_seconds);
            println!(
                "{:<12} {:>5} {:>5} {:>8.4} {:>8.4} {:>8.4} {:>5}/{:<3} {:>14.3}",
                speaker.name,
                n,
                speaker.test.len(),
                cold,
                stats_only,
                adapted,
                accepted,
                updates,
                mean_update
            );
            if let Some(anchor_states) = &anchor_states {
                let test: Vec<(&FeatureMatrix, Emotion)> =
                    speaker.test.iter().map(|(m, s)| (m, s.emotion)).collect();
                let outcome = super::adapt_copy::measure(
                    &classifier,
                    &adapter,
                    &extractor,
                    anchor_states,
                    &super::adapt_copy::Player {
                        confirmed: &confirmed,
                        test: &test,
                        stats: &player.stats(),
                        voice: player.voice_head().as_deref(),
                    },
                    &tuning,
                );
                println!(
                    "{:<12} weight copy: voice head {:.4}, with the copy {:.4}; guard {:.2} -> {:.2}, {}",
                    "",
                    outcome.voice_head,
                    outcome.copy,
                    outcome.guard.0,
                    outcome.guard.1,
                    if outcome.accepted() {
                        "kept"
                    } else {
                        "refused"
                    }
                );
                copies.push(outcome);
            }
            if !args.unused.is_empty() {
                total_test_clips += speaker.test.len();
                let (clips, cold_hits, cold_predicted) = unused_counts(
                    &adapter,
                    &PlayerHeads::default(),
                    &global,
                    &speaker.test,
                    &args.unused,
                );
                let (_, hits, predicted) = unused_counts(
                    &adapter,
                    &player.heads(),
                    &player.stats(),
                    &speaker.test,
                    &args.unused,
                );
                for (sum, v) in
                    unused_sums
                        .iter_mut()
                        .zip([clips, cold_hits, hits, cold_predicted, predicted])
                {
                    *sum += v;
                }
            }
            cold_sum += cold;
            stats_sum += stats_only;
            adapted_sum += adapted;
            family_sums.0 +=
                accuracies(&adapter, &PlayerHeads::default(), &global, &speaker.test).1;
            family_sums.1 +=
                accuracies(&adapter, &player.heads(), &player.stats(), &speaker.test).1;
            curves.push((speaker.name.clone(), curve));
        }
    }
    let k = curves.len() as f64;
    let (cold, stats, adapted) = (cold_sum / k, stats_sum / k, adapted_sum / k);
    println!(
        "{:<12} {:>5} {:>5} {:>8.4} {:>8.4} {:>8.4}",
        "mean", "", "", cold, stats, adapted
    );
    let mut sorted = update_seconds.clone();
    sorted.sort_by(f64::total_cmp);
    if let Some(max) = sorted.last() {
        println!(
            "\nupdates: {} timed, median {:.3} s, max {:.3} s (worker thread, this machine)",
            sorted.len(),
            sorted[sorted.len() / 2],
            max
        );
    }
    println!(
        "family accuracy (calm, happy, sad, tense, afraid, surprised): cold {:.4}, adapted {:.4}",
        family_sums.0 / k,
        family_sums.1 / k
    );
    if !copies.is_empty() {
        let k = copies.len() as f64;
        let mean = |f: &dyn Fn(&CopyOutcome) -> f64| copies.iter().map(f).sum::<f64>() / k;
        println!(
            "weight copy ({} steps, rate {}, anchors {}): voice head {:.4}, with the copy {:.4}, \
             guarded {:.4} (kept for {} of {} speakers)",
            tuning.steps,
            tuning.learning_rate,
            tuning.anchor_weight,
            mean(&|c| c.voice_head),
            mean(&|c| c.copy),
            mean(&|c| c.guarded()),
            copies.iter().filter(|c| c.accepted()).count(),
            copies.len()
        );
    }
    if !args.unused.is_empty() {
        let [clips, cold_hits, hits, cold_predicted, predicted] = unused_sums;
        let names: Vec<&str> = args.unused.iter().map(|e| e.name()).collect();
        let all = total_test_clips;
        println!(
            "never confirmed ({}): their {clips} test clips recognised cold {:.4}, adapted {:.4}; \
             predicted as one of them: cold {:.4}, adapted {:.4} of {all} test clips",
            names.join(", "),
            cold_hits as f64 / clips.max(1) as f64,
            hits as f64 / clips.max(1) as f64,
            cold_predicted as f64 / all.max(1) as f64,
            predicted as f64 / all.max(1) as f64,
        );
    }
    print_learning_curve(&curves);
    write_plot(&args.plot, &curves, args.wrong_labels)?;
    println!("learning curve: {}", args.plot.display());
    println!(
        "adapted accuracy: {adapted:.4} (base {cold:.4}, gain {:+.4})",
        adapted - cold
    );
    Ok(())
}

/// An adaptation configuration from a JSON file: the settings it names over the defaults.
fn read_config(path: &Path) -> Result<AdaptConfig, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    let bad = |why: String| format!("{} is not an adaptation config: {why}", path.display());
    let given: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let Some(given) = given.as_object() else {
        return Err(bad("not a JSON object".to_owned()).into());
    };
    let mut merged = serde_json::to_value(AdaptConfig::new()).map_err(|e| bad(e.to_string()))?;
    for (key, value) in given {
        match merged.get_mut(key) {
            Some(slot) => *slot = value.clone(),
            None => return Err(bad(format!("unknown setting `{key}`")).into()),
        }
    }
    Ok(serde_json::from_value(merged).map_err(|e| bad(e.to_string()))?)
}

fn write_plot(path: &Path, curves: &[(String, Vec<f64>)], wrong: f64) -> CmdResult {
    let len = curves.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
    let mean: Vec<f64> = (0..len)
        .map(|i| {
            let v: Vec<f64> = curves
                .iter()
                .filter_map(|(_, c)| c.get(i).copied())
                .collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        })
        .collect();
    let title = if wrong > 0.0 {
        format!(
            "accuracy against confirmed samples ({:.0}% wrong labels)",
            wrong * 100.0
        )
    } else {
        "accuracy against confirmed samples".to_owned()
    };
    crate::plots::learning_curve(path, &title, curves, &mean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_point_skips_the_base_and_takes_the_first_minimum() {
        assert_eq!(lowest_after_base(&[0.5]), None);
        assert_eq!(
            lowest_after_base(&[0.5, 0.6, 0.45, 0.45, 0.7]),
            Some((2, 0.45))
        );
        assert_eq!(lowest_after_base(&[0.2, 0.6, 0.7]), Some((1, 0.6)));
    }
}
