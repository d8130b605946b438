//! `trainer segment-eval`: speech detection in noisy rooms. Builds a stream of utterances of
//! unseen actors (each cut to its clean speech, 1–2 s of silence between them), adds
//! continuous noise of several kinds at several SNRs, runs the engine's [`Segmenter`] over it
//! with each detector asked for, and prints per condition how many utterances were detected
//! exactly once (and with both boundaries within the tolerance of the clean-speech ones),
//! merged, split or missed, the boundary errors, false detections, and how often the emotion
//! of a detected utterance agrees with whole-clip classification of the same noisy audio.
//! Then the noise alone, at its 10 dB level, for `--noise-seconds`: every detection is false.
//! Prints last `worst detected once within tolerance: 10 dB X, 5 dB Y` for the first detector.

mod classifier;
mod mic;
mod noise_alone;

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use voice_emotion::audio::{SAMPLE_RATE, load_clip, resample};
use voice_emotion::engine::{EngineConfig, heard_by_model};
use voice_emotion::speech::{
    DETECTOR_BANDS, DETECTOR_HIGHEST_HZ, DETECTOR_LOWEST_HZ, Detector, DetectorNet, SegmentEvent,
    Segmenter, VadConfig, trim_silence,
};
use voice_emotion::training::streams::{
    Outcome, RoomNoise, SegmentScore, SpeechStream, audible_spans, score_detections,
};

use classifier::Classifier;
use mic::{Microphone, parse_band, parse_quiet_mic};

use super::CmdResult;
use super::evaluate::Source;

