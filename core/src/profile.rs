//! Player profiles: what the engine keeps about one player between sessions, and the store
//! that keeps them on disk.
//!
//! A [`PlayerProfile`] holds the samples the player confirmed ([`ConfirmedSample`], their MFCC
//! frames stored compactly as a [`QuantisedMatrix`]), the player's own normalisation statistics
//! ([`NormStats`]), their voice head ([`VoiceHead`], their own weights; `None` means the base
//! model alone), the
//! history of adaptation attempts ([`UpdateRecord`]) and which base model all of it belongs to
//! ([`BaseModelRef`]).
//!
//! A [`ProfileStore`] is a directory with one `<id>.profile` file per player ([`PlayerId`] is
//! validated so that it is always a safe file name). Reading needs no lock; writing goes
//! through a [`ProfileWriter`], which holds an OS advisory lock on `<id>.lock` for as long as it
//! lives, so only one writer (in this process or another) exists per player. Saves are atomic
//! (temporary file, `fsync`, rename, directory `fsync`): a crash leaves the previous complete
//! file. Files that fail any check are moved aside to `<id>.profile.corrupt-<unix_ms>`, never
//! deleted, and the caller falls back to the base model; a profile made for another base model
//! is left in place ([`ProfileError::WrongBase`]). `docs/profiles.md` describes the format.
//!
//! ```
//! use voice_emotion::profile::{BaseModelRef, PlayerId, PlayerProfile, ProfileStore};
//! # fn main() -> Result<(), voice_emotion::profile::ProfileError> {
//! # let dir = std::env::temp_dir().join(format!("ve-profile-doc-{}", std::process::id()));
//! let store = ProfileStore::new(&dir)?; // or ProfileStore::default_location("my_game")?
//! let base = BaseModelRef::of_bytes("base", b"the base model's weights file");
//! let id = PlayerId::new("player-1")?;
//! let writer = store.acquire(&id)?; // exclusive until dropped
//! // Ok(None): no profile yet. On Err (a damaged file, moved aside; another base model), a
//! // game would log it and carry on with the base model.
//! let mut profile = match writer.load(&base)? {
//!     Some(profile) => profile,
//!     None => PlayerProfile::new(id.clone(), base.clone()),
//! };
//! profile.updated_unix_ms = voice_emotion::profile::unix_ms_now();
//! writer.save(&profile)?;
//! drop(writer);
//! assert_eq!(store.load(&id, &base)?, Some(profile));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::dataset::{Emotion, Intensity};
use crate::features::FeatureMatrix;
use crate::input::NormStats;
use crate::voice::VoiceHead;

/// First 8 bytes of every profile file. The high-bit first byte and the trailing newline catch
/// 7-bit and line-ending-converting transfers (as PNG's signature does).
pub const MAGIC: [u8; 8] = *b"\x89VEPROF\n";
/// The format version this build writes. It also reads every older one (see
/// [`decode_profile`]); version 2 added the player's voice head ([`PlayerProfile::voice`]).
pub const FORMAT_VERSION: u32 = 2;
/// Header size in bytes: magic (8), version (u32 LE), payload length (u64 LE), xxh3-64 of the
/// payload (u64 LE).
pub const HEADER_LEN: usize = 8 + 4 + 8 + 8;
/// Largest payload written or read (1 GiB); also bincode's allocation limit while decoding, so
/// a damaged length field cannot make the loader allocate more.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 30;
/// Longest [`PlayerId`], in characters.
pub const MAX_ID_LEN: usize = 64;

const PROFILE_SUFFIX: &str = ".profile";
const LOCK_SUFFIX: &str = ".lock";
const TMP_INFIX: &str = ".profile.tmp-";
const CORRUPT_INFIX: &str = ".profile.corrupt-";

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_PAYLOAD_BYTES>()
}

/// Milliseconds since the Unix epoch now (0 if the clock is before 1970).
#[must_use]
pub fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

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

