//! Audio in: decoding (WAV in every common encoding, FLAC, Ogg Vorbis and MP3, through
//! `symphonia`; any rate and channel count) and resampling to the engine's internal 16 kHz mono.
//!
//! Every function here returns a typed [`AudioError`] naming the input on bad data: corrupt,
//! truncated, empty or non-audio files, unsupported formats, rates outside 8–192 kHz and
//! NaN/Inf (or absurdly large) samples never panic. `core/tests/hostile_inputs.rs` runs the
//! table of hostile inputs; the `wav` fuzz target (`fuzz/`) runs `decode_audio` on anything.
//!
//! Files: `decode.rs` (decoding), `resample.rs`, `level.rs` (speech level), `declip.rs`
//! (restoring clipped samples), `capture/` (live input). Imports nothing else of the crate: every later stage builds on it.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Resampler, SincInterpolationParameters, WindowFunction,
};

pub mod capture;
mod declip;
mod decode;
mod dehum;
mod level;
mod resample;
pub use declip::*;
pub use decode::*;
pub use dehum::*;
pub use level::*;
pub use resample::*;

/// The sample rate every feature, model and speech detector of the engine works at.
pub const SAMPLE_RATE: u32 = 16_000;
/// Lowest input sample rate accepted.
pub const MIN_SAMPLE_RATE: u32 = 8_000;
/// Highest input sample rate accepted.
pub const MAX_SAMPLE_RATE: u32 = 192_000;
/// Largest magnitude of a float sample accepted (full scale is 1; floats may go over it,
/// by 60 dB at most here).
pub const MAX_FLOAT_SAMPLE: f32 = 1000.0;
/// Longest clip [`read_audio`] decodes by default, in seconds (bounds memory on hostile headers).
pub const DEFAULT_MAX_SECONDS: f64 = 30.0 * 60.0;

