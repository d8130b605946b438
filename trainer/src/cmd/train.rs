//! `trainer train`: trains the emotion model on RAVDESS or on labelled manifests (one or
//! several corpora mixed) under a protocol and writes a model directory (weights, configs,
//! statistics, report; for manifests also the anchor set adaptation needs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use voice_emotion::model::DeviceSpecs;
use voice_emotion::model::DistillationConfig;
use voice_emotion::model::EmotionClassifier;
use voice_emotion::model::EmotionModelConfig;
use voice_emotion::model::InputConfig;
use voice_emotion::model::LstmPass;
use voice_emotion::training::Evaluation;
use voice_emotion::training::augment::{AugmentConfig, Augmenter};
use voice_emotion::training::cache;
use voice_emotion::training::data::{Augmentation, examples};
use voice_emotion::training::dataset::{CorpusInfo, Dataset, EmotionSet, Sample, load_manifests};
use voice_emotion::training::degrade::{BabblePool, RoomAugment};
use voice_emotion::training::metrics::fit_temperature;
use voice_emotion::training::{EpochMetrics, Example, Normaliser, TrainingConfig, train};

use super::CmdResult;
use super::charts::{ChartSplit, draw_charts};
use super::splits::{DEFAULT_MANIFEST_FOLDS, manifest_splits, parse_folds, splits, thinned};
use super::teachers;

/// Evaluation protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// RAVDESS: test on actors 21-24, validate on 19-20, train on 1-18 (the honest number).
    /// Manifests: hold out about 15% of each corpus's speakers for test and 10% for
    /// validation (by seed; the split column wins where given).
    SpeakerIndependent,
    /// RAVDESS: the 6 actor folds in turn. Manifests: `--folds K` speaker folds (default 5),
    /// balanced by corpus. Reports mean and spread.
    Cv,
    /// The seed's protocol: a random 80/20 split of recordings (speakers leak).
    Random,
}

/// Arguments of `trainer train`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["data", "manifest"])))]
pub struct Args {
    /// The RAVDESS folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A labelled manifest (TSV: path, emotion, speaker, optional split and intensity); give
    /// it again for each further corpus. Each manifest is a corpus named by its file name.
    #[arg(long, value_name = "FILE")]
    pub manifest: Vec<PathBuf>,
    /// The model directory to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Evaluation protocol.
    #[arg(long, value_enum, default_value_t = Protocol::SpeakerIndependent)]
    pub protocol: Protocol,
    /// A training configuration (JSON, as the `config.json` a run writes).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override the configuration's maximum number of epochs.
    #[arg(long)]
    pub max_epochs: Option<usize>,
    /// Worker threads for feature extraction (default: every core).
    #[arg(long, default_value_t = super::all_cores())]
    pub threads: usize,
    /// Where clips' features are cached between runs, keyed by each file's bytes and the
    /// front end (default: the OS cache folder, e.g. ~/.cache/bevy_voice_emotion/features).
    #[arg(long, value_name = "DIR", conflicts_with = "no_feature_cache")]
    pub feature_cache: Option<PathBuf>,
    /// Decode and compute every clip's features, reading and writing no cache.
    #[arg(long)]
    pub no_feature_cache: bool,
    /// Where the network trains: cpu (burn's flex backend), wgpu, wgpu:N, wgpu:cpu, cuda or
    /// cuda:N; several of one backend, comma-separated (cuda:0,cuda:1), train data-parallel,
    /// each batch split between them. GPUs need a build with the `wgpu` or `cuda` feature.
    /// Features, evaluation and the saved model stay on the CPU.
    #[arg(long, default_value = "cpu", value_name = "DEVICE[,DEVICE...]")]
    pub device: DeviceSpecs,
    /// Train on only this many clips of each speaker, spread evenly over their clips (a
    /// quick smoke run of the whole pipeline; its accuracy means nothing).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub clips_per_speaker: Option<u32>,
    /// An input pipeline configuration (JSON, as the `input.json` a run writes); the default
    /// pipeline otherwise.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Override the configuration's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// With `--protocol cv`. RAVDESS: only these of its 6 actor folds, e.g. `0-4` (choose
    /// methods on folds 0-4 and keep fold 5 for the end). Manifests: the number of speaker
    /// folds, K (default 5).
    #[arg(long, value_name = "LIST|K")]
    pub folds: Option<String>,
    /// A teacher model directory for knowledge distillation; give it again for each teacher
    /// (their probabilities are averaged). Under `--protocol cv` fold K learns from
    /// `DIR/foldK`. The config's `distillation` sets the loss (its defaults where it has none).
    #[arg(long, value_name = "DIR")]
    pub teacher: Vec<PathBuf>,
    /// How the LSTM layers' gradients are computed (overrides the config's `lstm_pass`):
    /// `burn`, burn's autodiff (the default; data-parallel over `--device`), or `fast`, the
    /// fast path's kernels with their own backward pass, one thread per `--device` entry
    /// (`--device cpu,cpu`: both cores), about 3x faster a step on one thread. CPU only.
    #[arg(long, value_enum)]
    pub lstm_pass: Option<LstmPassArg>,
}

