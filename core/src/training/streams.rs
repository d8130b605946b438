//! Long recordings built from labelled clips, for measuring speech detection the way the game
//! hears it: utterances separated by gaps of silence, under continuous room noise of several
//! kinds, with the clean-speech boundaries of every utterance kept as the truth
//! ([`SpeechStream`]), and the scoring of a detector's utterances against them
//! ([`score_detections`]).

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::degrade::{NoiseColour, hum, noise, shaped_hum};
use crate::audio::active_power;
use crate::labels::Emotion;
use crate::speech::SpectralScorer;

/// Continuous room noise under a stream. Every kind has unit power at its nominal level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomNoise {
    /// Pink noise (a fan, air conditioning, rain).
    Pink,
    /// Brown noise (rumble, traffic, a distant engine).
    Brown,
    /// A harmonic hum: a fundamental between 50 and 120 Hz and its overtones up to 2 kHz
    /// (mains, a console's fan or power supply).
    Hum,
    /// A hum whose overtones stop low: a fundamental between 50 and 120 Hz and overtones of
    /// nearly equal strength (falling as `1/k^r`, `r` from 0 to 0.5) up to 300 Hz to 1 kHz (a
    /// transformer or a fridge's buzz, a ground loop through a speaker that drops the highs).
    /// Its overtones fill the bands where a voice's pitch and first formant lie; above them
    /// lies a microphone's white hiss, 30 dB under the buzz.
    LowHum,
    /// Music-like tones: a chord progression of decaying harmonic notes, a bass line and a
    /// melody (a radio or a game's own soundtrack).
    Music,
    /// Pink noise whose level steps up by 10 dB halfway through (someone switches on a fan);
    /// the nominal level is the louder half.
    Step,
}

impl RoomNoise {
    /// Every kind, in table order.
    pub const ALL: [RoomNoise; 6] = [
        RoomNoise::Pink,
        RoomNoise::Brown,
        RoomNoise::Hum,
        RoomNoise::LowHum,
        RoomNoise::Music,
        RoomNoise::Step,
    ];

    /// Its command-line name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            RoomNoise::Pink => "pink",
            RoomNoise::Brown => "brown",
            RoomNoise::Hum => "hum",
            RoomNoise::LowHum => "low-hum",
            RoomNoise::Music => "music",
            RoomNoise::Step => "step",
        }
    }

    /// `n` samples at `sample_rate`, unit power at the nominal level.
    #[must_use]
    pub fn generate(self, n: usize, sample_rate: u32, rng: &mut impl Rng) -> Vec<f32> {
        match self {
            RoomNoise::Pink => noise(NoiseColour::Pink, n, rng),
            RoomNoise::Brown => noise(NoiseColour::Brown, n, rng),
            RoomNoise::Hum => {
                let f0 = rng.random_range(50.0..=120.0);
                hum(f0, n, sample_rate, rng)
            }
            RoomNoise::LowHum => {
                let f0 = rng.random_range(50.0..=120.0);
                let ceiling = rng.random_range(300.0..=1000.0);
                let rolloff = rng.random_range(0.0..=0.5);
                let buzz = shaped_hum(f0, ceiling, rolloff, n, sample_rate, rng);
                let hiss = noise(NoiseColour::White, n, rng);
                let hiss_gain = 10f32.powf(-30.0 / 20.0);
                // Unit power in all: the hiss adds a thousandth of the buzz's.
                let scale = (1.0 + hiss_gain * hiss_gain).sqrt().recip();
                buzz.iter()
                    .zip(&hiss)
                    .map(|(b, w)| (b + hiss_gain * w) * scale)
                    .collect()
            }
            RoomNoise::Music => music(n, sample_rate, rng),
            RoomNoise::Step => {
                let mut x = noise(NoiseColour::Pink, n, rng);
                let quiet = 10f32.powf(-10.0 / 20.0);
                for v in &mut x[..n / 2] {
                    *v *= quiet;
                }
                x
            }
        }
    }
}

impl fmt::Display for RoomNoise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RoomNoise {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RoomNoise::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = RoomNoise::ALL.iter().map(|k| k.name()).collect();
                format!("unknown noise {s:?} (expected one of {})", names.join(", "))
            })
    }
}