/// What went wrong reading or converting audio. Every variant names the input.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read.
    #[error("cannot read audio file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The data is not an audio file we can parse (empty, not audio, corrupt or cut-short
    /// header, ...).
    #[error("{path} is not a valid audio file: {reason}")]
    InvalidAudio {
        /// The file.
        path: PathBuf,
        /// What the parser reported.
        reason: String,
    },
    /// A recognised container holding a variant this engine does not decode (an ADPCM or
    /// MP3-in-WAV file, Opus in Ogg, ...).
    #[error("{path}: unsupported audio format: {format}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What was found.
        format: String,
    },
    /// The stream declares zero channels.
    #[error("{path}: the audio declares 0 channels")]
    NoChannels {
        /// The file.
        path: PathBuf,
    },
    /// The sample rate is outside the accepted range.
    #[error("{path}: sample rate {rate} Hz is outside {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} Hz")]
    SampleRate {
        /// The file.
        path: PathBuf,
        /// The rate from the header.
        rate: u32,
    },
    /// The file holds no samples.
    #[error("{path} holds no audio samples")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The sample data ends before the header says it should, or is otherwise unreadable.
    #[error("{path}: sample data is truncated or corrupt after {frames_read} frames: {reason}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Whole frames decoded before the failure.
        frames_read: usize,
        /// What the decoder reported.
        reason: String,
    },
    /// The clip is longer than the configured limit.
    #[error("{path}: {seconds:.1} s of audio exceeds the limit of {max_seconds:.1} s")]
    TooLong {
        /// The file.
        path: PathBuf,
        /// Duration declared by the header, or decoded before the limit was passed.
        seconds: f64,
        /// The limit in force.
        max_seconds: f64,
    },
    /// A float sample is NaN or infinite.
    #[error("{path}: sample {index} is not a finite number ({value})")]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Index of the first bad sample (interleaved).
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A float sample is so far beyond full scale (more than [`MAX_FLOAT_SAMPLE`], 60 dB
    /// over) that the file cannot be audio; its power would overflow the features.
    #[error("{path}: sample {index} is {value}, beyond ±{MAX_FLOAT_SAMPLE} (full scale is ±1)")]
    OutOfRange {
        /// The file.
        path: PathBuf,
        /// Index of the first bad sample (interleaved).
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A resampling request was invalid or the resampler failed.
    #[error("cannot resample from {from} Hz to {to} Hz: {reason}")]
    Resample {
        /// Input rate (or ratio numerator).
        from: f64,
        /// Output rate (or ratio denominator).
        to: f64,
        /// What rubato reported.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn wav_bytes(spec: hound::WavSpec, frames: usize, f: impl Fn(usize, usize) -> f64) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
            for i in 0..frames {
                for c in 0..usize::from(spec.channels) {
                    let v = f(i, c);
                    match (spec.sample_format, spec.bits_per_sample) {
                        (hound::SampleFormat::Float, _) => w.write_sample(v as f32).unwrap(),
                        (_, 8) => w.write_sample((v * 127.0) as i8).unwrap(),
                        (_, 16) => w.write_sample((v * 32767.0) as i16).unwrap(),
                        (_, 24) => w.write_sample((v * 8_388_607.0) as i32).unwrap(),
                        (_, 32) => w.write_sample((v * 2_147_483_647.0) as i32).unwrap(),
                        _ => unreachable!(),
                    }
                }
            }
            w.finalize().unwrap();
        }
        buf.into_inner()
    }

    fn decode(bytes: &[u8]) -> Result<(Audio, AudioInfo), AudioError> {
        decode_audio(
            Cursor::new(bytes),
            Path::new("mem.wav"),
            bytes.len() as u64,
            60.0,
        )
    }

    fn spec(channels: u16, rate: u32, bits: u16, float: bool) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        }
    }

    #[test]
    fn decodes_every_supported_format_and_mixes_channels() {
        for (bits, float) in [
            (8, false),
            (16, false),
            (24, false),
            (32, false),
            (32, true),
        ] {
            for channels in [1u16, 2, 5, 8] {
                let bytes = wav_bytes(spec(channels, 22_050, bits, float), 100, |i, c| {
                    // channel c carries a constant; mono is their mean
                    if i < 50 { 0.5 } else { -0.25 + 0.05 * c as f64 }
                });
                let (audio, info) = decode(&bytes).unwrap();
                assert_eq!(info.channels, channels);
                assert_eq!(audio.samples.len(), 100);
                let tol: f32 = if bits == 8 { 0.02 } else { 1e-3 };
                assert!((audio.samples[10] - 0.5).abs() < tol, "{bits} {float}");
                let mean_tail = -0.25 + 0.05 * (f64::from(channels) - 1.0) / 2.0;
                assert!((f64::from(audio.samples[80]) - mean_tail).abs() < f64::from(tol));
            }
        }
    }

    #[test]
    fn int16_scaling_is_divide_by_32768() {
        let bytes = wav_bytes(spec(1, 16_000, 16, false), 4, |i, _| {
            [1.0, -1.0, 0.5, 0.0][i] * 32767.0 / 32767.0
        });
        let (audio, _) = decode(&bytes).unwrap();
        assert_eq!(audio.samples[0], 32767.0 / 32768.0);
        assert_eq!(audio.samples[1], -32767.0 / 32768.0);
    }

    #[test]
    fn rejects_bad_input_with_the_name() {
        let name = "mem.wav";
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("not wav", b"hello world, not a wav file at all".to_vec()),
            (
                "header only",
                wav_bytes(spec(1, 16_000, 16, false), 0, |_, _| 0.0),
            ),
            ("truncated", {
                let mut b = wav_bytes(spec(2, 16_000, 16, false), 1000, |_, _| 0.1);
                b.truncate(b.len() - 1001);
                b
            }),
        ];
        for (what, bytes) in cases {
            let err = decode(&bytes).expect_err(what);
            assert!(err.to_string().contains(name), "{what}: {err}");
        }
    }

    #[test]
    fn a_header_claiming_gigabytes_is_an_error_not_an_allocation() {
        let mut bytes = wav_bytes(spec(2, 48_000, 16, false), 100, |_, _| 0.1);
        // data chunk size field: the 4 bytes after "data".
        let at = bytes.windows(4).position(|w| w == b"data").unwrap() + 4;
        bytes[at..at + 4].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
        // The data chunk claims more than the RIFF chunk around it holds: refused as it is.
        match decode(&bytes) {
            Err(AudioError::InvalidAudio { .. }) => {}
            other => panic!("{other:?}"),
        }
        // With the RIFF size made to agree: too long at 60 s, and with no limit decoded until
        // the data ends. (Packets are read whole, so the frames of the last, cut-short packet
        // are not counted.)
        let riff_size = 0xFFFF_FF00u32 + (at as u32 + 4 - 8);
        bytes[4..8].copy_from_slice(&riff_size.to_le_bytes());
        match decode(&bytes) {
            Err(AudioError::TooLong { .. }) => {}
            other => panic!("{other:?}"),
        }
        let r = decode_audio(
            Cursor::new(&bytes),
            Path::new("big.wav"),
            bytes.len() as u64,
            1e9,
        );
        assert!(
            matches!(r, Err(AudioError::Truncated { frames_read, .. }) if frames_read <= 100),
            "{r:?}"
        );
    }

    #[test]
    fn rejects_nan_and_inf() {
        for bad in [f64::NAN, f64::INFINITY] {
            let bytes = wav_bytes(spec(1, 16_000, 32, true), 10, |i, _| {
                if i == 7 { bad } else { 0.0 }
            });
            match decode(&bytes) {
                Err(AudioError::NonFinite { index, .. }) => assert_eq!(index, 7),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn rejects_rates_outside_range_and_overlong_clips() {
        let bytes = wav_bytes(spec(1, 4_000, 16, false), 10, |_, _| 0.0);
        assert!(matches!(
            decode(&bytes),
            Err(AudioError::SampleRate { rate: 4_000, .. })
        ));
        let bytes = wav_bytes(spec(1, 8_000, 16, false), 8_000 * 2, |_, _| 0.0);
        let r = decode_audio(Cursor::new(&bytes), Path::new("x"), bytes.len() as u64, 1.0);
        assert!(matches!(r, Err(AudioError::TooLong { .. })));
    }

    #[test]
    fn missing_file_and_directory_are_io_errors() {
        let err = read_audio("/definitely/not/here.wav").unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here.wav"));
        let dir = std::env::temp_dir();
        assert!(read_audio(&dir).is_err());
    }

    /// Frequency of the strongest DFT bin (coarse, for tests).
    fn peak_hz(x: &[f32], rate: f64) -> f64 {
        let n = x.len();
        let mut best = (0.0, 0usize);
        for k in 1..n / 2 {
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (i, &v) in x.iter().enumerate() {
                let ph = 2.0 * std::f64::consts::PI * (k * i) as f64 / n as f64;
                re += f64::from(v) * ph.cos();
                im -= f64::from(v) * ph.sin();
            }
            let p = re * re + im * im;
            if p > best.0 {
                best = (p, k);
            }
        }
        best.1 as f64 * rate / n as f64
    }

    #[test]
    fn resampling_keeps_length_and_frequency() {
        for from in [8_000u32, 22_050, 44_100, 48_000, 96_000, 192_000] {
            let n = from as usize / 5; // 0.2 s
            let x: Vec<f32> = (0..n)
                .map(|i| {
                    (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / f64::from(from)).sin() as f32
                })
                .collect();
            let y = resample(&x, from, SAMPLE_RATE).unwrap();
            let expected = (n as f64 * 16_000.0 / f64::from(from)).ceil() as usize;
            assert_eq!(y.len(), expected, "from {from}");
            let f = peak_hz(&y[..1600.min(y.len())], 16_000.0);
            assert!((f - 1000.0).abs() <= 10.0, "from {from}: {f}");
        }
    }

    #[test]
    fn ratio_resampling_scales_length() {
        let x: Vec<f32> = (0..16_000).map(|i| ((i as f32) * 0.05).sin()).collect();
        let y = resample_by_ratio(&x, 0.75).unwrap();
        assert_eq!(y.len(), 12_000);
        assert!(resample_by_ratio(&x, f64::NAN).is_err());
        assert!(resample_by_ratio(&x, -1.0).is_err());
    }
}
