//! Times the MFCC front end on WAV files, one thread, for `scripts/bench-features`.
//!
//! `cargo run --release -p voice_emotion --example time_features -- REPS FILE...` prints one
//! line per file: `path<TAB>samples<TAB>median_us`, the median over REPS runs of
//! `Mfcc::process` (reference configuration) on the already decoded 16 kHz signal, the same
//! work `librosa.feature.mfcc` does in the script.
#![expect(clippy::expect_used, reason = "tests fail loudly")]

use std::time::Instant;

use voice_emotion::audio::load_clip;
use voice_emotion::features::{Mfcc, MfccConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let reps: usize = args
        .next()
        .and_then(|r| r.parse().ok())
        .expect("usage: time_features REPS FILE...");
    let mut mfcc = Mfcc::new(MfccConfig::default()).expect("reference config is valid");
    for path in args {
        let signal = load_clip(&path).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..3 {
            std::hint::black_box(mfcc.process(&signal).expect("valid input"));
        }
        let mut times: Vec<f64> = (0..reps)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(mfcc.process(std::hint::black_box(&signal)).expect("valid"));
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("{path}\t{}\t{:.1}", signal.len(), times[times.len() / 2]);
    }
}
