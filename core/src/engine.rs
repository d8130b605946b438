//! The voice engine: everything between an [`AudioTap`] and a game, on its own thread.
//!
//! ```text
//! source thread ──AudioSink──► ring ──AudioTap──► engine thread ──events──► game
//!  (mic / script)   (no lock,                      segment, resample,   ◄──commands──
//!                    no alloc)                     MFCC, classify, save
//!                                                      │
//!                                                      └─► adaptation thread (PlayerModel)
//! ```
//!
//! [`Engine::start`] spawns the engine thread, which loads the base model, opens the player's
//! profile and then loops: it drains the audio buffer through the [`Segmenter`], and for each
//! utterance resamples it to 16 kHz, computes its MFCC frames and classifies them with the
//! player's model ([`PlayerModel`]), reporting [`EngineEvent`]s. Confirmations
//! ([`Command::Confirm`]) become training samples; the player's voice head is refitted on its
//! own thread and swaps in between two utterances. Profiles are saved after every
//! update, on player switch and on shutdown.
//!
//! Nothing here blocks the game: commands and events are channels, and the game reads events
//! whenever it likes ([`Engine::drain_events`]).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::prelude::Device;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::adapt::{AdaptConfig, AdaptError, Adapter, AnchorSet, PlayerModel, PlayerState};
use crate::audio::{SAMPLE_RATE, resample};
use crate::capture::{AudioMonitor, AudioTap, SourceStatus};
use crate::dataset::{Emotion, Intensity};
use crate::features::FeatureMatrix;
use crate::inference::{EmotionClassifier, ModelError, ModelFiles, Prediction};
use crate::input::InputExtractor;
use crate::profile::{
    BaseModelRef, PlayerId, ProfileError, ProfileStore, ProfileWriter, UpdateRecord,
};
use crate::vad::{SegmentEvent, Segmenter, VadConfig, VadError};

/// A model directory's files compiled into the game (`include_bytes!`).
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedModel {
    /// A name for profiles and logs.
    pub name: &'static str,
    /// `config.json`.
    pub config: &'static [u8],
    /// `input.json`.
    pub input: &'static [u8],
    /// `norm.json`.
    pub norm: &'static [u8],
    /// `model.bpk`.
    pub weights: &'static [u8],
    /// `anchors.bin`.
    pub anchors: &'static [u8],
}

/// Where the base model comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// Compiled into the program.
    Embedded(EmbeddedModel),
    /// A model directory written by `trainer train` (and `trainer anchors`).
    Directory(PathBuf),
}

/// Errors starting the engine. Each names the file or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The model could not be loaded.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The anchor set could not be loaded.
    #[error(transparent)]
    Adapt(#[from] AdaptError),
    /// The speech-detection settings are invalid.
    #[error("speech detection: {0}")]
    Vad(#[from] VadError),
    /// The model directory's weights could not be read to identify the base model.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// No thread could be started.
    #[error("cannot start the voice engine thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// A loaded base model with what adaptation needs.
#[derive(Debug)]
pub struct BaseModel {
    /// The classifier.
    pub classifier: EmotionClassifier,
    /// The anchor set replayed by adaptation.
    pub anchors: AnchorSet,
    /// What player profiles record as their base.
    pub reference: BaseModelRef,
}

impl BaseModel {
    /// Loads a base model onto `device`.
    ///
    /// # Errors
    /// [`EngineError::Model`] or [`EngineError::Adapt`] naming the file at fault.
    pub fn load(source: &ModelSource, device: &Device) -> Result<Self, EngineError> {
        match source {
            ModelSource::Embedded(m) => {
                let dir = PathBuf::from(format!("<embedded model {}>", m.name));
                let classifier = EmotionClassifier::from_files(
                    &dir,
                    &ModelFiles {
                        config: m.config,
                        input: m.input,
                        norm: m.norm,
                        weights: m.weights,
                    },
                    device,
                )?;
                let anchors =
                    AnchorSet::from_bytes(m.anchors).map_err(|reason| AdaptError::Anchors {
                        path: dir.join(crate::adapt::ANCHORS_FILE),
                        reason,
                    })?;
                Ok(Self {
                    classifier,
                    anchors,
                    reference: BaseModelRef::of_bytes(m.name, m.weights),
                })
            }
            ModelSource::Directory(dir) => {
                let classifier = EmotionClassifier::load(dir, device)?;
                let anchors = AnchorSet::read(&dir.join(crate::adapt::ANCHORS_FILE))?;
                let name = dir
                    .file_name()
                    .map_or_else(|| "model".to_owned(), |n| n.to_string_lossy().into_owned());
                let reference =
                    BaseModelRef::of_file(name, dir.join(crate::inference::WEIGHTS_FILE))?;
                Ok(Self {
                    classifier,
                    anchors,
                    reference,
                })
            }
        }
    }
}

/// Where player profiles live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileLocation {
    /// The platform's data directory for this app name ([`ProfileStore::default_location`]).
    Default {
        /// The game's name.
        app_name: String,
    },
    /// A directory of the game's choosing.
    Directory(PathBuf),
    /// Nowhere: players adapt for this session only.
    Memory,
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Speech detection. The default keeps 800 ms of pre-roll and 500 ms of tail around each
    /// utterance: the classifier trims silence itself (40 dB below the loudest frame, as in
    /// training), and with this much context it finds in a live utterance exactly the audio
    /// it finds in the whole recorded clip (`tests/tests/ravdess_through_plugin.rs`).
    pub vad: VadConfig,
    /// Fine-tuning settings.
    pub adapt: AdaptConfig,
    /// Whether confirmed utterances keep their 16 kHz audio in the profile (default `false`:
    /// features only).
    pub keep_audio: bool,
    /// Whether every utterance (not only confirmed ones) updates the player's voice
    /// statistics (default `true`).
    pub learn_voice: bool,
    /// Utterances remembered for a later confirmation (default 32).
    pub recent_utterances: usize,
    /// Events buffered for the game before new ones are dropped (default 1024).
    pub event_capacity: usize,
    /// Voice statistics are saved at most this often when nothing else triggers a save
    /// (default 60 s).
    pub autosave_every: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            vad: VadConfig {
                pre_roll_ms: 800.0,
                tail_ms: 500.0,
                ..VadConfig::default()
            },
            adapt: AdaptConfig::new(),
            keep_audio: false,
            learn_voice: true,
            recent_utterances: 32,
            event_capacity: 1024,
            autosave_every: Duration::from_secs(60),
        }
    }
}

