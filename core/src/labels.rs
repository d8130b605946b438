//! The labels the model predicts: eight [`Emotion`]s and two [`Intensity`] levels, with
//! lowercase names (`FromStr`, `Display` and serde all use them). The runtime and training
//! share them; nothing here knows about datasets.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Words accepted for an emotion, in [`Emotion::ALL`] order (for messages).
const EMOTION_NAMES: &str = "neutral, calm, happy, sad, angry, fearful, disgust, surprised";

// ---------------------------------------------------------------------------------------------
// Labels
// ---------------------------------------------------------------------------------------------

/// A value that is not one of a label's names, from a label's `FromStr`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {label} '{value}', expected one of {expected}")]
pub struct ParseLabelError {
    /// Which label was being parsed: `emotion`, `intensity`, `sex` or `split`.
    pub label: &'static str,
    /// The text that did not match.
    pub value: String,
    /// The accepted names, comma-separated.
    pub expected: &'static str,
}

/// Generates `ALL`, `COUNT`, `index`, `from_index`, `name`, `FromStr` and `Display` for a
/// field-less label enum whose variants are listed with their lowercase names.
macro_rules! label_enum {
    ($ty:ident, $label:literal, $expected:expr, [$($variant:ident => $name:literal),+ $(,)?]) => {
        impl $ty {
            /// Every value, in index order.
            pub const ALL: [$ty; [$($ty::$variant),+].len()] = [$($ty::$variant),+];
            /// Number of values.
            pub const COUNT: usize = Self::ALL.len();

            /// Position in [`Self::ALL`] (0-based).
            #[must_use]
            pub fn index(self) -> usize {
                self as usize
            }

            /// The value at `index` in [`Self::ALL`], or `None` past the end.
            #[must_use]
            pub fn from_index(index: usize) -> Option<Self> {
                Self::ALL.get(index).copied()
            }

            /// The lowercase name (as used by `FromStr`, `Display`, serde and manifests).
            #[must_use]
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl FromStr for $ty {
            type Err = ParseLabelError;

            /// Parses the lowercase name (ASCII case is ignored, surrounding spaces are not).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.name().eq_ignore_ascii_case(s))
                    .ok_or_else(|| ParseLabelError {
                        label: $label,
                        value: s.to_owned(),
                        expected: $expected,
                    })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.name())
            }
        }
    };
}

/// The eight RAVDESS emotions, in RAVDESS code order (code = index + 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    /// RAVDESS code 01.
    Neutral,
    /// RAVDESS code 02.
    Calm,
    /// RAVDESS code 03.
    Happy,
    /// RAVDESS code 04.
    Sad,
    /// RAVDESS code 05.
    Angry,
    /// RAVDESS code 06.
    Fearful,
    /// RAVDESS code 07.
    Disgust,
    /// RAVDESS code 08.
    Surprised,
}

label_enum!(Emotion, "emotion", EMOTION_NAMES, [
    Neutral => "neutral",
    Calm => "calm",
    Happy => "happy",
    Sad => "sad",
    Angry => "angry",
    Fearful => "fearful",
    Disgust => "disgust",
    Surprised => "surprised",
]);

impl Emotion {
    /// The RAVDESS file-name code, 1–8.
    #[must_use]
    pub fn ravdess_code(self) -> u8 {
        self as u8 + 1
    }

    /// The emotion with RAVDESS code `code` (1–8), or `None`.
    #[must_use]
    pub fn from_ravdess_code(code: u8) -> Option<Self> {
        Self::from_index(usize::from(code).checked_sub(1)?)
    }
}

/// Where an emotion sits on Russell's circumplex of affect (J. A. Russell, "A circumplex
/// model of affect", J. Pers. Soc. Psychol. 39(6), 1980): valence along 0°, arousal along 90°,
/// with the paper's eight directions pleasure 0°, excitement 45°, arousal 90°, distress 135°,
/// displeasure 180°, depression 225°, sleepiness 270° and relaxation 315°. Each emotion is put
/// on the unit circle at the direction nearest its meaning (our placement, not the paper's
/// measurement): happy 22.5° (pleasure to excitement), surprised 90° (arousal), angry 112.5°
/// (arousal to distress), fearful 135° (distress), disgust 157.5° (distress to displeasure),
/// sad 225° (depression), calm 315° (relaxation); neutral at the centre.
const CIRCUMPLEX_DEGREES: [Option<f32>; 8] = [
    None,
    Some(315.0),
    Some(22.5),
    Some(225.0),
    Some(112.5),
    Some(135.0),
    Some(157.5),
    Some(90.0),
];

