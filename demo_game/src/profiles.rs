//! The saved profiles as the screens see them: the players who have one, and a player's
//! samples and update history. The only module of the game that opens the profile files
//! itself (everything else goes through the plugin's messages and resources); the plugin's
//! engine holds the active player's file, so this module only reads.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;
use bevy_voice_emotion::voice_emotion::player::profile::{
    BaseModelRef, PlayerId, ProfileStore, UpdateRecord,
};

/// Where the profiles are (`--profile-dir` or the platform's data directory).
///
/// # Errors
/// There is no home directory, or the directory cannot be created (in words).
pub fn default_dir(app_name: &str) -> Result<PathBuf, String> {
    ProfileStore::default_location(app_name)
        .map(|s| s.root().to_path_buf())
        .map_err(|e| e.to_string())
}

/// What the stats screen shows of a player's saved profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSummary {
    /// Whether the player has their own weights (a voice head).
    pub own_model: bool,
    /// Confirmed samples.
    pub samples: usize,
    /// Confirmed samples per emotion, in the order of [`Emotion::ALL`].
    pub samples_per_emotion: [usize; Emotion::COUNT],
    /// The model's updates, oldest first.
    pub history: Vec<UpdateRecord>,
}

/// Reads the saved profiles of one directory.
#[derive(Resource, Debug, Clone, PartialEq, Eq)]
pub struct SavedProfiles {
    dir: PathBuf,
}

impl SavedProfiles {
    /// The profiles in `dir`.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The players with a saved profile, sorted.
    ///
    /// # Errors
    /// The directory cannot be created or read (in words).
    pub fn players(&self) -> Result<Vec<PlayerId>, String> {
        ProfileStore::new(&self.dir)
            .and_then(|s| s.list())
            .map_err(|e| e.to_string())
    }

    /// `player`'s saved profile (`None` before their first save).
    ///
    /// # Errors
    /// An invalid id, or an unreadable profile or one made for another base model (in words).
    pub fn summary(&self, player: &str) -> Result<Option<ProfileSummary>, String> {
        let store = ProfileStore::new(&self.dir).map_err(|e| e.to_string())?;
        let id = PlayerId::new(player).map_err(|e| e.to_string())?;
        let base = BaseModelRef::of_bytes("base", bevy_voice_emotion::BASE_MODEL.weights);
        let profile = store.load(&id, &base).map_err(|e| e.to_string())?;
        Ok(profile.map(|p| {
            let mut samples_per_emotion = [0; Emotion::COUNT];
            for s in &p.samples {
                samples_per_emotion[s.emotion.index()] += 1;
            }
            ProfileSummary {
                own_model: p.voice.is_some(),
                samples: p.samples.len(),
                samples_per_emotion,
                history: p.history,
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_directory_has_no_players_and_no_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let saved = SavedProfiles::new(dir.path());
        assert_eq!(saved.players(), Ok(Vec::new()));
        assert_eq!(saved.summary("ana"), Ok(None));
        assert!(saved.summary("not a valid id!").is_err());
    }
}