/// `--lstm-pass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LstmPassArg {
    /// burn's autodiff.
    Burn,
    /// `FastLstmTrainer`.
    Fast,
}

impl From<LstmPassArg> for LstmPass {
    fn from(a: LstmPassArg) -> Self {
        match a {
            LstmPassArg::Burn => Self::Burn,
            LstmPassArg::Fast => Self::Fast,
        }
    }
}

/// Results of one split, as written to `report.json`.
#[derive(Debug, Serialize)]
struct SplitReport {
    split: String,
    train_clips: usize,
    valid_clips: usize,
    test_clips: usize,
    train_speakers: Vec<String>,
    valid_speakers: Vec<String>,
    test_speakers: Vec<String>,
    /// Emotions no training clip had (their logits were never trained towards).
    classes_never_seen: Vec<String>,
    best_epoch: usize,
    epochs_run: usize,
    interrupted: bool,
    temperature: f64,
    training_seconds: f64,
    /// Where the network trained (`cpu`, `wgpu`, `cuda:0`, ...).
    device: String,
    speaker_norm: Scores,
    cold: Scores,
    history: Vec<EpochMetrics>,
}

#[derive(Debug, Serialize)]
struct Scores {
    accuracy: f64,
    unweighted_accuracy: f64,
    macro_f1: f64,
    intensity_accuracy: f64,
    ece: f64,
    largest_share: f64,
    per_class: BTreeMap<String, voice_emotion::training::metrics::ClassScores>,
    confusion: Vec<Vec<usize>>,
}

fn scores(e: &Evaluation) -> Scores {
    Scores {
        accuracy: e.confusion.accuracy(),
        unweighted_accuracy: e.confusion.unweighted_accuracy(),
        macro_f1: e.confusion.macro_f1(),
        intensity_accuracy: e.intensity_accuracy,
        ece: e.ece,
        largest_share: e.confusion.largest_share().1,
        per_class: voice_emotion::labels::Emotion::ALL
            .iter()
            .zip(e.confusion.class_scores())
            .map(|(k, s)| (k.name().to_owned(), s))
            .collect(),
        confusion: e.confusion.counts.iter().map(|r| r.to_vec()).collect(),
    }
}

/// The emotion head's temperature fitted on `valid` (each example scored with its speaker's
/// statistics and cold, pooled); 1 without validation examples.
fn fit_temperature_on(
    classifier: &EmotionClassifier,
    valid: &[Example],
    speaker_stats: &BTreeMap<String, voice_emotion::model::NormStats>,
) -> f64 {
    let mut probabilities = Vec::new();
    let mut labels = Vec::new();
    for stats in [Some(speaker_stats), None] {
        // Scored at temperature 1 (a fresh classifier has none).
        for (e, p) in valid
            .iter()
            .zip(classifier.evaluate(valid, stats).predictions)
        {
            probabilities.push(p.probabilities);
            labels.push(e.emotion);
        }
    }
    fit_temperature(&probabilities, &labels)
}

