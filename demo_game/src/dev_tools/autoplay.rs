//! `--autoplay`: a scripted session on the clips of `--voice-dir`, for tests and demos.
//! Calibrates with the first half of the clips (at most eight), plays with the rest,
//! confirming or correcting each detection with the label in the clip's RAVDESS file name,
//! shows the stats, settings and players screens, then prints a summary and exits: with
//! success when the session reached the play screen and the game reacted to the voice, with
//! an error when it did not, timed out, or the app was closed before it finished.
//!
//! The session is a state, [`AutoplayPhase`] (a sub-state of [`Autoplaying::On`]), with one
//! system per phase; inserting an [`Autoplay`] resource starts it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::ecs::message::{MessageCursor, Messages};
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

use super::screenshot::{TakeScreenshot, sibling};
use crate::game::calibration::{CalibrationAction, CalibrationProgress, Check, Step, prompts};
use crate::game::gates::{Answer, GateRun};
use crate::game::voice::VoiceClips;
use crate::screens::Screen;

/// Longest wait for any one thing (a detection, an update).
const PATIENCE: Duration = Duration::from_secs(60);

/// How long the title screen shows (its screenshot at half that).
const TITLE_TIME: Duration = Duration::from_millis(3000);

/// How long each screen of the tour shows (its screenshot after 1.5 s).
const TOUR_STOP_MS: u128 = 2500;

/// Whether a scripted session runs (`On` from the frame an [`Autoplay`] is inserted).
#[derive(States, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Autoplaying {
    /// No session.
    #[default]
    Off,
    /// A session runs (see [`AutoplayPhase`]).
    On,
}

/// Where the session is.
#[derive(SubStates, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[source(Autoplaying = Autoplaying::On)]
pub enum AutoplayPhase {
    /// Waits for the player's model, shows the title screen.
    #[default]
    Title,
    /// Records and confirms the calibration clips.
    Calibrate,
    /// Records the check's takes (the play clips, never confirmed here).
    Check,
    /// Waits for the check's figure (or, without a check, the figure on the calibration
    /// clips).
    Evaluate,
    /// Plays the other clips, answering "was that right?" after each detection.
    Play,
    /// Gives the last update and the play screenshot time to land.
    Finish,
    /// Shows the stats, settings and players screens in turn.
    Tour,
    /// The summary is printed and the exit sent.
    Done,
}

/// The scripted session and its counts.
#[derive(Resource, Debug)]
pub struct Autoplay {
    calibrate: Vec<(PathBuf, Option<ClipLabel>)>,
    play: Vec<(PathBuf, Option<ClipLabel>)>,
    /// The clip of the phase (calibration or play).
    clip: usize,
    /// Whether that clip is playing and its answer awaited.
    waiting: bool,
    /// When the phase began (for the title: when the player's model was ready).
    since: Option<Instant>,
    deadline: Instant,
    screenshot: Option<PathBuf>,
    calibration_shot: bool,
    /// Whether the session ran the check (decided once the calibration clips are done).
    checking: bool,
    /// When the check's figure was on screen and its screenshot asked for.
    check_shown: Option<Instant>,
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
    /// The check's held-out takes: `(base network, player's model, total)` recognised.
    pub check: Option<(usize, usize, usize)>,
    /// Whether the session reached the play screen and a detection changed the game.
    pub reacted: bool,
    /// Whether it ran to the end (not a timeout).
    pub completed: bool,
}

