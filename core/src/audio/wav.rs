//! Reading WAV files: any rate, PCM or float, mono or mixed down to mono.

use super::*;

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
