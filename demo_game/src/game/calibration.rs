//! The calibration session: a prompt per emotion and intensity, the player records it, sees
//! what the model heard, confirms or records again. Progress is saved per player so the
//! session can be left and resumed. This module is the logic; `screens::calibration` draws it.

use std::path::{Path, PathBuf};

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;
use serde::{Deserialize, Serialize};

/// One thing to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prompt {
    /// The emotion to act.
    pub emotion: Emotion,
    /// How strongly.
    pub intensity: Intensity,
    /// The sentence to say.
    pub sentence: &'static str,
    /// How to act it.
    pub hint: &'static str,
}

const SENTENCES: [&str; 2] = [
    "Kids are talking by the door.",
    "Dogs are sitting by the door.",
];

fn hint(emotion: Emotion, intensity: Intensity) -> &'static str {
    let strong = intensity == Intensity::Strong;
    match emotion {
        Emotion::Neutral => "Plainly, like reading a shopping list.",
        Emotion::Calm if strong => "Slow and soft, deeply relaxed.",
        Emotion::Calm => "Relaxed and unhurried.",
        Emotion::Happy if strong => "Beaming: you just heard great news!",
        Emotion::Happy => "Pleased, with a smile in your voice.",
        Emotion::Sad if strong => "Close to tears, heavy and slow.",
        Emotion::Sad => "Disappointed, a little low.",
        Emotion::Angry if strong => "Furious: loud and sharp.",
        Emotion::Angry => "Annoyed, clipped words.",
        Emotion::Fearful if strong => "Terrified, breathless and shaky.",
        Emotion::Fearful => "Nervous, unsure.",
        Emotion::Disgust if strong => "Revolted, as if it smells awful.",
        Emotion::Disgust => "Mildly put off.",
        Emotion::Surprised if strong => "Astonished: you cannot believe it!",
        Emotion::Surprised => "Caught off guard.",
    }
}

/// The session's prompts: every emotion at normal and strong intensity (neutral only at
/// normal, as in RAVDESS): 15 in all.
#[must_use]
pub fn prompts() -> Vec<Prompt> {
    let mut out = Vec::new();
    for (i, emotion) in Emotion::ALL.into_iter().enumerate() {
        for intensity in Intensity::ALL {
            if emotion == Emotion::Neutral && intensity == Intensity::Strong {
                continue;
            }
            out.push(Prompt {
                emotion,
                intensity,
                sentence: SENTENCES[(i + intensity.index()) % 2],
                hint: hint(emotion, intensity),
            });
        }
    }
    out
}

/// What the model heard for a confirmed prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heard {
    /// Index of the prompt.
    pub prompt: usize,
    /// What the model said (before this sample trained it).
    pub detected: Emotion,
}

/// A player's calibration, saved as JSON next to their profile.
#[derive(Resource, Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CalibrationProgress {
    /// The player.
    pub player: String,
    /// Confirmed prompts, in order.
    pub heard: Vec<Heard>,
    /// After the session: own clips classified as confirmed by the adapted model.
    pub after: Option<(usize, usize)>,
}

impl CalibrationProgress {
    /// The file of `player`'s progress in `dir`.
    #[must_use]
    pub fn path(dir: &Path, player: &str) -> PathBuf {
        dir.join(format!("{player}.calibration.json"))
    }

    /// Loads `player`'s progress (a fresh one when there is none or it is unreadable).
    #[must_use]
    pub fn load(dir: &Path, player: &str) -> Self {
        let path = Self::path(dir, player);
        std::fs::read(&path)
            .ok()
            .and_then(|b| {
                serde_json::from_slice::<Self>(&b)
                    .map_err(|e| warn!("{}: {e}; starting calibration again", path.display()))
                    .ok()
            })
            .filter(|p| p.player == player)
            .unwrap_or_else(|| Self {
                player: player.to_owned(),
                ..Self::default()
            })
    }

