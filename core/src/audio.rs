//! Audio in: WAV decoding (any common format, rate and channel count) and resampling to the
//! engine's internal 16 kHz mono.
//!
//! Every function here returns a typed [`AudioError`] naming the input on bad data: corrupt,
//! truncated, empty or non-WAV files, unsupported formats, rates outside 8–192 kHz and
//! NaN/Inf (or absurdly large) samples never panic. `core/tests/hostile_inputs.rs` runs the
//! table of hostile inputs; the `wav` fuzz target (`fuzz/`) runs `decode_wav` on anything.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Resampler, SincInterpolationParameters, WindowFunction,
};

/// The sample rate every feature, model and speech detector of the engine works at.
pub const SAMPLE_RATE: u32 = 16_000;
/// Lowest input sample rate accepted.
pub const MIN_SAMPLE_RATE: u32 = 8_000;
/// Highest input sample rate accepted.
pub const MAX_SAMPLE_RATE: u32 = 192_000;
/// Largest magnitude of a float WAV sample accepted (full scale is 1; floats may go over it,
/// by 60 dB at most here).
pub const MAX_FLOAT_SAMPLE: f32 = 1000.0;
/// Longest clip [`read_wav`] decodes by default, in seconds (bounds memory on hostile headers).
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
    /// The data is not a WAV file hound can parse (bad magic, corrupt header, ...).
    #[error("{path} is not a valid WAV file: {reason}")]
    InvalidWav {
        /// The file.
        path: PathBuf,
        /// What the WAV parser reported.
        reason: String,
    },
    /// A WAV variant this engine does not decode.
    #[error("{path}: unsupported WAV sample format: {format}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The format found, e.g. `64-bit float`.
        format: String,
    },
    /// The header declares zero channels.
    #[error("{path}: WAV header declares 0 channels")]
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
        /// What the WAV parser reported.
        reason: String,
    },
    /// The clip is longer than the configured limit.
    #[error("{path}: {seconds:.1} s of audio exceeds the limit of {max_seconds:.1} s")]
    TooLong {
        /// The file.
        path: PathBuf,
        /// Duration declared by the header.
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

/// Mono audio at a known sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Samples in `[-1, 1]` (integer formats are scaled by `2^(bits-1)`, so int16 is `/ 32768`).
    pub samples: Vec<f32>,
    /// Sample rate in Hz.
    pub sample_rate: u32,
}

impl Audio {
    /// Duration in seconds.
    #[must_use]
    pub fn duration_seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate.max(1))
    }

    /// Converts to `rate` Hz (a no-op when already there).
    ///
    /// # Errors
    /// [`AudioError::Resample`] when either rate is zero.
    pub fn into_rate(self, rate: u32) -> Result<Audio, AudioError> {
        if self.sample_rate == rate {
            return Ok(self);
        }
        let samples = resample(&self.samples, self.sample_rate, rate)?;
        Ok(Audio {
            samples,
            sample_rate: rate,
        })
    }
}

/// Format details of a decoded WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    /// Channels in the file (they are mixed down to mono).
    pub channels: u16,
    /// Sample rate in the file.
    pub sample_rate: u32,
    /// Bits per sample.
    pub bits_per_sample: u16,
    /// Whether samples are IEEE floats.
    pub float: bool,
    /// Frames in the file.
    pub frames: usize,
}

/// Reads a WAV file and mixes it to mono at its own sample rate.
///
/// Accepts 8/16/24/32-bit integer PCM and 32-bit float, any channel count, 8–192 kHz, up to
/// [`DEFAULT_MAX_SECONDS`].
///
/// # Errors
/// An [`AudioError`] naming `path` for unreadable, corrupt, truncated, empty, unsupported or
/// non-finite input.
pub fn read_wav(path: impl AsRef<Path>) -> Result<(Audio, WavInfo), AudioError> {
    let path = path.as_ref();
    let (file, file_len) = open_regular_file(path)?;
    decode_wav(BufReader::new(file), path, file_len, DEFAULT_MAX_SECONDS)
}

