//! Resampling with rubato: between fixed integer rates, or by a ratio.

use super::*;

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

pub(super) fn run_resampler(
    resampler: &mut dyn Resampler<f32>,
    samples: &[f32],
) -> Result<Vec<f32>, String> {
    let input = InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| e.to_string())?;
    let out = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| e.to_string())?;
    Ok(out.take_data())
}
