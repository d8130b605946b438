//! The game's sounds, synthesised: short cues for the gates and confirmations, and an ambient
//! pad whose harmony and pulse follow the player's arousal and valence. Pure and allocation-free
//! while playing ([`Mixer::fill`] runs in the audio callback); tested without a device.

use std::f32::consts::TAU;
use std::sync::Arc;

/// A short sound for something that happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cue {
    /// A gate opened: a rising major arpeggio.
    GateOpened,
    /// The gate wanted another emotion: two low falling tones.
    GateMissed,
    /// No emotion was sure: one soft, short tone.
    NotSure,
    /// The player confirmed or corrected a detection: two quick bell tones.
    Confirmed,
}

impl Cue {
    /// Every cue.
    pub const ALL: [Cue; 4] = [
        Cue::GateOpened,
        Cue::GateMissed,
        Cue::NotSure,
        Cue::Confirmed,
    ];

    /// The cue's notes: (start in seconds, frequency in Hz, length in seconds, level).
    fn notes(self) -> &'static [(f32, f32, f32, f32)] {
        match self {
            // C5 E5 G5 C6.
            Cue::GateOpened => &[
                (0.00, 523.25, 0.35, 0.5),
                (0.08, 659.25, 0.35, 0.5),
                (0.16, 783.99, 0.35, 0.5),
                (0.24, 1046.5, 0.60, 0.55),
            ],
            // E3 then C3.
            Cue::GateMissed => &[(0.00, 164.81, 0.25, 0.6), (0.18, 130.81, 0.45, 0.6)],
            Cue::NotSure => &[(0.00, 392.0, 0.30, 0.3)],
            // G5 then D6.
            Cue::Confirmed => &[(0.00, 783.99, 0.25, 0.4), (0.10, 1174.66, 0.40, 0.4)],
        }
    }

    /// The cue at `sample_rate`, mono, peak below 1.
    #[must_use]
    pub fn render(self, sample_rate: u32) -> Vec<f32> {
        let rate = sample_rate.max(1) as f32;
        let notes = self.notes();
        let length = notes
            .iter()
            .map(|(start, _, len, _)| start + len)
            .fold(0.0f32, f32::max);
        let mut out = vec![0.0f32; (length * rate).ceil() as usize + 1];
        for &(start, freq, len, level) in notes {
            let first = (start * rate) as usize;
            let n = (len * rate) as usize;
            for i in 0..n {
                let t = i as f32 / rate;
                // A 5 ms attack, then an exponential decay: a struck bell, no click.
                let attack = (t / 0.005).min(1.0);
                let decay = (-t * 6.0 / len).exp();
                let tone = (TAU * freq * t).sin() + 0.3 * (TAU * 2.0 * freq * t).sin();
                if let Some(x) = out.get_mut(first + i) {
                    *x += level * attack * decay * tone;
                }
            }
        }
        let peak = out.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        if peak > 0.9 {
            out.iter_mut().for_each(|x| *x *= 0.9 / peak);
        }
        out
    }
}

/// What the game tells the sound thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SoundCommand {
    /// Play a cue once.
    Play(Cue),
    /// The mood the ambience moves towards: smoothed arousal and valence, each in `-1..=1`.
    Mood {
        /// Calm (−1) to excited (1).
        arousal: f32,
        /// Unpleasant (−1) to pleasant (1).
        valence: f32,
    },
    /// Quieter while the player speaks (less of the game in the microphone).
    Duck(bool),
    /// The master volume, `0..=1`.
    Volume(f32),
}

/// The chord roots the ambience walks through, in semitones from A2 (I, IV, vi, V).
const PROGRESSION: [f32; 4] = [0.0, 5.0, -3.0, 7.0];
/// Seconds on each chord.
const CHORD_SECONDS: f32 = 6.0;
/// The ambience's level before the master volume.
const AMBIENCE_LEVEL: f32 = 0.12;
/// The ambience's level while the player speaks, relative to its normal level.
const DUCKED: f32 = 0.3;
/// Cues that can sound at once; more are dropped.
pub const MAX_VOICES: usize = 8;

