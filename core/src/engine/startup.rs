//! The engine thread's start: load the base model and anchors, open the profile store.

use super::*;

pub(super) struct Setup {
    pub(super) model: ModelSource,
    pub(super) config: EngineConfig,
    pub(super) store: Option<ProfileStore>,
    /// Why there is no store although one was asked for.
    pub(super) store_notice: Option<ProfileNotice>,
    pub(super) player: PlayerId,
    pub(super) tap: AudioTap,
    pub(super) commands: Receiver<Command>,
    pub(super) events: Sender<EngineEvent>,
    pub(super) counters: Arc<Counters>,
    pub(super) stop: Arc<AtomicBool>,
}

impl Setup {
    pub(super) fn run(self) {
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
                    error: EngineFailure::Model(Arc::new(e)),
                });
                return;
            }
        };
        let extractor = match InputExtractor::new(base.classifier.input_config().clone()) {
            Ok(x) => x,
            Err(e) => {
                out.send(EngineEvent::Failed {
                    error: EngineFailure::InputConfig(e),
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
        let segmenter = match Segmenter::with_detector_nets(
            self.config.vad.clone(),
            rate,
            self.config.speech_detector.clone(),
            self.config.boundary_detector.clone(),
        ) {
            Ok(s) => s,
            Err(e) => {
                out.send(EngineEvent::Failed {
                    error: EngineFailure::SpeechDetection { rate, error: e },
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
            known: Vec::new(),
            live: None,
        };
        let (active, notice) = worker.open_player(self.player);
        // Without a store there is no profile to open, so at most one of the two is set.
        let notice = self.store_notice.or(notice);
        worker.activate(active, notice, Activation::Start);
        worker.run(&self.commands, &self.stop);
    }
}
