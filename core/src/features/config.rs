//! [`MfccConfig`]: the front end's parameters and their checks.

use serde::{Deserialize, Serialize};

use super::FeatureError;
use crate::audio::SAMPLE_RATE;

/// Parameters of the MFCC front end. The default is the librosa-matching reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MfccConfig {
    /// Sample rate of the input signal in Hz.
    pub sample_rate: u32,
    /// FFT size (samples).
    pub n_fft: usize,
    /// Hann window length (samples), `<= n_fft`, centred in the FFT frame.
    pub win_length: usize,
    /// Hop between frames (samples).
    pub hop_length: usize,
    /// Mel bands.
    pub n_mels: usize,
    /// Cepstral coefficients kept, `<= n_mels`.
    pub n_mfcc: usize,
    /// Lowest mel band edge (Hz).
    pub fmin: f32,
    /// Highest mel band edge (Hz), `<= sample_rate / 2`.
    pub fmax: f32,
    /// Dynamic range kept below the clip's loudest mel value, in dB (`None`: no clamp).
    pub top_db: Option<f32>,
    /// Centre frames on their time (pad `n_fft / 2` zeros on both sides), as librosa does.
    pub center: bool,
}

impl Default for MfccConfig {
    fn default() -> Self {
        Self {
            sample_rate: SAMPLE_RATE,
            n_fft: 512,
            win_length: 400,
            hop_length: 160,
            n_mels: 64,
            n_mfcc: 40,
            fmin: 0.0,
            fmax: 8000.0,
            top_db: Some(80.0),
            center: true,
        }
    }
}

impl MfccConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`FeatureError::InvalidConfig`] naming the first bad field.
    pub fn validate(&self) -> Result<(), FeatureError> {
        let bad = |field, value: String, reason| {
            Err(FeatureError::InvalidConfig {
                field,
                value,
                reason,
            })
        };
        if self.sample_rate == 0 {
            return bad("sample_rate", self.sample_rate.to_string(), "must be > 0");
        }
        if self.n_fft < 2 || self.n_fft > 1 << 16 {
            return bad("n_fft", self.n_fft.to_string(), "must be in 2..=65536");
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return bad(
                "win_length",
                self.win_length.to_string(),
                "must be in 1..=n_fft",
            );
        }
        if self.hop_length == 0 {
            return bad("hop_length", self.hop_length.to_string(), "must be > 0");
        }
        if self.n_mels == 0 || self.n_mels > 512 {
            return bad("n_mels", self.n_mels.to_string(), "must be in 1..=512");
        }
        if self.n_mfcc == 0 || self.n_mfcc > self.n_mels {
            return bad("n_mfcc", self.n_mfcc.to_string(), "must be in 1..=n_mels");
        }
        let nyquist = self.sample_rate as f32 / 2.0;
        if !(self.fmax.is_finite() && self.fmax > 0.0 && self.fmax <= nyquist) {
            return bad(
                "fmax",
                self.fmax.to_string(),
                "must be in (0, sample_rate / 2]",
            );
        }
        if !(self.fmin.is_finite() && self.fmin >= 0.0 && self.fmin < self.fmax) {
            return bad("fmin", self.fmin.to_string(), "must be in [0, fmax)");
        }
        if let Some(t) = self.top_db
            && !(t.is_finite() && t >= 0.0)
        {
            return bad("top_db", t.to_string(), "must be finite and >= 0");
        }
        Ok(())
    }

    /// Frames produced for a signal of `n_samples` samples (librosa's count).
    #[must_use]
    pub fn n_frames(&self, n_samples: usize) -> usize {
        if self.center {
            1 + n_samples / self.hop_length.max(1)
        } else if n_samples < self.n_fft {
            0
        } else {
            1 + (n_samples - self.n_fft) / self.hop_length.max(1)
        }
    }
}
