//! [`ScriptedSource`]: audio files (WAV, FLAC, Ogg Vorbis, MP3) or sample buffers played as if
//! they were a microphone.

use super::*;

/// How a [`ScriptedSource`] paces its audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pace {
    /// As a microphone would: one block per block duration; silence while the script is
    /// empty.
    #[default]
    RealTime,
    /// As fast as the engine takes it, never dropping a block; idle while the script is
    /// empty.
    Fast,
}

/// One item of a script.
#[derive(Debug, Clone)]
pub enum ScriptItem {
    /// An audio file (WAV, FLAC, Ogg Vorbis or MP3; any rate, any channel count; mixed to mono
    /// and resampled to the script's rate).
    File(PathBuf),
    /// Mono samples at a rate.
    Samples {
        /// The audio.
        samples: Arc<Vec<f32>>,
        /// Its rate.
        sample_rate: u32,
    },
    /// Digital silence, in seconds.
    Silence(f64),
    /// Marks the end: the source reports [`SourceStatus::Finished`] when it gets here.
    End,
}

/// Adds items to a running [`ScriptedSource`] from any thread (a test, a demo's file
/// picker).
#[derive(Debug, Clone)]
pub struct ScriptFeed {
    pub(super) tx: Sender<ScriptItem>,
}

impl ScriptFeed {
    /// Queues an audio file (WAV, FLAC, Ogg Vorbis or MP3).
    pub fn file(&self, path: impl Into<PathBuf>) {
        let _ = self.tx.send(ScriptItem::File(path.into()));
    }

    /// Queues mono samples at `sample_rate`.
    pub fn samples(&self, samples: Vec<f32>, sample_rate: u32) {
        let _ = self.tx.send(ScriptItem::Samples {
            samples: Arc::new(samples),
            sample_rate,
        });
    }

    /// Queues `seconds` of silence.
    pub fn silence(&self, seconds: f64) {
        let _ = self.tx.send(ScriptItem::Silence(seconds));
    }

    /// Queues the end of the script.
    pub fn end(&self) {
        let _ = self.tx.send(ScriptItem::End);
    }

    /// Queues any item.
    pub fn push(&self, item: ScriptItem) {
        let _ = self.tx.send(item);
    }
}

/// Plays audio files and sample buffers into the engine as if a microphone heard them: for
/// tests, demos, and machines without a microphone.
///
/// Items play in order at [`ScriptedSource::sample_rate`] (default 16 kHz; files and buffers
/// at other rates are resampled when their turn comes). A file that cannot be read is
/// skipped with a warning and reported in the status; [`ScriptedSource::start`] checks the
/// files queued before it, so a wrong path fails there, naming the file.
#[derive(Debug)]
pub struct ScriptedSource {
    pub(super) name: String,
    pub(super) pace: Pace,
    pub(super) sample_rate: u32,
    pub(super) block: usize,
    pub(super) feed: ScriptFeed,
    pub(super) rx: Option<Receiver<ScriptItem>>,
    pub(super) queued_files: Vec<PathBuf>,
    pub(super) thread: SourceThread,
}

impl Default for ScriptedSource {
    fn default() -> Self {
        Self::new(Pace::RealTime)
    }
}

impl ScriptedSource {
    /// An empty script played at `pace`.
    #[must_use]
    pub fn new(pace: Pace) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Self {
            name: "script".to_owned(),
            pace,
            sample_rate: SAMPLE_RATE,
            block: 160,
            feed: ScriptFeed { tx },
            rx: Some(rx),
            queued_files: Vec::new(),
            thread: SourceThread::default(),
        }
    }

    /// The stream's sample rate (default 16 kHz).
    ///
    /// # Errors
    /// [`CaptureError::SampleRate`] outside `8 kHz..=192 kHz`.
    pub fn with_sample_rate(mut self, rate: u32) -> Result<Self, CaptureError> {
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
            return Err(CaptureError::SampleRate { rate });
        }
        self.sample_rate = rate;
        self.block = (rate / 100).max(1) as usize;
        Ok(self)
    }

    /// A name for the status line (default `script`).
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Queues an audio file (WAV, FLAC, Ogg Vorbis or MP3).
    #[must_use]
    pub fn file(self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut s = self;
        s.queued_files.push(path.clone());
        s.feed.file(path);
        s
    }

    /// Queues audio files one after the other, each followed by `gap_s` seconds of silence
    /// (so that speech detection hears each end), then the end of the script: recorded clips
    /// standing in for a microphone.
    #[must_use]
    pub fn files<P: Into<PathBuf>>(self, paths: impl IntoIterator<Item = P>, gap_s: f64) -> Self {
        paths
            .into_iter()
            .fold(self, |s, p| s.file(p).silence(gap_s))
            .end()
    }

    /// Queues mono samples.
    #[must_use]
    pub fn samples(self, samples: Vec<f32>, sample_rate: u32) -> Self {
        self.feed.samples(samples, sample_rate);
        self
    }

    /// Queues silence.
    #[must_use]
    pub fn silence(self, seconds: f64) -> Self {
        self.feed.silence(seconds);
        self
    }

    /// Queues the end of the script.
    #[must_use]
    pub fn end(self) -> Self {
        self.feed.end();
        self
    }

    /// A handle that queues more items, before or after [`ScriptedSource::start`].
    #[must_use]
    pub fn feed(&self) -> ScriptFeed {
        self.feed.clone()
    }

    /// The stream's sample rate.
    #[must_use]
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
}

