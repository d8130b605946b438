//! The calibration session: a prompt per emotion and intensity, the player records it, sees
//! what the model heard, confirms or records again. Then a check: a second take of a few
//! prompts that are never confirmed, so the player's model never learns from them, scored by
//! the base network and by the player's model (the honest "before and after"). Progress is
//! saved per player so the session can be left and resumed. This module is the logic;
//! `screens::calibration` draws it.

use std::path::{Path, PathBuf};

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;
use serde::{Deserialize, Serialize};
use voice_emotion::player::adapt::calibration_order;

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

/// The order the session asks for the prompts (indices into [`prompts`], which stay the
/// saved progress's identifiers): each emotion in turn, normal intensity first, then the
/// strong ones ([`calibration_order`]), so a player who stops after eight has taught their
/// model every emotion once. `trainer adapt-eval` measures its learning curve in this order.
#[must_use]
pub fn prompt_order() -> Vec<usize> {
    let prompts = prompts();
    calibration_order((0..prompts.len()).collect(), |&i| {
        (prompts[i].emotion, prompts[i].intensity)
    })
}

/// Second takes in the check (never confirmed: held out from the player's model).
pub const CHECK_TAKES: usize = 4;

/// The prompts the check suggests, in order (indices into [`prompts`]): one of each of four
/// families, strong where the calibration had both.
#[must_use]
pub fn check_prompts() -> Vec<usize> {
    let prompts = prompts();
    [
        (Emotion::Happy, Intensity::Strong),
        (Emotion::Sad, Intensity::Strong),
        (Emotion::Angry, Intensity::Strong),
        (Emotion::Calm, Intensity::Normal),
    ]
    .into_iter()
    .filter_map(|(e, i)| {
        prompts
            .iter()
            .position(|p| p.emotion == e && p.intensity == i)
    })
    .collect()
}

/// The check's figure: how many of the held-out takes the base network and the player's
/// model recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckFigure {
    /// Takes the base network (cold) recognised: "before".
    pub base: usize,
    /// Takes the player's model recognised: "after".
    pub player: usize,
    /// Takes scored.
    pub total: usize,
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
    /// After the check: the held-out takes' figure.
    #[serde(default)]
    pub check: Option<CheckFigure>,
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

    /// The next prompt to record, in [`prompt_order`] (`None`: all done).
    #[must_use]
    pub fn next_prompt(&self) -> Option<usize> {
        prompt_order()
            .into_iter()
            .find(|i| !self.heard.iter().any(|h| h.prompt == *i))
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

    /// Whether the player's model has enough to adapt (4 confirmed prompts of at least 2
    /// emotions, as `AdaptConfig::min_samples`), so a check means something.
    #[must_use]
    pub fn can_check(&self) -> bool {
        let prompts = prompts();
        let mut emotions: Vec<Emotion> = self
            .heard
            .iter()
            .filter_map(|h| prompts.get(h.prompt).map(|p| p.emotion))
            .collect();
        emotions.sort();
        emotions.dedup();
        self.heard.len() >= 4 && emotions.len() >= 2
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
    /// The check's takes are in; waiting for their figure.
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
    /// Jump to a prompt (resume anywhere; in the check, the prompt of the next take).
    Select(usize),
    /// Start the check (once the model can adapt: [`CalibrationProgress::can_check`]).
    StartCheck,
    /// End the check with the takes so far (at least one) and score them.
    FinishCheck,
}

/// The check under way: the second takes kept so far, with the emotion each was meant to
/// have. Utterance ids live only as long as the engine keeps them, so the takes are not
/// saved: a check left half-way starts again.
#[derive(Resource, Debug, Clone, PartialEq, Default)]
pub struct Check {
    /// Whether the check is under way.
    pub active: bool,
    /// The takes kept: utterance id and meant emotion.
    pub takes: Vec<(u64, Emotion)>,
}

impl Check {
    /// Starts a check at its first suggested prompt.
    fn start(&mut self, current: &mut CurrentPrompt, step: &mut Step) {
        self.active = true;
        self.takes.clear();
        current.0 = check_prompts().first().copied().unwrap_or(0);
        *step = Step::Ready;
    }

    /// The suggested prompt for the next take.
    fn next_prompt(&self) -> usize {
        let suggested = check_prompts();
        suggested
            .get(self.takes.len() % suggested.len().max(1))
            .copied()
            .unwrap_or(0)
    }
}

/// The prompt on screen.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CurrentPrompt(pub usize);

/// Where calibration files live (the profile directory).
#[derive(Resource, Debug, Clone)]
pub struct CalibrationDir(pub PathBuf);

/// The plugin's messages the session reads.
#[derive(SystemParam)]
pub struct Incoming<'w, 's> {
    detected: MessageReader<'w, 's, EmotionDetected>,
    evaluated: MessageReader<'w, 's, PlayerEvaluated>,
    held_out: MessageReader<'w, 's, HeldOutEvaluated>,
}

/// The messages the session writes.
#[derive(SystemParam)]
pub struct Asks<'w> {
    confirm: MessageWriter<'w, ConfirmEmotion>,
    evaluate: MessageWriter<'w, EvaluatePlayer>,
    evaluate_held_out: MessageWriter<'w, EvaluateHeldOut>,
}

impl Asks<'_> {
    /// Asks for the check's figure (and the figure on the player's own confirmed clips).
    fn score(&mut self, check: &mut Check, step: &mut Step) {
        self.evaluate.write(EvaluatePlayer);
        self.evaluate_held_out.write(EvaluateHeldOut {
            takes: std::mem::take(&mut check.takes),
        });
        check.active = false;
        *step = Step::Evaluating;
    }
}

