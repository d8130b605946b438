//! Suppression of a room's steady noise by spectral subtraction on the mel power (opt-in,
//! [`crate::model::InputConfig::noise_suppression`]).
//!
//! A fan, a console's hum or a microphone's hiss adds nearly the same power to every frame of
//! a mel band. [`Mfcc::noise_estimate`] takes it as the mean mel power of an utterance's
//! quietest frames (an utterance cut by the engine starts and ends with its pre-roll and tail,
//! the room alone); [`Mfcc::process_suppressed_into`] subtracts a multiple of it from every
//! frame's mel power before the logarithm and keeps at least a fraction of it (a spectral
//! floor), so a band the noise covers becomes a steady low floor instead of the noise's level,
//! and the louder parts of the speech keep their shape. Nothing else of the front end changes:
//! with a noise estimate of zero the MFCCs are [`Mfcc::process_into`]'s.

use serde::{Deserialize, Serialize};

use super::{DB_PER_NEPER, FeatureError, Mfcc};

/// How the steady noise is estimated and subtracted. Saved in a model's `input.json`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseSuppression {
    /// Share of the utterance's frames, the quietest by their mean log-mel value, whose mean
    /// mel power is the noise estimate (in `(0, 1]`).
    pub quietest: f32,
    /// Multiple of the noise estimate subtracted from each frame's mel power (at least 0;
    /// above 1 removes the noise's own fluctuations too, at the cost of quiet speech).
    pub over_subtraction: f32,
    /// The least a band keeps, as a multiple of its noise estimate (in `(0, 1]`).
    pub floor: f32,
}

impl Default for NoiseSuppression {
    /// The quietest 20% of the frames, 1.5 times the noise subtracted, a floor of 0.1 times it.
    fn default() -> Self {
        Self {
            quietest: 0.2,
            over_subtraction: 1.5,
            floor: 0.1,
        }
    }
}

impl NoiseSuppression {
    /// Checks every field.
    ///
    /// # Errors
    /// [`FeatureError::InvalidConfig`] naming the first bad field.
    pub fn validate(&self) -> Result<(), FeatureError> {
        let bad = |field, value: f32, reason| {
            Err(FeatureError::InvalidConfig {
                field,
                value: value.to_string(),
                reason,
            })
        };
        if !(self.quietest > 0.0 && self.quietest <= 1.0) {
            return bad(
                "noise_suppression.quietest",
                self.quietest,
                "must be in (0, 1]",
            );
        }
        if !(self.over_subtraction.is_finite() && self.over_subtraction >= 0.0) {
            return bad(
                "noise_suppression.over_subtraction",
                self.over_subtraction,
                "must be finite and >= 0",
            );
        }
        if !(self.floor > 0.0 && self.floor <= 1.0) {
            return bad("noise_suppression.floor", self.floor, "must be in (0, 1]");
        }
        Ok(())
    }

    /// What these settings subtract given a noise estimate (mel power per band, from
    /// [`Mfcc::noise_estimate`]).
    #[must_use]
    pub fn subtraction(&self, noise: &[f32]) -> Subtraction {
        Subtraction {
            minus: noise.iter().map(|n| n * self.over_subtraction).collect(),
            floor: noise.iter().map(|n| n * self.floor).collect(),
        }
    }
}

/// Per mel band: the power subtracted from every frame and the least it keeps
/// ([`NoiseSuppression::subtraction`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Subtraction {
    pub(super) minus: Vec<f32>,
    pub(super) floor: Vec<f32>,
}

impl Mfcc {
    /// The steady noise under `signal`: per mel band, the mean power of its `quietest` share
    /// of frames, the frames ranked by their mean log-mel value. The two frames at each end,
    /// whose windows reach into the zero padding, are left out of longer signals.
    ///
    /// # Errors
    /// [`FeatureError::EmptySignal`] or [`FeatureError::NonFinite`];
    /// [`FeatureError::InvalidConfig`] for `quietest` outside `(0, 1]`.
    pub fn noise_estimate(
        &mut self,
        signal: &[f32],
        quietest: f32,
    ) -> Result<Vec<f32>, FeatureError> {
        NoiseSuppression {
            quietest,
            ..NoiseSuppression::default()
        }
        .validate()?;
        super::check_signal(signal)?;
        let n_mels = self.config.n_mels;
        let n = self.n_frames(signal.len());
        let mut rows = std::mem::take(&mut self.log_mel);
        rows.resize(n * n_mels, 0.0);
        self.raw_log_mel(signal, 0..n, &mut rows);
        let inner = if n > 8 { 2..n - 2 } else { 0..n };
        let mut ranked: Vec<(f32, usize)> = inner
            .map(|t| (rows[t * n_mels..(t + 1) * n_mels].iter().sum::<f32>(), t))
            .collect();
        let k = ((ranked.len() as f32 * quietest).ceil() as usize).clamp(1, ranked.len());
        if k < ranked.len() {
            ranked.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
        }
        let mut noise = vec![0.0f64; n_mels];
        for &(_, t) in &ranked[..k] {
            for (m, &db) in noise.iter_mut().zip(&rows[t * n_mels..(t + 1) * n_mels]) {
                *m += f64::from((db / DB_PER_NEPER).exp());
            }
        }
        self.log_mel = rows;
        Ok(noise.iter().map(|m| (m / k as f64) as f32).collect())
    }