/// What a game asks of the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// The player says utterance `utterance` was `emotion` (confirming or correcting the
    /// detection): it becomes a training sample.
    Confirm {
        /// The utterance id from [`EngineEvent::Detected`].
        utterance: u64,
        /// The true emotion.
        emotion: Emotion,
        /// The true intensity, when known.
        intensity: Option<Intensity>,
    },
    /// Make another player active (saving the current one).
    SwitchPlayer(PlayerId),
    /// Delete a player's profile; the active player starts again from the base model.
    ForgetPlayer(PlayerId),
    /// Back to the base weights for the active player; drops their confirmed samples unless
    /// `keep_samples`.
    ResetPlayer {
        /// Keep the confirmed samples (they train the next update).
        keep_samples: bool,
    },
    /// Speech-detection sensitivity, `0..=1`.
    SetSensitivity(f32),
    /// Save the active player now.
    Save,
    /// Whether confirmed utterances keep their audio from now on.
    SetKeepAudio(bool),
    /// Classify the active player's confirmed samples with their current weights
    /// ([`EngineEvent::Evaluated`]).
    Evaluate,
}

/// One detection.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The utterance's id (for [`Command::Confirm`]).
    pub utterance: u64,
    /// The player it was classified for.
    pub player: PlayerId,
    /// The result.
    pub prediction: Prediction,
    /// The utterance's length in seconds (pre-roll and tail included).
    pub duration_seconds: f64,
    /// When the segmenter reported the end of the utterance.
    pub ended_at: Instant,
    /// Resampling, features and inference time.
    pub processing: Duration,
    /// Whether the player's own weights made it.
    pub adapted: bool,
    /// The utterance's MFCC frames (silence trimmed), what the model heard: for a live
    /// heatmap, or to check the engine against the core.
    pub mfcc: Arc<FeatureMatrix>,
}

