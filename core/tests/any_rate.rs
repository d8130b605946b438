//! Users download the original 48 kHz RAVDESS; every entry point must accept any rate. A real
//! clip written at 48 kHz (and 44.1 kHz, stereo, 24-bit) must give the same features, after
//! resampling to 16 kHz, as the 16 kHz original.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod common;

use voice_emotion::audio::{load_clip, read_audio, resample};
use voice_emotion::features::{Mfcc, MfccConfig};

fn write_wav(path: &std::path::Path, samples: &[f32], rate: u32, channels: u16, bits: u16) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let scale = f64::from((1u32 << (bits - 1)) - 1);
    for &s in samples {
        for _ in 0..channels {
            w.write_sample((f64::from(s) * scale).round() as i32)
                .unwrap();
        }
    }
    w.finalize().unwrap();
}

#[test]
fn a_clip_at_48k_or_44k1_gives_the_same_mfcc_as_at_16k() {
    let original = common::ravdess_clip("03-01-05-02-01-01-22.wav");
    let reference_signal = load_clip(&original).unwrap();
    let mut mfcc = Mfcc::new(MfccConfig::default()).unwrap();
    let reference = mfcc.process(&reference_signal).unwrap();
    let dir = std::env::temp_dir().join(format!("any-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (rate, channels, bits) in [(48_000, 1, 16), (44_100, 2, 24), (22_050, 1, 16)] {
        let up = resample(&reference_signal, 16_000, rate).unwrap();
        let path = dir.join(format!("clip-{rate}.wav"));
        write_wav(&path, &up, rate, channels, bits);
        let (audio, info) = read_audio(&path).unwrap();
        assert_eq!((info.sample_rate, info.channels), (rate, channels));
        let back = audio.into_rate(16_000).unwrap().samples;
        assert!(
            back.len().abs_diff(reference_signal.len()) <= 1,
            "{rate}: {}",
            back.len()
        );
        let got = mfcc.process(&back).unwrap();
        // Frames away from the edges (resampler edge effects) agree closely.
        let n = got.n_frames.min(reference.n_frames);
        let mut total = 0.0f64;
        let mut count = 0usize;
        for t in 5..n - 5 {
            for (a, b) in got
                .frame(t)
                .unwrap()
                .iter()
                .zip(reference.frame(t).unwrap())
            {
                total += f64::from((a - b).abs());
                count += 1;
            }
        }
        let mean = total / count as f64;
        println!("{rate} Hz, {channels} ch, {bits} bit: mean |MFCC diff| = {mean:.4}");
        assert!(mean < 0.5, "{rate} Hz: mean MFCC difference {mean}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