/// Arguments of `trainer segment-eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The clips the utterances come from (default: RAVDESS actors 21-24, unseen in training).
    #[command(flatten)]
    pub source: Source,
    /// Utterances in the stream.
    #[arg(long, default_value_t = 40)]
    pub utterances: usize,
    /// Noise kinds (comma-separated: pink, brown, hum, low-hum, music, step).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "pink,brown,hum,low-hum,music,step"
    )]
    pub noises: Vec<RoomNoise>,
    /// Signal-to-noise ratios in dB (speech's active power over the noise's nominal power).
    #[arg(long, value_delimiter = ',', default_value = "20,10,5")]
    pub snrs: Vec<f64>,
    /// Detectors to compare (learned, spectral, energy); the first one gives the last line.
    #[arg(long, value_delimiter = ',', default_value = "learned,spectral,energy")]
    pub detectors: Vec<String>,
    /// The learned detector's weights (JSON from `trainer train-detector`; the shipped ones
    /// if absent).
    #[arg(long)]
    pub detector_weights: Option<PathBuf>,
    /// The learned detector's boundary net (JSON from `trainer train-detector --delay N`;
    /// the shipped one if absent).
    #[arg(long, conflicts_with = "no_boundary")]
    pub boundary_weights: Option<PathBuf>,
    /// Place boundaries with the learned detector's own logits, without a boundary net (as
    /// before the boundary net shipped).
    #[arg(long)]
    pub no_boundary: bool,
    /// Speech-detection settings (JSON, a partial `VadConfig`: the fields it leaves out keep
    /// the engine's settings); the engine's settings if absent.
    #[arg(long)]
    pub vad: Option<PathBuf>,
    /// The clean-speech boundaries: each clip's first and last 10 ms frame within this many
    /// dB of its loudest (`trim_silence`; 40 as in training).
    #[arg(long, default_value_t = 40.0)]
    pub truth_top_db: f32,
    /// Boundary tolerance in milliseconds.
    #[arg(long, default_value_t = 150.0)]
    pub tolerance_ms: f64,
    /// Seconds of each noise alone (at its 10 dB level) in which every detection is false;
    /// 0 skips it.
    #[arg(long, default_value_t = 600.0)]
    pub noise_seconds: f64,
    /// Also print where the false detections in the noise alone start and end (the first
    /// ten per noise and detector).
    #[arg(long)]
    pub show_false: bool,
    /// The model that classifies detections (none: skip emotions).
    #[arg(long, default_value = "models/base")]
    pub model: Option<PathBuf>,
    /// Skip emotion classification.
    #[arg(long)]
    pub no_emotions: bool,
    /// What of a detected utterance the model classifies (the engine's
    /// `EngineConfig::classified_span`): `speech`, the detected speech alone (the engine's
    /// default), or `utterance`, pre-roll and tail included.
    #[arg(long, default_value = "speech", value_parser = ["speech", "utterance"])]
    pub classify: String,
    /// The microphone's sample rate: the stream is resampled to it and detected there, as
    /// the engine detects at the device's rate (scores stay in 16 kHz samples).
    #[arg(long, default_value_t = SAMPLE_RATE)]
    pub rate: u32,
    /// Also print, per condition, percentiles of the spectral detector's frame scores inside
    /// and outside the utterances (for choosing `spectral_threshold_db`; at 16 kHz only).
    #[arg(long)]
    pub score_stats: bool,
    /// Write the first noise's stream at the first SNR to this WAV file (16 kHz), with its
    /// truth beside it (`.tsv`: start and end seconds, emotion), e.g. for `trainer stream`.
    #[arg(long)]
    pub write: Option<PathBuf>,
    /// Also print how much of each utterance can be heard at all under each noise: the
    /// utterances whose audible span (first to last 10 ms frame where the clean speech is at
    /// least this many dB above the noise in one of the learned detector's 24 mel bands, 100 Hz
    /// to 7 kHz; an ideal binary mask, computed from the clean speech and the noise apart) lies
    /// within the tolerance of the truth. A bound on what any detector can reach; repeatable.
    #[arg(long, value_delimiter = ',')]
    pub audible_db: Vec<f32>,
    /// Write one line per utterance, condition and detector to this TSV file: the
    /// outcome, its level around the speech level, its clean-speech length and the start and
    /// end errors in ms (detection minus truth; empty unless detected once). For studying
    /// which utterances miss the tolerance.
    #[arg(long)]
    pub errors: Option<PathBuf>,
    /// What normalises the model's input: `training`, the training set's statistics (a new
    /// player, cold); `speaker`, the statistics of all the audio classified in the condition
    /// (all the detections, or all the noisy clips), as a player's voice statistics once
    /// learnt in that room; `player`, the engine's own path for a new player (its player
    /// model, `learn_voice`): each utterance in the stream's order with the statistics learnt
    /// from the ones before it, blended with the training set's. `speaker` and `player` are
    /// meant for one actor (`--actors 20`).
    #[arg(long, default_value = "training", value_parser = ["training", "speaker", "player"])]
    pub stats: String,
    /// Hear the streams (speech and noise) through a band-limited microphone or line that
    /// passes only `LOW-HIGH` Hz, e.g. `300-3400` (a telephone line) or `0-4000` (an 8 kHz
    /// headset).
    #[arg(long, value_parser = parse_band)]
    pub band: Option<(f64, f64)>,
    /// Hear the streams through a microphone this many dB quieter (e.g. `-26`), over its own
    /// white noise at −70 dBFS: `robustness`'s quiet-mic condition. After `--band`.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_quiet_mic)]
    pub quiet_mic: Option<f64>,
    /// Seed of the clip order, gaps and noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn parse_detector(name: &str) -> Result<Detector, String> {
    match name {
        "spectral" => Ok(Detector::Spectral),
        "energy" => Ok(Detector::Energy),
        "learned" => Ok(Detector::Learned),
        other => Err(format!(
            "unknown detector {other:?} (expected learned, spectral or energy)"
        )),
    }
}

/// Detector weights from a JSON file (`trainer train-detector`'s output).
fn read_net(path: &std::path::Path) -> Result<Arc<DetectorNet>, String> {
    let json = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    DetectorNet::from_json(&json)
        .map(Arc::new)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// What every detection run shares: the learned detector's nets, the speech-detection
/// settings (whose `detector` each run sets) and the microphone's rate.
struct Detection<'a> {
    net: &'a Arc<DetectorNet>,
    boundary: Option<&'a Arc<DetectorNet>>,
    base: &'a VadConfig,
    rate: u32,
}

/// A detected utterance: its speech span, and the audio the engine's model would hear of it
/// with whether a hum was removed from it (empty and `false` when not asked for).
type Found = (Range<usize>, Vec<f32>, bool);

/// What [`detect`] hands the model of each utterance, as the engine does.
#[derive(Clone, Copy)]
struct Hearing<'a> {
    /// The detected speech alone (`ClassifiedSpan::Speech`, the room before it for finding a
    /// hum), or the whole utterance with its pre-roll and tail.
    speech_only: bool,
    /// The engine's clean-up (`declip`, `dehum`).
    engine: &'a EngineConfig,
}

