//! The noise alone, at its 10 dB level, for `--noise-seconds`: every detection is false.

use rand_chacha::ChaCha8Rng;
use voice_emotion::audio::SAMPLE_RATE;
use voice_emotion::speech::{Detector, VadConfig};

use super::mic::Microphone;
use super::{Args, Detection, detect};
use crate::cmd::CmdResult;

/// False detections `--show-false` prints per noise and detector.
const SHOWN_FALSE: usize = 10;

/// Prints the false detections of each detector in `args.noise_seconds` of each noise at
/// `gain` (its 10 dB level) heard through `mic` (and, with `--show-false`, where they fall).
pub(super) fn print(
    args: &Args,
    ctx: &Detection<'_>,
    detectors: &[Detector],
    gain: f32,
    mic: &Microphone,
    rng: &mut ChaCha8Rng,
    mic_rng: &mut ChaCha8Rng,
) -> CmdResult {
    println!(
        "\n## Noise alone, {:.0} s of each at its 10 dB level: false detections\n",
        args.noise_seconds
    );
    let names: Vec<String> = detectors.iter().map(|d| format!("{d:?}")).collect();
    println!("| noise | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(detectors.len()));
    let len = (args.noise_seconds * f64::from(SAMPLE_RATE)) as usize;
    let mut false_spans = Vec::new();
    for &kind in &args.noises {
        let noise: Vec<f32> = kind
            .generate(len, SAMPLE_RATE, rng)
            .into_iter()
            .map(|v| v * gain)
            .collect();
        let own = mic.own_noise(noise.len(), mic_rng);
        let noise = mic.hear(noise, own.as_deref())?;
        let mut cells = Vec::new();
        for &detector in detectors {
            let config = VadConfig {
                detector,
                ..ctx.base.clone()
            };
            let found = detect(None, ctx.net, ctx.boundary, &config, &noise, ctx.rate, None)?;
            if args.show_false && !found.is_empty() {
                let mut spans: Vec<String> = found
                    .iter()
                    .take(SHOWN_FALSE)
                    .map(|(r, _, _)| {
                        let s = |i: usize| i as f64 / f64::from(SAMPLE_RATE);
                        format!("{:.2}-{:.2} s", s(r.start), s(r.end))
                    })
                    .collect();
                if found.len() > SHOWN_FALSE {
                    spans.push(format!("and {} more", found.len() - SHOWN_FALSE));
                }
                false_spans.push(format!("{kind}, {detector:?}: {}", spans.join(", ")));
            }
            cells.push(found.len().to_string());
        }
        println!("| {kind} | {} |", cells.join(" | "));
    }
    for line in &false_spans {
        println!("false detections under {line}");
    }
    Ok(())
}
