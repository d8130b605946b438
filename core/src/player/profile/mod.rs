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
//! is left in place ([`ProfileError::WrongBase`]), unless the caller asks for it to be carried
//! over to the current base ([`ProfileWriter::load_or_rebase`], which first copies the file to
//! `<id>.profile.base-<old hash>`). `docs/profiles.md` describes the format.
//!
//! ```
//! use voice_emotion::player::profile::{BaseModelRef, PlayerId, PlayerProfile, ProfileStore};
//! # fn main() -> Result<(), voice_emotion::player::profile::ProfileError> {
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
//! profile.updated_unix_ms = voice_emotion::player::profile::unix_ms_now();
//! writer.save(&profile)?;
//! drop(writer);
//! assert_eq!(store.load(&id, &base)?, Some(profile));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```
//!
//! Files: `id.rs` ([`PlayerId`]), `quantised.rs` (8-bit feature storage), `format.rs` (the
//! binary format), `migrate.rs` (reading formats 1 and 2), `rebase.rs` (carrying a profile
//! over to another base model), `error.rs`, `store.rs` ([`ProfileStore`], [`ProfileWriter`]). May import [`crate::labels`], [`crate::features`], [`crate::model`]
//! and the voice head.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::features::FeatureMatrix;
use crate::labels::{Emotion, Intensity};
use crate::model::NormStats;
use crate::player::copy::{UpperCopy, UpperCopyV5};
use crate::player::voice::VoiceHead;

mod error;
mod format;
mod id;
mod migrate;
mod quantised;
mod rebase;
mod store;
pub use error::*;
pub use format::*;
pub use id::*;
pub use migrate::*;
pub use quantised::*;
pub use rebase::*;
pub use store::*;

/// First 8 bytes of every profile file. The high-bit first byte and the trailing newline catch
/// 7-bit and line-ending-converting transfers (as PNG's signature does).
pub const MAGIC: [u8; 8] = *b"\x89VEPROF\n";
/// The format version this build writes. It also reads every older one (see
/// [`decode_profile`]); version 2 added the player's voice head ([`PlayerProfile::voice`]),
/// version 3 the kind of each update record ([`UpdateRecord::kind`]), version 4 (the same
/// layout as 3) the record kind [`RecordKind::Rebased`]: a build that reads only up to 3 would
/// take a file holding that kind for a damaged one and move it aside, while a version above
/// its own makes it leave the file untouched ([`ProfileError::NewerVersion`]), version 5 the
/// player's weight copy ([`PlayerProfile::copy`]), version 6 the emotions the copy heard
/// ([`UpperCopy::heard`]; a version-5 copy is dropped and fitted again at load).
pub const FORMAT_VERSION: u32 = 6;
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
/// `<id>.profile.base-<hash>[-<n>]`: a copy of a profile made for the base model of that hash,
/// kept when the profile was re-based ([`ProfileWriter::load_or_rebase`]).
const BASE_INFIX: &str = ".profile.base-";

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
// Profile contents

/// One utterance the player confirmed the emotion of: a training example for adaptation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfirmedSample {
    /// The utterance's MFCC frames (`frames x n_mfcc`, or `n_mfcc + 2` with pitch features;
    /// before deltas and stacking).
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
    /// Seconds the update took on the worker thread: the voice head's fit and guard, and
    /// from [`AdaptConfig::copy_samples`](crate::player::adapt::AdaptConfig::copy_samples)
    /// samples on the weight copy's fine-tuning and guard as well (the voice head is in use
    /// before the copy's part starts).
    pub seconds: f64,
    /// What kind of record it is: what loading the profile decides from it.
    pub kind: RecordKind,
}

/// What an [`UpdateRecord`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum RecordKind {
    /// An adaptation attempt: a voice head fitted and guarded.
    #[default]
    Update,
    /// Reading a format-1 profile dropped its fine-tuned network: while this record is the
    /// last, [`PlayerModel::from_profile`](crate::player::adapt::PlayerModel::from_profile)
    /// fits the player's voice head from their samples at load.
    MigratedFromV1,
    /// The profile was made for another base model and carried over to the current one
    /// ([`PlayerProfile::rebase`]): the voice head, fitted over the old network's embedding,
    /// was dropped; samples, statistics and history were kept. While this record is the last,
    /// [`PlayerModel::from_profile`](crate::player::adapt::PlayerModel::from_profile) fits the
    /// player's voice head on the new base from their samples at load. Written from format
    /// version 4 on.
    Rebased,
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
    /// The player's voice head ([`crate::player::voice`]), once fitted: their own weights.
    pub voice: Option<VoiceHead>,
    /// The player's own copy of the network's upper layers ([`crate::player::copy`]), once
    /// fitted (from format version 5 on; version 6 on for copies this build reads).
    pub copy: Option<UpperCopy>,
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
            copy: None,
            samples: Vec::new(),
            norm: None,
            history: Vec::new(),
            created_unix_ms: now,
            updated_unix_ms: now,
        }
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