impl Autoplay {
    /// A session over `files`; `screenshot` is saved at the end of play, and its siblings
    /// `-title`, `-calibration`, `-check` (the check's figure), `-stats`, `-settings` and
    /// `-players` on those screens.
    #[must_use]
    pub fn new(files: &[PathBuf], screenshot: Option<PathBuf>) -> Self {
        let labelled: Vec<_> = files
            .iter()
            .map(|f| (f.clone(), ClipLabel::of_ravdess_file(f)))
            .collect();
        let n_cal = labelled.len().div_ceil(2).min(8);
        Self {
            calibrate: labelled[..n_cal].to_vec(),
            play: labelled[n_cal..].to_vec(),
            clip: 0,
            waiting: false,
            since: None,
            deadline: Instant::now() + PATIENCE,
            screenshot,
            calibration_shot: false,
            checking: false,
            check_shown: None,
            title_shot: false,
            tour_shots: 0,
            detections: 0,
            correct: 0,
            labelled: 0,
            updates: 0,
            accepted: 0,
            after: None,
            check: None,
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
            match self.check {
                Some((base, player, total)) => format!(
                    "autoplay: check: {total} held-out takes (never confirmed before the \
                     check); the base model recognised {base}, the player's model {player}"
                ),
                None => "autoplay: check: none".to_owned(),
            },
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

    /// Moves to `phase` (from the next frame on), with a fresh deadline.
    fn enter(&mut self, next: &mut NextState<AutoplayPhase>, phase: AutoplayPhase) {
        next.set(phase);
        self.clip = 0;
        self.waiting = false;
        self.since = Some(Instant::now());
        self.deadline = Instant::now() + PATIENCE;
    }

    /// The current clip plays: its answer is awaited, with a fresh deadline.
    fn wait(&mut self) {
        self.waiting = true;
        self.deadline = Instant::now() + PATIENCE;
    }

    /// On to the next clip, with a fresh deadline.
    fn next_clip(&mut self) {
        self.clip += 1;
        self.waiting = false;
        self.deadline = Instant::now() + PATIENCE;
    }

    /// Time since the phase began.
    fn elapsed(&self) -> Duration {
        self.since.map_or(Duration::ZERO, |s| s.elapsed())
    }

    /// Asks for the screenshot `shot` names with `what` (`None`: the play screenshot itself).
    fn screenshot(&self, shots: &mut MessageWriter<TakeScreenshot>, what: Option<&str>) {
        if let Some(shot) = &self.screenshot {
            shots.write(TakeScreenshot(
                what.map_or_else(|| shot.clone(), |w| sibling(shot, w)),
            ));
        }
    }
}

/// The emotion and intensity a RAVDESS file name (`MM-VV-EE-II-SS-RR-AA.wav`) gives its clip:
/// the labels the scripted player confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipLabel {
    /// The third field, 01–08.
    pub emotion: Emotion,
    /// The fourth field, 01 (normal) or 02 (strong).
    pub intensity: Intensity,
}

impl ClipLabel {
    /// The label in `path`'s file name, or `None` when it is not a RAVDESS name.
    #[must_use]
    pub fn of_ravdess_file(path: &std::path::Path) -> Option<Self> {
        let stem = path.file_stem()?.to_str()?;
        let fields: Vec<&str> = stem.split('-').collect();
        let [_, _, emotion, intensity, _, _, _] = fields.as_slice() else {
            return None;
        };
        let code = emotion.parse::<usize>().ok()?;
        Some(Self {
            emotion: Emotion::from_index(code.checked_sub(1)?)?,
            intensity: match *intensity {
                "01" => Intensity::Normal,
                "02" => Intensity::Strong,
                _ => return None,
            },
        })
    }
}

/// The session's summary once it ended (`None` while it runs).
#[derive(Resource, Debug, Clone, Default)]
pub struct AutoplayResult(pub Option<Vec<String>>);

fn prompt_for(name: Option<&ClipLabel>, progress: &CalibrationProgress) -> usize {
    let prompts = prompts();
    name.and_then(|n| {
        prompts
            .iter()
            .position(|p| p.emotion == n.emotion && p.intensity == n.intensity)
    })
    .or_else(|| progress.next_prompt())
    .unwrap_or(0)
}

/// How a session ends: the summary printed and kept, the app told to exit.
#[derive(SystemParam)]
struct Ending<'w> {
    progress: Res<'w, CalibrationProgress>,
    run: Res<'w, GateRun>,
    result: ResMut<'w, AutoplayResult>,
    phase: ResMut<'w, NextState<AutoplayPhase>>,
    exit: MessageWriter<'w, AppExit>,
}

