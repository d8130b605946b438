//! Speech detection's cost in real time: the share of one core the streaming [`Segmenter`]
//! takes to follow a microphone, with the learned detector (with its boundary net, the default,
//! and without; and a network that also reads the pitch features, `trainer train-detector
//! --pitch`), the spectral and the energy detectors (the energy one is the baseline) in the
//! same run, at 16 and 48 kHz, fed in 10 ms blocks as a
//! microphone callback would. Prints the figures and the ratios; the target is at most 2% of
//! one core for every detector.
//!
//! `cargo bench -p voice_emotion --bench speech`. Each figure is the median of seven passes
//! over 60 s of a speech-like signal with gaps (every event path runs).
#![expect(clippy::expect_used, reason = "benchmarks fail loudly")]

use std::hint::black_box;
use std::time::Instant;

use voice_emotion::audio::resample;
use voice_emotion::speech::{
    BAND_FEATURES, DETECTOR_FEATURES, Detector, DetectorNet, PITCH_FEATURES, Segmenter, VadConfig,
};

mod common;

fn config(detector: Detector) -> VadConfig {
    VadConfig {
        detector,
        ..VadConfig::default()
    }
}

/// Seconds of processing per second of audio (the median of seven passes) of the segmenters
/// `make` gives.
fn share_of_core(make: impl Fn() -> Segmenter, signal: &[f32], rate: u32) -> f64 {
    let block = (rate / 100) as usize;
    let mut times: Vec<f64> = (0..7)
        .map(|_| {
            let mut segmenter = make();
            let mut events = Vec::with_capacity(64);
            let start = Instant::now();
            for chunk in signal.chunks(block) {
                segmenter.push(black_box(chunk), &mut events);
                events.clear();
            }
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2] / (signal.len() as f64 / f64::from(rate))
}

/// The shipped detector with its frame layer widened to the pitch features (their weights 0):
/// the cost of a network trained with `--pitch`, whose shape is the same.
fn with_pitch() -> DetectorNet {
    let mut net = (*DetectorNet::builtin()).clone();
    let frame = &mut net.frame;
    frame.weight.resize(DETECTOR_FEATURES * frame.outputs, 0.0);
    frame.inputs = DETECTOR_FEATURES;
    assert_eq!(
        frame.weight.len() / frame.outputs - BAND_FEATURES,
        PITCH_FEATURES
    );
    net.check().expect("a network of the pitch features");
    net
}

fn main() {
    let pitch_net = std::sync::Arc::new(with_pitch());
    // Two seconds of speech-like sound, one of near-silence, repeated for 60 s.
    let burst = common::speech_like(2.0);
    let mut signal = Vec::new();
    while signal.len() < 60 * 16_000 {
        signal.extend_from_slice(&burst);
        signal.extend(burst.iter().take(16_000).map(|v| v * 1e-3));
    }
    for rate in [16_000u32, 48_000] {
        let at_rate = resample(&signal, 16_000, rate).expect("valid rates");
        let default =
            |detector| move || Segmenter::new(config(detector), rate).expect("valid config");
        let learned = share_of_core(default(Detector::Learned), &at_rate, rate);
        let without_boundary = share_of_core(
            || {
                Segmenter::with_detector_net(
                    config(Detector::Learned),
                    rate,
                    DetectorNet::builtin(),
                )
                .expect("valid config")
            },
            &at_rate,
            rate,
        );
        let pitch = share_of_core(
            || {
                Segmenter::with_detector_nets(
                    config(Detector::Learned),
                    rate,
                    pitch_net.clone(),
                    Some(DetectorNet::builtin_boundary()),
                )
                .expect("valid config")
            },
            &at_rate,
            rate,
        );
        let spectral = share_of_core(default(Detector::Spectral), &at_rate, rate);
        let energy = share_of_core(default(Detector::Energy), &at_rate, rate);
        println!(
            "speech detection at {} kHz, share of one core in real time: learned {:.3}% (without its boundary net {:.3}%; a network of the pitch features {:.3}%), spectral {:.3}%, energy {:.3}% (learned / energy = {:.1}x, spectral / energy = {:.1}x)",
            rate / 1000,
            100.0 * learned,
            100.0 * without_boundary,
            100.0 * pitch,
            100.0 * spectral,
            100.0 * energy,
            learned / energy,
            spectral / energy
        );
    }
}