fn id_rejection(id: &str) -> Option<IdRejection> {
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
fn shorten(s: &str) -> String {
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

// ---------------------------------------------------------------------------------------------
// Compact feature storage

/// A [`FeatureMatrix`] stored in a quarter of the space: per column a minimum and a step
/// (`scale`), and one byte per value, `round((x - min) / scale)`.
///
/// `scale` is the column's range over 255 (rounded up), so decoding is off by at most
/// `scale / 2` (plus f32 rounding of the result); a constant column is exact. Non-finite
/// values never panic, they are clamped: the column's minimum and scale come from its finite
/// values only, `+inf` decodes to the column maximum, `-inf` and `NaN` to the column minimum,
/// and a column with no finite value decodes to zeros.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "QuantisedParts")]
pub struct QuantisedMatrix {
    n_frames: usize,
    n_features: usize,
    mins: Vec<f32>,
    scales: Vec<f32>,
    #[serde(with = "bytes")]
    values: Vec<u8>,
}

/// The serialised fields of a [`QuantisedMatrix`], checked before they become one.
#[derive(Deserialize)]
struct QuantisedParts {
    n_frames: usize,
    n_features: usize,
    mins: Vec<f32>,
    scales: Vec<f32>,
    #[serde(with = "bytes")]
    values: Vec<u8>,
}

impl TryFrom<QuantisedParts> for QuantisedMatrix {
    type Error = String;

    fn try_from(p: QuantisedParts) -> Result<Self, Self::Error> {
        let cells = p.n_frames.checked_mul(p.n_features);
        if p.mins.len() != p.n_features
            || p.scales.len() != p.n_features
            || cells != Some(p.values.len())
        {
            return Err(format!(
                "inconsistent quantised matrix: {} x {} with {} mins, {} scales, {} values",
                p.n_frames,
                p.n_features,
                p.mins.len(),
                p.scales.len(),
                p.values.len()
            ));
        }
        if !p.mins.iter().all(|m| m.is_finite())
            || !p.scales.iter().all(|s| s.is_finite() && *s >= 0.0)
        {
            return Err("non-finite minimum or scale in a quantised matrix".to_owned());
        }
        // Code 255 must decode to a finite f32 too (found by fuzzing: a large minimum plus a
        // large scale overflowed to infinity).
        if !p
            .mins
            .iter()
            .zip(&p.scales)
            .all(|(&m, &s)| ((f64::from(m) + 255.0 * f64::from(s)) as f32).is_finite())
        {
            return Err("a quantised matrix column's range overflows f32".to_owned());
        }
        Ok(Self {
            n_frames: p.n_frames,
            n_features: p.n_features,
            mins: p.mins,
            scales: p.scales,
            values: p.values,
        })
    }
}

impl QuantisedMatrix {
    /// Quantises `m` (its complete rows, if `data` is shorter than `n_frames * n_features`).
    #[must_use]
    pub fn encode(m: &FeatureMatrix) -> Self {
        let n_features = m.n_features;
        if n_features == 0 {
            return Self {
                n_frames: m.n_frames,
                n_features: 0,
                mins: Vec::new(),
                scales: Vec::new(),
                values: Vec::new(),
            };
        }
        let n_frames = m.n_frames.min(m.data.len() / n_features);
        let rows = || m.data.chunks_exact(n_features).take(n_frames);
        let mut lo = vec![f32::INFINITY; n_features];
        let mut hi = vec![f32::NEG_INFINITY; n_features];
        for row in rows() {
            for ((l, h), &v) in lo.iter_mut().zip(&mut hi).zip(row) {
                if v.is_finite() {
                    *l = l.min(v);
                    *h = h.max(v);
                }
            }
        }
        let (mins, scales): (Vec<f32>, Vec<f32>) = lo
            .iter()
            .zip(&hi)
            .map(|(&l, &h)| {
                if l > h {
                    return (0.0, 0.0); // no finite value in this column
                }
                let range = f64::from(h) - f64::from(l);
                let mut scale = (range / 255.0) as f32;
                // Round up so that 255 steps always cover the range.
                while f64::from(scale) * 255.0 < range {
                    scale = scale.next_up();
                }
                (l, scale)
            })
            .unzip();
        let mut values = Vec::with_capacity(n_frames * n_features);
        for row in rows() {
            values.extend(
                row.iter()
                    .zip(&mins)
                    .zip(&scales)
                    .map(|((&v, &min), &scale)| quantise(v, min, scale)),
            );
        }
        Self {
            n_frames,
            n_features,
            mins,
            scales,
            values,
        }
    }

    /// The matrix back, each value within `scale / 2` of the original (see the type's docs).
    #[must_use]
    pub fn decode(&self) -> FeatureMatrix {
        let mut data = Vec::with_capacity(self.values.len());
        if self.n_features > 0 {
            for row in self.values.chunks_exact(self.n_features) {
                data.extend(row.iter().zip(&self.mins).zip(&self.scales).map(
                    |((&q, &min), &scale)| {
                        (f64::from(min) + f64::from(q) * f64::from(scale)) as f32
                    },
                ));
            }
        }
        FeatureMatrix {
            data,
            n_frames: self.n_frames,
            n_features: self.n_features,
        }
    }

    /// Rows (frames).
    #[must_use]
    pub fn n_frames(&self) -> usize {
        self.n_frames
    }

    /// Columns (coefficients).
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Per-column minimum (the value of code 0).
    #[must_use]
    pub fn mins(&self) -> &[f32] {
        &self.mins
    }

    /// Per-column step between codes; the worst decoding error of a column is half of it.
    #[must_use]
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }
}

fn quantise(v: f32, min: f32, scale: f32) -> u8 {
    if scale == 0.0 || v.is_nan() {
        return 0;
    }
    // Clamping sends +inf to 255 and -inf to 0.
    ((f64::from(v) - f64::from(min)) / f64::from(scale))
        .round()
        .clamp(0.0, 255.0) as u8
}

/// `Vec<u8>` as serde bytes (one length and a block copy in bincode, not a sequence of `u8`s).
mod bytes {
    use serde::de::{Deserializer, SeqAccess, Visitor};
    use serde::ser::Serializer;
    use std::fmt;

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_byte_buf(BytesVisitor)
    }

    struct BytesVisitor;

    impl<'de> Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E>(self, v: &[u8]) -> Result<Self::Value, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Self::Value, E> {
            Ok(v)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }

    /// `Option<Vec<u8>>` as an option of serde bytes (read only: format version 1's network
    /// weights).
    pub(super) mod option {
        use serde::{Deserialize, Deserializer};

        struct Owned(Vec<u8>);

        impl<'de> Deserialize<'de> for Owned {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                super::deserialize(d).map(Owned)
            }
        }

        pub(in super::super) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Vec<u8>>, D::Error> {
            Ok(Option::<Owned>::deserialize(d)?.map(|o| o.0))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Profile contents

/// One utterance the player confirmed the emotion of: a training example for adaptation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfirmedSample {
    /// The utterance's MFCC frames (`frames x n_mfcc`, before deltas and stacking).
    pub features: QuantisedMatrix,
    /// The emotion the player confirmed.
    pub emotion: Emotion,
    /// The intensity, when the player gave one.
    pub intensity: Option<Intensity>,
    /// When it was confirmed, in milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
    /// The 16 kHz audio, kept only when the game opts in (it is much larger than the features).
    pub audio: Option<Vec<f32>>,
}