/// What the engine reports.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// The model is loaded and the player's profile opened.
    Ready {
        /// The active player.
        player: PlayerId,
        /// Whether they have their own weights.
        adapted: bool,
        /// Their confirmed samples.
        samples: usize,
        /// A problem with their profile (corrupt, locked, for another model), in words.
        notice: Option<String>,
    },
    /// The engine could not start (the model failed to load); it has stopped.
    Failed {
        /// Why.
        reason: String,
    },
    /// Speech began.
    SpeechStarted {
        /// The utterance's id.
        utterance: u64,
        /// Where, in seconds since the stream started.
        at_seconds: f64,
    },
    /// Speech ended; a [`EngineEvent::Detected`] (or [`EngineEvent::DetectionFailed`])
    /// follows.
    SpeechEnded {
        /// The utterance's id.
        utterance: u64,
        /// Its length in seconds.
        duration_seconds: f64,
    },
    /// A started utterance was too short and is dropped.
    SpeechDiscarded {
        /// The utterance's id.
        utterance: u64,
    },
    /// An utterance was classified.
    Detected(Detection),
    /// An utterance could not be classified.
    DetectionFailed {
        /// The utterance's id.
        utterance: u64,
        /// Why.
        reason: String,
    },
    /// A confirmation was taken as a training sample; an update follows.
    Confirmed {
        /// The utterance's id.
        utterance: u64,
        /// The emotion confirmed.
        emotion: Emotion,
    },
    /// A confirmation could not be used.
    ConfirmRejected {
        /// The utterance's id.
        utterance: u64,
        /// Why.
        reason: String,
    },
    /// A player model update finished (its record says whether the new weights were kept).
    ModelUpdated {
        /// The player.
        player: PlayerId,
        /// What happened.
        record: UpdateRecord,
    },
    /// Another player is active.
    PlayerSwitched {
        /// The new player.
        player: PlayerId,
        /// Whether they have their own weights.
        adapted: bool,
        /// Their confirmed samples.
        samples: usize,
        /// A problem with their profile, in words.
        notice: Option<String>,
    },
    /// A player's profile was deleted.
    PlayerForgotten {
        /// The player.
        player: PlayerId,
    },
    /// The active player is back on the base weights.
    PlayerReset {
        /// The player.
        player: PlayerId,
        /// The confirmed samples they kept.
        samples: usize,
    },
    /// The active player's profile was saved.
    ProfileSaved {
        /// The player.
        player: PlayerId,
    },
    /// A profile could not be loaded, saved or deleted; the game runs on.
    ProfileProblem {
        /// The player.
        player: PlayerId,
        /// What happened.
        message: String,
    },
    /// The audio source's status changed.
    Source(SourceStatus),
    /// The answer to [`Command::Evaluate`].
    Evaluated {
        /// The player.
        player: PlayerId,
        /// Confirmed samples classified as confirmed.
        correct: usize,
        /// Confirmed samples.
        total: usize,
    },
}

/// Counters of a running engine (read without locking).
#[derive(Debug, Default)]
struct Counters {
    utterances: AtomicU64,
    detections: AtomicU64,
    events_dropped: AtomicU64,
    events_high_water: AtomicU64,
    recent_high_water: AtomicU64,
    last_processing_us: AtomicU64,
    last_update_ms: AtomicU64,
    updates: AtomicU64,
    saves: AtomicU64,
}

/// A snapshot of an engine's counters, for diagnostics and soak tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    /// Utterances segmented.
    pub utterances: u64,
    /// Detections reported.
    pub detections: u64,
    /// Events dropped because the game did not read them.
    pub events_dropped: u64,
    /// Most events ever waiting for the game.
    pub events_high_water: u64,
    /// Most utterances ever remembered for confirmation.
    pub recent_high_water: u64,
    /// The latest detection's processing time, in microseconds.
    pub last_processing_us: u64,
    /// The latest update's time, in milliseconds.
    pub last_update_ms: u64,
    /// Updates finished.
    pub updates: u64,
    /// Profile saves.
    pub saves: u64,
}

/// A running engine. Dropping it stops the thread and saves the active player.
pub struct Engine {
    commands: Sender<Command>,
    events: Receiver<EngineEvent>,
    counters: Arc<Counters>,
    monitor: AudioMonitor,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Starts the engine thread, reading audio from `tap`. Returns at once; the model loads
    /// on the thread and [`EngineEvent::Ready`] (or [`EngineEvent::Failed`]) follows.
    ///
    /// # Errors
    /// [`EngineError::Vad`] for invalid speech-detection settings, [`EngineError::Thread`].
    /// A profile directory that cannot be created is not an error: profiles are kept in
    /// memory only and [`EngineEvent::Ready`]'s notice says why.
    pub fn start(
        model: ModelSource,
        config: EngineConfig,
        profiles: &ProfileLocation,
        player: PlayerId,
        tap: AudioTap,
    ) -> Result<Self, EngineError> {
        config.vad.validate()?;
        let opened = match profiles {
            ProfileLocation::Default { app_name } => {
                ProfileStore::default_location(app_name).map(Some)
            }
            ProfileLocation::Directory(dir) => ProfileStore::new(dir.clone()).map(Some),
            ProfileLocation::Memory => Ok(None),
        };
        // No usable profile directory (no home, read-only, a file in the way): voice still
        // works, profiles live in memory only, and the first event says so.
        let (store, store_notice) = match opened {
            Ok(store) => (store, None),
            Err(e) => {
                let notice =
                    format!("{e}; profiles are kept in memory only, nothing will be saved");
                tracing::warn!("{notice}");
                (None, Some(notice))
            }
        };
        let (commands, command_rx) = crossbeam_channel::unbounded();
        let (event_tx, events) = crossbeam_channel::bounded(config.event_capacity.max(16));
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let monitor = tap.monitor();
        let setup = Setup {
            model,
            config,
            store,
            store_notice,
            player,
            tap,
            commands: command_rx,
            events: event_tx,
            counters: Arc::clone(&counters),
            stop: Arc::clone(&stop),
        };
        let thread = std::thread::Builder::new()
            .name("voice-emotion-engine".to_owned())
            .spawn(move || setup.run())
            .map_err(EngineError::Thread)?;
        Ok(Self {
            commands,
            events,
            counters,
            monitor,
            stop,
            thread: Some(thread),
        })
    }