/// Opens `path` for reading after checking it is a regular file (or a link to one), and
/// returns it with its length. A directory, FIFO, socket or device is refused *before* it is
/// opened: opening a FIFO with no writer would block forever, and a device like `/dev/zero`
/// never ends.
///
/// # Errors
/// [`AudioError::Io`] naming `path` (kind `IsADirectory` for a directory, `InvalidInput` for
/// anything else that is not a regular file).
pub fn open_regular_file(path: &Path) -> Result<(File, u64), AudioError> {
    let io = |source| AudioError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device)",
        )));
    }
    let file = File::open(path).map_err(io)?;
    Ok((file, meta.len()))
}

/// Reads a WAV file, mixes it to mono and resamples it to [`SAMPLE_RATE`].
///
/// # Errors
/// As [`read_wav`], plus [`AudioError::Resample`].
pub fn load_clip(path: impl AsRef<Path>) -> Result<Vec<f32>, AudioError> {
    let (audio, _) = read_wav(path)?;
    Ok(audio.into_rate(SAMPLE_RATE)?.samples)
}

/// Decodes WAV data from any reader. `name` is used in errors; `byte_len` (the size of the
/// data if known, else `u64::MAX`) bounds the memory reserved for a header that lies about its
/// length; clips longer than `max_seconds` are refused.
///
/// # Errors
/// As [`read_wav`].
pub fn decode_wav<R: Read>(
    reader: R,
    name: &Path,
    byte_len: u64,
    max_seconds: f64,
) -> Result<(Audio, WavInfo), AudioError> {
    let path = || name.to_path_buf();
    let mut wav = hound::WavReader::new(reader).map_err(|e| match e {
        // A real I/O failure (the OS said so); hound's own "failed to read enough bytes" and
        // an early end of file mean the header is cut short: not a valid WAV file.
        hound::Error::IoError(source) if source.raw_os_error().is_some() => AudioError::Io {
            path: path(),
            source,
        },
        hound::Error::Unsupported => AudioError::Unsupported {
            path: path(),
            format: "unsupported WAV encoding".to_owned(),
        },
        other => AudioError::InvalidWav {
            path: path(),
            reason: other.to_string(),
        },
    })?;
    let spec = wav.spec();
    if spec.channels == 0 {
        return Err(AudioError::NoChannels { path: path() });
    }
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&spec.sample_rate) {
        return Err(AudioError::SampleRate {
            path: path(),
            rate: spec.sample_rate,
        });
    }
    let float = spec.sample_format == hound::SampleFormat::Float;
    match (float, spec.bits_per_sample) {
        (false, 8 | 16 | 24 | 32) | (true, 32) => {}
        (f, bits) => {
            return Err(AudioError::Unsupported {
                path: path(),
                format: format!("{bits}-bit {}", if f { "float" } else { "integer" }),
            });
        }
    }
    let channels = usize::from(spec.channels);
    let declared_frames = wav.duration() as usize;
    let seconds = declared_frames as f64 / f64::from(spec.sample_rate);
    if seconds > max_seconds {
        return Err(AudioError::TooLong {
            path: path(),
            seconds,
            max_seconds,
        });
    }
    // Never trust the header for the allocation: a file cannot hold more samples than bytes.
    let bytes_per_sample = u64::from(spec.bits_per_sample.div_ceil(8)).max(1);
    let cap_frames = (byte_len / bytes_per_sample / channels as u64) as usize;
    let mut mono = Vec::with_capacity(declared_frames.min(cap_frames));

    // The mix is summed in f64: 8 channels of large floats cannot overflow it.
    let mut acc = 0.0f64;
    let mut in_frame = 0usize;
    let inv_channels = 1.0 / channels as f64;
    let mut push = |index: usize, v: f32| -> Result<(), AudioError> {
        if !v.is_finite() {
            return Err(AudioError::NonFinite {
                path: path(),
                index,
                value: v,
            });
        }
        if v.abs() > MAX_FLOAT_SAMPLE {
            return Err(AudioError::OutOfRange {
                path: path(),
                index,
                value: v,
            });
        }
        acc += f64::from(v);
        in_frame += 1;
        if in_frame == channels {
            mono.push((acc * inv_channels) as f32);
            acc = 0.0;
            in_frame = 0;
        }
        Ok(())
    };
    let truncated = |frames_read: usize, e: hound::Error| AudioError::Truncated {
        path: path(),
        frames_read,
        reason: e.to_string(),
    };
    if float {
        for (index, s) in wav.samples::<f32>().enumerate() {
            let v = s.map_err(|e| truncated(index / channels, e))?;
            push(index, v)?;
        }
    } else {
        let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
        for (index, s) in wav.samples::<i32>().enumerate() {
            let v = s.map_err(|e| truncated(index / channels, e))?;
            push(index, v as f32 * scale)?;
        }
    }
    if in_frame != 0 {
        return Err(AudioError::Truncated {
            path: path(),
            frames_read: mono.len(),
            reason: format!("last frame has {in_frame} of {channels} channels"),
        });
    }
    if mono.is_empty() {
        return Err(AudioError::Empty { path: path() });
    }
    let info = WavInfo {
        channels: spec.channels,
        sample_rate: spec.sample_rate,
        bits_per_sample: spec.bits_per_sample,
        float,
        frames: mono.len(),
    };
    Ok((
        Audio {
            samples: mono,
            sample_rate: spec.sample_rate,
        },
        info,
    ))
}