/// Detected utterances in 16 kHz `samples`, heard at `rate` as a microphone at that rate
/// would give them (the stream is resampled first): speech spans in 16 kHz samples and, with
/// `hearing`, what the engine's model hears of each ([`heard_by_model`]). With `scores`, every
/// frame's spectral score is appended to it.
fn detect(
    hearing: Option<Hearing<'_>>,
    net: &Arc<DetectorNet>,
    boundary: Option<&Arc<DetectorNet>>,
    config: &VadConfig,
    samples: &[f32],
    rate: u32,
    mut scores: Option<&mut Vec<f32>>,
) -> Result<Vec<Found>, String> {
    let at_rate;
    let samples = if rate == SAMPLE_RATE {
        samples
    } else {
        at_rate = resample(samples, SAMPLE_RATE, rate).map_err(|e| e.to_string())?;
        &at_rate
    };
    let mut segmenter =
        Segmenter::with_detector_nets(config.clone(), rate, net.clone(), boundary.cloned())
            .map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    let block = match scores {
        Some(_) => config.frame_samples(rate),
        None => rate as usize / 10,
    };
    for block in samples.chunks(block) {
        segmenter.push(block, &mut events);
        if let Some(scores) = scores.as_deref_mut() {
            scores.push(segmenter.last_frame_score());
        }
    }
    segmenter.flush(&mut events);
    let to_16k = |i: u64| (i as f64 * f64::from(SAMPLE_RATE) / f64::from(rate)).round() as usize;
    events
        .into_iter()
        .filter_map(|e| match e {
            SegmentEvent::SpeechEnded { utterance } => Some(utterance),
            _ => None,
        })
        .map(|u| {
            let span = to_16k(u.speech_start_sample)..to_16k(u.speech_end_sample);
            let Some(h) = hearing else {
                return Ok((span, Vec::new(), false));
            };
            // Cut at the source's rate, then declipped, resampled and dehummed, as the
            // engine does.
            let (heard, room) = if h.speech_only {
                (u.speech(), u.before_speech())
            } else {
                (&u.samples[..], &[][..])
            };
            let (audio, hum) =
                heard_by_model(heard, room, rate, h.engine).map_err(|e| e.to_string())?;
            Ok((span, audio, hum.is_some()))
        })
        .collect()
}

