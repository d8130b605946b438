//! Speech level: the active power of an utterance, ignoring the silence around it, and
//! normalising a clip to a target level (what makes the front end indifferent to how loud
//! the microphone is).

/// Mean power of the speech in `samples`: the mean of the 20 ms frames' powers within 40 dB
/// of the loudest frame (so leading and trailing silence do not count). 0 for silence.
#[must_use]
pub fn active_power(samples: &[f32], sample_rate: u32) -> f64 {
    let frame = (sample_rate as usize / 50).max(1);
    let powers: Vec<f64> = samples
        .chunks(frame)
        .map(|c| c.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / c.len() as f64)
        .collect();
    let max = powers.iter().copied().fold(0.0, f64::max);
    if max <= 0.0 || !max.is_finite() {
        return 0.0;
    }
    let (sum, count) = powers
        .iter()
        .filter(|&&p| p >= max * 1e-4)
        .fold((0.0, 0usize), |(s, n), p| (s + p, n + 1));
    sum / count.max(1) as f64
}

/// Active level of `samples` in dB relative to full scale (`None` for silence).
#[must_use]
pub fn active_level_db(samples: &[f32], sample_rate: u32) -> Option<f64> {
    let p = active_power(samples, sample_rate);
    (p > 0.0).then(|| 10.0 * p.log10())
}

/// Scales `samples` in place so that their active level is `target_db` dBFS. Silence is left
/// as it is; the gain is capped at ±60 dB so a click in silence is not blown up to speech
/// level.
pub fn normalise_level(samples: &mut [f32], sample_rate: u32, target_db: f64) {
    let g = level_gain(samples, sample_rate, target_db);
    if g != 1.0 {
        samples.iter_mut().for_each(|s| *s *= g);
    }
}

/// The gain [`normalise_level`] applies to `samples`: 1 for silence.
#[must_use]
pub fn level_gain(samples: &[f32], sample_rate: u32, target_db: f64) -> f32 {
    match active_level_db(samples, sample_rate) {
        Some(level) => {
            let gain_db = (target_db - level).clamp(-60.0, 60.0);
            10f64.powf(gain_db / 20.0) as f32
        }
        None => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_around_speech_does_not_lower_its_level() {
        let tone: Vec<f32> = (0..8000).map(|i| 0.1 * (i as f32 * 0.05).sin()).collect();
        let mut padded = vec![0.0f32; 16000];
        padded.extend(&tone);
        padded.extend(vec![0.0f32; 16000]);
        let a = active_level_db(&tone, 16000).unwrap();
        let b = active_level_db(&padded, 16000).unwrap();
        assert!((a - b).abs() < 0.1, "{a} vs {b}");
        assert!((a - (-23.0)).abs() < 0.2, "{a}"); // 0.1 amplitude sine: -23 dBFS
        assert_eq!(active_level_db(&[0.0; 100], 16000), None);
    }

    #[test]
    fn normalising_reaches_the_target_whatever_the_gain() {
        for amp in [0.001f32, 0.05, 0.9] {
            let mut x: Vec<f32> = (0..16000).map(|i| amp * (i as f32 * 0.03).sin()).collect();
            normalise_level(&mut x, 16000, -20.0);
            let level = active_level_db(&x, 16000).unwrap();
            assert!((level + 20.0).abs() < 0.01, "{amp}: {level}");
        }
        let mut silence = vec![0.0f32; 100];
        normalise_level(&mut silence, 16000, -20.0);
        assert!(silence.iter().all(|&s| s == 0.0));
    }
}