/// Resamples mono audio between two fixed integer rates with rubato's FFT resampler
/// (band-limited, delay-compensated: output sample `i` lines up with input time `i / to`).
///
/// # Errors
/// [`AudioError::Resample`] when a rate is zero or rubato fails.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    let err = |reason: String| AudioError::Resample {
        from: f64::from(from),
        to: f64::from(to),
        reason,
    };
    if from == 0 || to == 0 {
        return Err(err("sample rates must be positive".to_owned()));
    }
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Both)
        .map_err(|e| err(e.to_string()))?;
    run_resampler(&mut resampler, samples).map_err(err)
}

/// Resamples mono audio by an arbitrary ratio (`output rate / input rate`) with rubato's
/// sinc resampler; used by pitch shifting, where the ratio is not a ratio of integer rates.
///
/// # Errors
/// [`AudioError::Resample`] when `ratio` is not finite and positive.
pub fn resample_by_ratio(samples: &[f32], ratio: f64) -> Result<Vec<f32>, AudioError> {
    let err = |reason: String| AudioError::Resample {
        from: 1.0,
        to: ratio,
        reason,
    };
    if !ratio.is_finite() || ratio <= 0.0 {
        return Err(err("the ratio must be finite and positive".to_owned()));
    }
    if samples.is_empty() || (ratio - 1.0).abs() < 1e-12 {
        return Ok(samples.to_vec());
    }
    let params = SincInterpolationParameters::new(128, WindowFunction::BlackmanHarris2);
    let mut resampler = Async::<f32>::new_sinc(ratio, 1.0, &params, 1024, 1, FixedAsync::Input)
        .map_err(|e| err(e.to_string()))?;
    run_resampler(&mut resampler, samples).map_err(err)
}

fn run_resampler(resampler: &mut dyn Resampler<f32>, samples: &[f32]) -> Result<Vec<f32>, String> {
    let input = InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| e.to_string())?;
    let out = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| e.to_string())?;
    Ok(out.take_data())
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

    fn decode(bytes: &[u8]) -> Result<(Audio, WavInfo), AudioError> {
        decode_wav(
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
        bytes[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        match decode(&bytes) {
            Err(AudioError::TooLong { .. } | AudioError::Truncated { .. }) => {}
            other => panic!("{other:?}"),
        }
        let r = decode_wav(
            Cursor::new(&bytes),
            Path::new("big.wav"),
            bytes.len() as u64,
            1e9,
        );
        assert!(
            matches!(
                r,
                Err(AudioError::Truncated {
                    frames_read: 100,
                    ..
                })
            ),
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
        let r = decode_wav(Cursor::new(&bytes), Path::new("x"), bytes.len() as u64, 1.0);
        assert!(matches!(r, Err(AudioError::TooLong { .. })));
    }

    #[test]
    fn missing_file_and_directory_are_io_errors() {
        let err = read_wav("/definitely/not/here.wav").unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here.wav"));
        let dir = std::env::temp_dir();
        assert!(read_wav(&dir).is_err());
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