impl Ending<'_> {
    /// Prints the summary and exits, with success when `success`.
    fn end(&mut self, auto: &Autoplay, success: bool) {
        let lines = auto.summary(&self.progress, &self.run);
        for l in &lines {
            println!("{l}");
        }
        self.result.0 = Some(lines);
        self.phase.set(AutoplayPhase::Done);
        self.exit.write(if success {
            AppExit::Success
        } else {
            AppExit::error()
        });
    }
}

fn begin(mut on: ResMut<NextState<Autoplaying>>) {
    on.set(Autoplaying::On);
}

fn count_updates(mut auto: ResMut<Autoplay>, mut updated: MessageReader<PlayerModelUpdated>) {
    for u in updated.read() {
        auto.updates += 1;
        auto.accepted += usize::from(u.outcome == UpdateOutcome::Accepted);
    }
}

/// Ends the session with an error when the current phase waited longer than [`PATIENCE`].
fn watch_deadline(auto: Res<Autoplay>, phase: Res<State<AutoplayPhase>>, mut ending: Ending) {
    if Instant::now() > auto.deadline {
        error!("autoplay: timed out in {:?}", phase.get());
        ending.end(&auto, false);
    }
}

/// Waits for the player's model, shows the title screen (and its screenshot), then opens
/// the calibration screen.
fn title(
    mut auto: ResMut<Autoplay>,
    player: Res<ActivePlayer>,
    mut shots: MessageWriter<TakeScreenshot>,
    mut screen: ResMut<NextState<Screen>>,
    mut phase: ResMut<NextState<AutoplayPhase>>,
) {
    if auto.since.is_none() {
        if player.id.is_some() {
            auto.since = Some(Instant::now());
        }
        return;
    }
    let shown = auto.elapsed();
    if shown > TITLE_TIME / 2 && !auto.title_shot {
        auto.screenshot(&mut shots, Some("title"));
        auto.title_shot = true;
    }
    if shown > TITLE_TIME {
        screen.set(Screen::Calibration);
        auto.enter(&mut phase, AutoplayPhase::Calibrate);
    }
}

/// Each calibration clip: selects its prompt, records it, confirms what the model heard;
/// then starts the check (or, when the model cannot adapt yet, asks for the figure on the
/// calibration clips).
fn calibrate(
    mut auto: ResMut<Autoplay>,
    step: Res<Step>,
    progress: Res<CalibrationProgress>,
    clips: Res<VoiceClips>,
    mut actions: MessageWriter<CalibrationAction>,
    mut evaluate: MessageWriter<EvaluatePlayer>,
    mut shots: MessageWriter<TakeScreenshot>,
    mut phase: ResMut<NextState<AutoplayPhase>>,
) {
    let Some((path, name)) = auto.calibrate.get(auto.clip).cloned() else {
        auto.checking = progress.can_check() && !auto.play.is_empty();
        if auto.checking {
            actions.write(CalibrationAction::StartCheck);
            auto.enter(&mut phase, AutoplayPhase::Check);
        } else {
            evaluate.write(EvaluatePlayer);
            auto.enter(&mut phase, AutoplayPhase::Evaluate);
        }
        return;
    };
    if !auto.waiting {
        if *step == Step::Evaluating {
            return;
        }
        record_take(
            &mut auto,
            &mut actions,
            &clips,
            &path,
            name.as_ref(),
            &progress,
        );
    } else if let Step::Heard(_) = &*step {
        if !auto.calibration_shot {
            auto.screenshot(&mut shots, Some("calibration"));
            auto.calibration_shot = true;
        }
        actions.write(CalibrationAction::Confirm);
        auto.next_clip();
    }
}