/// Applies the player's actions and the plugin's messages to the session.
pub fn run_calibration(
    mut actions: MessageReader<CalibrationAction>,
    mut incoming: Incoming,
    mut step: ResMut<Step>,
    mut current: ResMut<CurrentPrompt>,
    mut progress: ResMut<CalibrationProgress>,
    mut check: ResMut<Check>,
    dir: Res<CalibrationDir>,
    mut asks: Asks,
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
            CalibrationAction::StartCheck if progress.can_check() => {
                check.start(&mut current, &mut step);
            }
            CalibrationAction::StartCheck => {}
            CalibrationAction::FinishCheck if check.active && !check.takes.is_empty() => {
                asks.score(&mut check, &mut step);
            }
            CalibrationAction::FinishCheck => {}
            CalibrationAction::Confirm if check.active => {
                // A second take: kept for the check, never confirmed.
                let Step::Heard(d) = &*step else { continue };
                check.takes.push((d.utterance, prompts[current.0].emotion));
                if check.takes.len() >= CHECK_TAKES {
                    asks.score(&mut check, &mut step);
                } else {
                    current.0 = check.next_prompt();
                    *step = Step::Ready;
                }
            }
            CalibrationAction::Confirm => {
                let Step::Heard(d) = &*step else { continue };
                let prompt = prompts[current.0];
                asks.confirm.write(ConfirmEmotion {
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
                progress.check = None;
                progress.save(&dir.0);
                match progress.next_prompt() {
                    Some(next) => {
                        current.0 = next;
                        *step = Step::Ready;
                    }
                    None => check.start(&mut current, &mut step),
                }
            }
        }
    }
    for d in incoming.detected.read() {
        if *step == Step::Listening {
            *step = Step::Heard(d.clone());
        }
    }
    for e in incoming.evaluated.read() {
        if e.player.as_str() == progress.player {
            progress.after = Some((e.correct, e.total));
            progress.save(&dir.0);
        }
    }
    for e in incoming.held_out.read() {
        if *step == Step::Evaluating && e.player.as_str() == progress.player {
            progress.check = Some(CheckFigure {
                base: e.base_correct,
                player: e.player_correct,
                total: e.total,
            });
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
    mut check: ResMut<Check>,
) {
    if let Some(p) = players.read().last() {
        *progress = CalibrationProgress::load(&dir.0, &p.player);
        *check = Check::default();
        current.0 = progress.next_prompt().unwrap_or(0);
        *step = Step::Ready;
        match (progress.complete(), progress.check) {
            (true, Some(_)) => *step = Step::Done,
            // Left before the check's figure came: the check again (its takes are gone).
            (true, None) => check.start(&mut current, &mut step),
            (false, _) => {}
        }
    }
}

/// The calibration logic (no drawing).
pub(super) fn plugin(app: &mut App) {
    app.add_message::<CalibrationAction>()
        .init_resource::<Step>()
        .init_resource::<CurrentPrompt>()
        .init_resource::<CalibrationProgress>()
        .init_resource::<Check>()
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
    fn the_session_asks_each_emotion_in_turn() {
        let order = prompt_order();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..15).collect::<Vec<_>>(), "every prompt once");
        let p = prompts();
        let first: Vec<Emotion> = order[..8].iter().map(|&i| p[i].emotion).collect();
        assert_eq!(first, Emotion::ALL.to_vec());
        assert!(
            order[8..]
                .iter()
                .all(|&i| p[i].intensity == Intensity::Strong)
        );
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
        // In turns: after neutral and calm (normal), happy (normal) rather than calm (strong).
        assert_eq!(prompts()[1].emotion, Emotion::Calm);
        assert_eq!(prompts()[2].emotion, Emotion::Calm);
        assert_eq!(back.next_prompt(), Some(3));
        assert_eq!(prompts()[3].emotion, Emotion::Happy);
        assert_eq!(back.before(), (1, 2));
        std::fs::write(CalibrationProgress::path(dir.path(), "bob"), "{ not json").unwrap();
        assert_eq!(CalibrationProgress::load(dir.path(), "bob").done(), 0);
    }

    #[test]
    fn the_check_needs_an_adaptable_model_and_suggests_four_families() {
        let suggested = check_prompts();
        assert_eq!(suggested.len(), CHECK_TAKES);
        let families: Vec<_> = suggested
            .iter()
            .map(|&i| prompts()[i].emotion.family())
            .collect();
        assert!(families.windows(2).all(|w| w[0] != w[1]), "{families:?}");
        let mut p = CalibrationProgress::default();
        for prompt in [0, 1, 2] {
            p.heard.push(Heard {
                prompt,
                detected: Emotion::Neutral,
            });
        }
        assert!(!p.can_check(), "three samples");
        p.heard.push(Heard {
            prompt: 3,
            detected: Emotion::Neutral,
        });
        assert!(p.can_check());
    }

    #[test]
    fn progress_saved_before_the_check_existed_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let old = r#"{"player":"ana","heard":[{"prompt":0,"detected":"neutral"}],"after":[1,1]}"#;
        std::fs::write(CalibrationProgress::path(dir.path(), "ana"), old).unwrap();
        let p = CalibrationProgress::load(dir.path(), "ana");
        assert_eq!((p.done(), p.after, p.check), (1, Some((1, 1)), None));
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
