//! Live audio input: the [`AudioSource`] trait, the lock-free buffer sources write into
//! ([`audio_buffer`]: an [`AudioSink`] for the source, an [`AudioTap`] for the engine), and
//! [`ScriptedSource`], which plays WAV files or sample buffers as if they were a microphone.
//!
//! A source runs on its own thread (a microphone's driver callback, a scripted player) and
//! hands mono `f32` blocks to [`AudioSink::push`]. That call never blocks and never allocates:
//! it copies into a fixed single-producer single-consumer ring buffer, and a block that does
//! not fit is dropped whole and counted. The engine's thread drains the other end.
//!
//! The sink also keeps the input level (peak and RMS of the latest block) for a level meter,
//! the sample rate of the stream, and the source's [`SourceStatus`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::audio::{AudioError, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, SAMPLE_RATE, read_wav, resample};

/// Default ring capacity: two seconds at 48 kHz.
pub const DEFAULT_BUFFER_SAMPLES: usize = 96_000;

/// Errors starting a source. Each names the device, file or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// A scripted clip could not be read.
    #[error("cannot play {path}: {source}")]
    Clip {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: AudioError,
    },
    /// A sample rate outside what the engine accepts.
    #[error("sample rate {rate} Hz is outside {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} Hz")]
    SampleRate {
        /// The rate.
        rate: u32,
    },
    /// The source was started twice.
    #[error("the audio source {name} is already running")]
    AlreadyStarted {
        /// The source's name.
        name: String,
    },
    /// No thread could be started for the source.
    #[error("cannot start a thread for {name}: {source}")]
    Thread {
        /// The source's name.
        name: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The audio device failed (the message is the driver's).
    #[error("audio device {device}: {reason}")]
    Device {
        /// The device's name, or `default`.
        device: String,
        /// The driver's message.
        reason: String,
    },
}

/// What a source is doing, as shown to the player.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SourceStatus {
    /// Not started yet.
    #[default]
    Starting,
    /// Delivering audio.
    Active {
        /// The device or script's name.
        device: String,
        /// Its sample rate.
        sample_rate: u32,
    },
    /// No input device was found; the source keeps looking.
    NoDevice {
        /// What was looked for (`default` or a device name).
        wanted: String,
    },
    /// The device stopped delivering (unplugged, driver error); the source keeps retrying.
    Disconnected {
        /// The device's name.
        device: String,
        /// The driver's message.
        reason: String,
    },
    /// A script played to its end.
    Finished,
    /// Stopped by the game.
    Stopped,
    /// The source cannot run (the message says why); it does not retry.
    Failed {
        /// Why.
        reason: String,
    },
}

impl SourceStatus {
    /// Whether audio is flowing.
    #[must_use]
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Active { .. })
    }
}

impl std::fmt::Display for SourceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Starting => write!(f, "starting"),
            Self::Active {
                device,
                sample_rate,
            } => write!(f, "listening on {device} ({sample_rate} Hz)"),
            Self::NoDevice { wanted } => write!(f, "no microphone ({wanted}) found"),
            Self::Disconnected { device, reason } => {
                write!(f, "microphone {device} disconnected: {reason}")
            }
            Self::Finished => write!(f, "script finished"),
            Self::Stopped => write!(f, "stopped"),
            Self::Failed { reason } => write!(f, "audio input failed: {reason}"),
        }
    }
}

/// Counters and levels of a buffer, read without locking.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BufferStats {
    /// Samples accepted.
    pub pushed_samples: u64,
    /// Blocks dropped because the buffer was full.
    pub dropped_blocks: u64,
    /// Samples in those blocks.
    pub dropped_samples: u64,
    /// Most samples ever waiting in the buffer.
    pub high_water: u64,
    /// The buffer's capacity in samples.
    pub capacity: u64,
    /// Peak magnitude of the latest block (`0..=1` for in-range audio).
    pub peak: f32,
    /// RMS of the latest block.
    pub rms: f32,
}

struct Shared {
    producer: Mutex<rtrb::Producer<f32>>,
    capacity: usize,
    sample_rate: AtomicU32,
    /// Bumped when the stream's format changes: samples before it are of the old rate.
    generation: AtomicU64,
    pushed: AtomicU64,
    dropped_blocks: AtomicU64,
    dropped_samples: AtomicU64,
    high_water: AtomicU64,
    peak: AtomicU32,
    rms: AtomicU32,
    status: Mutex<SourceStatus>,
    status_version: AtomicU64,
    /// Set by a source that wants the engine to flush (end of a script).
    finished: AtomicBool,
}

