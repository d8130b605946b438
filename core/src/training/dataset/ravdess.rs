//! RAVDESS: file names (`MM-VV-EE-II-SS-RR-AA.wav`), actors, speaker folds and the
//! folder named by [`RAVDESS_ENV`].

use super::*;

/// Number of speaker-independent RAVDESS folds.
pub const FOLDS: usize = 6;
/// RAVDESS actors per fold (consecutive numbers: fold 0 is actors 1–4).
pub const ACTORS_PER_FOLD: u8 = 4;
/// Number of RAVDESS actors (numbered 1 to 24).
pub const RAVDESS_ACTORS: u8 = 24;

/// Speaker sex, known for RAVDESS actors (odd numbers male, even female).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// Even-numbered RAVDESS actors.
    Female,
    /// Odd-numbered RAVDESS actors.
    Male,
}

label_enum!(Sex, "sex", "female, male", [
    Female => "female",
    Male => "male",
]);

impl Sex {
    /// The sex of RAVDESS actor `actor`: odd numbers are male, even numbers female.
    #[must_use]
    pub fn of_actor(actor: u8) -> Self {
        if actor % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RAVDESS names and folds
// ---------------------------------------------------------------------------------------------

/// The fold (0 to [`FOLDS`]` - 1`) holding RAVDESS actor `actor` (1–24): actors 1–4 are fold
/// 0, 5–8 fold 1, …, 21–24 fold 5. Every fold has two female and two male actors, so holding
/// one fold out gives a speaker-independent, sex-balanced test set.
///
/// Actor numbers are validated by [`RavdessName::parse`]; a value outside 1–24 is clamped
/// (0 gives fold 0, 25 and above give the last fold) rather than panicking.
#[must_use]
pub fn fold_of_actor(actor: u8) -> usize {
    let a = actor.clamp(1, RAVDESS_ACTORS);
    usize::from((a - 1) / ACTORS_PER_FOLD)
}

/// The actors (inclusive range, 1-based) in fold `fold`; `None` for `fold >= FOLDS`.
#[must_use]
pub fn actors_of_fold(fold: usize) -> Option<std::ops::RangeInclusive<u8>> {
    if fold >= FOLDS {
        return None;
    }
    let first = u8::try_from(fold).ok()? * ACTORS_PER_FOLD + 1;
    Some(first..=first + ACTORS_PER_FOLD - 1)
}

/// A RAVDESS file name that breaks the `MM-VV-EE-II-SS-RR-AA.wav` code. Every variant names
/// the file (as given: a bare name or a whole path).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name does not end in `.wav` (any case), or the path has no file name.
    #[error("{}: not a RAVDESS file name: expected a .wav file named MM-VV-EE-II-SS-RR-AA.wav", file.display())]
    NotWav {
        /// The file.
        file: PathBuf,
    },
    /// The stem does not have seven `-`-separated fields.
    #[error("{}: expected 7 fields MM-VV-EE-II-SS-RR-AA, found {found}", file.display())]
    FieldCount {
        /// The file.
        file: PathBuf,
        /// Fields found.
        found: usize,
    },
    /// A field is not exactly two ASCII digits.
    #[error("{}: field '{field}' is '{value}', expected two digits", file.display())]
    NotDigits {
        /// The file.
        file: PathBuf,
        /// The field's name (`modality`, `vocal_channel`, `emotion`, `intensity`,
        /// `statement`, `repetition` or `actor`).
        field: &'static str,
        /// The field's text.
        value: String,
    },
    /// A field's value is outside its code (including strong intensity on a neutral clip).
    #[error("{}: field '{field}' has value {value}, expected {expected}", file.display())]
    Value {
        /// The file.
        file: PathBuf,
        /// The field's name.
        field: &'static str,
        /// The field's text (two digits).
        value: String,
        /// What the code allows there.
        expected: &'static str,
    },
}

/// The seven fields of a RAVDESS audio-only speech file name, `MM-VV-EE-II-SS-RR-AA.wav`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RavdessName {
    /// Modality: always 3 (audio-only).
    pub modality: u8,
    /// Vocal channel: always 1 (speech).
    pub vocal_channel: u8,
    /// The acted emotion.
    pub emotion: Emotion,
    /// Emotional intensity ([`Intensity::Normal`] for neutral).
    pub intensity: Intensity,
    /// Statement: 1 ("Kids are talking by the door") or 2 ("Dogs are sitting by the door").
    pub statement: u8,
    /// Repetition: 1 or 2.
    pub repetition: u8,
    /// Actor, 1–24 (odd male, even female).
    pub actor: u8,
}

