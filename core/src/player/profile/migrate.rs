//! Reading profiles written by format versions 1 to 5 (versions 3 and 4 share a layout,
//! version 6 is the current one).

use super::*;

/// The reason of the [`UpdateRecord`] (of kind [`RecordKind::MigratedFromV1`]) that reading a
/// format-1 profile with fine-tuned weights appends, for people reading the history.
pub const MIGRATED_FROM_V1: &str = "saved by an older build with a fine-tuned network, which \
     this build does not use: the voice head is fitted from the same samples";

/// A profile as format version 1 wrote it: fine-tuned network weights instead of a voice
/// head. Read and turned into a [`PlayerProfile`] that keeps everything the player gave
/// (samples, statistics, history); the old weights, derived from those samples by the
/// previous adaptation method, are dropped, with a record saying so ([`MIGRATED_FROM_V1`]).
#[derive(Deserialize)]
pub(super) struct PlayerProfileV1 {
    pub(super) id: PlayerId,
    pub(super) base: BaseModelRef,
    #[serde(deserialize_with = "bytes::option::deserialize")]
    pub(super) weights: Option<Vec<u8>>,
    pub(super) samples: Vec<ConfirmedSample>,
    pub(super) norm: Option<NormStats>,
    pub(super) history: Vec<LegacyRecord>,
    pub(super) created_unix_ms: u64,
    pub(super) updated_unix_ms: u64,
}

impl From<PlayerProfileV1> for PlayerProfile {
    fn from(p: PlayerProfileV1) -> Self {
        let mut history: Vec<UpdateRecord> =
            p.history.into_iter().map(UpdateRecord::from).collect();
        if p.weights.is_some() {
            history.push(UpdateRecord {
                time_unix_ms: p.updated_unix_ms,
                samples_used: p.samples.len(),
                accuracy_before: 0.0,
                accuracy_after: 0.0,
                accepted: false,
                reason: MIGRATED_FROM_V1.to_owned(),
                seconds: 0.0,
                kind: RecordKind::MigratedFromV1,
            });
        }
        Self {
            id: p.id,
            base: p.base,
            voice: None,
            copy: None,
            samples: p.samples,
            norm: p.norm,
            history,
            created_unix_ms: p.created_unix_ms,
            updated_unix_ms: p.updated_unix_ms,
        }
    }
}

/// An update record as formats 1 and 2 wrote it: without [`UpdateRecord::kind`].
#[derive(Deserialize)]
pub(super) struct LegacyRecord {
    time_unix_ms: u64,
    samples_used: usize,
    accuracy_before: f64,
    accuracy_after: f64,
    accepted: bool,
    reason: String,
    seconds: f64,
}

impl From<LegacyRecord> for UpdateRecord {
    /// Format 2 kept a migration from format 1 only as this text, so a record with exactly
    /// [`MIGRATED_FROM_V1`] as its reason is that migration; every other record is an update.
    fn from(r: LegacyRecord) -> Self {
        let kind = if r.reason == MIGRATED_FROM_V1 {
            RecordKind::MigratedFromV1
        } else {
            RecordKind::Update
        };
        Self {
            time_unix_ms: r.time_unix_ms,
            samples_used: r.samples_used,
            accuracy_before: r.accuracy_before,
            accuracy_after: r.accuracy_after,
            accepted: r.accepted,
            reason: r.reason,
            seconds: r.seconds,
            kind,
        }
    }
}

/// A profile as format version 2 wrote it: update records without their kind.
#[derive(Deserialize)]
pub(super) struct PlayerProfileV2 {
    id: PlayerId,
    base: BaseModelRef,
    voice: Option<VoiceHead>,
    samples: Vec<ConfirmedSample>,
    norm: Option<NormStats>,
    history: Vec<LegacyRecord>,
    created_unix_ms: u64,
    updated_unix_ms: u64,
}

impl From<PlayerProfileV2> for PlayerProfile {
    /// Through version 4's layout: the records gain their kind.
    fn from(p: PlayerProfileV2) -> Self {
        PlayerProfileV4 {
            id: p.id,
            base: p.base,
            voice: p.voice,
            samples: p.samples,
            norm: p.norm,
            history: p.history.into_iter().map(UpdateRecord::from).collect(),
            created_unix_ms: p.created_unix_ms,
            updated_unix_ms: p.updated_unix_ms,
        }
        .into()
    }
}

/// A profile as format versions 3 and 4 wrote it: without the weight copy.
#[derive(Deserialize, Serialize)]
pub(super) struct PlayerProfileV4 {
    id: PlayerId,
    base: BaseModelRef,
    voice: Option<VoiceHead>,
    samples: Vec<ConfirmedSample>,
    norm: Option<NormStats>,
    history: Vec<UpdateRecord>,
    created_unix_ms: u64,
    updated_unix_ms: u64,
}

impl From<PlayerProfileV4> for PlayerProfile {
    fn from(p: PlayerProfileV4) -> Self {
        Self {
            id: p.id,
            base: p.base,
            voice: p.voice,
            copy: None,
            samples: p.samples,
            norm: p.norm,
            history: p.history,
            created_unix_ms: p.created_unix_ms,
            updated_unix_ms: p.updated_unix_ms,
        }
    }
}

impl From<&PlayerProfile> for PlayerProfileV4 {
    /// What a version-4 build would have saved of `p` (its weight copy left out).
    fn from(p: &PlayerProfile) -> Self {
        Self {
            id: p.id.clone(),
            base: p.base.clone(),
            voice: p.voice.clone(),
            samples: p.samples.clone(),
            norm: p.norm.clone(),
            history: p.history.clone(),
            created_unix_ms: p.created_unix_ms,
            updated_unix_ms: p.updated_unix_ms,
        }
    }
}

/// A profile as format version 5 wrote it: its weight copy without the emotions it heard
/// ([`UpperCopy::heard`]). Read without the copy, which
/// [`PlayerModel::from_profile`](crate::player::adapt::PlayerModel::from_profile) fits again
/// from the samples at load (as for versions 3 and 4, which had none).
#[derive(Deserialize, Serialize)]
pub(super) struct PlayerProfileV5 {
    id: PlayerId,
    base: BaseModelRef,
    voice: Option<VoiceHead>,
    copy: Option<UpperCopyV5>,
    samples: Vec<ConfirmedSample>,
    norm: Option<NormStats>,
    history: Vec<UpdateRecord>,
    created_unix_ms: u64,
    updated_unix_ms: u64,
}

impl From<PlayerProfileV5> for PlayerProfile {
    fn from(p: PlayerProfileV5) -> Self {
        Self {
            id: p.id,
            base: p.base,
            voice: p.voice,
            copy: None,
            samples: p.samples,
            norm: p.norm,
            history: p.history,
            created_unix_ms: p.created_unix_ms,
            updated_unix_ms: p.updated_unix_ms,
        }
    }
}

impl From<&PlayerProfile> for PlayerProfileV5 {
    /// What a version-5 build would have saved of `p`.
    fn from(p: &PlayerProfile) -> Self {
        Self {
            id: p.id.clone(),
            base: p.base.clone(),
            voice: p.voice.clone(),
            copy: p.copy.as_ref().map(UpperCopyV5::from),
            samples: p.samples.clone(),
            norm: p.norm.clone(),
            history: p.history.clone(),
            created_unix_ms: p.created_unix_ms,
            updated_unix_ms: p.updated_unix_ms,
        }
    }
}
