//! `trainer`: offline tools for bevy_voice_emotion.
//!
//! `cargo run --release -p trainer -- <subcommand>`; `--help` lists them.

mod cmd;
mod plots;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Offline tools for bevy_voice_emotion: features, datasets, training, evaluation.
#[derive(Debug, Parser)]
#[command(name = "trainer", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the reference MFCC matrix of an audio file (WAV, FLAC, Ogg Vorbis, MP3) (librosa-compatible, 40 coefficients).
    Features(cmd::features::Args),
    /// Summarise a RAVDESS folder or a labelled manifest: counts and durations.
    Dataset(cmd::dataset::Args),
    /// Train the emotion model on RAVDESS or labelled manifests and write a model directory with
    /// its report.
    Train(cmd::train::Args),
    /// Evaluate a model on RAVDESS actors or a manifest: report, confusion matrix, accuracy.
    Evaluate(cmd::evaluate::Args),
    /// Evaluate a model under every listening condition (noise, babble, reverb, telephone,
    /// quiet microphone, clipping, 8 kHz, hum, music): a table and a chart.
    Robustness(cmd::robustness::Args),
    /// Classify audio files and print a table of predictions.
    Predict(cmd::predict::Args),
    /// Redraw a model directory's charts from its report.json.
    Charts(cmd::charts::Args),
    /// Pick the anchor set (base training utterances replayed during per-player adaptation).
    Anchors(cmd::anchors::Args),
    /// Simulate each speaker as a new player: confirm calibration clips, test on the rest.
    AdaptEval(cmd::adapt_eval::Args),
    /// Export a model's weights (safetensors), a few clips' inputs with our probabilities and
    /// our time for one clip, for the same network in PyTorch (`scripts/bench-vs-pytorch`).
    ExportReference(cmd::export_reference::Args),
    /// Measure speech detection: streams of utterances under room noises at several SNRs,
    /// scored against the clean-speech boundaries, and each noise alone.
    SegmentEval(cmd::segment_eval::Args),
    /// Train the learned speech detector on noisy streams of RAVDESS speech; writes its
    /// weights (JSON).
    TrainDetector(cmd::train_detector::Args),
    /// Run a recording through the engine's live path as if it were the microphone: one line
    /// per detected utterance, then `detections: N`.
    Stream(cmd::stream::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Features(args) => cmd::features::run(&args),
        Command::Dataset(args) => cmd::dataset::run(&args),
        Command::Train(args) => cmd::train::run(&args),
        Command::Evaluate(args) => cmd::evaluate::run(&args),
        Command::Predict(args) => cmd::predict::run(&args),
        Command::Robustness(args) => cmd::robustness::run(&args),
        Command::Anchors(args) => cmd::anchors::run(&args),
        Command::Charts(args) => cmd::charts::run(&args),
        Command::AdaptEval(args) => cmd::adapt_eval::run(&args),
        Command::ExportReference(args) => cmd::export_reference::run(&args),
        Command::SegmentEval(args) => cmd::segment_eval::run(&args),
        Command::Stream(args) => cmd::stream::run(&args),
        Command::TrainDetector(args) => cmd::train_detector::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
