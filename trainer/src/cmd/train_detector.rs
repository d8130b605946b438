//! `trainer train-detector`: trains the learned speech detector
//! ([`DetectorNet`]) on noisy streams of RAVDESS speech
//! (training actors) and writes its weights as JSON, validated on
//! other actors' streams.

use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use voice_emotion::audio::{SAMPLE_RATE, load_clip};
use voice_emotion::model::default_device;
use voice_emotion::speech::{DetectorNet, VadConfig, trim_silence};
use voice_emotion::training::dataset::Dataset;
use voice_emotion::training::detector::{
    DetectorTrainingConfig, FrameSet, MicrophoneShares, train_detector, training_stream,
};

use super::CmdResult;
use super::evaluate::parse_actors;

/// Arguments of `trainer train-detector`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A RAVDESS folder.
    #[arg(long)]
    pub data: PathBuf,
    /// Actors whose speech trains the detector.
    #[arg(long, default_value = "1-18")]
    pub train_actors: String,
    /// Actors whose speech picks the epoch.
    #[arg(long, default_value = "19-20")]
    pub valid_actors: String,
    /// Training streams (each of `--utterances` utterances under one noise).
    #[arg(long, default_value_t = 288)]
    pub streams: usize,
    /// Utterances per stream.
    #[arg(long, default_value_t = 30)]
    pub utterances: usize,
    /// Epochs.
    #[arg(long, default_value_t = 16)]
    pub epochs: usize,
    /// Frames whose embeddings the network concatenates.
    #[arg(long, default_value_t = 16)]
    pub context: usize,
    /// Frames between two of them.
    #[arg(long, default_value_t = 2)]
    pub stride: usize,
    /// Frames before the newest whose label the network learns: 0 for the detector, more for
    /// a boundary net (`models/speech-detector/boundary.json`) that sees what follows.
    #[arg(long, default_value_t = 0)]
    pub delay: usize,
    /// Values in a frame's embedding.
    #[arg(long, default_value_t = 12)]
    pub embedding: usize,
    /// Units of the hidden layer.
    #[arg(long, default_value_t = 24)]
    pub hidden: usize,
    /// The network also reads each frame's pitch features (periodicity, and whether the
    /// pitch holds or glides: `voice_emotion::speech::FramePitch`), not the band levels alone.
    #[arg(long)]
    pub pitch: bool,
    /// Threads building the streams (default: every core).
    #[arg(long, default_value_t = super::all_cores())]
    pub threads: usize,
    /// Seed of the streams, the initialisation and the frame order.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of the streams heard through a band-limited microphone or line (band-passed
    /// from 0-400 Hz to 3-7 kHz).
    #[arg(long, default_value_t = 0.15)]
    pub band_limited: f64,
    /// Share of the streams of noise alone heard through a band-limited line (default: the
    /// same as `--band-limited`).
    #[arg(long)]
    pub band_limited_alone: Option<f64>,
    /// Every N-th stream is a minute of noise alone (no speech), where every detection is
    /// false.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(2..))]
    pub alone_every: u64,
    /// Share of the streams with the microphone's own hiss (white noise 5 to 40 dB under the
    /// speech, added after the stream's level is drawn: a quiet microphone's self-noise).
    /// Tried at 0.25 and 0.5 for the shipped detector and not kept
    /// (`models/speech-detector/README.md`, "Quiet microphones and the floor").
    #[arg(long, default_value_t = 0.0)]
    pub own_noise: f64,
    /// Start from these weights (a detector or boundary net's JSON, e.g. the shipped
    /// `models/speech-detector/detector.json`) instead of a random initialisation: its
    /// shape replaces `--context`, `--stride`, `--delay`, `--embedding`, `--hidden` and
    /// `--pitch`.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Adam's learning rate (3e-3 from a random initialisation; smaller to refine `--init`).
    #[arg(long, default_value_t = 3e-3)]
    pub learning_rate: f64,
    /// The weights file to write (JSON).
    #[arg(long)]
    pub out: PathBuf,
}

/// Each clip of `actors`, cut to its speech (the clean-speech boundaries `segment-eval`
/// scores against).
fn clips(dataset: &Dataset, actors: &[u8]) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error>> {
    let trim = VadConfig::default();
    dataset
        .samples()
        .iter()
        .filter(|s| s.actor.is_some_and(|a| actors.contains(&a)))
        .map(|s| {
            let clip = load_clip(&s.path).map_err(|e| format!("{}: {e}", s.path.display()))?;
            let speech = trim_silence(&clip, SAMPLE_RATE, &trim);
            Ok(clip[speech].to_vec())
        })
        .collect()
}

