//! `--autoplay`: a scripted session on the clips of `--voice-dir`, for tests and demos.
//! Calibrates with the first half of the clips (at most eight), plays with the rest,
//! confirming or correcting each detection with the label in the clip's RAVDESS file name,
//! then prints a summary and exits.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;
use bevy_voice_emotion::voice_emotion::dataset::RavdessName;

use bevy::ecs::system::SystemParam;

use crate::calibration::{CalibrationAction, CalibrationProgress, Step, prompts};
use crate::gates::{Answer, GateRun};
use crate::screens::Screen;
use crate::voice::VoiceClips;

/// Longest wait for any one thing (a detection, an update).
const PATIENCE: Duration = Duration::from_secs(60);

/// A screenshot to take (the window's primary camera); `main` wires it to Bevy's
/// screenshot API, tests leave it unset.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct TakeScreenshot(pub PathBuf);

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Start { ready: Option<Instant> },
    Calibrate { clip: usize, waiting: bool },
    Evaluate,
    Play { clip: usize, waiting: bool },
    Finish { since: Instant },
    Stats { since: Instant },
    Done,
}

/// The scripted session and its summary.
#[derive(Resource, Debug)]
pub struct Autoplay {
    calibrate: Vec<(PathBuf, Option<RavdessName>)>,
    play: Vec<(PathBuf, Option<RavdessName>)>,
    phase: Phase,
    deadline: Instant,
    screenshot: Option<PathBuf>,
    calibration_shot: bool,
    title_shot: bool,
    tour_shots: usize,
    /// Play detections.
    pub detections: usize,
    /// Play detections that matched the clip's label.
    pub correct: usize,
    /// Labelled play clips.
    pub labelled: usize,
    /// Model updates seen.
    pub updates: usize,
    /// Updates whose weights were kept.
    pub accepted: usize,
    /// Own clips after adaptation: `(correct, total)`.
    pub after: Option<(usize, usize)>,
    /// Whether the session reached the play screen and a detection changed the game.
    pub reacted: bool,
    /// Whether it ran to the end (not a timeout).
    pub completed: bool,
}

impl Autoplay {
    /// A session over `files`; `screenshot` is saved at the end of play, and its siblings
    /// `-title`, `-calibration`, `-stats`, `-settings` and `-players` on those screens.
    #[must_use]
    pub fn new(files: &[PathBuf], screenshot: Option<PathBuf>) -> Self {
        let labelled: Vec<_> = files
            .iter()
            .map(|f| (f.clone(), RavdessName::parse(f).ok()))
            .collect();
        let n_cal = labelled.len().div_ceil(2).min(8);
        Self {
            calibrate: labelled[..n_cal].to_vec(),
            play: labelled[n_cal..].to_vec(),
            phase: Phase::Start { ready: None },
            deadline: Instant::now() + PATIENCE,
            screenshot,
            calibration_shot: false,
            title_shot: false,
            tour_shots: 0,
            detections: 0,
            correct: 0,
            labelled: 0,
            updates: 0,
            accepted: 0,
            after: None,
            reacted: false,
            completed: false,
        }
    }

    /// The summary lines printed at the end.
    #[must_use]
    pub fn summary(&self, progress: &CalibrationProgress, run: &GateRun) -> Vec<String> {
        let (before, total) = progress.before();
        vec![
            format!(
                "autoplay: calibration: {total} clips confirmed; the model recognised {before} \
                 before adapting{}",
                self.after
                    .map(|(a, n)| format!(", {a} of {n} after"))
                    .unwrap_or_default()
            ),
            format!(
                "autoplay: play: {} clips, {} detections, {} of {} labelled clips recognised, \
                 {} gates opened, score {}",
                self.play.len(),
                self.detections,
                self.correct,
                self.labelled,
                run.opened,
                run.score
            ),
            format!(
                "autoplay: {} model updates, {} kept",
                self.updates, self.accepted
            ),
            format!(
                "autoplay: reached play and reacted: {}",
                if self.reacted { "yes" } else { "no" }
            ),
        ]
    }

