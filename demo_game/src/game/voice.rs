//! Where the player's voice comes from: the microphone, or WAV files (`--voice-dir`, or files
//! dropped onto the window) played as if spoken.

use std::path::{Path, PathBuf};

use bevy::prelude::*;
use bevy::window::FileDragAndDrop;
use bevy_voice_emotion::prelude::*;

/// Recorded clips standing in for the microphone.
#[derive(Resource, Debug, Default)]
pub struct VoiceClips {
    /// The clips, in order.
    pub files: Vec<PathBuf>,
    /// The next clip to play.
    pub next: usize,
    /// The running script's feed (`None` while the microphone is the input).
    pub feed: Option<ScriptFeed>,
    /// How clips are played: in real time (the game) or as fast as possible (tests).
    pub pace: Pace,
}

impl VoiceClips {
    /// The WAV files of `dir`, sorted by name.
    ///
    /// # Errors
    /// The directory cannot be read, or holds no `.wav` file (the message names it).
    pub fn from_dir(dir: &Path) -> Result<Vec<PathBuf>, String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read --voice-dir {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!("--voice-dir {} holds no .wav files", dir.display()));
        }
        Ok(files)
    }

    /// A scripted source for these clips (real-time, like a microphone) and remembers its
    /// feed.
    pub fn source(&mut self) -> ScriptedSource {
        let source = ScriptedSource::new(self.pace).named("recorded clips");
        self.feed = Some(source.feed());
        source
    }

    /// Plays the next clip (wrapping around); returns its path.
    pub fn play_next(&mut self) -> Option<PathBuf> {
        if self.files.is_empty() {
            return None;
        }
        let path = self.files[self.next % self.files.len()].clone();
        self.next += 1;
        self.play(&path);
        Some(path)
    }

    /// Plays `path` now.
    pub fn play(&self, path: &Path) {
        if let Some(feed) = &self.feed {
            feed.file(path);
            feed.silence(1.0);
        }
    }

    /// Whether clips stand in for the microphone.
    #[must_use]
    pub fn active(&self) -> bool {
        self.feed.is_some()
    }
}

/// WAV files dropped onto the window are played (switching to recorded clips when the
/// microphone was the input).
fn dropped_files(
    mut drops: MessageReader<FileDragAndDrop>,
    mut clips: ResMut<VoiceClips>,
    mut commands: Commands,
) {
    for drop in drops.read() {
        let FileDragAndDrop::DroppedFile { path_buf, .. } = drop else {
            continue;
        };
        if !path_buf
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("wav"))
        {
            warn!("{} is not a .wav file", path_buf.display());
            continue;
        }
        if !clips.active() {
            let source = clips.source();
            commands.queue(ChangeVoiceInput(VoiceInput::Source(Box::new(source))));
        }
        clips.files.push(path_buf.clone());
        clips.play(path_buf);
    }
}

/// The clips and dropped files (headless: without a window no file is ever dropped).
pub(super) fn plugin(app: &mut App) {
    app.init_resource::<VoiceClips>()
        .add_message::<FileDragAndDrop>()
        .add_systems(Update, dropped_files);
}