/// Frequency of MIDI note `m`.
fn midi_hz(m: f64) -> f64 {
    440.0 * 2f64.powf((m - 69.0) / 12.0)
}

/// Music-like tones: at 120 beats a minute, a triad every two beats from a I–V–vi–IV
/// progression, a bass note on every beat and a melody note every half beat from the major
/// pentatonic scale, each a harmonic tone (five partials falling as 1/k) with a 10 ms attack
/// and an exponential decay. Unit mean power.
#[must_use]
pub fn music(n: usize, sample_rate: u32, rng: &mut impl Rng) -> Vec<f32> {
    let sr = f64::from(sample_rate.max(1));
    let mut out = vec![0.0f64; n];
    let beat = 0.5;
    // (root, minor): C, G, Am, F around middle C.
    let chords = [(60.0, false), (67.0, false), (69.0, true), (65.0, false)];
    let pentatonic = [0.0, 2.0, 4.0, 7.0, 9.0];
    let add_note = |start_s: f64, dur_s: f64, midi: f64, amp: f64, out: &mut [f64]| {
        let f = midi_hz(midi);
        let start = (start_s * sr) as usize;
        let len = ((dur_s + 0.1) * sr) as usize;
        let decay = 1.0 / (0.3 * sr);
        let attack = 0.01 * sr;
        for (i, slot) in out.iter_mut().skip(start).take(len).enumerate() {
            let t = i as f64 / sr;
            let env = (i as f64 / attack).min(1.0) * (-(i as f64) * decay).exp();
            let tone: f64 = (1..=5)
                .map(f64::from)
                .filter(|k| f * k < sr / 2.0)
                .map(|k| (std::f64::consts::TAU * f * k * t).sin() / k)
                .sum();
            *slot += amp * env * tone;
        }
    };
    let seconds = n as f64 / sr;
    let offset: f64 = rng.random_range(0.0..beat);
    let mut t = -offset;
    let mut beat_no = 0usize;
    while t < seconds {
        let (root, minor) = chords[(beat_no / 2) % chords.len()];
        if beat_no.is_multiple_of(2) {
            let third = if minor { 3.0 } else { 4.0 };
            for step in [0.0, third, 7.0] {
                add_note(t.max(0.0), 2.0 * beat, root + step, 0.5, &mut out);
            }
        }
        add_note(t.max(0.0), beat, root - 12.0, 0.8, &mut out);
        for half in 0..2 {
            let degree = pentatonic[rng.random_range(0..pentatonic.len())];
            let octave = if rng.random::<bool>() { 12.0 } else { 0.0 };
            let start = t + f64::from(half) * beat / 2.0;
            add_note(
                start.max(0.0),
                beat / 2.0,
                72.0 + degree + octave,
                0.6,
                &mut out,
            );
        }
        t += beat;
        beat_no += 1;
    }
    let p = out.iter().map(|v| v * v).sum::<f64>() / n.max(1) as f64;
    let scale = if p > 0.0 { 1.0 / p.sqrt() } else { 0.0 };
    out.iter().map(|v| (v * scale) as f32).collect()
}

/// Clean speech clips laid end to end with gaps of digital silence, and where each one's
/// speech is.
#[derive(Debug, Clone)]
pub struct SpeechStream {
    /// The audio.
    pub samples: Vec<f32>,
    /// Its sample rate.
    pub sample_rate: u32,
    /// Each utterance's clean-speech span, in samples, in order.
    pub truth: Vec<Range<usize>>,
    /// Each utterance's label.
    pub labels: Vec<Emotion>,
    /// The stream's speech level as a power: the mean in dB of the utterances' active powers
    /// ([`active_power`]), so a few loud utterances do not set it.
    pub speech_power: f64,
    /// Each utterance's active power relative to [`speech_power`](Self::speech_power), in dB.
    pub relative_levels_db: Vec<f64>,
}