/// One adaptation attempt: what it was measured at and whether its weights were kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateRecord {
    /// When it ran, in milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
    /// Confirmed samples it trained on.
    pub samples_used: usize,
    /// Held-out accuracy of the weights before it.
    pub accuracy_before: f64,
    /// Held-out accuracy of the weights it produced.
    pub accuracy_after: f64,
    /// Whether the new weights replaced the old.
    pub accepted: bool,
    /// Why they were (or were not) kept, for people reading the history.
    pub reason: String,
    /// Seconds the update took.
    pub seconds: f64,
}

/// The base model a profile was made for: a voice head and statistics only make sense on top
/// of the same base weights.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BaseModelRef {
    /// A human-readable name (e.g. the model directory's name).
    pub name: String,
    /// Lowercase hex of the xxh3-64 hash of the base weights file (16 digits); what
    /// [`ProfileStore::load`] compares.
    pub hash: String,
}

impl BaseModelRef {
    /// The reference of a model whose weights file holds `bytes`.
    #[must_use]
    pub fn of_bytes(name: impl Into<String>, bytes: &[u8]) -> Self {
        Self {
            name: name.into(),
            hash: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes)),
        }
    }

    /// The reference of the weights file at `path` (e.g. a model directory's `model.bpk`).
    ///
    /// # Errors
    /// [`ProfileError::Io`] when the file cannot be read.
    pub fn of_file(name: impl Into<String>, path: impl AsRef<Path>) -> Result<Self, ProfileError> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(io_at(path))?;
        Ok(Self::of_bytes(name, &bytes))
    }
}

impl fmt::Display for BaseModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.hash)
    }
}

/// Everything the engine keeps about one player.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlayerProfile {
    /// Whose profile this is (checked against the file name on load).
    pub id: PlayerId,
    /// The base model the weights and samples belong to.
    pub base: BaseModelRef,
    /// The player's voice head ([`crate::voice`]), once fitted: their own weights.
    pub voice: Option<VoiceHead>,
    /// The utterances the player confirmed, oldest first.
    pub samples: Vec<ConfirmedSample>,
    /// Normalisation statistics of all the player's speech (not only confirmed samples).
    pub norm: Option<NormStats>,
    /// Adaptation attempts, oldest first.
    pub history: Vec<UpdateRecord>,
    /// When the profile was made, in milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
    /// When it last changed (set by the code that changes it; [`ProfileWriter::save`] does not).
    pub updated_unix_ms: u64,
}

impl PlayerProfile {
    /// An empty profile on `base` (base weights, no samples), created now.
    #[must_use]
    pub fn new(id: PlayerId, base: BaseModelRef) -> Self {
        let now = unix_ms_now();
        Self {
            id,
            base,
            voice: None,
            samples: Vec::new(),
            norm: None,
            history: Vec::new(),
            created_unix_ms: now,
            updated_unix_ms: now,
        }
    }
}

/// The reason of the [`UpdateRecord`] that reading a format-1 profile with fine-tuned weights
/// appends: those weights are dropped, and [`crate::adapt::PlayerModel::from_profile`] fits
/// the player's voice head from their samples when it finds this record last.
pub const MIGRATED_FROM_V1: &str = "saved by an older build with a fine-tuned network, which \
     this build does not use: the voice head is fitted from the same samples";

/// A profile as format version 1 wrote it: fine-tuned network weights instead of a voice
/// head. Read and turned into a [`PlayerProfile`] that keeps everything the player gave
/// (samples, statistics, history); the old weights, derived from those samples by the
/// previous adaptation method, are dropped, with a record saying so ([`MIGRATED_FROM_V1`]).
#[derive(Deserialize)]
struct PlayerProfileV1 {
    id: PlayerId,
    base: BaseModelRef,
    #[serde(deserialize_with = "bytes::option::deserialize")]
    weights: Option<Vec<u8>>,
    samples: Vec<ConfirmedSample>,
    norm: Option<NormStats>,
    history: Vec<UpdateRecord>,
    created_unix_ms: u64,
    updated_unix_ms: u64,
}

