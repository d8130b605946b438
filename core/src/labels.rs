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