impl SpeechStream {
    /// Lays out `clips` (each already cut to its speech, at `sample_rate`) with `lead_s` of
    /// silence first and last and a gap drawn uniformly from `gap_s` between them. Empty
    /// clips are skipped.
    #[must_use]
    pub fn build(
        clips: &[(Vec<f32>, Emotion)],
        sample_rate: u32,
        gap_s: Range<f64>,
        lead_s: f64,
        rng: &mut impl Rng,
    ) -> Self {
        let sr = f64::from(sample_rate);
        let lead = (lead_s * sr) as usize;
        let mut samples = vec![0.0f32; lead];
        let mut truth = Vec::new();
        let mut labels = Vec::new();
        let mut powers = Vec::new();
        for (clip, label) in clips.iter().filter(|(c, _)| !c.is_empty()) {
            if !truth.is_empty() {
                let gap = if gap_s.is_empty() {
                    gap_s.start
                } else {
                    rng.random_range(gap_s.clone())
                };
                samples.resize(samples.len() + (gap * sr) as usize, 0.0);
            }
            let start = samples.len();
            samples.extend_from_slice(clip);
            truth.push(start..samples.len());
            labels.push(*label);
            powers.push(active_power(clip, sample_rate));
        }
        samples.resize(samples.len() + lead, 0.0);
        let db = |p: f64| 10.0 * p.max(1e-20).log10();
        let mean_db = powers.iter().map(|&p| db(p)).sum::<f64>() / powers.len().max(1) as f64;
        let speech_power = 10f64.powf(mean_db / 10.0);
        Self {
            relative_levels_db: powers.iter().map(|&p| db(p) - mean_db).collect(),
            samples,
            sample_rate,
            truth,
            labels,
            speech_power,
        }
    }

    /// The stream with `noise` (unit power at its nominal level, repeated if shorter) added
    /// so that the speech is `snr_db` above the noise's nominal level.
    #[must_use]
    pub fn with_noise(&self, noise: &[f32], snr_db: f64) -> Vec<f32> {
        let gain = self.noise_gain(snr_db);
        if noise.is_empty() {
            return self.samples.clone();
        }
        self.samples
            .iter()
            .zip(noise.iter().cycle())
            .map(|(&s, &n)| s + gain * n)
            .collect()
    }

    /// The gain that puts unit-power noise `snr_db` below the speech.
    #[must_use]
    pub fn noise_gain(&self, snr_db: f64) -> f32 {
        (self.speech_power / 10f64.powf(snr_db / 10.0)).sqrt() as f32
    }
}

/// How one utterance of the truth fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Exactly one detection overlaps it, and that detection overlaps nothing else.
    Once {
        /// The detection's index.
        detection: usize,
    },
    /// A detection that overlaps it also overlaps another utterance.
    Merged,
    /// Two or more detections overlap it (and none is merged).
    Split,
    /// No detection overlaps it.
    Missed,
}

/// Detections scored against the truth.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SegmentScore {
    /// Each truth utterance's outcome, in order.
    pub outcomes: Vec<Outcome>,
    /// Start errors of the utterances detected once, in seconds (detection minus truth).
    pub start_errors: Vec<f64>,
    /// End errors of the utterances detected once, in seconds (detection minus truth).
    pub end_errors: Vec<f64>,
    /// Detections that overlap no utterance.
    pub false_detections: usize,
    /// Utterances detected once with both boundaries within the tolerance.
    pub once_within: usize,
    /// Per truth utterance, in order: detected once with both boundaries within the
    /// tolerance (`once_within` counts these).
    pub within: Vec<bool>,
}

impl SegmentScore {
    /// Utterances with this outcome kind (`Once` counts every detection index).
    #[must_use]
    pub fn count(&self, kind: fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|o| kind(o)).count()
    }
}