impl From<PlayerProfileV1> for PlayerProfile {
    fn from(p: PlayerProfileV1) -> Self {
        let mut history = p.history;
        if p.weights.is_some() {
            history.push(UpdateRecord {
                time_unix_ms: p.updated_unix_ms,
                samples_used: p.samples.len(),
                accuracy_before: 0.0,
                accuracy_after: 0.0,
                accepted: false,
                reason: MIGRATED_FROM_V1.to_owned(),
                seconds: 0.0,
            });
        }
        Self {
            id: p.id,
            base: p.base,
            voice: None,
            samples: p.samples,
            norm: p.norm,
            history,
            created_unix_ms: p.created_unix_ms,
            updated_unix_ms: p.updated_unix_ms,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// What is wrong with a profile file that fails its checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorruptReason {
    /// Shorter than the header.
    #[error("{len} bytes, shorter than the {HEADER_LEN}-byte header")]
    TooShort {
        /// The file's length.
        len: u64,
    },
    /// Longer than any profile this build writes.
    #[error("{len} bytes, more than the largest profile ({MAX_PAYLOAD_BYTES} bytes of payload)")]
    TooLarge {
        /// The file's length.
        len: u64,
    },
    /// Not a profile file.
    #[error("bad magic {found:02x?}")]
    BadMagic {
        /// The first 8 bytes.
        found: [u8; 8],
    },
    /// A format version this build does not read.
    #[error("format version {found}, this build reads 1 to {FORMAT_VERSION}")]
    UnsupportedVersion {
        /// The version in the header.
        found: u32,
    },
    /// The payload is not as long as the header says (a truncated or extended file).
    #[error("header announces {expected} payload bytes, file holds {actual}")]
    LengthMismatch {
        /// Payload length in the header.
        expected: u64,
        /// Bytes after the header.
        actual: u64,
    },
    /// The payload's checksum differs from the header's.
    #[error("checksum mismatch: header {expected:016x}, payload {actual:016x}")]
    ChecksumMismatch {
        /// Checksum in the header.
        expected: u64,
        /// Checksum of the payload read.
        actual: u64,
    },
    /// The payload does not decode as a profile.
    #[error("payload does not decode: {message}")]
    Decode {
        /// The decoder's message.
        message: String,
    },
    /// The file holds another player's profile (e.g. renamed by hand).
    #[error("file holds the profile of player {found}")]
    WrongPlayer {
        /// The id inside the file.
        found: PlayerId,
    },
}

/// Errors of player ids and the profile store.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Not a valid [`PlayerId`].
    #[error("invalid player id {id:?}: {reason}")]
    InvalidPlayerId {
        /// The rejected id, cut to [`MAX_ID_LEN`] characters plus `…` when longer.
        id: String,
        /// What is wrong with it.
        reason: IdRejection,
    },
    /// A file system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// No per-user data directory is known (no home directory).
    #[error("no data directory for app {app_name:?}: no home directory found")]
    NoDataDirectory {
        /// The application name asked for.
        app_name: String,
    },
    /// Another [`ProfileWriter`] (in this process or another) holds the player's lock.
    #[error("profile of player {player} is being written elsewhere (lock {})", path.display())]
    Locked {
        /// The player.
        player: PlayerId,
        /// The lock file.
        path: PathBuf,
    },
    /// The profile file failed a check and was moved aside; use the base model.
    #[error("profile {} of player {player} is unreadable ({reason}); moved to {}", path.display(), moved_to.display())]
    Corrupt {
        /// The player.
        player: PlayerId,
        /// Where the file was.
        path: PathBuf,
        /// Where it is now (`<id>.profile.corrupt-<unix_ms>`).
        moved_to: PathBuf,
        /// What is wrong with it.
        reason: CorruptReason,
    },
    /// The profile file failed a check but could not be moved aside (`cause` says why: another
    /// writer holds the lock, or the rename failed); use the base model.
    #[error("profile {} of player {player} is unreadable ({reason}) and was left in place: {cause}", path.display())]
    CorruptLeftInPlace {
        /// The player.
        player: PlayerId,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: CorruptReason,
        /// Why it was not moved.
        #[source]
        cause: Box<ProfileError>,
    },
    /// The profile was made for another base model. The file is left alone: the caller decides
    /// (keep it for that model, or start a new profile, whose save replaces it). The file is
    /// [`ProfileStore::path_of`] the player.
    #[error("profile of player {player} is for base model {found}, not {expected}")]
    WrongBase {
        /// The player.
        player: PlayerId,
        /// The base model asked for.
        expected: BaseModelRef,
        /// The base model in the file.
        found: BaseModelRef,
    },
    /// The file holds a player whose id differs from the requested one only in letter case: on
    /// a case-insensitive file system the two share a file. Left in place.
    #[error("profile {} holds player {found}, whose id differs from {requested} only in case", path.display())]
    IdCaseConflict {
        /// The id asked for.
        requested: PlayerId,
        /// The id in the file.
        found: PlayerId,
        /// The file.
        path: PathBuf,
    },
    /// The file was written by a newer build (a format version above [`FORMAT_VERSION`]):
    /// after a downgrade, say. It is left in place untouched, so the newer build finds it
    /// again; this build must not overwrite it (run the player from memory).
    #[error("profile {} of player {player} has format version {version}, newer than this build's {FORMAT_VERSION}; left untouched", path.display())]
    NewerVersion {
        /// The player.
        player: PlayerId,
        /// The file.
        path: PathBuf,
        /// The version in its header.
        version: u32,
    },
    /// [`ProfileWriter::save`] was given another player's profile.
    #[error("writer of player {writer} cannot save the profile of player {profile}")]
    NotThisWritersPlayer {
        /// The writer's player.
        writer: PlayerId,
        /// The profile's player.
        profile: PlayerId,
    },
    /// The profile does not encode (or is larger than [`MAX_PAYLOAD_BYTES`]).
    #[error("profile of player {player} does not encode: {message}")]
    Encode {
        /// The player.
        player: PlayerId,
        /// The encoder's message.
        message: String,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> ProfileError + '_ {
    move |source| ProfileError::Io {
        path: path.to_owned(),
        source,
    }
}

// ---------------------------------------------------------------------------------------------
// File format

fn encode_file(profile: &PlayerProfile) -> Result<(Vec<u8>, Vec<u8>), ProfileError> {
    let encode_error = |message: String| ProfileError::Encode {
        player: profile.id.clone(),
        message,
    };
    let payload = bincode::serde::encode_to_vec(profile, bincode_config())
        .map_err(|e| encode_error(e.to_string()))?;
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(encode_error(format!(
            "{} bytes, more than {MAX_PAYLOAD_BYTES}",
            payload.len()
        )));
    }
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    header.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&payload).to_le_bytes());
    Ok((header, payload))
}

