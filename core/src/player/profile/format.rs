//! The binary file format: header, checksum, bincode payload.

use super::*;

// ---------------------------------------------------------------------------------------------
// File format

pub(super) fn encode_file(profile: &PlayerProfile) -> Result<(Vec<u8>, Vec<u8>), ProfileError> {
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
pub(super) enum Rejected {
    Corrupt(CorruptReason),
    CaseConflict(PlayerId),
    /// A format version above [`FORMAT_VERSION`].
    Newer(u32),
}

pub(super) fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

pub(super) fn le_u64(b: &[u8]) -> u64 {
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
        2 => decode_payload::<PlayerProfileV2>(payload).map(PlayerProfile::from),
        // Version 4 has version 3's layout; only version 4 may hold `RecordKind::Rebased`.
        3 => decode_payload::<PlayerProfileV4>(payload)
            .map(PlayerProfile::from)
            .and_then(
                |p| match p.history.iter().position(|r| r.kind == RecordKind::Rebased) {
                    Some(i) => Err(R::Decode {
                        message: format!(
                            "update record {i} is of kind Rebased, which format version 3 does \
                         not have"
                        ),
                    }),
                    None => Ok(p),
                },
            ),
        4 => decode_payload::<PlayerProfileV4>(payload).map(PlayerProfile::from),
        5 => decode_payload::<PlayerProfileV5>(payload).map(PlayerProfile::from),
        FORMAT_VERSION => decode_payload::<PlayerProfile>(payload),
        found => Err(R::UnsupportedVersion { found }),
    }
}

/// One whole bincode value of type `T` from `payload`.
pub(super) fn decode_payload<T: serde::de::DeserializeOwned>(
    payload: &[u8],
) -> Result<T, CorruptReason> {
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

pub(super) fn decode_file(bytes: &[u8], id: &PlayerId) -> Result<PlayerProfile, Rejected> {
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