/// Scores `detections` (speech spans, in samples) against `truth` at `sample_rate`; an
/// utterance detected once counts as within tolerance when both its boundaries are within
/// `tolerance_s`.
#[must_use]
pub fn score_detections(
    truth: &[Range<usize>],
    detections: &[Range<usize>],
    sample_rate: u32,
    tolerance_s: f64,
) -> SegmentScore {
    let overlaps = |a: &Range<usize>, b: &Range<usize>| a.start < b.end && b.start < a.end;
    let hits: Vec<Vec<usize>> = truth
        .iter()
        .map(|t| {
            detections
                .iter()
                .enumerate()
                .filter(|(_, d)| overlaps(t, d))
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    let covers: Vec<usize> = detections
        .iter()
        .map(|d| truth.iter().filter(|t| overlaps(t, d)).count())
        .collect();
    let sr = f64::from(sample_rate.max(1));
    let mut score = SegmentScore {
        false_detections: covers.iter().filter(|&&c| c == 0).count(),
        ..SegmentScore::default()
    };
    for (t, dets) in truth.iter().zip(&hits) {
        let mut within = false;
        let outcome = if dets.is_empty() {
            Outcome::Missed
        } else if dets.iter().any(|&d| covers[d] > 1) {
            Outcome::Merged
        } else if dets.len() > 1 {
            Outcome::Split
        } else {
            let d = &detections[dets[0]];
            let start = (d.start as f64 - t.start as f64) / sr;
            let end = (d.end as f64 - t.end as f64) / sr;
            score.start_errors.push(start);
            score.end_errors.push(end);
            within = start.abs() <= tolerance_s && end.abs() <= tolerance_s;
            Outcome::Once { detection: dets[0] }
        };
        score.once_within += usize::from(within);
        score.within.push(within);
        score.outcomes.push(outcome);
    }
    score
}

/// Where each utterance of `truth` can be heard at all under `noise`: the span from the first
/// to the last 10 ms frame inside it (in samples of `clean`, at `sample_rate`) in which the
/// clean speech is at least `local_snr_db` above the noise in one or more of `bands` mel bands
/// over `band_hz` (an ideal binary mask with that local criterion). `noise` is the noise as
/// mixed (already scaled; repeated if shorter). An utterance heard in no frame gets an empty
/// span at its truth's start.
///
/// A detector hears only the mixture, so boundaries scored against these spans show what any
/// detector could reach at best; scored against the truth, they show how much of each
/// utterance's edges the noise hides.
#[must_use]
pub fn audible_spans(
    clean: &[f32],
    noise: &[f32],
    truth: &[Range<usize>],
    sample_rate: u32,
    local_snr_db: f32,
    bands: usize,
    band_hz: Range<f32>,
) -> Vec<Range<usize>> {
    let hop = (sample_rate as usize / 100).max(1);
    let mut speech = SpectralScorer::with_bands(hop, sample_rate, bands, band_hz.clone());
    let mut heard = SpectralScorer::with_bands(hop, sample_rate, bands, band_hz);
    let ratio = 10f32.powf(local_snr_db / 10.0);
    let mut noise_frame = vec![0.0f32; hop];
    // Frame i covers samples up to (i + 1) * hop; it is placed at its centre.
    let mut audible = Vec::with_capacity(clean.len() / hop + 1);
    for (i, frame) in clean.chunks(hop).enumerate() {
        for (k, n) in noise_frame.iter_mut().enumerate() {
            *n = if noise.is_empty() {
                0.0
            } else {
                noise[(i * hop + k) % noise.len()]
            };
        }
        speech.score(frame);
        heard.score(&noise_frame[..frame.len()]);
        audible.push(
            speech
                .band_powers()
                .iter()
                .zip(heard.band_powers())
                .any(|(s, n)| *s > ratio * n),
        );
    }
    // The analysis window ends at the frame's end; its centre lags by half a window.
    let lag = hop;
    truth
        .iter()
        .map(|t| {
            let first = t.start / hop;
            let last = (t.end.div_ceil(hop) + lag / hop).min(audible.len());
            let heard = |f: &usize| audible[*f];
            match ((first..last).find(heard), (first..last).rfind(heard)) {
                (Some(a), Some(b)) => {
                    let start = (a * hop).saturating_sub(lag).max(t.start);
                    let end = ((b + 1) * hop).saturating_sub(lag).min(t.end).max(start);
                    start..end
                }
                _ => t.start..t.start,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn every_noise_has_unit_power_at_its_nominal_level() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for kind in RoomNoise::ALL {
            let x = kind.generate(16_000 * 20, 16_000, &mut rng);
            let half = x.len() / 2;
            let p =
                |s: &[f32]| s.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / s.len() as f64;
            assert!(x.iter().all(|v| v.is_finite()), "{kind}");
            if kind == RoomNoise::Step {
                let step_db = 10.0 * (p(&x[half..]) / p(&x[..half])).log10();
                assert!((step_db - 10.0).abs() < 1.0, "step of {step_db} dB");
            } else {
                assert!((p(&x) - 1.0).abs() < 1e-3, "{kind}: power {}", p(&x));
            }
            assert_eq!(kind.name().parse::<RoomNoise>(), Ok(kind));
        }
        assert!("fan".parse::<RoomNoise>().is_err());
    }

    #[test]
    fn streams_keep_each_utterance_where_the_truth_says() {
        let clip = |v: f32, n: usize| (vec![v; n], Emotion::Happy);
        let clips = [clip(0.1, 1000), clip(0.2, 500), (Vec::new(), Emotion::Sad)];
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let s = SpeechStream::build(&clips, 1000, 1.0..2.0, 0.5, &mut rng);
        assert_eq!(s.truth.len(), 2);
        assert_eq!(s.truth[0], 500..1500);
        assert!((1000..2000).contains(&(s.truth[1].start - 1500)));
        assert!(s.samples[s.truth[1].clone()].iter().all(|&v| v == 0.2));
        assert_eq!(s.samples.len(), s.truth[1].end + 500);
        let noisy = s.with_noise(&[1.0, -1.0], 0.0);
        let gain = s.noise_gain(0.0);
        assert!((noisy[0] - gain).abs() < 1e-6 && (noisy[1] + gain).abs() < 1e-6);
    }

    #[test]
    fn audible_spans_keep_what_rises_above_the_noise() {
        // One second at 16 kHz: a loud tone in 0.3..0.5 s, a faint one in 0.5..0.7 s, under
        // white-ish noise between the two levels.
        let sr = 16_000;
        let tone =
            |a: f32, i: usize| a * (std::f32::consts::TAU * 440.0 * i as f32 / sr as f32).sin();
        let clean: Vec<f32> = (0..sr as usize)
            .map(|i| match i {
                4800..8000 => tone(0.5, i),
                8000..11_200 => tone(0.000_05, i),
                _ => 0.0,
            })
            .collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let noise: Vec<f32> = (0..sr)
            .map(|_| 0.01 * (rng.random::<f32>() - 0.5))
            .collect();
        let truth = [4800..11_200, 15_000..15_000];
        let spans = audible_spans(&clean, &noise, &truth, sr, 0.0, 24, 100.0..7000.0);
        let (start, end) = (spans[0].start as i64, spans[0].end as i64);
        assert!((start - 4800).abs() <= 320, "start {start}");
        assert!(
            (end - 8000).abs() <= 480,
            "end {end}: the faint tone is not heard"
        );
        let silent = audible_spans(
            &clean,
            &noise,
            &[0..3000, 3000..3000],
            sr,
            0.0,
            24,
            100.0..7000.0,
        );
        assert_eq!(silent[0], 0..0, "nothing heard in silence");
        assert_eq!(spans[1], 15_000..15_000, "an empty truth stays empty");
        let no_noise = audible_spans(&clean, &[], &truth, sr, 0.0, 24, 100.0..7000.0);
        assert!(no_noise[0].end as i64 >= 11_200 - 320, "{:?}", no_noise[0]);
    }

    #[test]
    fn outcomes_are_once_merged_split_missed_and_false() {
        let truth = [0..100, 200..300, 400..500, 600..700];
        let dets = [5..95, 150..350, 390..440, 460..520, 800..900];
        let s = score_detections(&truth, &dets, 1000, 0.02);
        assert_eq!(
            s.outcomes,
            vec![
                Outcome::Once { detection: 0 },
                Outcome::Once { detection: 1 },
                Outcome::Split,
                Outcome::Missed
            ]
        );
        assert_eq!(s.false_detections, 1);
        assert_eq!(
            s.once_within, 1,
            "the first is within 20 ms, the second is not"
        );
        assert_eq!(s.within, vec![true, false, false, false]);
        let whole = std::iter::once(0..300).collect::<Vec<_>>();
        let merged = score_detections(&truth[..2], &whole, 1000, 0.02);
        assert_eq!(merged.outcomes, vec![Outcome::Merged, Outcome::Merged]);
        assert_eq!(s.count(|o| matches!(o, Outcome::Once { .. })), 2);
    }
}
