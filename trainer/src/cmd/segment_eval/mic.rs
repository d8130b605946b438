//! The microphone or line the streams are heard through (`--band`, `--quiet-mic`).

use rand_chacha::ChaCha8Rng;
use voice_emotion::audio::SAMPLE_RATE;
use voice_emotion::training::degrade::{NoiseColour, QUIET_MIC_FLOOR_DBFS, band_limit, noise};

pub(super) fn parse_band(spec: &str) -> Result<(f64, f64), String> {
    let (low, high) = spec
        .split_once('-')
        .ok_or_else(|| format!("band {spec:?}: expected LOW-HIGH in Hz, e.g. 300-3400"))?;
    let hz = |v: &str| {
        v.trim()
            .parse::<f64>()
            .map_err(|e| format!("band {spec:?}: {v:?}: {e}"))
    };
    let (low, high) = (hz(low)?, hz(high)?);
    if !(0.0..high).contains(&low) || high > f64::from(SAMPLE_RATE) / 2.0 {
        return Err(format!(
            "band {spec:?}: expected 0 <= LOW < HIGH <= {} Hz",
            SAMPLE_RATE / 2
        ));
    }
    Ok((low, high))
}

pub(super) fn parse_quiet_mic(spec: &str) -> Result<f64, String> {
    match spec.trim().parse::<f64>() {
        Ok(db) if (-60.0..=0.0).contains(&db) => Ok(db),
        Ok(db) => Err(format!("quiet mic {db} dB: expected -60 to 0 dB")),
        Err(e) => Err(format!("quiet mic {spec:?}: {e}")),
    }
}

/// The microphone or line the streams are heard through (`--band`, `--quiet-mic`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Microphone {
    pub(super) band: Option<(f64, f64)>,
    pub(super) quiet_db: Option<f64>,
}

impl Microphone {
    /// `samples` through the band and gain, without the microphone's own noise.
    pub(super) fn through(&self, samples: Vec<f32>) -> Result<Vec<f32>, String> {
        let mut out = match self.band {
            Some((low, high)) => {
                band_limit(&samples, low, high, SAMPLE_RATE).map_err(|e| e.to_string())?
            }
            None => samples,
        };
        if let Some(db) = self.quiet_db {
            let g = 10f64.powf(db / 20.0) as f32;
            out.iter_mut().for_each(|v| *v *= g);
        }
        Ok(out)
    }

    /// `n` samples of the microphone's own noise, white at the quiet-mic condition's floor
    /// (none without `--quiet-mic`).
    pub(super) fn own_noise(&self, n: usize, rng: &mut ChaCha8Rng) -> Option<Vec<f32>> {
        self.quiet_db.map(|_| {
            let g = 10f64.powf(QUIET_MIC_FLOOR_DBFS / 20.0) as f32;
            let mut w = noise(NoiseColour::White, n, rng);
            w.iter_mut().for_each(|v| *v *= g);
            w
        })
    }

    /// `samples` as the microphone hears them: through the band and gain, plus `own` noise.
    pub(super) fn hear(&self, samples: Vec<f32>, own: Option<&[f32]>) -> Result<Vec<f32>, String> {
        let mut out = self.through(samples)?;
        if let Some(own) = own {
            out.iter_mut().zip(own).for_each(|(v, w)| *v += w);
        }
        Ok(out)
    }
}