/// A smoothed parameter: moves towards its target with a time constant.
#[derive(Debug, Clone, Copy)]
struct Glide {
    value: f32,
    target: f32,
    /// Per-sample step factor.
    rate: f32,
}

impl Glide {
    fn new(value: f32, seconds: f32, sample_rate: f32) -> Self {
        Self {
            value,
            target: value,
            rate: 1.0 - (-1.0 / (seconds * sample_rate).max(1.0)).exp(),
        }
    }

    fn next(&mut self) -> f32 {
        self.value += (self.target - self.value) * self.rate;
        self.value
    }
}

/// The ambient pad: a chord (root, a third between minor and major by valence, fifth and
/// octave) that walks a four-chord progression, with a pulse whose rate and depth rise with
/// arousal and a brightness (upper harmonics) that rises with it too.
#[derive(Debug, Clone)]
pub struct Ambience {
    rate: f32,
    /// Samples played.
    t: u64,
    /// Phases of root, minor third, major third, fifth, octave.
    phases: [f32; 5],
    /// Their frequencies over the root's (equal temperament), computed once.
    ratios: [f32; 5],
    pulse_phase: f32,
    root: Glide,
    arousal: Glide,
    valence: Glide,
}

impl Ambience {
    /// A neutral pad at `sample_rate`.
    #[must_use]
    pub fn new(sample_rate: u32) -> Self {
        let rate = sample_rate.max(1) as f32;
        Self {
            rate,
            t: 0,
            phases: [0.0; 5],
            ratios: [0.0f32, 3.0, 4.0, 7.0, 12.0].map(|semitones| 2f32.powf(semitones / 12.0)),
            pulse_phase: 0.0,
            root: Glide::new(0.0, 0.4, rate),
            arousal: Glide::new(0.0, 1.5, rate),
            valence: Glide::new(0.0, 1.5, rate),
        }
    }

    /// The mood to move towards (clamped to `-1..=1`; non-finite values are ignored).
    pub fn set_mood(&mut self, arousal: f32, valence: f32) {
        if arousal.is_finite() {
            self.arousal.target = arousal.clamp(-1.0, 1.0);
        }
        if valence.is_finite() {
            self.valence.target = valence.clamp(-1.0, 1.0);
        }
    }

    /// The next sample, about `-1..=1` before the level.
    pub fn sample(&mut self) -> f32 {
        let chord = ((self.t as f32 / self.rate) / CHORD_SECONDS) as usize % PROGRESSION.len();
        self.t += 1;
        self.root.target = PROGRESSION[chord];
        let root = self.root.next();
        let arousal = self.arousal.next();
        let valence = self.valence.next();
        let major = 0.5 * (valence + 1.0);
        let base = 110.0 * 2f32.powf(root / 12.0);
        let levels = [1.0, 1.0 - major, major, 0.8, 0.5];
        let brightness = 0.15 + 0.35 * (arousal + 1.0) * 0.5;
        let mut sum = 0.0;
        for ((phase, ratio), level) in self.phases.iter_mut().zip(self.ratios).zip(levels) {
            let freq = base * ratio;
            *phase = (*phase + freq / self.rate).fract();
            let x = TAU * *phase;
            sum += level
                * (x.sin() + brightness * (2.0 * x).sin() + 0.5 * brightness * (3.0 * x).sin());
        }
        // Pulse: 0.25 Hz and shallow when calm, 4 Hz and deep when excited.
        let pulse_rate = 0.25 * 16f32.powf(0.5 * (arousal + 1.0));
        self.pulse_phase = (self.pulse_phase + pulse_rate / self.rate).fract();
        let depth = 0.15 + 0.5 * 0.5 * (arousal + 1.0);
        let pulse = 1.0 - depth * 0.5 * (1.0 + (TAU * self.pulse_phase).cos());
        sum * pulse / 3.0
    }
}

