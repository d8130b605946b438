//! Shared by the benchmarks: a deterministic speech-like test signal, and a median timer.

use std::time::Instant;

/// `seconds` of 16 kHz audio: a harmonic voice (f0 around 140 Hz) under a syllable-rate
/// envelope, plus a little white noise. Costs do not depend on the content; this only keeps
/// the speech detector and features on a realistic path.
pub fn speech_like(seconds: f32) -> Vec<f32> {
    let mut state = 0x2545_f491_u32;
    (0..(seconds * 16_000.0) as usize)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state as f32 / u32::MAX as f32 - 0.5) * 0.01;
            let f0 = 140.0 + 20.0 * (t * 3.0).sin();
            let voiced: f32 = (1..8)
                .map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32)
                .sum();
            0.2 * voiced * (0.5 + 0.5 * (t * 4.0 * std::f32::consts::PI).sin()) + noise
        })
        .collect()
}

/// Median seconds of nine runs of `f`.
#[allow(dead_code, reason = "not every benchmark times this way")]
pub fn median(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..9)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
