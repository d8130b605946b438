//! `trainer export-reference`: a model's weights in a form PyTorch can load, a few real clips'
//! model inputs with our probabilities, and our own time for one clip, so that the same
//! network can be rebuilt and timed elsewhere (`scripts/bench-vs-pytorch`).
//!
//! Writes to `--out`:
//! - `weights.safetensors`: every tensor of the model under its burn name
//!   (`lstm_1.input.weight`, ...), written by burn's `SafetensorsStore`
//!   (`EmotionClassifier::export_safetensors`). burn's layout: a
//!   linear layer is `y = x W + b` with `W` of shape `[inputs, outputs]`; an LSTM layer's
//!   `input` (with the bias) and `recurrent` (no bias) map to its four gates in the order
//!   input, forget, output, cell (PyTorch's `nn.LSTM` orders them input, forget, cell, output
//!   and stores `W` transposed).
//! - `reference.json`: the model's shape and temperature, each clip's normalised model input
//!   (the training set's statistics, as a new player's first words) and the probabilities
//!   `EmotionClassifier::classify_features` gives it, and a timing input of `--seconds` of
//!   speech (the clips' inputs one after another) with our median time on it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use voice_emotion::labels::{Emotion, Intensity};
use voice_emotion::model::{EmotionClassifier, FastScratch, Pooling, default_device, normalised};
use voice_emotion::training::data::examples;

use super::CmdResult;
use super::evaluate::Source;

/// Arguments of `trainer export-reference`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Where the clips come from (the first clip of each emotion is taken).
    #[command(flatten)]
    pub source: Source,
    /// Clips to export (at most one per emotion first, then the next ones in order).
    #[arg(long, default_value_t = 8)]
    pub clips: usize,
    /// Length of the timing input, in seconds of speech.
    #[arg(long, default_value_t = 3.5)]
    pub seconds: f64,
    /// Runs of our network on the timing input (the median is reported).
    #[arg(long, default_value_t = 2000)]
    pub runs: usize,
    /// Output folder (created).
    #[arg(long)]
    pub out: PathBuf,
}

/// `reference.json`.
#[derive(Debug, Serialize)]
struct Reference {
    model: String,
    n_features: usize,
    hidden_1: usize,
    hidden_2: usize,
    dense: usize,
    /// `last`, `attention` (the `attention.weight` tensor, `[hidden_2, 1]`, scores each
    /// step's second-layer output; the outputs are weighted by the scores' softmax) or
    /// `last_and_attention` (the last state, then the attention pooling: the dense layer
    /// reads `2 * hidden_2` values).
    pooling: Pooling,
    gate_order: [&'static str; 4],
    /// Softmax temperature of the emotion head (divides the emotion logits).
    temperature: f64,
    emotions: Vec<String>,
    intensities: Vec<String>,
    clips: Vec<Clip>,
    timing: Timing,
}

#[derive(Debug, Serialize)]
struct Clip {
    file: String,
    steps: usize,
    /// Normalised model input, `steps * n_features` values, step after step.
    features: Vec<f32>,
    probabilities: Vec<f32>,
    intensity_probabilities: Vec<f32>,
}

#[derive(Debug, Serialize)]
struct Timing {
    seconds: f64,
    steps: usize,
    /// Normalised model input, `steps * n_features` values.
    features: Vec<f32>,
    runs: usize,
    /// Our median time for the network and its softmax on `features`, one thread.
    ours_median_ms: f64,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> CmdResult {
    let classifier = EmotionClassifier::load(&args.model, &default_device())?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;

    let weights = args.out.join("weights.safetensors");
    classifier.export_safetensors(&weights)?;

    // The first clip of each emotion, then the next ones in order.
    let samples = args.source.samples()?;
    let mut chosen = Vec::new();
    for emotion in Emotion::ALL {
        if let Some(s) = samples.iter().find(|s| s.emotion == emotion) {
            chosen.push(s.clone());
        }
    }
    for s in &samples {
        if chosen.len() >= args.clips {
            break;
        }
        if !chosen.iter().any(|c| c.path == s.path) {
            chosen.push(s.clone());
        }
    }
    chosen.truncate(args.clips.max(1));
    if chosen.is_empty() {
        return Err("no clips in the selection".into());
    }
    let data = examples(&chosen, classifier.input_config(), None, 2, &|_| {})?;
    let normed: Vec<_> = data
        .iter()
        .map(|e| normalised(&e.features, classifier.global_stats()))
        .collect();
    let refs: Vec<_> = data.iter().map(|e| &e.features).collect();
    let predictions = classifier.classify_features(&refs, None);
    let clips: Vec<Clip> = chosen
        .iter()
        .zip(&normed)
        .zip(&predictions)
        .map(|((s, input), p)| Clip {
            file: s.path.file_name().map_or_else(
                || s.path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            steps: input.n_frames,
            features: input.data.clone(),
            probabilities: p.probabilities.to_vec(),
            intensity_probabilities: p.intensity_probabilities.to_vec(),
        })
        .collect();

    // The timing input: the clips' inputs one after another, as many steps as `seconds` of
    // speech make (frames of `hop` samples, centred, `stack` frames a step).
    let input = classifier.input_config();
    let d = classifier.training_config().model.n_features;
    let frames = 1
        + (args.seconds * f64::from(input.mfcc.sample_rate)) as usize
            / input.mfcc.hop_length.max(1);
    let steps = frames
        .div_ceil(input.stack.max(1))
        .clamp(1, input.max_steps);
    let all: Vec<f32> = normed.iter().flat_map(|m| m.data.iter().copied()).collect();
    let features: Vec<f32> = all.iter().copied().cycle().take(steps * d).collect();

    let fast = classifier.fast_network();
    let mut scratch = FastScratch::default();
    let mut once = || {
        let logits = fast.forward_into(&features, &mut scratch);
        std::hint::black_box(classifier.prediction(&logits));
    };
    for _ in 0..args.runs / 10 + 1 {
        once();
    }
    let mut times: Vec<Duration> = (0..args.runs.max(1))
        .map(|_| {
            let start = Instant::now();
            once();
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    let ours = times[times.len() / 2].as_secs_f64() * 1e3;

    let config = &classifier.training_config().model;
    let reference = Reference {
        model: args.model.display().to_string(),
        n_features: config.n_features,
        hidden_1: config.hidden_1,
        hidden_2: config.hidden_2,
        dense: config.dense,
        pooling: config.pooling.unwrap_or_default(),
        gate_order: ["input", "forget", "output", "cell"],
        temperature: classifier.temperature(),
        emotions: Emotion::ALL.iter().map(ToString::to_string).collect(),
        intensities: Intensity::ALL.iter().map(ToString::to_string).collect(),
        clips,
        timing: Timing {
            seconds: args.seconds,
            steps,
            features,
            runs: times.len(),
            ours_median_ms: ours,
        },
    };
    let json = args.out.join("reference.json");
    std::fs::write(&json, serde_json::to_string(&reference)?)
        .map_err(|e| format!("{}: {e}", json.display()))?;
    println!(
        "wrote {} (burn names and layout: y = x W + b, W [inputs, outputs]; LSTM gates input, forget, output, cell)",
        weights.display()
    );
    println!(
        "wrote {} ({} clips: normalised model inputs and our probabilities; a timing input of {} steps)",
        json.display(),
        reference.clips.len(),
        steps
    );
    println!(
        "ours: {ours:.3} ms per clip ({} s, {steps} steps of {d} inputs; median of {} runs, one thread)",
        args.seconds,
        times.len()
    );
    Ok(())
}