/// A cue being played.
#[derive(Debug, Clone)]
struct Voice {
    samples: Arc<[f32]>,
    at: usize,
}

/// Everything the output plays: the ambience and the cues, at one sample rate.
#[derive(Debug)]
pub struct Mixer {
    ambience: Ambience,
    cues: Vec<(Cue, Arc<[f32]>)>,
    voices: Vec<Voice>,
    volume: Glide,
    duck: Glide,
}

impl Mixer {
    /// A mixer at `sample_rate` with every cue rendered.
    #[must_use]
    pub fn new(sample_rate: u32) -> Self {
        let rate = sample_rate.max(1) as f32;
        Self {
            ambience: Ambience::new(sample_rate),
            cues: Cue::ALL
                .into_iter()
                .map(|c| (c, Arc::from(c.render(sample_rate))))
                .collect(),
            voices: Vec::with_capacity(MAX_VOICES),
            volume: Glide::new(0.8, 0.05, rate),
            duck: Glide::new(1.0, 0.25, rate),
        }
    }

    /// Applies a command (never allocates: a cue beyond [`MAX_VOICES`] is dropped).
    pub fn command(&mut self, command: SoundCommand) {
        match command {
            SoundCommand::Play(cue) => {
                if self.voices.len() < MAX_VOICES
                    && let Some((_, samples)) = self.cues.iter().find(|(c, _)| *c == cue)
                {
                    self.voices.push(Voice {
                        samples: Arc::clone(samples),
                        at: 0,
                    });
                }
            }
            SoundCommand::Mood { arousal, valence } => self.ambience.set_mood(arousal, valence),
            SoundCommand::Duck(on) => self.duck.target = if on { DUCKED } else { 1.0 },
            SoundCommand::Volume(v) => {
                if v.is_finite() {
                    self.volume.target = v.clamp(0.0, 1.0);
                }
            }
        }
    }

    /// Cues playing now.
    #[must_use]
    pub fn playing(&self) -> usize {
        self.voices.len()
    }