    /// Sends a command (never blocks).
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// The next event, if any (never blocks).
    #[must_use]
    pub fn try_event(&self) -> Option<EngineEvent> {
        self.events.try_recv().ok()
    }

    /// The next event, waiting up to `timeout`.
    #[must_use]
    pub fn event_timeout(&self, timeout: Duration) -> Option<EngineEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Appends every waiting event to `out` (never blocks).
    pub fn drain_events(&self, out: &mut Vec<EngineEvent>) {
        out.extend(self.events.try_iter());
    }

    /// Events waiting for the game.
    #[must_use]
    pub fn events_waiting(&self) -> usize {
        self.events.len()
    }

    /// The audio buffer's levels, counters and source status.
    #[must_use]
    pub fn monitor(&self) -> &AudioMonitor {
        &self.monitor
    }

    /// The engine's counters.
    #[must_use]
    pub fn stats(&self) -> EngineStats {
        let c = &*self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        EngineStats {
            utterances: get(&c.utterances),
            detections: get(&c.detections),
            events_dropped: get(&c.events_dropped),
            events_high_water: get(&c.events_high_water),
            recent_high_water: get(&c.recent_high_water),
            last_processing_us: get(&c.last_processing_us),
            last_update_ms: get(&c.last_update_ms),
            updates: get(&c.updates),
            saves: get(&c.saves),
        }
    }

    /// Whether the engine thread is still running.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the engine, waiting for running updates and saving the active player.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

struct Setup {
    model: ModelSource,
    config: EngineConfig,
    store: Option<ProfileStore>,
    /// Why there is no store although one was asked for.
    store_notice: Option<String>,
    player: PlayerId,
    tap: AudioTap,
    commands: Receiver<Command>,
    events: Sender<EngineEvent>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
}

impl Setup {
    fn run(self) {
        let out = Events {
            tx: self.events,
            counters: Arc::clone(&self.counters),
        };
        let device = crate::model::default_device();
        let base = match BaseModel::load(&self.model, &device) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("voice engine: {e}");
                out.send(EngineEvent::Failed {
                    reason: e.to_string(),
                });
                return;
            }
        };
        let extractor = match InputExtractor::new(base.classifier.input_config().clone()) {
            Ok(x) => x,
            Err(e) => {
                out.send(EngineEvent::Failed {
                    reason: format!("the model's input configuration: {e}"),
                });
                return;
            }
        };
        let adapter = Arc::new(Adapter::new(
            &base.classifier,
            &base.anchors,
            self.config.adapt.clone(),
        ));
        let rate = self.tap.monitor().sample_rate();
        let segmenter = match Segmenter::new(self.config.vad.clone(), rate) {
            Ok(s) => s,
            Err(e) => {
                out.send(EngineEvent::Failed {
                    reason: format!("speech detection at {rate} Hz: {e}"),
                });
                return;
            }
        };
        let mut worker = Worker {
            config: self.config,
            reference: base.reference,
            adapter,
            extractor,
            store: self.store,
            active: None,
            segmenter,
            tap: self.tap,
            buf: Vec::with_capacity(8192),
            segment_events: Vec::new(),
            current: None,
            next_utterance: 1,
            recent: VecDeque::new(),
            out,
            counters: self.counters,
        };
        let (active, notice) = worker.open_player(self.player);
        let notice = match (self.store_notice, notice) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        worker.out.send(EngineEvent::Ready {
            player: active.id.clone(),
            adapted: active.model.is_adapted(),
            samples: active.samples(),
            notice,
        });
        worker.active = Some(active);
        worker.run(&self.commands, &self.stop);
    }
}