/// Why a file's bytes are not the requested player's profile.
enum Rejected {
    Corrupt(CorruptReason),
    CaseConflict(PlayerId),
    /// A format version above [`FORMAT_VERSION`].
    Newer(u32),
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// Decodes the bytes of a whole profile file (header and payload), checking everything
/// [`ProfileStore::load`] checks except which player and base model it is for. Never panics,
/// whatever the bytes; allocates at most about [`MAX_PAYLOAD_BYTES`] more than their length.
///
/// # Errors
/// The [`CorruptReason`] of the first check that fails (a version above [`FORMAT_VERSION`]
/// is [`CorruptReason::UnsupportedVersion`] here; the store treats it apart).
pub fn decode_profile(bytes: &[u8]) -> Result<PlayerProfile, CorruptReason> {
    use CorruptReason as R;
    let Some((header, payload)) = bytes.split_at_checked(HEADER_LEN) else {
        return Err(R::TooShort {
            len: bytes.len() as u64,
        });
    };
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(R::TooLarge {
            len: bytes.len() as u64,
        });
    }
    let mut magic = [0; 8];
    magic.copy_from_slice(&header[..8]);
    if magic != MAGIC {
        return Err(R::BadMagic { found: magic });
    }
    // The header's layout (magic, version, length, checksum) is the same in every version, so
    // length and checksum are checked first: a file whose version field is garbage is damaged,
    // one that checks out with a higher version was written by a newer build.
    let version = le_u32(&header[8..]);
    let expected = le_u64(&header[12..]);
    if expected != payload.len() as u64 {
        return Err(R::LengthMismatch {
            expected,
            actual: payload.len() as u64,
        });
    }
    let (expected, actual) = (le_u64(&header[20..]), xxhash_rust::xxh3::xxh3_64(payload));
    if expected != actual {
        return Err(R::ChecksumMismatch { expected, actual });
    }
    match version {
        1 => decode_payload::<PlayerProfileV1>(payload).map(PlayerProfile::from),
        FORMAT_VERSION => decode_payload::<PlayerProfile>(payload),
        found => Err(R::UnsupportedVersion { found }),
    }
}

/// One whole bincode value of type `T` from `payload`.
fn decode_payload<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, CorruptReason> {
    match bincode::serde::decode_from_slice(payload, bincode_config()) {
        Ok((p, read)) if read == payload.len() => Ok(p),
        Ok((_, read)) => Err(CorruptReason::Decode {
            message: format!("{} bytes left after the profile", payload.len() - read),
        }),
        Err(e) => Err(CorruptReason::Decode {
            message: e.to_string(),
        }),
    }
}

/// The bytes of `profile`'s file, as [`ProfileWriter::save`] writes them (header and payload).
///
/// # Errors
/// [`ProfileError::Encode`].
pub fn encode_profile(profile: &PlayerProfile) -> Result<Vec<u8>, ProfileError> {
    let (mut header, payload) = encode_file(profile)?;
    header.extend_from_slice(&payload);
    Ok(header)
}

fn decode_file(bytes: &[u8], id: &PlayerId) -> Result<PlayerProfile, Rejected> {
    let profile = match decode_profile(bytes) {
        Ok(p) => p,
        Err(CorruptReason::UnsupportedVersion { found }) if found > FORMAT_VERSION => {
            return Err(Rejected::Newer(found));
        }
        Err(reason) => return Err(Rejected::Corrupt(reason)),
    };
    if &profile.id != id {
        if profile.id.as_str().eq_ignore_ascii_case(id.as_str()) {
            return Err(Rejected::CaseConflict(profile.id));
        }
        return Err(Rejected::Corrupt(CorruptReason::WrongPlayer {
            found: profile.id,
        }));
    }
    Ok(profile)
}

// ---------------------------------------------------------------------------------------------
// The store

/// A directory of player profiles, one `<id>.profile` file each (plus `<id>.lock`, and
/// `<id>.profile.corrupt-*` files moved aside). Cheap to clone.
#[derive(Debug, Clone)]
pub struct ProfileStore {
    root: PathBuf,
}

