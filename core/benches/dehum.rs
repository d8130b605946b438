//! What removing a hum costs the engine ([`HumCanceller`], `EngineConfig::dehum`): one 3.5 s
//! utterance at 16 kHz (the model's rate, where the engine runs it) with 0.8 s of room before
//! it, as the engine's pre-roll has, fed in 10 ms blocks as the engine feeds it: without a
//! hum (the usual case: the search for one over the first half second, then a copy), and
//! under a 60 Hz hum with its overtones up to 2 kHz (33 cancelled) and a 50 Hz one up to 4 kHz
//! (79 cancelled: a buzz richer in overtones than the `hum` condition of `trainer
//! evaluate`). The baseline in the same run: the MFCC front end of the same utterance.
//! Prints each figure (the median of nine passes), its share of the utterance's real time
//! and its ratio to the front end.
//!
//! `cargo bench -p voice_emotion --bench dehum`.
#![expect(clippy::expect_used, reason = "benchmarks fail loudly")]

use std::hint::black_box;

use voice_emotion::audio::HumCanceller;
use voice_emotion::features::{Mfcc, MfccConfig};

mod common;

use common::median;

fn dehum_in_blocks(c: &mut HumCanceller, x: &[f32], out: &mut Vec<f32>) {
    out.clear();
    c.reset();
    for block in x.chunks(160) {
        c.push(black_box(block), out);
    }
    c.finish(out);
}

/// `x` with a hum of `f0` and its overtones below `top` Hz (amplitudes falling as 1/k) at
/// a tenth of `x`'s power.
fn with_hum(x: &[f32], f0: f64, top: f64) -> Vec<f32> {
    let ks: Vec<f64> = (1..).map(f64::from).take_while(|k| k * f0 < top).collect();
    let hum: Vec<f64> = (0..x.len())
        .map(|i| {
            let t = i as f64 / 16_000.0;
            ks.iter()
                .map(|k| (2.0 * std::f64::consts::PI * k * f0 * t + k).sin() / k)
                .sum()
        })
        .collect();
    let power = |v: &mut dyn Iterator<Item = f64>| {
        let (s, n) = v.fold((0.0, 0usize), |(s, n), y| (s + y * y, n + 1));
        s / n.max(1) as f64
    };
    let scale =
        (power(&mut x.iter().map(|&v| f64::from(v))) / 10.0 / power(&mut hum.iter().copied()))
            .sqrt();
    x.iter()
        .zip(&hum)
        .map(|(&v, h)| v + (scale * h) as f32)
        .collect()
}

fn main() {
    let seconds = 3.5;
    let speech = common::speech_like(seconds);
    let mut utterance = vec![0.0f32; 12_800];
    utterance.extend_from_slice(&speech);
    let mut mfcc = Mfcc::new(MfccConfig::default()).expect("reference config is valid");
    let mut frames = vec![0.0; mfcc.n_frames(speech.len()) * 40];
    let front_end = median(|| {
        mfcc.process_into(black_box(&speech), &mut frames)
            .expect("valid input");
    });
    println!(
        "one {seconds} s utterance (and 0.8 s of room) at 16 kHz, one thread, median of nine passes:"
    );
    let real_time = utterance.len() as f64 / 16_000.0;
    let line = |what: &str, t: f64| {
        println!(
            "  {what:<40}{:7.3} ms  ({:.3}% of real time, {:.2}x the front end)",
            t * 1e3,
            100.0 * t / real_time,
            t / front_end
        );
    };
    line("MFCC front end (baseline)", front_end);
    let mut c = HumCanceller::new(16_000);
    let mut out = Vec::with_capacity(utterance.len());
    let plain = median(|| dehum_in_blocks(&mut c, &utterance, &mut out));
    assert!(c.hum().is_none(), "a hum found where there is none");
    line("hum canceller, no hum", plain);
    for (f0, top) in [(60.0, 2000.0), (50.0, 4000.0)] {
        let hummed = with_hum(&utterance, f0, top);
        let t = median(|| dehum_in_blocks(&mut c, &hummed, &mut out));
        let hum = c.hum().expect("the hum is found");
        line(
            &format!("hum canceller, {f0} Hz, {} overtones", hum.overtones),
            t,
        );
    }
}
