//! Player ids: validated once, safe as file names.

use super::*;

// ---------------------------------------------------------------------------------------------
// Player ids

/// A player's identifier, valid as a file name on every platform.
///
/// 1 to [`MAX_ID_LEN`] characters from ASCII letters, digits, `-`, `_` and `.`; not starting
/// with `.` (so never `.`, `..` or a hidden file); no path separators, NUL or other control
/// characters; and not a Windows device name (`CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`,
/// `LPT0`–`LPT9`, in any case, alone or before a `.`). Ids are case-sensitive, but two ids that
/// differ only in case share a file on case-insensitive file systems (Windows, macOS): the
/// store then reports [`ProfileError::IdCaseConflict`] instead of mixing their profiles.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlayerId(String);

/// Why a string is not a valid [`PlayerId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdRejection {
    /// The empty string.
    #[error("empty")]
    Empty,
    /// Longer than [`MAX_ID_LEN`] characters.
    #[error("{len} characters, more than {MAX_ID_LEN}")]
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    /// A character outside `A-Z a-z 0-9 - _ .`.
    #[error("character {ch:?} at {index} is not an ASCII letter, digit, '-', '_' or '.'")]
    BadCharacter {
        /// The first offending character.
        ch: char,
        /// Its position, in characters.
        index: usize,
    },
    /// Starts with `.` (hidden files, `.` and `..`).
    #[error("starts with '.'")]
    LeadingDot,
    /// A Windows device name (`CON`, `NUL`, `COM1`, ...), alone or before a `.`.
    #[error("a reserved device name on Windows")]
    ReservedName,
}

impl PlayerId {
    /// Validates `id`.
    ///
    /// # Errors
    /// [`ProfileError::InvalidPlayerId`] with the id (shortened when long) and the reason.
    pub fn new(id: &str) -> Result<Self, ProfileError> {
        match id_rejection(id) {
            None => Ok(Self(id.to_owned())),
            Some(reason) => Err(ProfileError::InvalidPlayerId {
                id: shorten(id),
                reason,
            }),
        }
    }

    /// The id as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(super) fn id_rejection(id: &str) -> Option<IdRejection> {
    let len = id.chars().count();
    if len == 0 {
        return Some(IdRejection::Empty);
    }
    if len > MAX_ID_LEN {
        return Some(IdRejection::TooLong { len });
    }
    if let Some((index, ch)) = id
        .chars()
        .enumerate()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Some(IdRejection::BadCharacter { ch, index });
    }
    if id.starts_with('.') {
        return Some(IdRejection::LeadingDot);
    }
    // Windows treats `CON`, `con.txt`, `Com1.profile`... as devices.
    let stem = id.split('.').next().unwrap_or(id).to_ascii_uppercase();
    let numbered = |prefix: &str| {
        stem.len() == 4
            && stem.starts_with(prefix)
            && stem.as_bytes().get(3).is_some_and(u8::is_ascii_digit)
    };
    if matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL") || numbered("COM") || numbered("LPT")
    {
        return Some(IdRejection::ReservedName);
    }
    None
}

/// At most [`MAX_ID_LEN`] characters of `s`, with `…` when cut.
pub(super) fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(MAX_ID_LEN).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

impl fmt::Display for PlayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Default for PlayerId {
    /// `player`: the id of a game's only player.
    fn default() -> Self {
        Self("player".to_owned())
    }
}

impl PartialEq<str> for PlayerId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PlayerId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl std::ops::Deref for PlayerId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PlayerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for PlayerId {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for PlayerId {
    type Error = ProfileError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        match id_rejection(&s) {
            None => Ok(Self(s)),
            Some(reason) => Err(ProfileError::InvalidPlayerId {
                id: shorten(&s),
                reason,
            }),
        }
    }
}

impl From<PlayerId> for String {
    fn from(id: PlayerId) -> Self {
        id.0
    }
}