    /// [`Mfcc::process_into`] with `subtraction` applied to the mel power of every frame
    /// before the logarithm (and so before the `top_db` clamp, which follows the loudest
    /// value left).
    ///
    /// # Errors
    /// As [`Mfcc::process_into`]; [`FeatureError::InvalidConfig`] for a subtraction that
    /// does not have one value per mel band.
    pub fn process_suppressed_into(
        &mut self,
        signal: &[f32],
        subtraction: &Subtraction,
        out: &mut [f32],
    ) -> Result<usize, FeatureError> {
        let n_mels = self.config.n_mels;
        if subtraction.minus.len() != n_mels {
            return Err(FeatureError::InvalidConfig {
                field: "noise estimate",
                value: format!("{} bands", subtraction.minus.len()),
                reason: "must have one value per mel band",
            });
        }
        self.process_with(signal, Some(subtraction), out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::MfccConfig;
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// 1 s of white noise, then 1 s of a 440 Hz tone over the same noise, then 1 s of noise.
    fn tone_in_noise() -> Vec<f32> {
        let mut seed = 7;
        (0..48_000)
            .map(|i| {
                let noise = 0.01 * lcg(&mut seed);
                let tone = if (16_000..32_000).contains(&i) {
                    0.3 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin()
                } else {
                    0.0
                };
                noise + tone
            })
            .collect()
    }

    #[test]
    fn the_estimate_is_the_noise_and_subtraction_lowers_it_not_the_tone() {
        let mut mfcc = Mfcc::new(MfccConfig::default()).unwrap();
        let signal = tone_in_noise();
        let noise = mfcc.noise_estimate(&signal, 0.2).unwrap();
        // The estimate is the noise alone's mean mel power, a little under it where a narrow
        // band's power fluctuates from frame to frame (its quietest frames are below its mean).
        let alone = mfcc.noise_estimate(&signal[..16_000], 1.0).unwrap();
        for (a, b) in noise.iter().zip(&alone) {
            let db = 10.0 * (a / b).log10();
            assert!((-3.0..1.0).contains(&db), "{a} against {b}: {db} dB");
        }
        let settings = NoiseSuppression::default();
        let sub = settings.subtraction(&noise);
        let n = mfcc.n_frames(signal.len());
        let n_mels = mfcc.config().n_mels;
        let mut plain = vec![0.0; n * n_mels];
        mfcc.log_mel_into(&signal, &mut plain).unwrap();
        let mut cleaned = vec![0.0; n * n_mels];
        mfcc.compute_log_mel(&signal, Some(&sub)).unwrap();
        cleaned.copy_from_slice(&mfcc.log_mel[..n * n_mels]);
        let band_of = |hz: f32| {
            let mel = super::super::hz_to_mel(f64::from(hz));
            let top = super::super::hz_to_mel(8000.0);
            ((mel / top) * (n_mels as f64 + 1.0)) as usize - 1
        };
        let (tone, far) = (band_of(440.0), band_of(4000.0));
        let at = |v: &[f32], t: usize, b: usize| v[t * n_mels + b];
        // In the tone's frames its band keeps its level, and a band of noise alone drops
        // towards the floor, 10 dB under the noise.
        let tone_frames = 110..190;
        let mean = |v: &[f32], b: usize| {
            tone_frames.clone().map(|t| at(v, t, b)).sum::<f32>() / tone_frames.len() as f32
        };
        assert!((mean(&plain, tone) - mean(&cleaned, tone)).abs() < 0.5);
        let drop = mean(&plain, far) - mean(&cleaned, far);
        assert!(drop > 6.0, "a band of noise alone dropped by {drop} dB");
        // Where there is only noise, most frames of that band sit at the floor.
        let floor = 10.0 * (sub.floor[far]).log10();
        let at_floor = (20..80)
            .filter(|&t| (at(&cleaned, t, far) - floor).abs() < 0.01)
            .count();
        assert!(at_floor > 45, "{at_floor} of 60 frames at the floor");
    }

    #[test]
    fn no_noise_changes_nothing() {
        let mut mfcc = Mfcc::new(MfccConfig::default()).unwrap();
        let signal = tone_in_noise();
        let sub = NoiseSuppression::default().subtraction(&vec![0.0; mfcc.config().n_mels]);
        let mut a = vec![0.0; mfcc.n_frames(signal.len()) * 40];
        let mut b = a.clone();
        mfcc.process_into(&signal, &mut a).unwrap();
        mfcc.process_suppressed_into(&signal, &sub, &mut b).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn bad_settings_and_estimates_are_refused_by_name() {
        for (settings, field) in [
            (
                NoiseSuppression {
                    quietest: 0.0,
                    ..NoiseSuppression::default()
                },
                "noise_suppression.quietest",
            ),
            (
                NoiseSuppression {
                    over_subtraction: f32::NAN,
                    ..NoiseSuppression::default()
                },
                "noise_suppression.over_subtraction",
            ),
            (
                NoiseSuppression {
                    floor: 1.5,
                    ..NoiseSuppression::default()
                },
                "noise_suppression.floor",
            ),
        ] {
            match settings.validate() {
                Err(FeatureError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{settings:?}: {other:?}"),
            }
        }
        let mut mfcc = Mfcc::new(MfccConfig::default()).unwrap();
        let sub = NoiseSuppression::default().subtraction(&[1.0; 3]);
        let mut out = vec![0.0; 4000];
        assert!(matches!(
            mfcc.process_suppressed_into(&[0.1; 1600], &sub, &mut out),
            Err(FeatureError::InvalidConfig {
                field: "noise estimate",
                ..
            })
        ));
        assert_eq!(
            mfcc.noise_estimate(&[], 0.2),
            Err(FeatureError::EmptySignal)
        );
        assert!(matches!(
            mfcc.noise_estimate(&[0.0, f32::NAN], 0.2),
            Err(FeatureError::NonFinite { index: 1, .. })
        ));
    }
}