    /// Fills `out`, interleaved with `channels` channels (the same signal on each), within
    /// `-1..=1`.
    pub fn fill(&mut self, out: &mut [f32], channels: usize) {
        for frame in out.chunks_mut(channels.max(1)) {
            let ambience = self.ambience.sample() * AMBIENCE_LEVEL * self.duck.next();
            let mut x = ambience;
            for v in &mut self.voices {
                if let Some(s) = v.samples.get(v.at) {
                    x += 0.5 * s;
                }
                v.at += 1;
            }
            let y = (x * self.volume.next()).tanh();
            frame.fill(y);
        }
        self.voices.retain(|v| v.at < v.samples.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
    }

    #[test]
    fn cues_are_short_audible_and_below_full_scale() {
        for cue in Cue::ALL {
            let x = cue.render(48_000);
            let seconds = x.len() as f32 / 48_000.0;
            assert!((0.2..1.0).contains(&seconds), "{cue:?}: {seconds} s");
            let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(peak > 0.2 && peak <= 0.9 + 1e-6, "{cue:?}: peak {peak}");
            // Starts without a click and ends in silence.
            assert!(x[0].abs() < 0.01, "{cue:?} starts at {}", x[0]);
            assert!(
                x[x.len() - 10..].iter().all(|v| v.abs() < 0.02),
                "{cue:?} ends loud"
            );
        }
        // Every rate, including a phone's.
        let phone = Cue::NotSure.render(8_000).len();
        assert!((2_400..=2_402).contains(&phone), "{phone}");
    }

    #[test]
    fn the_ambience_follows_the_mood() {
        let rate = 16_000;
        // The share of the signal's power in the pulse: its envelope's spread.
        let pulse_depth = |arousal: f32| {
            let mut a = Ambience::new(rate);
            a.set_mood(arousal, 0.0);
            // Settle (the mood glides over about 1.5 s), then 4 s.
            (0..rate * 6).for_each(|_| {
                a.sample();
            });
            let x: Vec<f32> = (0..rate * 4).map(|_| a.sample()).collect();
            let windows: Vec<f32> = x.chunks(rate as usize / 50).map(rms).collect();
            let (lo, hi) = windows
                .iter()
                .fold((f32::MAX, 0.0f32), |(lo, hi), &w| (lo.min(w), hi.max(w)));
            (hi - lo) / hi
        };
        let (calm, excited) = (pulse_depth(-1.0), pulse_depth(1.0));
        assert!(
            excited > calm + 0.2,
            "pulse depth calm {calm}, excited {excited}"
        );

        // Valence moves the third from minor to major: the major third's frequency
        // (C#3 over A2) carries the power when pleasant.
        let third_power = |valence: f32, semitones: f32| {
            let mut a = Ambience::new(rate);
            a.set_mood(-1.0, valence);
            (0..rate * 4).for_each(|_| {
                a.sample();
            });
            let x: Vec<f32> = (0..rate).map(|_| a.sample()).collect();
            let f = 110.0 * 2f32.powf(semitones / 12.0);
            let (mut re, mut im) = (0.0f32, 0.0f32);
            for (i, v) in x.iter().enumerate() {
                let p = TAU * f * i as f32 / rate as f32;
                re += v * p.cos();
                im += v * p.sin();
            }
            (re * re + im * im).sqrt()
        };
        assert!(third_power(1.0, 4.0) > 5.0 * third_power(-1.0, 4.0));
        assert!(third_power(-1.0, 3.0) > 5.0 * third_power(1.0, 3.0));
    }

    #[test]
    fn the_mixer_plays_cues_ducks_and_stays_in_range() {
        let mut m = Mixer::new(16_000);
        let mut quiet = vec![0.0f32; 16_000];
        m.fill(&mut quiet, 1);
        let ambience = rms(&quiet);
        assert!(ambience > 0.01, "no ambience: {ambience}");

        m.command(SoundCommand::Play(Cue::GateOpened));
        assert_eq!(m.playing(), 1);
        let mut with_cue = vec![0.0f32; 2 * 4_000];
        m.fill(&mut with_cue, 2);
        assert!(
            rms(&with_cue) > 2.0 * ambience,
            "{} vs {ambience}",
            rms(&with_cue)
        );
        // Stereo: the same sample on both channels.
        assert!(with_cue.chunks(2).all(|f| f[0] == f[1]));
        // The cue ends and is removed.
        let mut rest = vec![0.0f32; 16_000];
        m.fill(&mut rest, 1);
        assert_eq!(m.playing(), 0);

        // Too many cues at once: the extra ones are dropped, nothing grows.
        for _ in 0..3 * MAX_VOICES {
            m.command(SoundCommand::Play(Cue::Confirmed));
        }
        assert_eq!(m.playing(), MAX_VOICES);
        let mut loud = vec![0.0f32; 4_000];
        m.fill(&mut loud, 1);
        assert!(loud.iter().all(|v| v.abs() <= 1.0));

        // Ducking lowers the ambience; volume 0 silences everything.
        let mut m = Mixer::new(16_000);
        m.command(SoundCommand::Duck(true));
        let mut ducked = vec![0.0f32; 16_000];
        m.fill(&mut ducked, 1);
        m.fill(&mut ducked, 1);
        assert!(
            rms(&ducked) < 0.5 * ambience,
            "{} vs {ambience}",
            rms(&ducked)
        );
        m.command(SoundCommand::Volume(0.0));
        m.command(SoundCommand::Volume(f32::NAN));
        let mut silent = vec![0.0f32; 16_000];
        m.fill(&mut silent, 1);
        m.fill(&mut silent, 1);
        assert!(rms(&silent) < 1e-4, "{}", rms(&silent));
    }
}