/// Up to `n` training clips spread evenly over `samples`, as audio, for babble.
fn babble_pool(samples: &[Sample], n: usize) -> Result<BabblePool, Box<dyn std::error::Error>> {
    let keep = n.min(samples.len());
    (0..keep)
        .map(|k| {
            let s = &samples[(2 * k + 1) * samples.len() / (2 * keep)];
            Ok((s.speaker.clone(), voice_emotion::audio::load_clip(&s.path)?))
        })
        .collect()
}

fn speakers_of(samples: &[Sample], idx: &[usize]) -> Vec<String> {
    let mut v: Vec<String> = idx.iter().map(|&i| samples[i].speaker.clone()).collect();
    v.sort();
    v.dedup();
    v
}

/// Reads a training config (`--config`), e.g. the `config.json` saved next to a trained
/// model. Its `temperature` is dropped: it is what training fitted after the fact, not a
/// setting, and a classifier built with it would score the validation speakers already
/// softened, so the new fit would be relative to it and the saved temperature wrong.
fn read_config(path: &Path) -> Result<TrainingConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    let mut config = serde_json::from_str::<TrainingConfig>(&text)
        .map_err(|e| format!("{} is not a training config: {e}", path.display()))?;
    config.temperature = None;
    Ok(config)
}

/// Runs the subcommand.
pub fn run(args: &Args) -> CmdResult {
    let started = Instant::now();
    let mut config = match &args.config {
        Some(path) => read_config(path)?,
        None => TrainingConfig::new(EmotionModelConfig::new(InputConfig::default().n_features())),
    };
    if let Some(m) = args.max_epochs {
        config.max_epochs = m;
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(pass) = args.lstm_pass {
        config.lstm_pass = Some(pass.into());
    }
    if config.lstm_pass == Some(LstmPass::Fast)
        && let Some(gpu) = args.device.specs().iter().find(|d| d.is_gpu())
    {
        return Err(format!(
            "the fast LSTM pass (lstm_pass \"fast\") runs on the CPU, not on {gpu}: use \
             --device cpu or cpu,cpu, or --lstm-pass burn"
        )
        .into());
    }
    let input = match &args.input {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read input config {}: {e}", path.display()))?;
            serde_json::from_str::<InputConfig>(&text)
                .map_err(|e| format!("{} is not an input config: {e}", path.display()))?
        }
        None => InputConfig::default(),
    };
    let manifests = args.data.is_none();
    let folds = match (&args.folds, args.protocol) {
        (Some(spec), Protocol::Cv) if !manifests => Some(parse_folds(spec)?),
        (Some(_), Protocol::Cv) | (None, _) => None,
        (Some(_), other) => {
            return Err(format!("--folds needs --protocol cv, not {other:?}").into());
        }
    };
    let manifest_folds = match &args.folds {
        Some(k) if manifests => k.trim().parse::<usize>().map_err(|_| {
            format!("--folds with --manifest: '{k}' is not a number of speaker folds")
        })?,
        _ => DEFAULT_MANIFEST_FOLDS,
    };
    let room = RoomAugment {
        probability: config.room_probability.unwrap_or(0.0),
        ..RoomAugment::default()
    };
    room.validate()?;
    match (args.teacher.is_empty(), &config.distillation) {
        (false, None) => config.distillation = Some(DistillationConfig::new()),
        (true, Some(_)) => {
            return Err(
                "the config asks for distillation: name the teachers with --teacher".into(),
            );
        }
        _ => {}
    }
    config.check(&input)?;
    let all_samples = match &args.data {
        Some(dir) => Dataset::from_ravdess_dir(dir)?.into_samples(),
        None => load_manifests(&args.manifest)?,
    };
    let thin;
    let samples = match args.clips_per_speaker {
        Some(n) => {
            thin = thinned(&all_samples, n as usize);
            &thin[..]
        }
        None => &all_samples[..],
    };
    // Counted on the clips used, listed in the order they were given.
    let mut corpora = CorpusInfo::tally(samples);
    corpora.sort_by_key(|c| all_samples.iter().position(|s| s.corpus == c.name));
    for c in &corpora {
        eprintln!(
            "corpus {}: {} clips, {} speakers, emotions {}; intensity labelled on {}",
            c.name, c.clips, c.speakers, c.emotions, c.intensity_labelled
        );
    }
    // Splits before any audio is read, so a bad split column fails at once.
    let splits = if manifests {
        manifest_splits(args.protocol, samples, config.seed, manifest_folds)?
    } else {
        splits(args.protocol, samples, config.seed, folds.as_deref())
    };
    let devices = args.device.devices()?;
    if !args.device.is_default() {
        eprintln!("training on {}", args.device);
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\nstopping after this epoch (Ctrl-C again to abort)");
        })?;
    }

    // Features of every original clip (unaugmented), once; from the cache where it has them.
    let cache_root = match (&args.feature_cache, args.no_feature_cache) {
        (_, true) => None,
        (Some(dir), false) => Some(dir.clone()),
        (None, false) => cache::default_root(),
    };
    let originals = super::originals::examples_of(samples, &input, cache_root, args.threads)?;
    // Each speaker's own statistics, from all their clips, unlabelled.
    let speaker_stats = Normaliser::fit(&originals, input.n_features()).speakers;

    let augmenter = Augmenter::new(AugmentConfig::default())?;
    let mut reports = Vec::new();
    for split in &splits {
        eprintln!(
            "{}: train {} clips, validate {}, test {}",
            split.name,
            split.train.len(),
            split.valid.len(),
            split.test.len()
        );
        let train_samples: Vec<Sample> = split.train.iter().map(|&i| samples[i].clone()).collect();
        let bar = progress_bar(train_samples.len(), "augmenting");
        // Babble for room augmentation: clips of the training speakers only.
        let pool = if room.probability > 0.0 {
            babble_pool(&train_samples, 48)?
        } else {
            BabblePool::new()
        };
        let augmentation = (config.augment_copies > 0).then_some(Augmentation {
            augmenter: &augmenter,
            copies: config.augment_copies,
            seed: config.seed,
            room: (room.probability > 0.0).then_some(&room),
            band_probability: config.band_probability.unwrap_or(0.0),
            pool: &pool,
        });
        let mut train_examples: Vec<Example> = if augmentation.is_some() {
            examples(&train_samples, &input, augmentation, args.threads, &|d| {
                bar.set_position(d as u64)
            })?
        } else {
            split.train.iter().map(|&i| originals[i].clone()).collect()
        };
        bar.finish_and_clear();
        if !args.teacher.is_empty() {
            let cv = args.protocol == Protocol::Cv;
            let student = teachers::StudentSplit {
                name: &split.name,
                fold: cv.then_some(split.fold),
                test_speakers: &speakers_of(samples, &split.test),
            };
            teachers::teach(
                &args.teacher,
                &student,
                &mut train_examples,
                &input,
                &speaker_stats,
            )?;
        }
        let seen: EmotionSet = split.train.iter().map(|&i| samples[i].emotion).collect();
        let never_seen = seen.complement();
        if !never_seen.is_empty() {
            eprintln!(
                "{}: classes never seen in training: {never_seen} (the model cannot learn them)",
                split.name
            );
        }
        let valid: Vec<Example> = split.valid.iter().map(|&i| originals[i].clone()).collect();
        let test: Vec<Example> = split.test.iter().map(|&i| originals[i].clone()).collect();
        // Global statistics from the training originals only; speaker statistics as above.
        let train_originals: Vec<&Example> = split.train.iter().map(|&i| &originals[i]).collect();
        let mut norm = Normaliser::fit(train_originals.iter().copied(), input.n_features());
        norm.speakers = speaker_stats.clone();

        let epoch_bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "epoch {prefix:>3} {bar:30} {pos}/{len} steps  loss {msg}  eta {eta}",
        ) {
            epoch_bar.set_style(style);
        }
        let t0 = Instant::now();
        let outcome = train(
            &config,
            &train_examples,
            &valid,
            &norm,
            &devices,
            |step, total, loss| {
                epoch_bar.set_length(total as u64);
                epoch_bar.set_position(step as u64);
                epoch_bar.set_message(format!("{loss:.4}"));
            },
            |m| {
                let line = format!(
                    "epoch {:>3}  train loss {:.4} acc {:.3}  valid loss {:.4} acc {:.3}  ({:.0} s)",
                    m.epoch,
                    m.train_loss,
                    m.train_accuracy,
                    m.valid_loss,
                    m.valid_accuracy,
                    t0.elapsed().as_secs_f64()
                );
                if epoch_bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    epoch_bar.println(line);
                }
                epoch_bar.set_prefix((m.epoch + 1).to_string());
                !stop.load(Ordering::SeqCst)
            },
        )?;
        epoch_bar.finish_and_clear();
        let training_seconds = t0.elapsed().as_secs_f64();
        let cpu = voice_emotion::model::default_device();
        let mut classifier = EmotionClassifier::new(
            outcome.model,
            config.clone(),
            input.clone(),
            norm.global.clone(),
            cpu,
        )?;
        // Temperature scaling on the validation speakers (never the test ones), both
        // normalisations pooled: the engine uses both.
        let temperature = fit_temperature_on(&classifier, &valid, &speaker_stats);
        classifier.set_temperature(temperature);
        let with_speaker = classifier.evaluate(&test, Some(&speaker_stats));
        let cold = classifier.evaluate(&test, None);
        eprintln!(
            "{}: test accuracy {:.4} (speaker statistics), {:.4} cold; ECE {:.3} / {:.3} at temperature {temperature:.3}; best epoch {}",
            split.name,
            with_speaker.confusion.accuracy(),
            cold.confusion.accuracy(),
            with_speaker.ece,
            cold.ece,
            outcome.best_epoch
        );
        if reports.is_empty() {
            classifier.save(&args.out)?;
            // A manifest-trained model ships the anchors of its own training speakers, so
            // per-player adaptation works on it at once (RAVDESS: `trainer anchors`).
            if manifests {
                super::anchors::pick(&train_originals, &speaker_stats, 8, config.seed)
                    .write(&args.out.join(voice_emotion::player::adapt::ANCHORS_FILE))?;
            }
        }
        // Every fold's model too, with its anchor set (drawn from the fold's training
        // actors), so that per-player adaptation can be measured on every actor as a speaker
        // the model never heard (`adapt-eval --folds`).
        if args.protocol == Protocol::Cv {
            let dir = args.out.join(format!("fold{}", split.fold));
            classifier.save(&dir)?;
            super::anchors::pick(&train_originals, &speaker_stats, 8, config.seed)
                .write(&dir.join(voice_emotion::player::adapt::ANCHORS_FILE))?;
        }
        reports.push(SplitReport {
            split: split.name.clone(),
            train_clips: split.train.len(),
            valid_clips: split.valid.len(),
            test_clips: split.test.len(),
            train_speakers: speakers_of(samples, &split.train),
            valid_speakers: speakers_of(samples, &split.valid),
            test_speakers: speakers_of(samples, &split.test),
            classes_never_seen: never_seen.iter().map(|e| e.name().to_owned()).collect(),
            best_epoch: outcome.best_epoch,
            temperature,
            epochs_run: outcome.history.len(),
            interrupted: outcome.interrupted,
            training_seconds,
            device: args.device.to_string(),
            speaker_norm: scores(&with_speaker),
            cold: scores(&cold),
            history: outcome.history,
        });
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    write_reports(
        &args.out,
        args,
        &config,
        &reports,
        started.elapsed().as_secs_f64(),
        &all_samples,
        &corpora,
    )?;
    Ok(())
}