/// The writing end of an audio buffer, given to an [`AudioSource`]. Cheap to clone; every
/// clone writes into the same buffer (one writer at a time: a second concurrent writer's
/// blocks are dropped and counted, never waited for).
#[derive(Clone)]
pub struct AudioSink {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AudioSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioSink")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

/// The reading end of an audio buffer, owned by the engine.
pub struct AudioTap {
    consumer: rtrb::Consumer<f32>,
    shared: Arc<Shared>,
    generation: u64,
    status_version: u64,
}

impl std::fmt::Debug for AudioTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioTap")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

/// A read-only view of a buffer's levels, counters and source status, for a game's level
/// meter and diagnostics (any thread).
#[derive(Clone)]
pub struct AudioMonitor {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AudioMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioMonitor")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// A new buffer of `capacity` samples (at least 1024) and its two ends.
#[must_use]
pub fn audio_buffer(capacity: usize) -> (AudioSink, AudioTap) {
    let capacity = capacity.max(1024);
    let (producer, consumer) = rtrb::RingBuffer::new(capacity);
    let shared = Arc::new(Shared {
        producer: Mutex::new(producer),
        capacity,
        sample_rate: AtomicU32::new(SAMPLE_RATE),
        generation: AtomicU64::new(0),
        pushed: AtomicU64::new(0),
        dropped_blocks: AtomicU64::new(0),
        dropped_samples: AtomicU64::new(0),
        high_water: AtomicU64::new(0),
        peak: AtomicU32::new(0),
        rms: AtomicU32::new(0),
        status: Mutex::new(SourceStatus::Starting),
        status_version: AtomicU64::new(0),
        finished: AtomicBool::new(false),
    });
    (
        AudioSink {
            shared: Arc::clone(&shared),
        },
        AudioTap {
            consumer,
            shared,
            generation: 0,
            status_version: 0,
        },
    )
}

fn stats_of(s: &Shared) -> BufferStats {
    BufferStats {
        pushed_samples: s.pushed.load(Ordering::Relaxed),
        dropped_blocks: s.dropped_blocks.load(Ordering::Relaxed),
        dropped_samples: s.dropped_samples.load(Ordering::Relaxed),
        high_water: s.high_water.load(Ordering::Relaxed),
        capacity: s.capacity as u64,
        peak: f32::from_bits(s.peak.load(Ordering::Relaxed)),
        rms: f32::from_bits(s.rms.load(Ordering::Relaxed)),
    }
}

fn status_of(s: &Shared) -> SourceStatus {
    s.status
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

impl AudioSink {
    /// Copies a block of mono samples into the buffer; drops the whole block (and counts it)
    /// when it does not fit. Never blocks and never allocates: safe in an audio callback.
    /// Returns whether the block was accepted. Non-finite samples are stored as 0.
    pub fn push(&self, samples: &[f32]) -> bool {
        self.push_frames(samples.len(), samples.iter().copied())
    }

    /// [`AudioSink::push`] for interleaved multi-channel data of any sample type: each frame
    /// is converted with `to_f32` and mixed down to mono (the mean of its channels).
    pub fn push_interleaved<T: Copy>(
        &self,
        data: &[T],
        channels: usize,
        to_f32: impl Fn(T) -> f32,
    ) -> bool {
        let channels = channels.max(1);
        let frames = data.len() / channels;
        let scale = 1.0 / channels as f32;
        self.push_frames(
            frames,
            data.chunks_exact(channels)
                .map(|frame| frame.iter().map(|&x| to_f32(x)).sum::<f32>() * scale),
        )
    }

    fn push_frames(&self, frames: usize, samples: impl Iterator<Item = f32>) -> bool {
        if frames == 0 {
            return true;
        }
        let s = &*self.shared;
        let Ok(mut producer) = s.producer.try_lock() else {
            self.count_drop(frames);
            return false;
        };
        let Ok(chunk) = producer.write_chunk_uninit(frames) else {
            drop(producer);
            self.count_drop(frames);
            return false;
        };
        let (mut peak, mut sum) = (0f32, 0f64);
        let written = chunk.fill_from_iter(samples.map(|x| {
            let x = if x.is_finite() { x } else { 0.0 };
            peak = peak.max(x.abs());
            sum += f64::from(x) * f64::from(x);
            x
        }));
        let waiting = (s.capacity - producer.slots()) as u64;
        drop(producer);
        s.pushed.fetch_add(written as u64, Ordering::Relaxed);
        s.high_water.fetch_max(waiting, Ordering::Relaxed);
        s.peak.store(peak.to_bits(), Ordering::Relaxed);
        let rms = (sum / written.max(1) as f64).sqrt() as f32;
        s.rms.store(rms.to_bits(), Ordering::Relaxed);
        true
    }

    fn count_drop(&self, frames: usize) {
        self.shared.dropped_blocks.fetch_add(1, Ordering::Relaxed);
        self.shared
            .dropped_samples
            .fetch_add(frames as u64, Ordering::Relaxed);
    }

    /// Pushes a block, waiting while the buffer is full (for sources that must not lose
    /// audio, such as a script played as fast as possible). Returns `false` without pushing
    /// when `stop` becomes true first. Not for audio callbacks.
    pub fn push_waiting(&self, samples: &[f32], stop: &AtomicBool) -> bool {
        let need = samples.len().min(self.shared.capacity);
        for part in samples.chunks(need.max(1)) {
            loop {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                let room = self
                    .shared
                    .producer
                    .try_lock()
                    .map(|p| p.slots())
                    .unwrap_or(0);
                if room >= part.len() && self.push(part) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        true
    }

    /// Announces the stream's sample rate. A change tells the engine that samples already in
    /// the buffer are of the old rate.
    ///
    /// # Errors
    /// [`CaptureError::SampleRate`] outside `8 kHz..=192 kHz`.
    pub fn set_sample_rate(&self, rate: u32) -> Result<(), CaptureError> {
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
            return Err(CaptureError::SampleRate { rate });
        }
        if self.shared.sample_rate.swap(rate, Ordering::SeqCst) != rate {
            self.shared.generation.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Sets the source's status (not from an audio callback: it takes a lock). Also clears
    /// the level meter unless the source is active.
    pub fn set_status(&self, status: SourceStatus) {
        let s = &*self.shared;
        if !status.is_active() {
            s.peak.store(0, Ordering::Relaxed);
            s.rms.store(0, Ordering::Relaxed);
        }
        s.finished
            .store(status == SourceStatus::Finished, Ordering::SeqCst);
        let mut current = s.status.lock().unwrap_or_else(PoisonError::into_inner);
        if *current != status {
            *current = status;
            s.status_version.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A monitor of this buffer.
    #[must_use]
    pub fn monitor(&self) -> AudioMonitor {
        AudioMonitor {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl AudioMonitor {
    /// Counters and levels.
    #[must_use]
    pub fn stats(&self) -> BufferStats {
        stats_of(&self.shared)
    }

    /// The source's status.
    #[must_use]
    pub fn status(&self) -> SourceStatus {
        status_of(&self.shared)
    }

    /// The stream's sample rate.
    #[must_use]
    pub fn sample_rate(&self) -> u32 {
        self.shared.sample_rate.load(Ordering::SeqCst)
    }
}

/// What [`AudioTap::read`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadInfo {
    /// Samples appended.
    pub samples: usize,
    /// The stream's sample rate.
    pub sample_rate: u32,
    /// The format changed since the last read: samples from before the change were
    /// discarded, and the reader should restart its processing at the new rate.
    pub format_changed: bool,
}

impl AudioTap {
    /// Appends up to `max` waiting samples to `out` (no allocation beyond `out`'s growth).
    pub fn read(&mut self, out: &mut Vec<f32>, max: usize) -> ReadInfo {
        let generation = self.shared.generation.load(Ordering::SeqCst);
        let format_changed = generation != self.generation;
        if format_changed {
            self.generation = generation;
            // What is waiting may be of the old rate; a few milliseconds at most.
            let n = self.consumer.slots();
            if let Ok(chunk) = self.consumer.read_chunk(n) {
                chunk.commit_all();
            }
        }
        let n = self.consumer.slots().min(max);
        let mut samples = 0;
        if let Ok(chunk) = self.consumer.read_chunk(n) {
            let (a, b) = chunk.as_slices();
            out.extend_from_slice(a);
            out.extend_from_slice(b);
            samples = a.len() + b.len();
            chunk.commit_all();
        }
        ReadInfo {
            samples,
            sample_rate: self.shared.sample_rate.load(Ordering::SeqCst),
            format_changed,
        }
    }

    /// Samples waiting.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.consumer.slots()
    }

    /// The source's status when it changed since the last call.
    pub fn status_change(&mut self) -> Option<SourceStatus> {
        let version = self.shared.status_version.load(Ordering::SeqCst);
        (version != self.status_version).then(|| {
            self.status_version = version;
            status_of(&self.shared)
        })
    }

    /// Whether the source said it has finished (a script at its end).
    #[must_use]
    pub fn source_finished(&self) -> bool {
        self.shared.finished.load(Ordering::SeqCst)
    }

    /// A monitor of this buffer.
    #[must_use]
    pub fn monitor(&self) -> AudioMonitor {
        AudioMonitor {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Something that delivers audio into an [`AudioSink`]: a microphone, a script of clips.
///
/// `start` returns at once; the source runs on its own thread (or the audio driver's) until
/// `stop` or drop. A source that cannot find its device reports it through
/// [`AudioSink::set_status`] and keeps trying, rather than failing: the game runs on without
/// voice input.
pub trait AudioSource: Send + 'static {
    /// A name for logs and the status line.
    fn name(&self) -> String;

    /// Starts delivering into `sink`.
    ///
    /// # Errors
    /// A [`CaptureError`] when the source cannot run at all (a missing clip file).
    fn start(&mut self, sink: AudioSink) -> Result<(), CaptureError>;

    /// Stops delivering (idempotent).
    fn stop(&mut self);
}

/// The thread an [`AudioSource`] runs on and its stop flag: [`SourceThread::spawn`] starts
/// it, [`SourceThread::stop`] (or dropping it) asks it to stop and waits for it. For writing
/// sources: the scripted source and the microphone both use it.
#[derive(Debug, Default)]
pub struct SourceThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl SourceThread {
    /// Whether a thread was started and not stopped.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.handle.is_some()
    }

    /// Starts `run` on a thread named `thread_name`; `run` gets the stop flag to poll.
    ///
    /// # Errors
    /// [`CaptureError::AlreadyStarted`] when running, [`CaptureError::Thread`] when no
    /// thread can be started (both name `source`).
    pub fn spawn(
        &mut self,
        source: &str,
        thread_name: &str,
        run: impl FnOnce(Arc<AtomicBool>) + Send + 'static,
    ) -> Result<(), CaptureError> {
        if self.handle.is_some() {
            return Err(CaptureError::AlreadyStarted {
                name: source.to_owned(),
            });
        }
        self.stop = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&self.stop);
        let handle = std::thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn(move || run(stop))
            .map_err(|e| CaptureError::Thread {
                name: source.to_owned(),
                source: e,
            })?;
        self.handle = Some(handle);
        Ok(())
    }

    /// Asks the thread to stop and waits for it (idempotent).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for SourceThread {
    fn drop(&mut self) {
        self.stop();
    }
}

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
    /// A WAV file (any rate, any channel count; mixed to mono and resampled to the script's
    /// rate).
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
    tx: Sender<ScriptItem>,
}

impl ScriptFeed {
    /// Queues a WAV file.
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

/// Plays WAV files and sample buffers into the engine as if a microphone heard them: for
/// tests, demos, and machines without a microphone.
///
/// Items play in order at [`ScriptedSource::sample_rate`] (default 16 kHz; files and buffers
/// at other rates are resampled when their turn comes). A file that cannot be read is
/// skipped with a warning and reported in the status; [`ScriptedSource::start`] checks the
/// files queued before it, so a wrong path fails there, naming the file.
#[derive(Debug)]
pub struct ScriptedSource {
    name: String,
    pace: Pace,
    sample_rate: u32,
    block: usize,
    feed: ScriptFeed,
    rx: Option<Receiver<ScriptItem>>,
    queued_files: Vec<PathBuf>,
    thread: SourceThread,
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

    /// Queues a WAV file.
    #[must_use]
    pub fn file(self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut s = self;
        s.queued_files.push(path.clone());
        s.feed.file(path);
        s
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

struct Player {
    name: String,
    pace: Pace,
    rate: u32,
    block: usize,
    sink: AudioSink,
}

impl Player {
    fn run(self, rx: &Receiver<ScriptItem>, stop: &AtomicBool) {
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
                    match read_wav(&path).and_then(|(a, _)| a.into_rate(self.rate)) {
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

    fn pace_block(&self, next: &mut Instant, block_time: Duration) {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_block_that_does_not_fit_is_dropped_whole_and_counted() {
        let (sink, mut tap) = audio_buffer(1024);
        assert!(sink.push(&[0.5; 1000]));
        assert!(!sink.push(&[0.5; 100]), "only 24 slots left");
        let stats = sink.monitor().stats();
        assert_eq!(stats.pushed_samples, 1000);
        assert_eq!(stats.dropped_blocks, 1);
        assert_eq!(stats.dropped_samples, 100);
        assert_eq!(stats.high_water, 1000);
        assert!((stats.peak - 0.5).abs() < 1e-6 && (stats.rms - 0.5).abs() < 1e-6);
        let mut out = Vec::new();
        let info = tap.read(&mut out, usize::MAX);
        assert_eq!(info.samples, 1000);
        assert!(sink.push(&[0.25; 100]), "room again after the read");
    }

    #[test]
    fn interleaved_input_is_mixed_to_mono_and_nan_zeroed() {
        let (sink, mut tap) = audio_buffer(1024);
        let stereo: [i16; 6] = [i16::MAX, 0, 0, i16::MIN, 100, 100];
        sink.push_interleaved(&stereo, 2, |x| f32::from(x) / 32768.0);
        sink.push(&[f32::NAN, f32::INFINITY]);
        let mut out = Vec::new();
        tap.read(&mut out, usize::MAX);
        assert_eq!(out.len(), 5);
        assert!((out[0] - 0.5).abs() < 1e-3 && (out[1] + 0.5).abs() < 1e-6);
        assert_eq!(&out[3..], &[0.0, 0.0]);
    }

    #[test]
    fn a_rate_change_discards_old_samples_and_is_reported_once() {
        let (sink, mut tap) = audio_buffer(4096);
        sink.push(&[0.1; 480]);
        sink.set_sample_rate(48_000).unwrap();
        let mut out = Vec::new();
        let info = tap.read(&mut out, usize::MAX);
        assert!(info.format_changed && info.samples == 0 && info.sample_rate == 48_000);
        sink.push(&[0.1; 480]);
        let info = tap.read(&mut out, usize::MAX);
        assert!(!info.format_changed && info.samples == 480);
        assert!(matches!(
            sink.set_sample_rate(7_999),
            Err(CaptureError::SampleRate { rate: 7_999 })
        ));
    }

    #[test]
    fn status_changes_are_seen_once() {
        let (sink, mut tap) = audio_buffer(1024);
        assert_eq!(tap.status_change(), None);
        sink.set_status(SourceStatus::NoDevice {
            wanted: "default".into(),
        });
        assert!(matches!(
            tap.status_change(),
            Some(SourceStatus::NoDevice { .. })
        ));
        assert_eq!(tap.status_change(), None);
        sink.set_status(SourceStatus::NoDevice {
            wanted: "default".into(),
        });
        assert_eq!(tap.status_change(), None, "the same status is no change");
    }

    #[test]
    fn a_fast_script_delivers_everything_in_order_then_finishes() {
        let (sink, mut tap) = audio_buffer(1024);
        let ramp: Vec<f32> = (0..10_000).map(|i| i as f32 / 10_000.0).collect();
        let mut source = ScriptedSource::new(Pace::Fast)
            .samples(ramp.clone(), SAMPLE_RATE)
            .silence(0.1)
            .end();
        source.start(sink).unwrap();
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(tap.source_finished() && tap.waiting() == 0) {
            assert!(Instant::now() < deadline, "script did not finish");
            tap.read(&mut out, 512);
        }
        assert_eq!(out.len(), 10_000 + 1600);
        assert_eq!(&out[..10_000], &ramp[..]);
        assert_eq!(tap.monitor().stats().dropped_blocks, 0);
        source.stop();
        assert_eq!(tap.monitor().status(), SourceStatus::Stopped);
    }

    #[test]
    fn a_missing_file_fails_at_start_naming_it() {
        let (sink, _tap) = audio_buffer(1024);
        let mut source = ScriptedSource::new(Pace::Fast).file("/no/such/clip.wav");
        let err = source.start(sink).unwrap_err();
        assert!(err.to_string().contains("/no/such/clip.wav"), "{err}");
    }
}
