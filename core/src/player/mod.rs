//! Everything the engine keeps and learns about one player: the [`profile`] on disk, the
//! player's [`voice`] head, and the [`adapt`]ation that fits it from confirmed utterances.
//!
//! May import `labels`, `features` and `model`; never `engine` or `training`.

pub mod adapt;
pub mod copy;
pub mod profile;
pub mod voice;

pub use adapt::{AdaptConfig, PlayerModel};
pub use copy::UpperCopy;
pub use profile::{PlayerId, PlayerProfile, ProfileStore};
pub use voice::VoiceHead;
