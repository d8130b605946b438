//! Reading profiles written by format version 1.

use super::*;

/// The reason of the [`UpdateRecord`] that reading a format-1 profile with fine-tuned weights
/// appends: those weights are dropped, and [`crate::player::adapt::PlayerModel::from_profile`] fits
/// the player's voice head from their samples when it finds this record last.
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
    pub(super) history: Vec<UpdateRecord>,
    pub(super) created_unix_ms: u64,
    pub(super) updated_unix_ms: u64,
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