pub(super) fn progress_bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{what:>10} {{bar:30}} {{pos}}/{{len}} eta {{eta}}"
    )) {
        bar.set_style(style);
    }
    bar
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn write_reports(
    out: &Path,
    args: &Args,
    config: &TrainingConfig,
    reports: &[SplitReport],
    seconds: f64,
    all_samples: &[Sample],
    corpora: &[CorpusInfo],
) -> CmdResult {
    std::fs::create_dir_all(out)?;
    let speaker: Vec<f64> = reports.iter().map(|r| r.speaker_norm.accuracy).collect();
    let cold: Vec<f64> = reports.iter().map(|r| r.cold.accuracy).collect();
    let (sm, ss) = mean_std(&speaker);
    let (cm, cs) = mean_std(&cold);
    let data_hash = data_hash(all_samples)?;
    let corpora_json: Vec<serde_json::Value> = corpora
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name,
                "clips": c.clips,
                "speakers": c.speakers,
                "emotions": c.emotions.iter().map(|e| e.name()).collect::<Vec<_>>(),
                "clips_per_emotion": voice_emotion::labels::Emotion::ALL
                    .iter()
                    .map(|e| (e.name(), c.by_emotion[e.index()]))
                    .collect::<BTreeMap<_, _>>(),
                "intensity_labelled": c.intensity_labelled,
            })
        })
        .collect();
    let report = serde_json::json!({
        "protocol": args.protocol,
        "data": args.data,
        "manifests": args.manifest,
        "teachers": args.teacher,
        "data_hash": data_hash,
        "clips": all_samples.len(),
        "corpora": corpora_json,
        "config": config,
        "total_seconds": seconds,
        "accuracy_speaker_norm_mean": sm,
        "accuracy_speaker_norm_std": ss,
        "accuracy_cold_mean": cm,
        "accuracy_cold_std": cs,
        "splits": reports,
    });
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    let mut md = String::new();
    use std::fmt::Write as _;
    writeln!(md, "# Training report\n")?;
    writeln!(md, "- protocol: `{:?}`", args.protocol)?;
    writeln!(
        md,
        "- data: {} clips, hash `{data_hash}`",
        all_samples.len()
    )?;
    for c in corpora {
        writeln!(
            md,
            "- corpus `{}`: {} clips used, {} speakers, emotions {}, intensity labelled on {}",
            c.name, c.clips, c.speakers, c.emotions, c.intensity_labelled
        )?;
    }
    for r in reports {
        if !r.classes_never_seen.is_empty() {
            writeln!(
                md,
                "- {}: classes never seen in training: {}",
                r.split,
                r.classes_never_seen.join(", ")
            )?;
        }
    }
    writeln!(md, "- total time: {seconds:.0} s\n")?;
    writeln!(
        md,
        "| split | best epoch | accuracy (speaker stats) | accuracy (cold) | UA | macro-F1 | intensity | ECE (speaker / cold) | temperature |"
    )?;
    writeln!(
        md,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )?;
    for r in reports {
        writeln!(
            md,
            "| {} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.3} / {:.3} | {:.3} |",
            r.split,
            r.best_epoch,
            r.speaker_norm.accuracy,
            r.cold.accuracy,
            r.speaker_norm.unweighted_accuracy,
            r.speaker_norm.macro_f1,
            r.speaker_norm.intensity_accuracy,
            r.speaker_norm.ece,
            r.cold.ece,
            r.temperature
        )?;
    }
    if reports.len() > 1 {
        writeln!(
            md,
            "\nmean ± std: {sm:.4} ± {ss:.4} (speaker stats), {cm:.4} ± {cs:.4} (cold)"
        )?;
    }
    let charts: Vec<ChartSplit> = reports
        .iter()
        .map(|r| ChartSplit {
            name: r.split.clone(),
            history: r.history.clone(),
            best_epoch: r.best_epoch,
            accuracy: r.speaker_norm.accuracy,
            confusion: r.speaker_norm.confusion.clone(),
        })
        .collect();
    writeln!(md, "\nCharts: {}.", draw_charts(out, &charts)?.join(", "))?;
    std::fs::write(out.join("report.md"), md)?;
    println!("accuracy: {sm:.4}");
    Ok(())
}

/// A short hash of the file names and sizes of the data set (which clips, not their bytes).
fn data_hash(samples: &[Sample]) -> std::io::Result<String> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for s in samples {
        s.path.file_name().hash(&mut h);
        std::fs::metadata(&s.path)?.len().hash(&mut h);
    }
    Ok(format!("{:016x}", h.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trained_models_config_trains_without_its_temperature() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let mut config = TrainingConfig::new(EmotionModelConfig::new(240));
        config.temperature = Some(3.1);
        config.patience = 8;
        std::fs::write(&path, serde_json::to_string(&config).unwrap()).unwrap();
        let read = read_config(&path).unwrap();
        assert_eq!(read.temperature, None);
        assert_eq!(read.patience, 8);
        let missing = read_config(&dir.path().join("nope.json")).unwrap_err();
        assert!(missing.contains("nope.json"), "{missing}");
    }
}