    /// Saves it atomically (a temporary file renamed over the old one, so a crash leaves the
    /// previous progress); a warning when it cannot: calibration goes on.
    pub fn save(&self, dir: &Path) {
        let path = Self::path(dir, &self.player);
        let tmp = path.with_extension("json.tmp");
        let result = serde_json::to_vec_pretty(self)
            .map_err(|e| e.to_string())
            .and_then(|b| std::fs::write(&tmp, b).map_err(|e| e.to_string()))
            .and_then(|()| std::fs::rename(&tmp, &path).map_err(|e| e.to_string()));
        if let Err(e) = result {
            warn!("cannot save calibration progress {}: {e}", path.display());
        }
    }

    /// Deletes `player`'s progress (forgetting the player); nothing to do when there is
    /// none.
    pub fn forget(dir: &Path, player: &str) {
        let path = Self::path(dir, player);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!("cannot delete calibration progress {}: {e}", path.display()),
        }
    }

    /// The next prompt to record (`None`: all done).
    #[must_use]
    pub fn next_prompt(&self) -> Option<usize> {
        (0..prompts().len()).find(|i| !self.heard.iter().any(|h| h.prompt == *i))
    }

    /// Confirmed prompts.
    #[must_use]
    pub fn done(&self) -> usize {
        self.heard.len()
    }

    /// Whether every prompt is confirmed.
    #[must_use]
    pub fn complete(&self) -> bool {
        self.next_prompt().is_none()
    }

    /// How many confirmed prompts the model got right before adapting to them:
    /// `(correct, total)`.
    #[must_use]
    pub fn before(&self) -> (usize, usize) {
        let prompts = prompts();
        let correct = self
            .heard
            .iter()
            .filter(|h| {
                prompts
                    .get(h.prompt)
                    .is_some_and(|p| p.emotion == h.detected)
            })
            .count();
        (correct, self.heard.len())
    }
}

/// Where the session is.
#[derive(Resource, Debug, Clone, PartialEq, Default)]
pub enum Step {
    /// Showing the prompt, not listening.
    #[default]
    Ready,
    /// Listening for the player's utterance.
    Listening,
    /// The model heard this; confirm or record again.
    Heard(EmotionDetected),
    /// All prompts confirmed; waiting for the adapted model's figure.
    Evaluating,
    /// Finished.
    Done,
}

/// What the player did on the calibration screen.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalibrationAction {
    /// Start (or restart) listening for the current prompt.
    Record,
    /// The heard utterance was the prompt: train on it.
    Confirm,
    /// Record the prompt again.
    Retry,
    /// Jump to a prompt (resume anywhere).
    Select(usize),
}

/// The prompt on screen.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CurrentPrompt(pub usize);

/// Where calibration files live (the profile directory).
#[derive(Resource, Debug, Clone)]
pub struct CalibrationDir(pub PathBuf);

/// Applies the player's actions and the plugin's messages to the session.
pub fn run_calibration(
    mut actions: MessageReader<CalibrationAction>,
    mut detected: MessageReader<EmotionDetected>,
    mut evaluated: MessageReader<PlayerEvaluated>,
    mut step: ResMut<Step>,
    mut current: ResMut<CurrentPrompt>,
    mut progress: ResMut<CalibrationProgress>,
    dir: Res<CalibrationDir>,
    mut confirm: MessageWriter<ConfirmEmotion>,
    mut evaluate: MessageWriter<EvaluatePlayer>,
) {
    let prompts = prompts();
    for action in actions.read() {
        match *action {
            CalibrationAction::Record | CalibrationAction::Retry => *step = Step::Listening,
            CalibrationAction::Select(i) if i < prompts.len() => {
                current.0 = i;
                *step = Step::Ready;
            }
            CalibrationAction::Select(_) => {}
            CalibrationAction::Confirm => {
                let Step::Heard(d) = &*step else { continue };
                let prompt = prompts[current.0];
                confirm.write(ConfirmEmotion {
                    utterance: d.utterance,
                    emotion: prompt.emotion,
                    intensity: Some(prompt.intensity),
                });
                progress.heard.retain(|h| h.prompt != current.0);
                progress.heard.push(Heard {
                    prompt: current.0,
                    detected: d.emotion,
                });
                progress.after = None;
                progress.save(&dir.0);
                match progress.next_prompt() {
                    Some(next) => {
                        current.0 = next;
                        *step = Step::Ready;
                    }
                    None => {
                        evaluate.write(EvaluatePlayer);
                        *step = Step::Evaluating;
                    }
                }
            }
        }
    }
    for d in detected.read() {
        if *step == Step::Listening {
            *step = Step::Heard(d.clone());
        }
    }
    for e in evaluated.read() {
        if *step == Step::Evaluating && e.player.as_str() == progress.player {
            progress.after = Some((e.correct, e.total));
            progress.save(&dir.0);
            *step = Step::Done;
        }
    }
}

