//! What the model hears of a detected utterance.

use super::*;
use crate::audio::{AudioError, Hum};

/// What the model hears of a detected utterance, as the engine computes it when the utterance
/// has ended (its streamed path gives the same audio as it arrives): `samples`, at the
/// source's `rate`, with their clipped peaks restored where the plateaus are
/// ([`EngineConfig::declip`]), resampled to the model's 16 kHz, and a steady hum learnt from
/// the `room` (the audio just before them, at `rate`; may be empty) removed
/// ([`EngineConfig::dehum`]). Returns the audio and the hum removed.
///
/// For tools that replay the engine's decisions on recordings (the trainer's `segment-eval`),
/// so that they hear what the engine hears.
///
/// # Errors
/// [`AudioError::Resample`] when `rate` cannot be resampled.
pub fn heard_by_model(
    samples: &[f32],
    room: &[f32],
    rate: u32,
    config: &EngineConfig,
) -> Result<(Vec<f32>, Option<Hum>), AudioError> {
    let declipped;
    let samples = if config.declip {
        declipped = declip(samples, rate).0;
        &declipped
    } else {
        samples
    };
    let audio = resample(samples, rate, SAMPLE_RATE)?;
    if !config.dehum {
        return Ok((audio, None));
    }
    let room = room_at_model_rate(room, rate);
    Ok(dehum_in_room(&audio, &room, SAMPLE_RATE))
}

/// The room's audio (at `rate`) resampled for the front end; empty (so the noise estimate
/// falls back to the speech) when it cannot be.
pub(super) fn room_at_model_rate(room: &[f32], rate: u32) -> Vec<f32> {
    if room.is_empty() {
        return Vec::new();
    }
    resample(room, rate, SAMPLE_RATE).unwrap_or_else(|e| {
        tracing::warn!("room audio before the speech: {e}");
        Vec::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 60 Hz hum with 12 overtones over a voice-like buzz (140 Hz pulses), at `rate`.
    fn hummed(n: usize, rate: u32, voice: bool) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                let hum: f64 = (1..=12)
                    .map(|k| (std::f64::consts::TAU * 60.0 * f64::from(k) * t).sin() * 0.02)
                    .sum();
                let buzz = if voice {
                    0.3 * (std::f64::consts::TAU * 140.0 * t).sin().powi(9)
                } else {
                    0.0
                };
                (hum + buzz) as f32
            })
            .collect()
    }

    #[test]
    fn the_model_hears_the_utterance_at_16k_without_the_rooms_hum() {
        let rate = 48_000;
        let room = hummed(rate as usize / 2 + 4800, rate, false);
        let speech = hummed(rate as usize, rate, true);
        let config = EngineConfig::default();
        let (audio, hum) = heard_by_model(&speech, &room, rate, &config).unwrap();
        assert!(audio.len().abs_diff(16_000) <= 1, "{}", audio.len());
        let hum = hum.expect("a hum in the room");
        assert!((hum.f0 - 60.0).abs() < 0.5, "{hum:?}");
        let off = EngineConfig {
            dehum: false,
            declip: false,
            ..EngineConfig::default()
        };
        let (plain, none) = heard_by_model(&speech, &room, rate, &off).unwrap();
        assert!(none.is_none());
        assert_eq!(plain, resample(&speech, rate, SAMPLE_RATE).unwrap());
        assert!(matches!(
            heard_by_model(&speech, &room, 0, &config),
            Err(AudioError::Resample { .. })
        ));
    }
}