fn print_score_stats(
    kind: RoomNoise,
    snr: f64,
    scores: &[f32],
    truth: &[Range<usize>],
    config: &VadConfig,
) {
    let hop = config.frame_samples(SAMPLE_RATE);
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for (i, &s) in scores.iter().enumerate() {
        let at = i * hop + hop / 2;
        if truth.iter().any(|t| t.contains(&at)) {
            inside.push(s);
        } else {
            outside.push(s);
        }
    }
    let q = |v: &mut Vec<f32>| {
        v.sort_by(f32::total_cmp);
        [0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
            .map(|p| {
                v.get(((v.len().max(1) - 1) as f64 * p) as usize)
                    .map_or_else(|| "-".to_owned(), |x| format!("{x:.1}"))
            })
            .join(" ")
    };
    println!(
        "scores {kind} {snr} dB: speech p10..p99 [{}]  other [{}]",
        q(&mut inside),
        q(&mut outside)
    );
}

/// Writes `samples` as a 16 kHz float WAV file and the truth of `stream` beside it.
fn write_stream(path: &PathBuf, samples: &[f32], stream: &SpeechStream) -> CmdResult {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer =
        hound::WavWriter::create(path, spec).map_err(|e| format!("{}: {e}", path.display()))?;
    for &s in samples {
        writer
            .write_sample(s)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    writer
        .finalize()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let sr = f64::from(SAMPLE_RATE);
    let truth: String = stream
        .truth
        .iter()
        .zip(&stream.labels)
        .map(|(t, e)| {
            format!(
                "{:.2}\t{:.2}\t{e}\n",
                t.start as f64 / sr,
                t.end as f64 / sr
            )
        })
        .collect();
    let tsv = path.with_extension("tsv");
    std::fs::write(&tsv, truth).map_err(|e| format!("{}: {e}", tsv.display()))?;
    Ok(())
}

/// The signed median and the 90th percentile of the absolute errors, in ms.
fn median_p90_ms(errors: &[f64]) -> String {
    if errors.is_empty() {
        return "-".to_owned();
    }
    let sorted = |v: &mut Vec<f64>| v.sort_by(f64::total_cmp);
    let at = |v: &[f64], q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let mut signed: Vec<f64> = errors.iter().map(|e| e * 1000.0).collect();
    let mut abs: Vec<f64> = signed.iter().map(|e| e.abs()).collect();
    sorted(&mut signed);
    sorted(&mut abs);
    format!("{:+.0}/{:.0}", at(&signed, 0.5), at(&abs, 0.9))
}

/// Runs the subcommand.
pub fn run(args: &Args) -> CmdResult {
    // The engine's own settings by default (its pre-roll bounds how far a start may move back).
    let base = super::read_vad(args.vad.as_deref())?;
    let net = match &args.detector_weights {
        Some(path) => read_net(path)?,
        None => DetectorNet::builtin(),
    };
    let boundary = match (&args.boundary_weights, args.no_boundary) {
        (_, true) => None,
        (Some(path), false) => Some(read_net(path)?),
        (None, false) => Some(DetectorNet::builtin_boundary()),
    };
    let detectors: Vec<Detector> = args
        .detectors
        .iter()
        .map(|d| parse_detector(d))
        .collect::<Result<_, _>>()?;
    if detectors.is_empty() || args.noises.is_empty() || args.snrs.is_empty() {
        return Err("need at least one detector, noise and SNR".into());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    // The microphone's own noise draws apart, so `--quiet-mic` leaves the streams unchanged.
    let mut mic_rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x6d69_6372_6f70_686f);
    let mic = Microphone {
        band: args.band,
        quiet_db: args.quiet_mic,
    };
    let mut samples = args.source.samples()?;
    if samples.is_empty() {
        return Err("no clips selected".into());
    }
    samples.shuffle(&mut rng);
    let trim = VadConfig {
        trim_top_db: args.truth_top_db,
        ..VadConfig::default()
    };
    let mut clips = Vec::new();
    // The file of each utterance in the stream (which skips empty clips).
    let mut names = Vec::new();
    for s in samples.iter().take(args.utterances) {
        let clip = load_clip(&s.path).map_err(|e| format!("{}: {e}", s.path.display()))?;
        let speech = trim_silence(&clip, SAMPLE_RATE, &trim);
        if !speech.is_empty() {
            names.push(
                s.path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            );
        }
        clips.push((clip[speech].to_vec(), s.emotion));
    }
    let stream = SpeechStream::build(&clips, SAMPLE_RATE, 1.0..2.0, 2.0, &mut rng);
    let mut classifier = match (&args.model, args.no_emotions) {
        (Some(dir), false) => Some(Classifier::load(dir, &args.stats)?),
        _ => None,
    };
    let mut levels = stream.relative_levels_db.clone();
    levels.sort_by(f64::total_cmp);
    let level_at = |q: f64| levels[((levels.len().max(1) - 1) as f64 * q).round() as usize];
    println!(
        "{} utterances of {} clips, {:.0} s of stream; boundaries within {} ms count; \
         utterance levels around the speech level (SNR reference): min {:+.1} dB, p10 {:+.1}, \
         p90 {:+.1}, max {:+.1}",
        stream.truth.len(),
        samples.len(),
        stream.samples.len() as f64 / f64::from(SAMPLE_RATE),
        args.tolerance_ms,
        level_at(0.0),
        level_at(0.1),
        level_at(0.9),
        level_at(1.0),
    );
    // The louder half of the utterances (at or above the median level) and the quieter
    // half: what the detector misses under the noise in each tells level spread (the
    // quietest sentences lie below the nominal SNR) from the detector's own error.
    let median_level = level_at(0.5);
    let louder: Vec<bool> = stream
        .relative_levels_db
        .iter()
        .map(|&l| l >= median_level)
        .collect();
    let halves = |within: &[bool]| {
        let share = |loud: bool| {
            let (hits, total) = within
                .iter()
                .zip(&louder)
                .filter(|&(_, &l)| l == loud)
                .fold((0usize, 0usize), |(h, t), (&w, _)| {
                    (h + usize::from(w), t + 1)
                });
            format!("{:.0}%", 100.0 * hits as f64 / total.max(1) as f64)
        };
        format!("{} / {}", share(true), share(false))
    };
    let tolerance = args.tolerance_ms / 1000.0;
    let n = stream.truth.len().max(1) as f64;
    let pct = |k: usize| format!("{:.0}%", 100.0 * k as f64 / n);
    // worst[detector][snr] of once-within.
    let mut worst: Vec<Vec<f64>> = vec![vec![1.0; args.snrs.len()]; detectors.len()];
    let mut tables: Vec<Vec<String>> = vec![Vec::new(); detectors.len()];
    let mut written = false;
    let mut audible_rows = Vec::new();
    let mut hum_notes = Vec::new();
    // What the engine does to a detection before its model hears it (`heard_by_model`).
    let engine = EngineConfig::default();
    let mut error_rows = String::from(
        "noise\tsnr_db\tdetector\tutterance\tfile\tlevel_db\tlength_ms\toutcome\tstart_err_ms\tend_err_ms\n",
    );
    // The clean speech as the microphone hears it, for the ideal mask.
    let heard_speech = if args.audible_db.is_empty() {
        Vec::new()
    } else {
        mic.through(stream.samples.clone())?
    };
    for &kind in &args.noises {
        let noise = kind.generate(stream.samples.len(), SAMPLE_RATE, &mut rng);
        for (si, &snr) in args.snrs.iter().enumerate() {
            let own = mic.own_noise(stream.samples.len(), &mut mic_rng);
            let noisy = mic.hear(stream.with_noise(&noise, snr), own.as_deref())?;
            if let Some(path) = args.write.as_ref().filter(|_| !written) {
                write_stream(path, &noisy, &stream)?;
                written = true;
            }
            let gain = stream.noise_gain(snr);
            let scaled: Vec<f32> = if args.audible_db.is_empty() {
                Vec::new()
            } else {
                mic.hear(noise.iter().map(|v| v * gain).collect(), own.as_deref())?
            };
            for &local in &args.audible_db {
                let spans = audible_spans(
                    &heard_speech,
                    &scaled,
                    &stream.truth,
                    SAMPLE_RATE,
                    local,
                    DETECTOR_BANDS,
                    DETECTOR_LOWEST_HZ..DETECTOR_HIGHEST_HZ,
                );
                let score = score_detections(&stream.truth, &spans, SAMPLE_RATE, tolerance);
                audible_rows.push(format!(
                    "| {kind} | {snr} | {local} | {} | {} | {} | {} | {} |",
                    pct(score.once_within),
                    halves(&score.within),
                    score.count(|o| *o == Outcome::Missed),
                    median_p90_ms(&score.start_errors),
                    median_p90_ms(&score.end_errors),
                ));
            }
            // Whole-clip classification of the same noisy audio, heard as the engine hears a
            // detection: its room the half second before it.
            let mut clip_hums = 0;
            let clip_predictions = match &mut classifier {
                Some(c) => {
                    let room_len = SAMPLE_RATE as usize / 2;
                    let clips = stream
                        .truth
                        .iter()
                        .map(|t| {
                            let room = &noisy[t.start.saturating_sub(room_len)..t.start];
                            heard_by_model(&noisy[t.clone()], room, SAMPLE_RATE, &engine).map(
                                |(audio, hum)| {
                                    clip_hums += usize::from(hum.is_some());
                                    audio
                                },
                            )
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let clips: Vec<&[f32]> = clips.iter().map(Vec::as_slice).collect();
                    c.emotions(&clips)?
                }
                None => Vec::new(),
            };
            for (di, &detector) in detectors.iter().enumerate() {
                let config = VadConfig {
                    detector,
                    ..base.clone()
                };
                let mut frame_scores = Vec::new();
                let want_scores =
                    args.score_stats && detector != Detector::Energy && args.rate == SAMPLE_RATE;
                let hearing = classifier.is_some().then_some(Hearing {
                    speech_only: args.classify == "speech",
                    engine: &engine,
                });
                let found = detect(
                    hearing,
                    &net,
                    boundary.as_ref(),
                    &config,
                    &noisy,
                    args.rate,
                    want_scores.then_some(&mut frame_scores),
                )?;
                if want_scores {
                    print_score_stats(kind, snr, &frame_scores, &stream.truth, &config);
                }
                let spans: Vec<Range<usize>> = found.iter().map(|(s, _, _)| s.clone()).collect();
                let score: SegmentScore =
                    score_detections(&stream.truth, &spans, SAMPLE_RATE, tolerance);
                let once = score.count(|o| matches!(o, Outcome::Once { .. }));
                let emotions = match &mut classifier {
                    Some(c) => {
                        let once: Vec<(usize, usize)> = score
                            .outcomes
                            .iter()
                            .enumerate()
                            .filter_map(|(t, o)| match o {
                                Outcome::Once { detection } => Some((t, *detection)),
                                _ => None,
                            })
                            .collect();
                        let heard: Vec<&[f32]> =
                            once.iter().map(|&(_, d)| found[d].1.as_slice()).collect();
                        let hums = once.iter().filter(|&&(_, d)| found[d].2).count();
                        if hums + clip_hums > 0 {
                            hum_notes.push(format!(
                                "{kind} at {snr} dB, {detector:?}: a hum removed from {hums} of the {} utterances detected once, from {clip_hums} of the {} noisy clips",
                                once.len(),
                                stream.truth.len()
                            ));
                        }
                        let predicted = c.emotions(&heard)?;
                        let (mut agree, mut correct, mut clip_correct, mut total) = (0, 0, 0, 0);
                        for (&(t, _), &p) in once.iter().zip(&predicted) {
                            {
                                total += 1;
                                agree += usize::from(p == clip_predictions[t]);
                                correct += usize::from(p == stream.labels[t]);
                                clip_correct +=
                                    usize::from(clip_predictions[t] == stream.labels[t]);
                            }
                        }
                        let r = |k: usize| k as f64 / f64::from(total.max(1));
                        format!(
                            "{:.2} | {:.2} / {:.2}",
                            r(agree),
                            r(correct),
                            r(clip_correct)
                        )
                    }
                    None => "- | -".to_owned(),
                };
                let mut once_errors = score.start_errors.iter().zip(&score.end_errors);
                for (u, outcome) in score.outcomes.iter().enumerate() {
                    let (name, errors) = match outcome {
                        Outcome::Once { .. } => (
                            "once",
                            once_errors.next().map_or_else(
                                || "\t".to_owned(),
                                |(s, e)| format!("{:.0}\t{:.0}", s * 1000.0, e * 1000.0),
                            ),
                        ),
                        Outcome::Merged => ("merged", "\t".to_owned()),
                        Outcome::Split => ("split", "\t".to_owned()),
                        Outcome::Missed => ("missed", "\t".to_owned()),
                    };
                    let t = &stream.truth[u];
                    error_rows.push_str(&format!(
                        "{kind}\t{snr}\t{detector:?}\t{u}\t{}\t{:.1}\t{:.0}\t{name}\t{errors}\n",
                        names[u],
                        stream.relative_levels_db[u],
                        (t.end - t.start) as f64 * 1000.0 / f64::from(SAMPLE_RATE),
                    ));
                }
                worst[di][si] = worst[di][si].min(score.once_within as f64 / n);
                tables[di].push(format!(
                    "| {kind} | {snr} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {emotions} |",
                    found.len(),
                    pct(score.once_within),
                    halves(&score.within),
                    pct(once),
                    score.count(|o| *o == Outcome::Merged),
                    score.count(|o| *o == Outcome::Split),
                    score.count(|o| *o == Outcome::Missed),
                    score.false_detections,
                    median_p90_ms(&score.start_errors),
                    median_p90_ms(&score.end_errors),
                ));
            }
        }
    }
    for (di, detector) in detectors.iter().enumerate() {
        println!("\n## {detector:?} detector\n");
        println!(
            "| noise | SNR dB | detections | once within tol. | once within tol., louder / quieter half | once | merged | split | missed | false | start err ms median/p90 abs. | end err ms median/p90 abs. | emotion agrees with clip | acc. stream / clip |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for row in &tables[di] {
            println!("{row}");
        }
    }
    if !hum_notes.is_empty() {
        println!();
        for note in &hum_notes {
            println!("{note}");
        }
    }
    if !audible_rows.is_empty() {
        println!("\n## Audible edges: where the clean speech rises above the noise (ideal mask)\n");
        println!(
            "| noise | SNR dB | local SNR dB | within tol. | louder / quieter half | heard nowhere | start err ms median/p90 abs. | end err ms median/p90 abs. |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for row in &audible_rows {
            println!("{row}");
        }
    }
    if args.noise_seconds > 0.0 {
        let gain = stream.noise_gain(10.0);
        let ctx = Detection {
            net: &net,
            boundary: boundary.as_ref(),
            base: &base,
            rate: args.rate,
        };
        noise_alone::print(args, &ctx, &detectors, gain, &mic, &mut rng, &mut mic_rng)?;
    }
    if let Some(path) = &args.errors {
        std::fs::write(path, error_rows).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let at = |snr: f64| {
        args.snrs
            .iter()
            .position(|&s| (s - snr).abs() < 1e-9)
            .map_or_else(|| "-".to_owned(), |i| format!("{:.3}", worst[0][i]))
    };
    println!(
        "\nworst detected once within tolerance: 10 dB {}, 5 dB {}",
        at(10.0),
        at(5.0)
    );
    Ok(())
}