    fn next_phase(&mut self, phase: Phase) {
        self.phase = phase;
        self.deadline = Instant::now() + PATIENCE;
    }
}

/// Whether an autoplay session ran (and how it ended), for `main`'s exit code.
#[derive(Resource, Debug, Clone, Default)]
pub struct AutoplayResult(pub Option<Vec<String>>);

fn prompt_for(name: Option<&RavdessName>, progress: &CalibrationProgress) -> usize {
    let prompts = prompts();
    name.and_then(|n| {
        prompts
            .iter()
            .position(|p| p.emotion == n.emotion && p.intensity == n.intensity)
    })
    .or_else(|| progress.next_prompt())
    .unwrap_or(0)
}

/// What the session reads.
#[derive(SystemParam)]
pub struct Inbox<'w, 's> {
    detected: MessageReader<'w, 's, EmotionDetected>,
    evaluated: MessageReader<'w, 's, PlayerEvaluated>,
    updated: MessageReader<'w, 's, PlayerModelUpdated>,
}

/// What the session writes.
#[derive(SystemParam)]
pub struct Outbox<'w> {
    actions: MessageWriter<'w, CalibrationAction>,
    answers: MessageWriter<'w, Answer>,
    evaluate: MessageWriter<'w, EvaluatePlayer>,
    shots: MessageWriter<'w, TakeScreenshot>,
    exit: MessageWriter<'w, AppExit>,
}