impl AudioSource for ScriptedSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn start(&mut self, sink: AudioSink) -> Result<(), CaptureError> {
        let Some(rx) = self.rx.take() else {
            return Err(CaptureError::AlreadyStarted {
                name: self.name.clone(),
            });
        };
        for path in &self.queued_files {
            if let Err(source) = std::fs::metadata(path) {
                self.rx = Some(rx);
                return Err(CaptureError::Clip {
                    path: path.clone(),
                    source: AudioError::Io {
                        path: path.clone(),
                        source,
                    },
                });
            }
        }
        sink.set_sample_rate(self.sample_rate)?;
        let player = Player {
            name: self.name.clone(),
            pace: self.pace,
            rate: self.sample_rate,
            block: self.block,
            sink,
        };
        self.thread
            .spawn(&self.name, "voice-emotion-script", move |stop| {
                player.run(&rx, &stop);
            })
    }

    fn stop(&mut self) {
        self.thread.stop();
    }
}

pub(super) struct Player {
    pub(super) name: String,
    pub(super) pace: Pace,
    pub(super) rate: u32,
    pub(super) block: usize,
    pub(super) sink: AudioSink,
}

impl Player {
    pub(super) fn run(self, rx: &Receiver<ScriptItem>, stop: &AtomicBool) {
        self.sink.set_status(SourceStatus::Active {
            device: self.name.clone(),
            sample_rate: self.rate,
        });
        let block_time = Duration::from_secs_f64(self.block as f64 / f64::from(self.rate));
        let mut next = Instant::now();
        let silence = vec![0f32; self.block];
        while !stop.load(Ordering::Relaxed) {
            let item = match self.pace {
                Pace::Fast => match rx.recv_timeout(Duration::from_millis(20)) {
                    Ok(item) => item,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                },
                Pace::RealTime => match rx.try_recv() {
                    Ok(item) => item,
                    Err(TryRecvError::Empty) => {
                        // Nothing queued: a microphone in a quiet room.
                        self.pace_block(&mut next, block_time);
                        self.sink.push(&silence);
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => break,
                },
            };
            let audio = match item {
                ScriptItem::End => {
                    self.sink.set_status(SourceStatus::Finished);
                    // Keep draining items queued later (they restart the stream).
                    continue;
                }
                ScriptItem::Silence(seconds) => {
                    let n = (seconds.max(0.0) * f64::from(self.rate)).round() as usize;
                    vec![0f32; n]
                }
                ScriptItem::Samples {
                    samples,
                    sample_rate,
                } => match resample(&samples, sample_rate, self.rate) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("{}: skipping a buffer: {e}", self.name);
                        continue;
                    }
                },
                ScriptItem::File(path) => {
                    match read_audio(&path).and_then(|(a, _)| a.into_rate(self.rate)) {
                        Ok(a) => a.samples,
                        Err(e) => {
                            tracing::warn!("{}: skipping {}: {e}", self.name, path.display());
                            continue;
                        }
                    }
                }
            };
            if self.sink.shared.finished.load(Ordering::SeqCst) {
                // Items after an end start the stream again.
                self.sink.set_status(SourceStatus::Active {
                    device: self.name.clone(),
                    sample_rate: self.rate,
                });
            }
            for block in audio.chunks(self.block) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match self.pace {
                    Pace::Fast => {
                        self.sink.push_waiting(block, stop);
                    }
                    Pace::RealTime => {
                        self.pace_block(&mut next, block_time);
                        self.sink.push(block);
                    }
                }
            }
        }
        self.sink.set_status(SourceStatus::Stopped);
    }

    pub(super) fn pace_block(&self, next: &mut Instant, block_time: Duration) {
        let now = Instant::now();
        if *next > now {
            std::thread::sleep(*next - now);
        } else if now - *next > Duration::from_millis(200) {
            // Far behind (the machine stalled): do not burst to catch up.
            *next = now;
        }
        *next += block_time;
    }
}