struct Events {
    tx: Sender<EngineEvent>,
    counters: Arc<Counters>,
}

impl Events {
    fn send(&self, event: EngineEvent) {
        match self.tx.try_send(event) {
            Ok(()) => {
                self.counters
                    .events_high_water
                    .fetch_max(self.tx.len() as u64, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) => {
                self.counters.events_dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

struct Active {
    id: PlayerId,
    model: PlayerModel,
    /// `None`: this player is not saved (memory only, or their file must not be touched).
    writer: Option<ProfileWriter>,
    /// Unsaved changes (statistics, samples).
    dirty: bool,
    last_save: Instant,
}

impl Active {
    fn samples(&self) -> usize {
        self.model.state().samples.len()
    }
}

struct Recent {
    id: u64,
    mfcc: FeatureMatrix,
    audio: Option<Vec<f32>>,
}

struct Worker {
    config: EngineConfig,
    reference: BaseModelRef,
    adapter: Arc<Adapter>,
    extractor: InputExtractor,
    store: Option<ProfileStore>,
    active: Option<Active>,
    segmenter: Segmenter,
    tap: AudioTap,
    buf: Vec<f32>,
    segment_events: Vec<SegmentEvent>,
    current: Option<u64>,
    next_utterance: u64,
    recent: VecDeque<Recent>,
    out: Events,
    counters: Arc<Counters>,
}

/// Samples read from the buffer per pass (a tenth of a second at 48 kHz).
const READ_SAMPLES: usize = 4800;
/// Wait for commands when there was nothing to do.
const IDLE_WAIT: Duration = Duration::from_millis(5);

impl Worker {
    fn fresh(&self, id: PlayerId, writer: Option<ProfileWriter>) -> Active {
        Active {
            id,
            model: PlayerModel::new(Arc::clone(&self.adapter), PlayerState::default(), None),
            writer,
            dirty: false,
            last_save: Instant::now(),
        }
    }

    /// Opens `id`'s profile; problems fall back to the base model, with a notice.
    fn open_player(&self, id: PlayerId) -> (Active, Option<String>) {
        let Some(store) = &self.store else {
            return (self.fresh(id, None), None);
        };
        let writer = match store.acquire(&id) {
            Ok(w) => w,
            Err(e) => {
                let notice = format!("{e}; using the base model, nothing will be saved");
                tracing::warn!("{notice}");
                return (self.fresh(id, None), Some(notice));
            }
        };
        match writer.load(&self.reference) {
            Ok(None) => (self.fresh(id, Some(writer)), None),
            Ok(Some(profile)) => {
                match PlayerModel::from_profile(Arc::clone(&self.adapter), profile) {
                    Ok(model) => (
                        Active {
                            id,
                            model,
                            writer: Some(writer),
                            dirty: false,
                            last_save: Instant::now(),
                        },
                        None,
                    ),
                    Err(e) => {
                        // Keep the file as it is: it holds the player's samples.
                        let notice = format!(
                            "profile of player {id} does not fit this model ({e}); using the base \
                         model, the profile is left untouched"
                        );
                        tracing::warn!("{notice}");
                        (self.fresh(id, None), Some(notice))
                    }
                }
            }
            Err(e @ ProfileError::Corrupt { .. }) => {
                let notice = format!("{e}; starting again from the base model");
                tracing::warn!("{notice}");
                (self.fresh(id, Some(writer)), Some(notice))
            }
            Err(e) => {
                // Wrong base model, a file left in place, an I/O error: never overwrite it.
                let notice = format!("{e}; using the base model, the profile is left untouched");
                tracing::warn!("{notice}");
                (self.fresh(id, None), Some(notice))
            }
        }
    }

    fn run(&mut self, commands: &Receiver<Command>, stop: &AtomicBool) {
        loop {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let mut busy = false;
            while let Ok(cmd) = commands.try_recv() {
                self.handle(cmd);
                busy = true;
            }
            busy |= self.pump_audio();
            busy |= self.collect_updates();
            if let Some(status) = self.tap.status_change() {
                self.out.send(EngineEvent::Source(status));
                busy = true;
            }
            self.autosave();
            if !busy {
                match commands.recv_timeout(IDLE_WAIT) {
                    Ok(cmd) => self.handle(cmd),
                    Err(RecvTimeoutError::Timeout) => {}
                    // The engine handle keeps the sender; gone means shutting down.
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        }
        if let Some(active) = self.active.take() {
            active.model.wait_idle();
            // Only with changes: a player forgotten and then silent stays forgotten.
            if self.collect_from(&active) || active.dirty {
                self.save(&active);
            }
        }
    }

    /// Reads waiting audio into the segmenter; returns whether there was any.
    fn pump_audio(&mut self) -> bool {
        self.buf.clear();
        let info = self.tap.read(&mut self.buf, READ_SAMPLES);
        if info.format_changed || info.sample_rate != self.segmenter.sample_rate() {
            self.segment_events.clear();
            self.segmenter.flush(&mut self.segment_events);
            self.handle_segments(self.segmenter.sample_rate());
            match Segmenter::new(self.segmenter.config().clone(), info.sample_rate) {
                Ok(s) => self.segmenter = s,
                Err(e) => tracing::warn!("speech detection at {} Hz: {e}", info.sample_rate),
            }
        }
        if info.samples == 0 {
            if self.tap.source_finished() && self.segmenter.is_speaking() {
                self.segment_events.clear();
                self.segmenter.flush(&mut self.segment_events);
                self.handle_segments(self.segmenter.sample_rate());
            }
            return false;
        }
        self.segment_events.clear();
        self.segmenter.push(&self.buf, &mut self.segment_events);
        self.handle_segments(self.segmenter.sample_rate());
        true
    }

    fn handle_segments(&mut self, rate: u32) {
        let events = std::mem::take(&mut self.segment_events);
        for event in &events {
            match event {
                SegmentEvent::SpeechStarted {
                    speech_start_sample,
                    ..
                } => {
                    let id = self.next_utterance;
                    self.next_utterance += 1;
                    self.current = Some(id);
                    self.out.send(EngineEvent::SpeechStarted {
                        utterance: id,
                        at_seconds: *speech_start_sample as f64 / f64::from(rate),
                    });
                }
                SegmentEvent::SpeechDiscarded { .. } => {
                    if let Some(id) = self.current.take() {
                        self.out
                            .send(EngineEvent::SpeechDiscarded { utterance: id });
                    }
                }
                SegmentEvent::SpeechEnded { utterance } => {
                    let ended_at = Instant::now();
                    let id = self.current.take().unwrap_or_else(|| {
                        let id = self.next_utterance;
                        self.next_utterance += 1;
                        id
                    });
                    self.counters.utterances.fetch_add(1, Ordering::Relaxed);
                    let duration_seconds = utterance.duration_seconds(rate);
                    self.out.send(EngineEvent::SpeechEnded {
                        utterance: id,
                        duration_seconds,
                    });
                    self.detect(id, &utterance.samples, rate, duration_seconds, ended_at);
                }
            }
        }
        self.segment_events = events;
        self.segment_events.clear();
    }

    fn detect(&mut self, id: u64, samples: &[f32], rate: u32, duration: f64, ended_at: Instant) {
        let Some(active) = &mut self.active else {
            return;
        };
        let result = resample(samples, rate, SAMPLE_RATE)
            .map_err(|e| e.to_string())
            .and_then(|audio| {
                let mfcc = self.extractor.mfcc(&audio).map_err(|e| e.to_string())?;
                let prediction = active.model.classify(&mfcc).map_err(|e| e.to_string())?;
                Ok((audio, mfcc, prediction))
            });
        let (audio, mfcc, prediction) = match result {
            Ok(r) => r,
            Err(reason) => {
                self.out.send(EngineEvent::DetectionFailed {
                    utterance: id,
                    reason,
                });
                return;
            }
        };
        let processing = ended_at.elapsed();
        self.counters.last_processing_us.store(
            u64::try_from(processing.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.counters.detections.fetch_add(1, Ordering::Relaxed);
        self.out.send(EngineEvent::Detected(Detection {
            utterance: id,
            player: active.id.clone(),
            prediction,
            duration_seconds: duration,
            ended_at,
            processing,
            adapted: active.model.is_adapted(),
            mfcc: Arc::new(mfcc.clone()),
        }));
        // After the detection is out: the statistics used next time.
        if self.config.learn_voice && active.model.observe(&mfcc).is_ok() {
            active.dirty = true;
        }
        self.recent.push_back(Recent {
            id,
            mfcc,
            audio: self.config.keep_audio.then_some(audio),
        });
        while self.recent.len() > self.config.recent_utterances.max(1) {
            self.recent.pop_front();
        }
        self.counters
            .recent_high_water
            .fetch_max(self.recent.len() as u64, Ordering::Relaxed);
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Confirm {
                utterance,
                emotion,
                intensity,
            } => self.confirm(utterance, emotion, intensity),
            Command::SwitchPlayer(id) => self.switch(id),
            Command::ForgetPlayer(id) => self.forget(&id),
            Command::ResetPlayer { keep_samples } => {
                if let Some(active) = &mut self.active {
                    active.model.reset(keep_samples);
                    active.dirty = true;
                    let player = active.id.clone();
                    let samples = active.samples();
                    self.save_active();
                    self.out.send(EngineEvent::PlayerReset { player, samples });
                }
            }
            Command::SetSensitivity(s) => {
                if let Err(e) = self.segmenter.set_sensitivity(s) {
                    tracing::warn!("speech sensitivity: {e}");
                } else {
                    self.config.vad.sensitivity = s;
                }
            }
            Command::Save => self.save_active(),
            Command::SetKeepAudio(keep) => {
                self.config.keep_audio = keep;
                if !keep {
                    // Turned off: utterances heard before must not bring their audio along
                    // when confirmed later.
                    for r in &mut self.recent {
                        r.audio = None;
                    }
                }
            }
            Command::Evaluate => {
                if let Some(active) = &self.active {
                    // Waits for queued updates: the answer is about the newest weights.
                    active.model.wait_idle();
                    let (correct, total) = active.model.accuracy_on_samples();
                    let player = active.id.clone();
                    self.collect_updates();
                    self.out.send(EngineEvent::Evaluated {
                        player,
                        correct,
                        total,
                    });
                }
            }
        }
    }

    fn confirm(&mut self, utterance: u64, emotion: Emotion, intensity: Option<Intensity>) {
        let Some(active) = &mut self.active else {
            return;
        };
        let Some(pos) = self.recent.iter().position(|r| r.id == utterance) else {
            self.out.send(EngineEvent::ConfirmRejected {
                utterance,
                reason: format!(
                    "utterance {utterance} is not among the last {} heard",
                    self.config.recent_utterances
                ),
            });
            return;
        };
        // A confirmation is used once; a second one for the same utterance is refused.
        let Some(recent) = self.recent.remove(pos) else {
            return;
        };
        match active
            .model
            .confirm_with_audio(recent.mfcc, recent.audio, emotion, intensity)
        {
            Ok(()) => {
                active.dirty = true;
                self.out.send(EngineEvent::Confirmed { utterance, emotion });
            }
            Err(e) => self.out.send(EngineEvent::ConfirmRejected {
                utterance,
                reason: e.to_string(),
            }),
        }
    }

    fn collect_updates(&mut self) -> bool {
        let Some(active) = self.active.take() else {
            return false;
        };
        let any = self.collect_from(&active);
        self.active = Some(active);
        if any {
            // Without waiting for updates still queued: what the player confirmed is on disk
            // after every update, however often they confirm.
            self.save_active();
        }
        any
    }

    fn collect_from(&self, active: &Active) -> bool {
        let records = active.model.take_outcomes();
        let any = !records.is_empty();
        for record in records {
            self.counters.updates.fetch_add(1, Ordering::Relaxed);
            self.counters
                .last_update_ms
                .store((record.seconds * 1000.0) as u64, Ordering::Relaxed);
            self.out.send(EngineEvent::ModelUpdated {
                player: active.id.clone(),
                record,
            });
        }
        any
    }

    fn autosave(&mut self) {
        let due = self
            .active
            .as_ref()
            .is_some_and(|a| a.dirty && a.last_save.elapsed() >= self.config.autosave_every);
        if due {
            self.save_active();
        }
    }

    fn save_active(&mut self) {
        if let Some(mut active) = self.active.take() {
            if self.save(&active) {
                active.dirty = false;
            }
            active.last_save = Instant::now();
            self.active = Some(active);
        }
    }

    /// Saves `active` when it has a writer; returns whether it was saved.
    fn save(&self, active: &Active) -> bool {
        let Some(writer) = &active.writer else {
            return false;
        };
        let profile = active
            .model
            .snapshot(active.id.clone(), self.reference.clone());
        let result = writer.save(&profile).map_err(|e| e.to_string());
        match result {
            Ok(()) => {
                self.counters.saves.fetch_add(1, Ordering::Relaxed);
                self.out.send(EngineEvent::ProfileSaved {
                    player: active.id.clone(),
                });
                true
            }
            Err(message) => {
                tracing::warn!("saving player {}: {message}", active.id);
                self.out.send(EngineEvent::ProfileProblem {
                    player: active.id.clone(),
                    message,
                });
                false
            }
        }
    }

    fn switch(&mut self, id: PlayerId) {
        if self.active.as_ref().is_some_and(|a| a.id == id) {
            return;
        }
        if let Some(old) = self.active.take() {
            old.model.wait_idle();
            if self.collect_from(&old) || old.dirty {
                self.save(&old);
            }
            // Dropping `old` releases its lock before the new player's is taken.
        }
        self.recent.clear();
        let (active, notice) = self.open_player(id);
        self.out.send(EngineEvent::PlayerSwitched {
            player: active.id.clone(),
            adapted: active.model.is_adapted(),
            samples: active.samples(),
            notice,
        });
        self.active = Some(active);
    }

    fn forget(&mut self, id: &PlayerId) {
        let is_active = self.active.as_ref().is_some_and(|a| &a.id == id);
        let result = if is_active {
            let Some(old) = self.active.take() else {
                return;
            };
            old.model.wait_idle();
            let _ = old.model.take_outcomes();
            self.recent.clear();
            let result = match old.writer {
                Some(writer) => writer.forget(),
                None => match &self.store {
                    Some(store) => store.forget(id),
                    None => Ok(()),
                },
            };
            drop(old.model);
            let (active, _) = self.open_player(id.clone());
            self.active = Some(active);
            result
        } else {
            match &self.store {
                Some(store) => store.forget(id),
                None => Ok(()),
            }
        };
        match result {
            Ok(()) => self
                .out
                .send(EngineEvent::PlayerForgotten { player: id.clone() }),
            Err(e) => self.out.send(EngineEvent::ProfileProblem {
                player: id.clone(),
                message: e.to_string(),
            }),
        }
    }
}

/// Exponential smoothing of detections for a steady "current emotion": each detection moves
/// the state `1 - smoothing` of the way to its probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct EmotionSmoother {
    smoothing: f32,
    probabilities: [f32; Emotion::COUNT],
    intensity: [f32; Intensity::COUNT],
    detections: u64,
}

impl EmotionSmoother {
    /// A smoother; `smoothing` is clamped to `0..=0.99` (0: the latest detection only).
    #[must_use]
    pub fn new(smoothing: f32) -> Self {
        let smoothing = if smoothing.is_finite() {
            smoothing.clamp(0.0, 0.99)
        } else {
            0.0
        };
        Self {
            smoothing,
            probabilities: [1.0 / Emotion::COUNT as f32; Emotion::COUNT],
            intensity: [0.5; Intensity::COUNT],
            detections: 0,
        }
    }

    /// Takes a detection in.
    pub fn add(&mut self, p: &Prediction) {
        // The first detection replaces the uniform start.
        let keep = if self.detections == 0 {
            0.0
        } else {
            self.smoothing
        };
        for (s, x) in self.probabilities.iter_mut().zip(p.probabilities) {
            *s = keep * *s + (1.0 - keep) * x;
        }
        for (s, x) in self.intensity.iter_mut().zip(p.intensity_probabilities) {
            *s = keep * *s + (1.0 - keep) * x;
        }
        self.detections += 1;
    }

    /// The smoothed state as a prediction (`None` before the first detection).
    #[must_use]
    pub fn current(&self) -> Option<Prediction> {
        (self.detections > 0)
            .then(|| Prediction::from_probabilities(self.probabilities, self.intensity))
    }

    /// Back to no detections.
    pub fn clear(&mut self) {
        *self = Self::new(self.smoothing);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn prediction(i: usize) -> Prediction {
        let mut p = [0.0; Emotion::COUNT];
        p[i] = 1.0;
        Prediction::from_probabilities(p, [1.0, 0.0])
    }

    #[test]
    fn smoothing_keeps_the_previous_emotion_until_outvoted() {
        let mut s = EmotionSmoother::new(0.6);
        assert!(s.current().is_none());
        s.add(&prediction(4));
        assert_eq!(s.current().unwrap().emotion, Emotion::Angry);
        s.add(&prediction(3));
        // 0.6 angry, 0.4 sad.
        assert_eq!(s.current().unwrap().emotion, Emotion::Angry);
        s.add(&prediction(3));
        assert_eq!(s.current().unwrap().emotion, Emotion::Sad);
        let mut none = EmotionSmoother::new(f32::NAN);
        none.add(&prediction(4));
        none.add(&prediction(3));
        assert_eq!(none.current().unwrap().emotion, Emotion::Sad);
    }

    #[test]
    fn a_model_that_does_not_exist_fails_naming_it() {
        let err = BaseModel::load(
            &ModelSource::Directory(PathBuf::from("/no/such/model")),
            &crate::model::default_device(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/no/such/model"), "{err}");
    }
}