impl Emotion {
    /// `(arousal, valence)` on Russell's circumplex of affect (1980), each in `[-1, 1]`, at the
    /// directions given in `labels.rs` with their source: angry, fearful and surprised high in
    /// arousal, sad and calm low; happy pleasant; sad, angry, fearful and disgust unpleasant;
    /// neutral `(0, 0)`.
    #[must_use]
    pub fn arousal_valence(self) -> (f32, f32) {
        match CIRCUMPLEX_DEGREES[self.index()] {
            Some(degrees) => {
                let (sin, cos) = degrees.to_radians().sin_cos();
                (sin, cos)
            }
            None => (0.0, 0.0),
        }
    }

    /// The family it belongs to.
    #[must_use]
    pub fn family(self) -> EmotionFamily {
        match self {
            Emotion::Neutral | Emotion::Calm => EmotionFamily::Calm,
            Emotion::Happy => EmotionFamily::Happy,
            Emotion::Sad => EmotionFamily::Sad,
            Emotion::Angry | Emotion::Disgust => EmotionFamily::Tense,
            Emotion::Fearful => EmotionFamily::Afraid,
            Emotion::Surprised => EmotionFamily::Surprised,
        }
    }
}

/// Emotions grouped for mechanics that need reliability more than nuance: the model confuses
/// neutral with calm and angry with disgust far more often than across these groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmotionFamily {
    /// Neutral and calm.
    Calm,
    /// Happy.
    Happy,
    /// Sad.
    Sad,
    /// Angry and disgust.
    Tense,
    /// Fearful.
    Afraid,
    /// Surprised.
    Surprised,
}

label_enum!(EmotionFamily, "emotion family", "calm, happy, sad, tense, afraid, surprised", [
    Calm => "calm",
    Happy => "happy",
    Sad => "sad",
    Tense => "tense",
    Afraid => "afraid",
    Surprised => "surprised",
]);

impl EmotionFamily {
    /// The emotions in this family.
    #[must_use]
    pub fn members(self) -> Vec<Emotion> {
        Emotion::ALL
            .into_iter()
            .filter(|e| e.family() == self)
            .collect()
    }

    /// Family probabilities from emotion probabilities (in [`Emotion::ALL`] order): each the
    /// sum of its members'.
    #[must_use]
    pub fn probabilities(emotions: &[f32; Emotion::COUNT]) -> [f32; EmotionFamily::COUNT] {
        let mut out = [0.0; EmotionFamily::COUNT];
        for e in Emotion::ALL {
            out[e.family().index()] += emotions[e.index()];
        }
        out
    }
}

/// Emotional intensity. RAVDESS neutral clips are always [`Intensity::Normal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Intensity {
    /// RAVDESS code 01.
    Normal,
    /// RAVDESS code 02.
    Strong,
}

label_enum!(Intensity, "intensity", "normal, strong", [
    Normal => "normal",
    Strong => "strong",
]);

#[cfg(feature = "training")]
pub(crate) use label_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_circumplex_orders_the_emotions_as_the_literature_does() {
        let av = |e: Emotion| e.arousal_valence();
        for high in [Emotion::Angry, Emotion::Fearful, Emotion::Surprised] {
            for low in [Emotion::Sad, Emotion::Calm, Emotion::Neutral] {
                assert!(av(high).0 > av(low).0, "{high} above {low} in arousal");
            }
        }
        assert!(av(Emotion::Sad).0 < 0.0 && av(Emotion::Calm).0 < 0.0);
        assert!(av(Emotion::Happy).1 > 0.5);
        for unpleasant in [
            Emotion::Sad,
            Emotion::Angry,
            Emotion::Fearful,
            Emotion::Disgust,
        ] {
            assert!(av(unpleasant).1 < 0.0, "{unpleasant} is unpleasant");
        }
        assert_eq!(av(Emotion::Neutral), (0.0, 0.0));
        for e in Emotion::ALL {
            let (a, v) = av(e);
            assert!(
                (-1.0..=1.0).contains(&a) && (-1.0..=1.0).contains(&v),
                "{e}"
            );
        }
    }

    #[test]
    fn families_cover_every_emotion_once_and_sum_their_probabilities() {
        let members: usize = EmotionFamily::ALL.iter().map(|f| f.members().len()).sum();
        assert_eq!(members, Emotion::COUNT);
        assert_eq!(
            EmotionFamily::Tense.members(),
            vec![Emotion::Angry, Emotion::Disgust]
        );
        let p = [0.1, 0.2, 0.05, 0.05, 0.3, 0.1, 0.15, 0.05];
        let f = EmotionFamily::probabilities(&p);
        assert!((f[EmotionFamily::Calm.index()] - 0.3).abs() < 1e-6);
        assert!((f[EmotionFamily::Tense.index()] - 0.45).abs() < 1e-6);
        assert!((f.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!("tense".parse::<EmotionFamily>(), Ok(EmotionFamily::Tense));
    }
}