/// The check: the first play clips as second takes of their prompts, kept and never
/// confirmed; the check ends by itself after `CHECK_TAKES`, or when the clips run out.
fn check(
    mut auto: ResMut<Autoplay>,
    step: Res<Step>,
    check: Res<Check>,
    progress: Res<CalibrationProgress>,
    clips: Res<VoiceClips>,
    mut actions: MessageWriter<CalibrationAction>,
    mut phase: ResMut<NextState<AutoplayPhase>>,
) {
    if *step == Step::Evaluating {
        auto.enter(&mut phase, AutoplayPhase::Evaluate);
        return;
    }
    if !check.active {
        // StartCheck lands next frame.
        return;
    }
    let Some((path, name)) = auto.play.get(auto.clip).cloned() else {
        actions.write(CalibrationAction::FinishCheck);
        return;
    };
    if !auto.waiting {
        record_take(
            &mut auto,
            &mut actions,
            &clips,
            &path,
            name.as_ref(),
            &progress,
        );
    } else if let Step::Heard(_) = &*step {
        actions.write(CalibrationAction::Confirm);
        auto.next_clip();
    }
}

/// Records a clip on the calibration screen: selects the prompt of its label, starts
/// listening, plays it, and waits for what the model heard.
fn record_take(
    auto: &mut Autoplay,
    actions: &mut MessageWriter<CalibrationAction>,
    clips: &VoiceClips,
    path: &std::path::Path,
    label: Option<&ClipLabel>,
    progress: &CalibrationProgress,
) {
    actions.write(CalibrationAction::Select(prompt_for(label, progress)));
    actions.write(CalibrationAction::Record);
    clips.play(path);
    auto.wait();
}

/// Waits for the check's figure (or the figure on the calibration clips), then opens the
/// play screen.
fn evaluate(
    mut auto: ResMut<Autoplay>,
    mut evaluated: MessageReader<PlayerEvaluated>,
    mut held_out: MessageReader<HeldOutEvaluated>,
    mut shots: MessageWriter<TakeScreenshot>,
    mut screen: ResMut<NextState<Screen>>,
    mut phase: ResMut<NextState<AutoplayPhase>>,
) {
    if let Some(e) = evaluated.read().last() {
        auto.after = Some((e.correct, e.total));
    }
    if let Some(h) = held_out.read().last() {
        auto.check = Some((h.base_correct, h.player_correct, h.total));
    }
    let checked = auto.checking;
    if auto.after.is_none() || (checked && auto.check.is_none()) {
        return;
    }
    if checked {
        // The figure on screen for a screenshot, then play.
        let Some(shown) = auto.check_shown else {
            auto.screenshot(&mut shots, Some("check"));
            auto.check_shown = Some(Instant::now());
            return;
        };
        if shown.elapsed() < Duration::from_millis(1500) {
            return;
        }
    }
    screen.set(Screen::Play);
    auto.enter(&mut phase, AutoplayPhase::Play);
}

/// Each play clip: plays it and answers the detection with the clip's label; then the play
/// screenshot.
fn play(
    mut auto: ResMut<Autoplay>,
    run: Res<GateRun>,
    clips: Res<VoiceClips>,
    mut detected: MessageReader<EmotionDetected>,
    mut answers: MessageWriter<Answer>,
    mut shots: MessageWriter<TakeScreenshot>,
    mut phase: ResMut<NextState<AutoplayPhase>>,
) {
    // Read every frame: only a detection that arrives while a clip is awaited answers it.
    let detection = detected.read().last().cloned();
    let Some((path, name)) = auto.play.get(auto.clip).cloned() else {
        auto.screenshot(&mut shots, None);
        auto.enter(&mut phase, AutoplayPhase::Finish);
        return;
    };
    if !auto.waiting {
        clips.play(&path);
        auto.wait();
    } else if let Some(d) = detection {
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
        auto.next_clip();
    }
}