impl ProfileStore {
    /// The store in `root`, created if missing.
    ///
    /// # Errors
    /// [`ProfileError::Io`] when the directory cannot be created.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, ProfileError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io_at(&root))?;
        Ok(Self { root })
    }

    /// The per-user store of `app_name`: `profiles/` in the platform's data directory
    /// (`$XDG_DATA_HOME/<app_name>/profiles` or `~/.local/share/...` on Linux,
    /// `~/Library/Application Support/<app_name>/profiles` on macOS,
    /// `%APPDATA%\<app_name>\data\profiles` on Windows).
    ///
    /// # Errors
    /// [`ProfileError::NoDataDirectory`] without a home directory, [`ProfileError::Io`] when
    /// the directory cannot be created.
    pub fn default_location(app_name: &str) -> Result<Self, ProfileError> {
        let dirs = directories::ProjectDirs::from("", "", app_name).ok_or_else(|| {
            ProfileError::NoDataDirectory {
                app_name: app_name.to_owned(),
            }
        })?;
        Self::new(dirs.data_dir().join("profiles"))
    }

    /// The directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The profile file of `id`: `<root>/<id>.profile`.
    #[must_use]
    pub fn path_of(&self, id: &PlayerId) -> PathBuf {
        self.root.join(format!("{id}{PROFILE_SUFFIX}"))
    }

    /// The lock file of `id`: `<root>/<id>.lock`.
    #[must_use]
    pub fn lock_path_of(&self, id: &PlayerId) -> PathBuf {
        self.root.join(format!("{id}{LOCK_SUFFIX}"))
    }

    /// The profile of `id`, `Ok(None)` when there is none.
    ///
    /// Needs no lock: saves replace the file atomically, so a load sees a complete old or new
    /// version. A file that fails a check is moved aside (that takes the player's lock for a
    /// moment, so it never races a save); when a [`ProfileWriter`] of this player is alive,
    /// use [`ProfileWriter::load`] instead, which moves it aside under the writer's lock.
    ///
    /// # Errors
    /// [`ProfileError::Corrupt`] (moved aside) or [`ProfileError::CorruptLeftInPlace`] for a
    /// damaged, truncated, unknown older version or other player's file;
    /// [`ProfileError::WrongBase`] for a profile made on another base model and
    /// [`ProfileError::NewerVersion`] for one written by a newer build (both left in place);
    /// [`ProfileError::IdCaseConflict`]; [`ProfileError::Io`].
    pub fn load(
        &self,
        id: &PlayerId,
        expected_base: &BaseModelRef,
    ) -> Result<Option<PlayerProfile>, ProfileError> {
        match self.read_checked(id, expected_base)? {
            Checked::Good(profile) => Ok(profile.map(|p| *p)),
            // Move it aside under the lock, deciding again there: a save may have replaced
            // the file meanwhile.
            Checked::Corrupt(path, reason) => match self.acquire(id) {
                Ok(writer) => writer.load(expected_base),
                Err(cause) => Err(ProfileError::CorruptLeftInPlace {
                    player: id.clone(),
                    path,
                    reason,
                    cause: Box::new(cause),
                }),
            },
        }
    }

    /// Reads and checks `id`'s file; a corrupt file is reported, not moved.
    fn read_checked(
        &self,
        id: &PlayerId,
        expected_base: &BaseModelRef,
    ) -> Result<Checked, ProfileError> {
        let path = self.path_of(id);
        let len = match fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Checked::Good(None)),
            Err(e) => return Err(io_at(&path)(e)),
        };
        let result = if len > (HEADER_LEN + MAX_PAYLOAD_BYTES) as u64 {
            Err(Rejected::Corrupt(CorruptReason::TooLarge { len }))
        } else {
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Checked::Good(None)),
                Err(e) => return Err(io_at(&path)(e)),
            };
            decode_file(&bytes, id)
        };
        match result {
            Ok(profile) if profile.base.hash != expected_base.hash => {
                Err(ProfileError::WrongBase {
                    player: id.clone(),
                    expected: expected_base.clone(),
                    found: profile.base,
                })
            }
            Ok(profile) => Ok(Checked::Good(Some(Box::new(profile)))),
            Err(Rejected::CaseConflict(found)) => Err(ProfileError::IdCaseConflict {
                requested: id.clone(),
                found,
                path,
            }),
            Err(Rejected::Newer(version)) => Err(ProfileError::NewerVersion {
                player: id.clone(),
                path,
                version,
            }),
            Err(Rejected::Corrupt(reason)) => Ok(Checked::Corrupt(path, reason)),
        }
    }

    /// Renames `path` to a fresh `<id>.profile.corrupt-<unix_ms>[-n]` (caller holds the lock).
    fn move_aside(&self, id: &PlayerId, path: &Path) -> Result<PathBuf, ProfileError> {
        let stamp = unix_ms_now();
        let mut target = self.root.join(format!("{id}{CORRUPT_INFIX}{stamp}"));
        let mut n = 0u32;
        while fs::symlink_metadata(&target).is_ok() {
            n += 1;
            target = self.root.join(format!("{id}{CORRUPT_INFIX}{stamp}-{n}"));
        }
        fs::rename(path, &target).map_err(io_at(path))?;
        sync_dir(&self.root)?;
        tracing::warn!(
            "profile {} is unreadable; moved to {}",
            path.display(),
            target.display()
        );
        Ok(target)
    }

    /// The players with a profile file, sorted (files whose names are not valid ids are
    /// skipped).
    ///
    /// # Errors
    /// [`ProfileError::Io`] when the directory cannot be read.
    pub fn list(&self) -> Result<Vec<PlayerId>, ProfileError> {
        let mut ids = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(io_at(&self.root))? {
            let entry = entry.map_err(io_at(&self.root))?;
            let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
            let name = entry.file_name();
            if let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(PROFILE_SUFFIX))
                .and_then(|s| PlayerId::new(s).ok())
                && is_file
            {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Deletes everything stored for `id`: its profile, files moved aside, leftover temporary
    /// files and its lock file. Takes the lock first.
    ///
    /// # Errors
    /// [`ProfileError::Locked`] while a writer of `id` is alive (use [`ProfileWriter::forget`]
    /// from it), [`ProfileError::Io`].
    pub fn forget(&self, id: &PlayerId) -> Result<(), ProfileError> {
        self.acquire(id)?.forget()
    }

    /// The exclusive writer of `id`'s profile: takes an OS advisory lock on `<id>.lock`, held
    /// until the writer is dropped (or the process ends, however it ends). Removes temporary
    /// files that crashed saves left behind.
    ///
    /// # Errors
    /// [`ProfileError::Locked`] while another writer of `id` is alive, in this process or
    /// another; [`ProfileError::Io`].
    pub fn acquire(&self, id: &PlayerId) -> Result<ProfileWriter, ProfileError> {
        let lock_path = self.lock_path_of(id);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_at(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(ProfileError::Locked {
                    player: id.clone(),
                    path: lock_path,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_at(&lock_path)(e)),
        }
        let writer = ProfileWriter {
            store: self.clone(),
            id: id.clone(),
            lock_path,
            _lock: lock,
        };
        for path in self.files_of(id, FileKind::Temp)? {
            remove_if_present(&path)?;
        }
        Ok(writer)
    }

    /// `id`'s files of `kind` in the directory.
    fn files_of(&self, id: &PlayerId, kind: FileKind) -> Result<Vec<PathBuf>, ProfileError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(io_at(&self.root))? {
            let entry = entry.map_err(io_at(&self.root))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(rest) = name.strip_prefix(id.as_str()) else {
                continue;
            };
            // Suffixes are `-`-separated digits, so another id's files never match.
            let stamped = |infix: &str| {
                rest.strip_prefix(infix).is_some_and(|s| {
                    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-')
                })
            };
            let matches = match kind {
                FileKind::Temp => stamped(TMP_INFIX),
                FileKind::All => {
                    rest == PROFILE_SUFFIX || stamped(TMP_INFIX) || stamped(CORRUPT_INFIX)
                }
            };
            if matches {
                out.push(entry.path());
            }
        }
        Ok(out)
    }
}

/// What [`ProfileStore::read_checked`] found.
enum Checked {
    /// A valid profile of the requested player and base, or none.
    Good(Option<Box<PlayerProfile>>),
    /// The file at this path failed a check.
    Corrupt(PathBuf, CorruptReason),
}

#[derive(Clone, Copy)]
enum FileKind {
    /// Temporary files of unfinished saves.
    Temp,
    /// Everything but the lock file.
    All,
}

fn remove_if_present(path: &Path) -> Result<(), ProfileError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_at(path)(e)),
        _ => Ok(()),
    }
}

