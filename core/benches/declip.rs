//! What restoring clipped samples costs the engine ([`Declipper`], `EngineConfig::declip`):
//! one 3.5 s utterance, at 16 and 48 kHz, unclipped (the usual case: a pass over the samples)
//! and clipped by 3, 6 and 12 dB of overdrive (12 dB: the `clipping` condition of `trainer
//! evaluate`; this signal's steady loudness clips more of it than of a RAVDESS clip), fed in
//! 10 ms blocks as the engine feeds it. The baselines in the same run: resampling the same
//! utterance to 16 kHz (which the engine does anyway) and the MFCC front end of the 16 kHz
//! utterance. Prints each figure (the median of nine passes), its share of the utterance's
//! real time and its ratio to the front end.
//!
//! `cargo bench -p voice_emotion --bench declip`.
#![expect(clippy::expect_used, reason = "benchmarks fail loudly")]

use std::hint::black_box;

use voice_emotion::audio::{Declipper, resample};
use voice_emotion::features::{Mfcc, MfccConfig};

mod common;

use common::median;

fn declip_in_blocks(d: &mut Declipper, x: &[f32], rate: u32, out: &mut Vec<f32>) {
    out.clear();
    d.reset();
    for block in x.chunks((rate / 100) as usize) {
        d.push(black_box(block), out);
    }
    d.finish(out);
}

fn main() {
    let seconds = 3.5;
    let speech = common::speech_like(seconds);
    let mut mfcc = Mfcc::new(MfccConfig::default()).expect("reference config is valid");
    let mut frames = vec![0.0; mfcc.n_frames(speech.len()) * 40];
    let front_end = median(|| {
        mfcc.process_into(black_box(&speech), &mut frames)
            .expect("valid input");
    });
    println!("one {seconds} s utterance, one thread, median of nine passes:");
    println!(
        "  MFCC front end at 16 kHz (baseline)   {:7.3} ms",
        front_end * 1e3
    );
    for rate in [16_000u32, 48_000] {
        let at_rate = resample(&speech, 16_000, rate).expect("valid rates");
        let peak = at_rate.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let mut d = Declipper::new(rate);
        let mut out = Vec::with_capacity(at_rate.len());
        let plain = median(|| declip_in_blocks(&mut d, &at_rate, rate, &mut out));
        let restoring: Vec<(f32, f64, f64)> = [3.0f32, 6.0, 12.0]
            .into_iter()
            .map(|db| {
                let gain = 10f32.powf(db / 20.0) / peak;
                let clipped: Vec<f32> = at_rate
                    .iter()
                    .map(|v| (v * gain).clamp(-1.0, 1.0))
                    .collect();
                let share =
                    clipped.iter().filter(|v| v.abs() >= 1.0).count() as f64 / clipped.len() as f64;
                let t = median(|| declip_in_blocks(&mut d, &clipped, rate, &mut out));
                (db, share, t)
            })
            .collect();
        let resampling = if rate == 16_000 {
            None
        } else {
            Some(median(|| {
                black_box(resample(black_box(&at_rate), rate, 16_000).expect("valid rates"));
            }))
        };
        println!("at {rate} Hz:");
        let line = |what: &str, t: f64| {
            println!(
                "  {what:<38}{:7.3} ms  ({:.3}% of real time, {:.2}x the front end)",
                t * 1e3,
                100.0 * t / f64::from(seconds),
                t / front_end
            );
        };
        if let Some(t) = resampling {
            line("resampling to 16 kHz (baseline)", t);
        }
        line("declipper, nothing clipped", plain);
        for (db, share, t) in restoring {
            line(
                &format!("declipper, {db} dB over: {:.0}% clipped", 100.0 * share),
                t,
            );
        }
    }
}