impl RavdessName {
    /// Parses a RAVDESS file name, given bare (`03-01-06-01-02-01-12.wav`) or as a path (only
    /// the last component is read).
    ///
    /// # Errors
    /// A [`NameError`] naming `path` and, where one is at fault, the field: a missing `.wav`
    /// extension, a field count other than seven, a field that is not two digits, modality
    /// other than 03, vocal channel other than 01, emotion outside 01–08, intensity outside
    /// 01–02 or 02 on a neutral clip, statement or repetition outside 01–02, actor outside
    /// 01–24.
    pub fn parse(path: impl AsRef<Path>) -> Result<Self, NameError> {
        let path = path.as_ref();
        let file = || path.to_path_buf();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| NameError::NotWav { file: file() })?;
        let stem = match name.rsplit_once('.') {
            Some((stem, ext)) if ext.eq_ignore_ascii_case("wav") => stem,
            _ => return Err(NameError::NotWav { file: file() }),
        };
        let fields: Vec<&str> = stem.split('-').collect();
        let [mm, vv, ee, ii, ss, rr, aa] = fields[..] else {
            return Err(NameError::FieldCount {
                file: file(),
                found: fields.len(),
            });
        };
        let number = |field: &'static str, text: &str| -> Result<u8, NameError> {
            let b = text.as_bytes();
            if b.len() == 2 && b.iter().all(u8::is_ascii_digit) {
                Ok((b[0] - b'0') * 10 + (b[1] - b'0'))
            } else {
                Err(NameError::NotDigits {
                    file: file(),
                    field,
                    value: text.to_owned(),
                })
            }
        };
        let bad = |field: &'static str, text: &str, expected: &'static str| NameError::Value {
            file: file(),
            field,
            value: text.to_owned(),
            expected,
        };
        // Digits are checked for every field before any value, so the first malformed field
        // is reported whatever the others hold.
        let values = [
            ("modality", mm),
            ("vocal_channel", vv),
            ("emotion", ee),
            ("intensity", ii),
            ("statement", ss),
            ("repetition", rr),
            ("actor", aa),
        ]
        .map(|(field, text)| number(field, text));
        let [
            modality,
            vocal_channel,
            emotion,
            intensity,
            statement,
            repetition,
            actor,
        ] = values;
        let (modality, vocal_channel, emotion, intensity, statement, repetition, actor) = (
            modality?,
            vocal_channel?,
            emotion?,
            intensity?,
            statement?,
            repetition?,
            actor?,
        );
        if modality != 3 {
            return Err(bad("modality", mm, "03 (audio-only)"));
        }
        if vocal_channel != 1 {
            return Err(bad("vocal_channel", vv, "01 (speech)"));
        }
        let emotion =
            Emotion::from_ravdess_code(emotion).ok_or_else(|| bad("emotion", ee, "01-08"))?;
        let intensity = match intensity {
            1 => Intensity::Normal,
            2 if emotion == Emotion::Neutral => {
                return Err(bad(
                    "intensity",
                    ii,
                    "01 for neutral (neutral has only normal intensity)",
                ));
            }
            2 => Intensity::Strong,
            _ => return Err(bad("intensity", ii, "01-02")),
        };
        if !(1..=2).contains(&statement) {
            return Err(bad("statement", ss, "01-02"));
        }
        if !(1..=2).contains(&repetition) {
            return Err(bad("repetition", rr, "01-02"));
        }
        if !(1..=RAVDESS_ACTORS).contains(&actor) {
            return Err(bad("actor", aa, "01-24"));
        }
        Ok(RavdessName {
            modality,
            vocal_channel,
            emotion,
            intensity,
            statement,
            repetition,
            actor,
        })
    }

    /// The actor's sex (odd actors male, even female).
    #[must_use]
    pub fn sex(&self) -> Sex {
        Sex::of_actor(self.actor)
    }

    /// The cross-validation fold of the actor ([`fold_of_actor`]).
    #[must_use]
    pub fn fold(&self) -> usize {
        fold_of_actor(self.actor)
    }

    /// The speaker id RAVDESS samples carry: `actor_01` … `actor_24`.
    #[must_use]
    pub fn speaker(&self) -> String {
        format!("actor_{:02}", self.actor)
    }
}

impl fmt::Display for RavdessName {
    /// The file name, e.g. `03-01-06-01-02-01-12.wav`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}-{:02}-{:02}-{:02}-{:02}-{:02}-{:02}.wav",
            self.modality,
            self.vocal_channel,
            self.emotion.ravdess_code(),
            self.intensity.index() + 1,
            self.statement,
            self.repetition,
            self.actor
        )
    }
}

/// Environment variable naming the RAVDESS folder (tests, tools and CI read it).
pub const RAVDESS_ENV: &str = "RAVDESS_DIR";

/// The RAVDESS folder named by [`RAVDESS_ENV`].
///
/// # Errors
/// [`DatasetError::RavdessEnv`] when the variable is unset or the folder holds no `Actor_01`.
pub fn ravdess_dir_from_env() -> Result<PathBuf, DatasetError> {
    let dir = std::env::var_os(RAVDESS_ENV).ok_or_else(|| DatasetError::RavdessEnv {
        reason: "is not set".to_owned(),
    })?;
    let dir = PathBuf::from(dir);
    if !dir.join("Actor_01").is_dir() {
        return Err(DatasetError::RavdessEnv {
            reason: format!("={} holds no Actor_01 folder", dir.display()),
        });
    }
    Ok(dir)
}