/// Frames of `n` training streams drawn from `clips`, stream `i` from its own generator
/// (seeded by `seed` and `i`), on `threads` threads: the same frames whatever the threads.
fn frames(
    clips: &[Vec<f32>],
    n: usize,
    per_stream: usize,
    microphones: MicrophoneShares,
    alone_every: usize,
    seed: u64,
    threads: usize,
) -> FrameSet {
    let hop = VadConfig::default().frame_samples(SAMPLE_RATE);
    let stream = |i: usize| {
        let mut rng =
            ChaCha8Rng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(i as u64));
        // Every `alone_every`-th stream is a minute of noise alone, where every detection
        // is false.
        let picked: Vec<Vec<f32>> = if i % alone_every == alone_every - 1 {
            Vec::new()
        } else {
            clips
                .choose_multiple(&mut rng, per_stream)
                .cloned()
                .collect()
        };
        let (audio, truth, _) = training_stream(&picked, SAMPLE_RATE, microphones, &mut rng);
        let mut set = FrameSet::default();
        set.add_stream(&audio, &truth, hop, SAMPLE_RATE);
        set
    };
    let threads = threads.clamp(1, n.max(1));
    let parts: Vec<Vec<FrameSet>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let stream = &stream;
                scope.spawn(move || (t..n).step_by(threads).map(stream).collect::<Vec<_>>())
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    // Stream i was made by worker i % threads, as its (i / threads)-th.
    let mut set = FrameSet::default();
    let mut parts: Vec<std::vec::IntoIter<FrameSet>> =
        parts.into_iter().map(Vec::into_iter).collect();
    for i in 0..n {
        if let Some(part) = parts[i % threads].next() {
            set.extend(part);
        }
    }
    set
}

/// Runs the subcommand.
pub fn run(args: &Args) -> CmdResult {
    let started = Instant::now();
    let dataset = Dataset::from_ravdess_dir(&args.data)?;
    let train_clips = clips(&dataset, &parse_actors(&args.train_actors)?)?;
    let valid_clips = clips(&dataset, &parse_actors(&args.valid_actors)?)?;
    if train_clips.is_empty() || valid_clips.is_empty() {
        return Err("no clips for the training or validation actors".into());
    }
    let microphones = MicrophoneShares {
        band_limited: args.band_limited,
        band_limited_alone: args.band_limited_alone.unwrap_or(args.band_limited),
        own_noise: args.own_noise,
    };
    let train = frames(
        &train_clips,
        args.streams,
        args.utterances,
        microphones,
        args.alone_every as usize,
        args.seed,
        args.threads,
    );
    let valid = frames(
        &valid_clips,
        (args.streams / 4).max(4),
        args.utterances,
        microphones,
        args.alone_every as usize,
        args.seed.wrapping_add(1 << 32),
        args.threads,
    );
    let speech = |s: &FrameSet| s.labels.iter().sum::<f32>() / s.len().max(1) as f32;
    println!(
        "{} training frames ({:.0}% speech) from {} clips, {} validation frames ({:.0}% speech), {:.0} s",
        train.len(),
        100.0 * speech(&train),
        train_clips.len(),
        valid.len(),
        100.0 * speech(&valid),
        started.elapsed().as_secs_f64()
    );
    let start = match &args.init {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--init {}: {e}", path.display()))?;
            let net = DetectorNet::from_json(&text)
                .map_err(|e| format!("--init {}: {e}", path.display()))?;
            Some(net)
        }
        None => None,
    };
    let mut config = DetectorTrainingConfig::new()
        .with_epochs(args.epochs)
        .with_context(args.context)
        .with_stride(args.stride)
        .with_delay(args.delay)
        .with_embedding(args.embedding)
        .with_hidden(args.hidden)
        .with_pitch(args.pitch)
        .with_learning_rate(args.learning_rate)
        .with_seed(args.seed);
    if let Some(net) = &start {
        config = config.with_shape_of(net);
    }
    let net = train_detector(
        &config,
        start.as_ref(),
        &train,
        &valid,
        &default_device(),
        |e| {
            println!(
                "epoch {:>2}: train loss {:.4}, valid loss {:.4}, valid frame accuracy {:.4} ({:.0} s)",
                e.epoch,
                e.train_loss,
                e.valid_loss,
                e.valid_accuracy,
                started.elapsed().as_secs_f64()
            );
        },
    )?;
    let json = serde_json::to_string(&net)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&args.out, json).map_err(|e| format!("{}: {e}", args.out.display()))?;
    println!(
        "wrote {} ({} weights)",
        args.out.display(),
        net.parameters()
    );
    Ok(())
}
