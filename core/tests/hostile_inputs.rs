//! The bad-input suite through the public API: every hostile input of `common/hostile.rs`
//! through `read_audio`, `load_clip` and, where it decodes, the shipped model. Each gives the
//! outcome of its row (a correct result or the typed error naming the input), within a time
//! limit (no hang), and the header that claims gigabytes costs no more than a few MiB.
//! Prints the table of results (`cargo test -p voice_emotion --test hostile_inputs --
//! --nocapture`).
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

#[path = "common/hostile.rs"]
mod hostile;

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hostile::{Case, Expect};
use voice_emotion::audio::{AudioError, SAMPLE_RATE, load_clip, read_audio};
use voice_emotion::model::EmotionClassifier;
use voice_emotion::model::default_device;

fn variant(e: &AudioError) -> &'static str {
    match e {
        AudioError::Io { .. } => "Io",
        AudioError::InvalidAudio { .. } => "InvalidAudio",
        AudioError::Unsupported { .. } => "Unsupported",
        AudioError::NoChannels { .. } => "NoChannels",
        AudioError::SampleRate { .. } => "SampleRate",
        AudioError::Empty { .. } => "Empty",
        AudioError::Truncated { .. } => "Truncated",
        AudioError::TooLong { .. } => "TooLong",
        AudioError::NonFinite { .. } => "NonFinite",
        AudioError::OutOfRange { .. } => "OutOfRange",
        AudioError::Resample { .. } => "Resample",
    }
}

/// Peak resident memory of this process so far, in bytes (Linux `VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Runs `f` on a thread of its own and gives up after `limit` (a hang fails the case).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).ok()
}

/// Checks one case through `read_audio`, `load_clip` and the model; returns the table row's
/// outcome text, or what went wrong.
fn check(case: &Case, model_dir: &Path) -> Result<String, String> {
    let path = case.path.clone();
    let limit = Duration::from_secs(if case.slow { 300 } else { 30 });
    let started = Instant::now();
    let decoded = within(limit, move || read_audio(&path))
        .ok_or_else(|| format!("read_audio did not return within {limit:?} (a hang)"))?;
    let ms = started.elapsed().as_millis();
    match (&case.expect, decoded) {
        (
            Expect::Decodes {
                channels,
                rate,
                frames,
                first,
                tol,
            },
            Ok((audio, info)),
        ) => {
            let got = (info.channels, info.sample_rate, info.frames);
            if got != (*channels, *rate, *frames) || audio.samples.len() != *frames {
                return Err(format!(
                    "decoded (channels, rate, frames) {got:?}, expected {:?}",
                    (channels, rate, frames)
                ));
            }
            if (audio.samples[0] - first).abs() > *tol {
                return Err(format!(
                    "first sample {}, expected {first}",
                    audio.samples[0]
                ));
            }
            if audio
                .samples
                .iter()
                .any(|s| !s.is_finite() || (!info.float && s.abs() > 1.0))
            {
                return Err("a non-finite sample, or an integer one outside [-1, 1]".to_owned());
            }
            // At 16 kHz, through the model.
            let path = case.path.clone();
            let dir = model_dir.to_path_buf();
            let classified = within(limit, move || {
                let signal = load_clip(&path).map_err(|e| e.to_string())?;
                let mut classifier =
                    EmotionClassifier::load(&dir, &default_device()).map_err(|e| e.to_string())?;
                let p = classifier
                    .classify(&signal, None)
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>((signal.len(), p))
            })
            .ok_or_else(|| format!("load_clip + classify did not return within {limit:?}"))?;
            let (len, p) = classified.map_err(|e| format!("the model refused it: {e}"))?;
            let expected_len = (*frames as u64 * u64::from(SAMPLE_RATE) / u64::from(*rate)) as i64;
            if (len as i64 - expected_len).abs() > 2 {
                return Err(format!("{len} samples at 16 kHz, expected {expected_len}"));
            }
            let sum: f32 = p.probabilities.iter().sum();
            if p.probabilities.iter().any(|x| !x.is_finite()) || (sum - 1.0).abs() > 1e-3 {
                return Err(format!("probabilities {:?}", p.probabilities));
            }
            Ok(format!(
                "decoded {channels} ch {rate} Hz {frames} frames in {ms} ms; model: {} {:.2}",
                p.emotion, p.confidence
            ))
        }
        (Expect::Fails(want, kind), Err(e)) => {
            let message = e.to_string();
            let name = case.path.display().to_string();
            if variant(&e) != *want {
                return Err(format!(
                    "{} error ({message}), expected {want}",
                    variant(&e)
                ));
            }
            if let (Some(kind), AudioError::Io { source, .. }) = (kind, &e)
                && source.kind() != *kind
            {
                return Err(format!("Io kind {:?}, expected {kind:?}", source.kind()));
            }
            if !message.contains(&name) {
                return Err(format!("the error does not name {name}: {message}"));
            }
            // load_clip fails the same way.
            let path = case.path.clone();
            let again =
                within(limit, move || load_clip(&path).map(|s| s.len())).ok_or("load_clip hung")?;
            match again {
                Err(e2) if variant(&e2) == *want => Ok(format!("{want} in {ms} ms: {message}")),
                other => Err(format!("load_clip gave {other:?}, read_audio {want}")),
            }
        }
        (Expect::Decodes { .. }, Err(e)) => Err(format!("expected audio, got {e}")),
        (Expect::Fails(want, _), Ok((_, info))) => {
            Err(format!("expected {want}, but it decoded: {info:?}"))
        }
    }
}

#[test]
fn every_hostile_input_gives_a_result_or_a_typed_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base");
    let mut cases = hostile::make_cases(dir.path());
    cases.push(hostile::unreadable_for_anyone());
    let root = hostile::is_root();
    let mut failures = Vec::new();
    let mut peak_before_gigabytes = None;
    println!("| input | outcome |\n| --- | --- |");
    for case in &cases {
        if case.name == hostile::NO_PERMISSION && root {
            // Root reads a mode-000 file; trainer/tests/hostile_inputs.rs runs this case as
            // an unprivileged user. Here it must at least decode.
            println!(
                "| {} | (root reads it; checked unprivileged through trainer) |",
                case.name
            );
            continue;
        }
        if case.name.starts_with("header claiming") && peak_before_gigabytes.is_none() {
            peak_before_gigabytes = Some(peak_rss());
        }
        match check(case, &model_dir) {
            Ok(outcome) => println!("| {} | {outcome} |", case.name),
            Err(problem) => {
                println!("| {} | FAILED: {problem} |", case.name);
                failures.push(format!("{}: {problem}", case.name));
            }
        }
        if case.name == "header claiming 4 GiB (12 min)" {
            let grown = peak_rss() - peak_before_gigabytes.unwrap();
            println!(
                "| (memory) | peak RSS grew {} KiB over the two gigabyte headers |",
                grown / 1024
            );
            if grown > 16 << 20 {
                failures.push(format!(
                    "the gigabyte headers raised peak memory by {grown} bytes"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
