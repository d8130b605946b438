//! `trainer robustness`: a model under every listening condition of
//! `voice_emotion::training::degrade` (noise, babble, reverb, telephone band, a quiet
//! microphone, clipping, 8 kHz, and mains hum, which training never uses), with each
//! speaker's own statistics and cold: accuracy, its drop from clean, the largest share of
//! predictions one class takes (collapse) and the calibration error. Prints a Markdown table,
//! writes it as JSON beside a bar chart, and prints last `worst accuracy: X`.

use std::path::PathBuf;

use serde::Serialize;
use voice_emotion::model::{EmotionClassifier, default_device};
use voice_emotion::training::Evaluation;
use voice_emotion::training::data::SpeechCut;
use voice_emotion::training::degrade::Condition;

use super::CmdResult;
use super::evaluate::{Source, babble_pool, both_normalisations, examples_under};

/// Arguments of `trainer robustness`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// The clips to evaluate on.
    #[command(flatten)]
    pub source: Source,
    /// Only these conditions (comma-separated names); all by default.
    #[arg(long, value_delimiter = ',')]
    pub conditions: Vec<Condition>,
    /// Seed of the conditions' noise.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Worker threads for feature extraction (default: every core).
    #[arg(long, default_value_t = super::all_cores())]
    pub threads: usize,
    /// Cut each clip, once degraded, to the speech the engine's detector finds in it, as the
    /// engine's model hears an utterance (`ClassifiedSpan::Speech`); clips in which it finds
    /// none are heard whole (counted per condition).
    #[arg(long)]
    pub speech_only: bool,
    /// With `--speech-only`: the speech-detection settings (JSON, a partial `VadConfig`: the
    /// fields it leaves out keep the engine's settings); the engine's settings if absent.
    #[arg(long, requires = "speech_only")]
    pub vad: Option<PathBuf>,
    /// Where to write the chart (PNG) and the table (the same name with `.json`).
    #[arg(long, default_value = "robustness.png")]
    pub plot: PathBuf,
}

/// Figures of one normalisation under one condition.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    /// Accuracy.
    pub accuracy: f64,
    /// Macro-F1.
    pub macro_f1: f64,
    /// The class predicted most, and its share of the predictions.
    pub largest_class: String,
    /// That share.
    pub largest_share: f64,
    /// Expected calibration error (15 bins).
    pub ece: f64,
}

impl Figures {
    fn of(e: &Evaluation) -> Self {
        let (class, share) = e.confusion.largest_share();
        Self {
            accuracy: e.confusion.accuracy(),
            macro_f1: e.confusion.macro_f1(),
            largest_class: class.to_string(),
            largest_share: share,
            ece: e.ece,
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The condition's name.
    pub condition: String,
    /// What it does.
    pub description: String,
    /// Whether training ever imitates it.
    pub held_out: bool,
    /// With each speaker's own statistics.
    pub speaker: Figures,
    /// Cold (training-set statistics).
    pub cold: Figures,
    /// With `--speech-only`: the clips in which speech was found (the rest were heard whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speech_found: Option<usize>,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> CmdResult {
    let classifier = EmotionClassifier::load(&args.model, &default_device())?;
    let samples = args.source.samples()?;
    let pool = babble_pool(&args.source, &samples, 32)?;
    let conditions: Vec<Condition> = if args.conditions.is_empty() {
        Condition::ALL.to_vec()
    } else {
        args.conditions.clone()
    };
    let mut rows = Vec::new();
    // Read once; each condition gets its own cut, which counts its misses.
    let vad = args
        .speech_only
        .then(|| super::read_vad(args.vad.as_deref()))
        .transpose()?;
    for &condition in &conditions {
        let cut = vad.clone().map(SpeechCut::with_vad).transpose()?;
        let data = examples_under(
            &samples,
            &classifier,
            condition,
            &pool,
            args.seed,
            args.threads,
            cut.as_ref(),
        )?;
        let found = cut.as_ref().map(|c| samples.len() - c.missed());
        let (speaker, cold) = both_normalisations(&classifier, &data);
        let row = Row {
            condition: condition.name().to_owned(),
            description: condition.description().to_owned(),
            held_out: condition == Condition::HELD_OUT,
            speaker: Figures::of(&speaker),
            cold: Figures::of(&cold),
            speech_found: found,
        };
        eprintln!(
            "{:<10} speaker statistics {:.4}, cold {:.4}",
            row.condition, row.speaker.accuracy, row.cold.accuracy
        );
        rows.push(row);
    }
    println!(
        "{} clips, model {} (emotion temperature {:.3})\n",
        samples.len(),
        args.model.display(),
        classifier.temperature()
    );
    print!("{}", table(&rows));
    if args.speech_only {
        let found: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r.condition,
                    r.speech_found
                        .map_or_else(|| "-".to_owned(), |n| n.to_string())
                )
            })
            .collect();
        println!(
            "\nclips cut to the speech found in them, of {} (the rest heard whole): {}",
            samples.len(),
            found.join(", ")
        );
    }
    let json = args.plot.with_extension("json");
    std::fs::write(&json, serde_json::to_string_pretty(&rows)?)
        .map_err(|e| format!("cannot write {}: {e}", json.display()))?;
    crate::plots::robustness(
        &args.plot,
        &format!("{}: accuracy per listening condition", args.model.display()),
        &rows
            .iter()
            .map(|r| (r.condition.clone(), r.speaker.accuracy, r.cold.accuracy))
            .collect::<Vec<_>>(),
    )?;
    println!(
        "\nchart: {}, table: {}",
        args.plot.display(),
        json.display()
    );
    let worst = rows
        .iter()
        .flat_map(|r| [r.speaker.accuracy, r.cold.accuracy])
        .fold(1.0f64, f64::min);
    println!("worst accuracy: {worst:.4}");
    Ok(())
}

/// The Markdown table: accuracy (drop from clean in points), largest class share, ECE.
fn table(rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let clean = rows.iter().find(|r| r.condition == Condition::Clean.name());
    let drop = |a: f64, base: Option<f64>| match base {
        Some(b) => format!("{a:.3} ({:+.1})", 100.0 * (a - b)),
        None => format!("{a:.3}"),
    };
    let mut out = String::from(
        "| condition | accuracy, speaker stats (Δ pts) | cold (Δ pts) | largest class share, speaker / cold | ECE, speaker / cold |\n| --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {}{} | {} | {} | {:.2} {} / {:.2} {} | {:.3} / {:.3} |",
            r.condition,
            if r.held_out { " (held out)" } else { "" },
            drop(r.speaker.accuracy, clean.map(|c| c.speaker.accuracy)),
            drop(r.cold.accuracy, clean.map(|c| c.cold.accuracy)),
            r.speaker.largest_share,
            r.speaker.largest_class,
            r.cold.largest_share,
            r.cold.largest_class,
            r.speaker.ece,
            r.cold.ece
        );
    }
    out
}
