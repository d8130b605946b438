//! The voice engine: everything between an [`AudioTap`] and a game, on its own thread.
//!
//! ```text
//! source thread ──AudioSink──► ring ──AudioTap──► engine thread ──events──► game
//!  (mic / script)   (no lock,                      segment; while the   ◄──commands──
//!                    no alloc)                     player speaks:
//!                                                  resample, MFCC,
//!                                                  network; save
//!                                                      │
//!                                                      └─► adaptation thread (PlayerModel)
//! ```
//!
//! [`Engine::start`] spawns the engine thread, which loads the base model, opens the player's
//! profile and then loops: it drains the audio buffer through the [`Segmenter`], and for each
//! utterance resamples it to 16 kHz, computes its MFCC frames and classifies them with the
//! player's model ([`PlayerModel`]), reporting [`EngineEvent`]s. With
//! [`EngineConfig::streaming`] (the default) all of that happens while the player speaks
//! ([`UtteranceStream`]), so little is left when speech ends, and the result is the whole
//! utterance's value for value. Confirmations
//! ([`Command::Confirm`]) become training samples; the player's voice head is refitted on its
//! own thread and swaps in between two utterances. Profiles are saved after every
//! update, on player switch and on shutdown.
//!
//! Nothing here blocks the game: commands and events are channels, and the game reads events
//! whenever it likes ([`Engine::drain_events`]).
//!
//! Files: `protocol.rs` (settings, commands, events), `problems.rs` (what can go wrong, as
//! values: [`EngineFailure`], [`DetectionFailure`], [`ConfirmRejection`], [`ProfileNotice`]), `base.rs` (the base model's source and
//! loading), `startup.rs` (the thread's start: model, anchors, profile store), `pump.rs` (the
//! thread's loop), `players.rs` (opening, switching, saving and forgetting players),
//! `smoother.rs` ([`EmotionSmoother`], for games). May import every runtime module; never
//! `training`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::prelude::Device;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::audio::capture::{AudioMonitor, AudioTap, SourceStatus};
use crate::audio::{
    Declipper, HumCanceller, SAMPLE_RATE, StreamResampler, clipped_samples, declip, dehum_in_room,
    resample,
};
use crate::features::FeatureMatrix;
use crate::labels::{Emotion, Intensity};
use crate::model::InputExtractor;
use crate::model::{EmotionClassifier, ModelError, ModelFiles, Prediction};
use crate::player::adapt::{
    AdaptConfig, AdaptError, Adapter, AnchorSet, HeldOutScore, PlayerModel, PlayerState,
    StreamError, UtteranceStream,
};
use crate::player::profile::{
    BaseModelRef, Loaded, PlayerId, ProfileError, ProfileStore, ProfileWriter, UpdateRecord,
};
use crate::speech::{DetectorNet, SegmentEvent, Segmenter, VadConfig, VadError};

mod base;
mod heard;
mod players;
mod problems;
mod protocol;
mod pump;
mod smoother;
mod startup;
pub use base::*;
use heard::room_at_model_rate;
pub use heard::*;
use players::Activation;
pub use problems::*;
pub use protocol::*;
use pump::*;
pub use smoother::*;
use startup::*;

/// A running engine. Dropping it stops the thread and saves the active player.
pub struct Engine {
    commands: Sender<Command>,
    events: Receiver<EngineEvent>,
    counters: Arc<Counters>,
    monitor: AudioMonitor,
    folder: Option<PathBuf>,
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
        let opened = profiles.open();
        // No usable profile directory (no home, read-only, a file in the way): voice still
        // works, profiles live in memory only, and the first event says so.
        let (store, store_notice) = match opened {
            Ok(store) => (store, None),
            Err(e) => {
                let notice = ProfileNotice::StoreUnavailable(Arc::new(e));
                tracing::warn!("{notice}");
                (None, Some(notice))
            }
        };
        let (commands, command_rx) = crossbeam_channel::unbounded();
        let (event_tx, events) = crossbeam_channel::bounded(config.event_capacity.max(16));
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let monitor = tap.monitor();
        let folder = store.as_ref().map(|s| s.root().to_path_buf());
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
            folder,
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

    /// The folder the profiles are kept in (`None`: memory only, asked for or because the
    /// folder could not be used).
    #[must_use]
    pub fn profile_folder(&self) -> Option<&std::path::Path> {
        self.folder.as_deref()
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

#[cfg(test)]
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

    #[test]
    fn a_profile_location_resolves_to_its_folder() {
        assert_eq!(ProfileLocation::Memory.folder().unwrap(), None);
        assert!(ProfileLocation::Memory.open().unwrap().is_none());
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("profiles");
        let folder = ProfileLocation::Directory(sub.clone()).folder().unwrap();
        assert_eq!(folder.as_deref(), Some(sub.as_path()));
        assert!(sub.is_dir(), "the folder is created");
        let blocked = dir.path().join("a-file");
        std::fs::write(&blocked, b"x").unwrap();
        let err = ProfileLocation::Directory(blocked.join("profiles"))
            .folder()
            .unwrap_err();
        assert!(matches!(err, ProfileError::Io { .. }), "{err:?}");
    }
}
