//! Clip durations from WAV headers alone (no sample data is decoded).

use super::*;

/// Duration of a WAV file from its header (frames / rate), without decoding samples.
pub(super) fn wav_header_seconds(path: &Path) -> Result<f64, AudioError> {
    let (file, _) = crate::audio::open_regular_file(path)?;
    let reader = hound::WavReader::new(std::io::BufReader::new(file)).map_err(|e| match e {
        hound::Error::IoError(source) if source.raw_os_error().is_some() => AudioError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => AudioError::InvalidWav {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    })?;
    let rate = reader.spec().sample_rate;
    if !(crate::audio::MIN_SAMPLE_RATE..=crate::audio::MAX_SAMPLE_RATE).contains(&rate) {
        return Err(AudioError::SampleRate {
            path: path.to_path_buf(),
            rate,
        });
    }
    let frames = reader.duration();
    if frames == 0 {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(f64::from(frames) / f64::from(rate))
}