/// Gives the last update and the play screenshot time to land (2 s after the screenshot
/// exists, 20 s at most), then opens the stats screen.
fn finish(
    mut auto: ResMut<Autoplay>,
    mut screen: ResMut<NextState<Screen>>,
    mut phase: ResMut<NextState<AutoplayPhase>>,
) {
    let shot_done = auto.screenshot.as_ref().is_none_or(|p| p.exists());
    let waited = auto.elapsed();
    if (shot_done && waited > Duration::from_secs(2)) || waited > Duration::from_secs(20) {
        screen.set(Screen::Stats);
        auto.enter(&mut phase, AutoplayPhase::Tour);
    }
}

/// Stats, settings, players, 2.5 s each with a screenshot of each; then the end.
fn tour(
    mut auto: ResMut<Autoplay>,
    mut screen: ResMut<NextState<Screen>>,
    mut shots: MessageWriter<TakeScreenshot>,
    mut ending: Ending,
) {
    const STOPS: [(Screen, &str); 3] = [
        (Screen::Stats, "stats"),
        (Screen::Settings, "settings"),
        (Screen::Players, "players"),
    ];
    let t = auto.elapsed().as_millis();
    let stop = (t / TOUR_STOP_MS) as usize;
    if let Some((at, name)) = STOPS.get(stop) {
        NextState::set_if_neq(&mut *screen, *at);
        if t % TOUR_STOP_MS > 1500 && auto.tour_shots <= stop {
            auto.screenshot(&mut shots, Some(name));
            auto.tour_shots = stop + 1;
        }
    } else {
        auto.completed = true;
        let reacted = auto.reacted;
        ending.end(&auto, reacted);
    }
}

/// Whether the session still runs (no summary yet): nothing runs after it ended.
fn running(result: Res<AutoplayResult>) -> bool {
    result.0.is_none()
}

/// An exit asked for by someone else (the window closed, Ctrl-C) before the session ended
/// is an error: the session did not finish.
fn exit_before_the_end(
    mut exits: ResMut<Messages<AppExit>>,
    mut seen: Local<MessageCursor<AppExit>>,
    result: Res<AutoplayResult>,
) {
    if seen.read(&exits).count() > 0 && result.0.is_none() {
        error!("autoplay: the app is closing before the session finished");
        exits.write(AppExit::error());
    }
}

/// The autoplay session (started by inserting an [`Autoplay`] resource).
pub(super) fn plugin(app: &mut App) {
    use AutoplayPhase as P;
    app.init_state::<Autoplaying>()
        .add_sub_state::<AutoplayPhase>()
        .init_resource::<AutoplayResult>()
        .add_systems(PreUpdate, begin.run_if(resource_added::<Autoplay>))
        .add_systems(
            Update,
            (
                count_updates,
                watch_deadline.run_if(
                    running.and_then(
                        in_state(P::Title)
                            .or_else(in_state(P::Calibrate))
                            .or_else(in_state(P::Check))
                            .or_else(in_state(P::Evaluate))
                            .or_else(in_state(P::Play)),
                    ),
                ),
                (
                    title.run_if(in_state(P::Title)),
                    calibrate.run_if(in_state(P::Calibrate)),
                    check.run_if(in_state(P::Check)),
                    evaluate.run_if(in_state(P::Evaluate)),
                    play.run_if(in_state(P::Play)),
                    finish.run_if(in_state(P::Finish)),
                    tour.run_if(in_state(P::Tour)),
                )
                    .run_if(running),
            )
                .chain()
                .run_if(in_state(Autoplaying::On)),
        )
        .add_systems(Last, exit_before_the_end.run_if(in_state(Autoplaying::On)));
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn ravdess_file_names_give_their_labels() {
        let l = ClipLabel::of_ravdess_file(Path::new("Actor_24/03-01-05-02-01-01-24.wav"));
        assert_eq!(
            l,
            Some(ClipLabel {
                emotion: Emotion::Angry,
                intensity: Intensity::Strong
            })
        );
        for other in [
            "take1.wav",
            "03-01-09-01-01-01-24.wav",
            "03-01-01-03-01-01-24.wav",
        ] {
            assert_eq!(
                ClipLabel::of_ravdess_file(Path::new(other)),
                None,
                "{other}"
            );
        }
    }
}