/// Makes renames and deletions in `dir` durable (Unix; elsewhere the rename is enough).
fn sync_dir(dir: &Path) -> Result<(), ProfileError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The one writer of a player's profile, holding the player's lock until dropped. See
/// [`ProfileStore::acquire`].
#[derive(Debug)]
pub struct ProfileWriter {
    store: ProfileStore,
    id: PlayerId,
    lock_path: PathBuf,
    /// Open for as long as the writer lives; closing it releases the lock.
    _lock: File,
}

/// Distinguishes temporary files of saves in flight in one process.
static SAVE_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ProfileWriter {
    /// The player whose profile this writes.
    #[must_use]
    pub fn player(&self) -> &PlayerId {
        &self.id
    }

    /// The lock file held.
    #[must_use]
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// As [`ProfileStore::load`], under this writer's lock (a damaged file is always moved
    /// aside, as [`ProfileError::Corrupt`], unless the rename fails).
    ///
    /// # Errors
    /// As [`ProfileStore::load`].
    pub fn load(
        &self,
        expected_base: &BaseModelRef,
    ) -> Result<Option<PlayerProfile>, ProfileError> {
        match self.store.read_checked(&self.id, expected_base)? {
            Checked::Good(profile) => Ok(profile.map(|p| *p)),
            Checked::Corrupt(path, reason) => match self.store.move_aside(&self.id, &path) {
                Ok(moved_to) => Err(ProfileError::Corrupt {
                    player: self.id.clone(),
                    path,
                    moved_to,
                    reason,
                }),
                Err(cause) => Err(ProfileError::CorruptLeftInPlace {
                    player: self.id.clone(),
                    path,
                    reason,
                    cause: Box::new(cause),
                }),
            },
        }
    }

    /// Writes `profile` atomically: a temporary file `<id>.profile.tmp-<pid>-<n>` in the same
    /// directory, `fsync`, rename over `<id>.profile`, `fsync` of the directory. If the process
    /// dies at any point, the previous file (or none) stays whole; the temporary file is
    /// removed by the next [`ProfileStore::acquire`].
    ///
    /// # Errors
    /// [`ProfileError::NotThisWritersPlayer`] for another player's profile,
    /// [`ProfileError::Encode`], [`ProfileError::Io`].
    pub fn save(&self, profile: &PlayerProfile) -> Result<(), ProfileError> {
        if profile.id != self.id {
            return Err(ProfileError::NotThisWritersPlayer {
                writer: self.id.clone(),
                profile: profile.id.clone(),
            });
        }
        let (header, payload) = encode_file(profile)?;
        let root = self.store.root();
        let tmp = root.join(format!(
            "{}{TMP_INFIX}{}-{}",
            self.id,
            std::process::id(),
            SAVE_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let path = self.store.path_of(&self.id);
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(io_at(&tmp))?;
            file.write_all(&header).map_err(io_at(&tmp))?;
            file.write_all(&payload).map_err(io_at(&tmp))?;
            file.sync_all().map_err(io_at(&tmp))?;
            drop(file);
            fs::rename(&tmp, &path).map_err(io_at(&path))
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        sync_dir(root)
    }

    /// Deletes everything stored for this player (profile, files moved aside, temporary
    /// files, then the lock file) and releases the lock.
    ///
    /// # Errors
    /// [`ProfileError::Io`]; files not yet deleted stay.
    pub fn forget(self) -> Result<(), ProfileError> {
        for path in self.store.files_of(&self.id, FileKind::All)? {
            remove_if_present(&path)?;
        }
        // Last, while still locked: a writer that opens the lock file from now on makes a new
        // one and finds nothing of the old profile.
        remove_if_present(&self.lock_path)?;
        sync_dir(self.store.root())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_ids_accept_safe_names_and_reject_the_rest() {
        for ok in [
            "a",
            "player-1",
            "Steam_7656119",
            "a.b",
            "x..y",
            "con1",
            "COM10",
            "console",
            "nul_",
            "-dash",
            &"z".repeat(64),
        ] {
            assert!(PlayerId::new(ok).is_ok(), "{ok:?} should be valid");
        }
        let reason = |s: &str| match PlayerId::new(s) {
            Err(ProfileError::InvalidPlayerId { reason, .. }) => reason,
            other => panic!("{s:?}: {other:?}"),
        };
        assert_eq!(reason(""), IdRejection::Empty);
        assert_eq!(reason(&"z".repeat(65)), IdRejection::TooLong { len: 65 });
        assert_eq!(reason("."), IdRejection::LeadingDot);
        assert_eq!(reason(".."), IdRejection::LeadingDot);
        assert_eq!(reason(".hidden"), IdRejection::LeadingDot);
        assert_eq!(
            reason("../x"),
            IdRejection::BadCharacter { ch: '/', index: 2 }
        );
        assert_eq!(
            reason("a\\b"),
            IdRejection::BadCharacter { ch: '\\', index: 1 }
        );
        assert_eq!(
            reason("a\0"),
            IdRejection::BadCharacter { ch: '\0', index: 1 }
        );
        assert_eq!(reason("é"), IdRejection::BadCharacter { ch: 'é', index: 0 });
        for reserved in [
            "CON", "con", "Nul", "aux.x", "PRN", "COM1", "lpt9", "com0.a",
        ] {
            assert_eq!(reason(reserved), IdRejection::ReservedName, "{reserved}");
        }
        // The error shows a long id cut short.
        let long = "x".repeat(1000);
        let Err(ProfileError::InvalidPlayerId { id, .. }) = PlayerId::new(&long) else {
            panic!("1000 characters accepted")
        };
        assert_eq!(id.chars().count(), MAX_ID_LEN + 1);
        assert!(id.ends_with('…'));
    }

    #[test]
    fn profile_ids_are_validated_when_deserialised() {
        let ok: PlayerId = serde_json::from_str("\"p1\"").unwrap();
        assert_eq!(ok.as_str(), "p1");
        assert!(serde_json::from_str::<PlayerId>("\"../etc\"").is_err());
    }

    fn matrix(rows: usize, cols: usize, f: impl Fn(usize, usize) -> f32) -> FeatureMatrix {
        FeatureMatrix {
            data: (0..rows * cols).map(|i| f(i / cols, i % cols)).collect(),
            n_frames: rows,
            n_features: cols,
        }
    }

    #[test]
    fn profile_quantisation_error_is_at_most_half_a_step() {
        // Columns of very different ranges, like MFCCs (c0 around -300, others near 0).
        let m = matrix(300, 40, |t, c| {
            let x = (t as f32 * 0.37 + c as f32 * 1.3).sin();
            match c {
                0 => -300.0 + 80.0 * x,
                1 => 1e-3 * x,
                2 => 7.0, // constant: exact
                _ => 40.0 / (c as f32) * x + c as f32,
            }
        });
        let q = QuantisedMatrix::encode(&m);
        assert_eq!((q.n_frames(), q.n_features()), (300, 40));
        let d = q.decode();
        assert_eq!((d.n_frames, d.n_features), (300, 40));
        let mut worst_ratio = 0.0f32;
        for (i, (&a, &b)) in m.data.iter().zip(&d.data).enumerate() {
            let scale = q.scales()[i % 40];
            let err = (a - b).abs();
            assert!(
                err <= scale / 2.0 + a.abs() * f32::EPSILON,
                "value {i}: {a} decoded as {b}, error {err} > scale/2 = {}",
                scale / 2.0
            );
            if scale > 0.0 {
                worst_ratio = worst_ratio.max(err / scale);
            }
        }
        // The bound is tight (the worst error is close to half a step), so the test can fail.
        assert!(worst_ratio > 0.4, "{worst_ratio}");
        assert_eq!(q.scales()[2], 0.0);
        assert!(d.frames().all(|f| f[2] == 7.0));
    }

    #[test]
    fn profile_quantisation_clamps_non_finite_values() {
        let mut m = matrix(4, 3, |t, c| (t * 3 + c) as f32);
        m.data[0] = f32::NAN;
        m.data[4] = f32::INFINITY;
        m.data[5] = f32::NEG_INFINITY;
        m.data[2] = f32::NAN;
        m.data[8] = f32::NAN;
        let q = QuantisedMatrix::encode(&m);
        let d = q.decode();
        assert!(d.data.iter().all(|v| v.is_finite()));
        // Column 0 (NaN, 3, 6, 9): NaN becomes the minimum.
        assert_eq!(d.data[0], 3.0);
        // Column 1 (1, +inf, 7, 10): +inf becomes the maximum.
        assert!((d.data[4] - 10.0).abs() < 1e-4);
        // Column 2 (NaN, -inf, NaN, 11): one finite value, constant column.
        assert_eq!([d.data[2], d.data[5], d.data[8], d.data[11]], [11.0; 4]);
        let all_nan = matrix(2, 2, |_, _| f32::NAN);
        assert_eq!(
            QuantisedMatrix::encode(&all_nan).decode().data,
            vec![0.0; 4]
        );
    }

    #[test]
    fn profile_quantised_matrices_are_checked_when_deserialised() {
        let q = QuantisedMatrix::encode(&matrix(3, 2, |t, c| (t + 10 * c) as f32));
        let json = serde_json::to_string(&q).unwrap();
        assert_eq!(serde_json::from_str::<QuantisedMatrix>(&json).unwrap(), q);
        for bad in [
            // 2 x 2 with 3 values
            r#"{"n_frames":2,"n_features":2,"mins":[0,0],"scales":[1,1],"values":[1,2,3]}"#,
            // a missing scale
            r#"{"n_frames":1,"n_features":2,"mins":[0,0],"scales":[1],"values":[1,2]}"#,
            // a negative scale
            r#"{"n_frames":1,"n_features":1,"mins":[0],"scales":[-1],"values":[1]}"#,
            // rows x columns overflows
            r#"{"n_frames":18446744073709551615,"n_features":2,"mins":[0,0],"scales":[1,1],"values":[]}"#,
        ] {
            assert!(
                serde_json::from_str::<QuantisedMatrix>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn profile_quantisation_handles_degenerate_shapes() {
        for m in [
            FeatureMatrix::default(),
            matrix(0, 40, |_, _| 0.0),
            FeatureMatrix {
                data: vec![1.0; 5], // shorter than 3 x 2: one complete row
                n_frames: 3,
                n_features: 2,
            },
        ] {
            let d = QuantisedMatrix::encode(&m).decode();
            assert_eq!(d.data.len(), d.n_frames * d.n_features);
        }
    }
}