/// Drives the session one frame at a time.
#[allow(clippy::too_many_arguments)]
pub fn drive(
    mut auto: ResMut<Autoplay>,
    player: Res<ActivePlayer>,
    step: Res<Step>,
    progress: Res<CalibrationProgress>,
    run: Res<GateRun>,
    clips: Res<VoiceClips>,
    mut result: ResMut<AutoplayResult>,
    mut next: ResMut<NextState<Screen>>,
    mut inbox: Inbox,
    mut out: Outbox,
) {
    let Inbox {
        detected,
        evaluated,
        updated,
    } = &mut inbox;
    let Outbox {
        actions,
        answers,
        evaluate,
        shots,
        exit,
    } = &mut out;
    for u in updated.read() {
        auto.updates += 1;
        auto.accepted += usize::from(u.outcome == UpdateOutcome::Accepted);
    }
    let detections: Vec<EmotionDetected> = detected.read().cloned().collect();
    let timed_out = Instant::now() > auto.deadline;
    if timed_out
        && !matches!(
            auto.phase,
            Phase::Done | Phase::Finish { .. } | Phase::Stats { .. }
        )
    {
        error!("autoplay: timed out in {:?}", auto.phase);
        let lines = auto.summary(&progress, &run);
        result.0 = Some(lines);
        exit.write(AppExit::error());
        auto.phase = Phase::Done;
        return;
    }
    match auto.phase.clone() {
        Phase::Start { ready } => match ready {
            None if player.id.is_some() => {
                auto.phase = Phase::Start {
                    ready: Some(Instant::now()),
                };
            }
            None => {}
            Some(at) => {
                // The title screen for a moment (and its screenshot), then calibration.
                let shown = at.elapsed();
                if shown > Duration::from_millis(1500) && !auto.title_shot {
                    if let Some(shot) = &auto.screenshot {
                        shots.write(TakeScreenshot(sibling(shot, "title")));
                    }
                    auto.title_shot = true;
                }
                if shown > Duration::from_millis(3000) {
                    next.set(Screen::Calibration);
                    auto.next_phase(Phase::Calibrate {
                        clip: 0,
                        waiting: false,
                    });
                }
            }
        },
        Phase::Calibrate { clip, waiting } => {
            if clip >= auto.calibrate.len() {
                evaluate.write(EvaluatePlayer);
                auto.next_phase(Phase::Evaluate);
                return;
            }
            let (path, name) = auto.calibrate[clip].clone();
            if !waiting {
                if *step == Step::Evaluating {
                    return;
                }
                let prompt = prompt_for(name.as_ref(), &progress);
                actions.write(CalibrationAction::Select(prompt));
                actions.write(CalibrationAction::Record);
                clips.play(&path);
                auto.next_phase(Phase::Calibrate {
                    clip,
                    waiting: true,
                });
            } else if let Step::Heard(_) = &*step {
                if !auto.calibration_shot {
                    if let Some(shot) = &auto.screenshot {
                        shots.write(TakeScreenshot(sibling(shot, "calibration")));
                    }
                    auto.calibration_shot = true;
                }
                actions.write(CalibrationAction::Confirm);
                auto.next_phase(Phase::Calibrate {
                    clip: clip + 1,
                    waiting: false,
                });
            }
        }
        Phase::Evaluate => {
            if let Some(e) = evaluated.read().last() {
                auto.after = Some((e.correct, e.total));
                next.set(Screen::Play);
                auto.next_phase(Phase::Play {
                    clip: 0,
                    waiting: false,
                });
            }
        }
        Phase::Play { clip, waiting } => {
            if clip >= auto.play.len() {
                if let Some(shot) = &auto.screenshot {
                    shots.write(TakeScreenshot(shot.clone()));
                }
                auto.next_phase(Phase::Finish {
                    since: Instant::now(),
                });
                return;
            }
            let (path, name) = auto.play[clip].clone();
            if !waiting {
                clips.play(&path);
                auto.next_phase(Phase::Play {
                    clip,
                    waiting: true,
                });
            } else if let Some(d) = detections.last() {
                auto.detections += 1;
                auto.reacted |= run.heard > 0;
                if let Some(n) = name {
                    auto.labelled += 1;
                    auto.correct += usize::from(d.emotion == n.emotion);
                    answers.write(if d.emotion == n.emotion {
                        Answer::Right
                    } else {
                        Answer::Actually(n.emotion)
                    });
                }
                auto.next_phase(Phase::Play {
                    clip: clip + 1,
                    waiting: false,
                });
            }
        }
        Phase::Finish { since } => {
            // Time for the last update and the screenshot to land, then the stats screen.
            let shot_done = auto.screenshot.as_ref().is_none_or(|p| p.exists());
            if (shot_done && since.elapsed() > Duration::from_secs(2))
                || since.elapsed() > Duration::from_secs(20)
            {
                next.set(Screen::Stats);
                auto.next_phase(Phase::Stats {
                    since: Instant::now(),
                });
            }
        }
        Phase::Stats { since } => {
            // Stats, then settings, then players, 2.5 s each, with a screenshot of each.
            let t = since.elapsed().as_millis();
            let tour = [
                (Screen::Stats, "stats"),
                (Screen::Settings, "settings"),
                (Screen::Players, "players"),
            ];
            let stage = (t / 2500) as usize;
            if let Some((screen, name)) = tour.get(stage) {
                NextState::set_if_neq(&mut *next, *screen);
                if t % 2500 > 1500 && auto.tour_shots <= stage {
                    if let Some(shot) = &auto.screenshot {
                        shots.write(TakeScreenshot(sibling(shot, name)));
                    }
                    auto.tour_shots = stage + 1;
                }
            } else {
                auto.completed = true;
                let lines = auto.summary(&progress, &run);
                for l in &lines {
                    println!("{l}");
                }
                result.0 = Some(lines);
                exit.write(if auto.reacted {
                    AppExit::Success
                } else {
                    AppExit::error()
                });
                auto.phase = Phase::Done;
            }
        }
        Phase::Done => {}
    }
}

/// `shot.png` → `shot-<what>.png`.
#[must_use]
pub fn sibling(shot: &std::path::Path, what: &str) -> PathBuf {
    let stem = shot
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "screenshot".to_owned());
    shot.with_file_name(format!("{stem}-{what}.png"))
}

/// The autoplay driver (add with an [`Autoplay`] resource).
pub fn plugin(app: &mut App) {
    app.add_message::<TakeScreenshot>()
        .init_resource::<AutoplayResult>()
        .add_systems(Update, drive.run_if(resource_exists::<Autoplay>));
}
