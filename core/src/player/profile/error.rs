//! What can go wrong with a profile file, and why a file was refused.

use super::*;

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

pub(super) fn io_at(path: &Path) -> impl FnOnce(io::Error) -> ProfileError + '_ {
    move |source| ProfileError::Io {
        path: path.to_owned(),
        source,
    }
}