/// Loads the active player's progress when they change.
pub fn load_progress(
    mut players: MessageReader<PlayerChanged>,
    dir: Res<CalibrationDir>,
    mut progress: ResMut<CalibrationProgress>,
    mut current: ResMut<CurrentPrompt>,
    mut step: ResMut<Step>,
    mut evaluate: MessageWriter<EvaluatePlayer>,
) {
    if let Some(p) = players.read().last() {
        *progress = CalibrationProgress::load(&dir.0, &p.player);
        current.0 = progress.next_prompt().unwrap_or(0);
        *step = match (progress.complete(), progress.after) {
            (true, Some(_)) => Step::Done,
            (true, None) => {
                // Left before the last figure came: ask again.
                evaluate.write(EvaluatePlayer);
                Step::Evaluating
            }
            (false, _) => Step::Ready,
        };
    }
}

/// The calibration logic (no drawing).
pub(super) fn plugin(app: &mut App) {
    app.add_message::<CalibrationAction>()
        .init_resource::<Step>()
        .init_resource::<CurrentPrompt>()
        .init_resource::<CalibrationProgress>()
        .add_systems(
            PreUpdate,
            (load_progress, run_calibration)
                .chain()
                .after(VoiceEmotionSystems::Events),
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifteen_prompts_cover_every_emotion() {
        let p = prompts();
        assert_eq!(p.len(), 15);
        for e in Emotion::ALL {
            assert!(p.iter().any(|x| x.emotion == e));
        }
    }

    #[test]
    fn progress_round_trips_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = CalibrationProgress::load(dir.path(), "ana");
        assert_eq!(p.next_prompt(), Some(0));
        p.heard.push(Heard {
            prompt: 0,
            detected: Emotion::Neutral,
        });
        p.heard.push(Heard {
            prompt: 1,
            detected: Emotion::Sad,
        });
        p.save(dir.path());
        let back = CalibrationProgress::load(dir.path(), "ana");
        assert_eq!(back, p);
        assert_eq!(back.next_prompt(), Some(2));
        assert_eq!(back.before(), (1, 2));
        std::fs::write(CalibrationProgress::path(dir.path(), "bob"), "{ not json").unwrap();
        assert_eq!(CalibrationProgress::load(dir.path(), "bob").done(), 0);
    }

    #[test]
    fn forgetting_deletes_the_progress_and_is_quiet_without_any() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = CalibrationProgress::load(dir.path(), "ana");
        p.heard.push(Heard {
            prompt: 0,
            detected: Emotion::Neutral,
        });
        p.save(dir.path());
        assert!(CalibrationProgress::path(dir.path(), "ana").exists());
        CalibrationProgress::forget(dir.path(), "ana");
        assert!(!CalibrationProgress::path(dir.path(), "ana").exists());
        CalibrationProgress::forget(dir.path(), "ana");
        assert_eq!(CalibrationProgress::load(dir.path(), "ana").done(), 0);
    }
}
