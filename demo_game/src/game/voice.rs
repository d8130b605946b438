//! Where the player's voice comes from: the microphone, or audio files (WAV, FLAC, Ogg Vorbis,
//! MP3; `--voice-dir`, or files dropped onto the window) played as if spoken.

use std::path::{Path, PathBuf};

use bevy::prelude::*;
use bevy::window::FileDragAndDrop;
use bevy_voice_emotion::prelude::*;
use voice_emotion::audio::{AUDIO_EXTENSIONS, has_audio_extension};

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
    /// The audio files of `dir` (WAV, FLAC, Ogg Vorbis, MP3: `voice_emotion::audio::
    /// AUDIO_EXTENSIONS`), sorted by name.
    ///
    /// # Errors
    /// The directory cannot be read, or holds no audio file (the message names it).
    pub fn from_dir(dir: &Path) -> Result<Vec<PathBuf>, String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read --voice-dir {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| has_audio_extension(p))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!(
                "--voice-dir {} holds no audio files (.{})",
                dir.display(),
                AUDIO_EXTENSIONS.join(", .")
            ));
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

/// Audio files (WAV, FLAC, Ogg Vorbis, MP3) dropped onto the window are played (switching to recorded clips when the
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
        if !has_audio_extension(path_buf) {
            warn!(
                "{} is not an audio file (.{})",
                path_buf.display(),
                AUDIO_EXTENSIONS.join(", .")
            );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_dir_takes_every_audio_format_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "b.flac",
            "a.WAV",
            "c.ogg",
            "d.mp3",
            "notes.txt",
            "e.wave",
            "f",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let files = VoiceClips::from_dir(dir.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.WAV", "b.flac", "c.ogg", "d.mp3", "e.wave"]);

        let empty = tempfile::tempdir().unwrap();
        std::fs::write(empty.path().join("notes.txt"), b"").unwrap();
        let err = VoiceClips::from_dir(empty.path()).unwrap_err();
        assert!(err.contains(".flac"), "{err}");
    }
}
