//! The buffer between an audio source and the engine: [`audio_buffer`] makes an
//! [`AudioSink`] for the source and an [`AudioTap`] for the engine.

use super::*;

pub(super) struct Shared {
    pub(super) producer: Mutex<rtrb::Producer<f32>>,
    pub(super) capacity: usize,
    pub(super) sample_rate: AtomicU32,
    /// Bumped when the stream's format changes: samples before it are of the old rate.
    pub(super) generation: AtomicU64,
    /// How many samples had been pushed when the format last changed: those are of the old
    /// rate, the ones after it of the new.
    pub(super) format_changed_at: AtomicU64,
    pub(super) pushed: AtomicU64,
    pub(super) dropped_blocks: AtomicU64,
    pub(super) dropped_samples: AtomicU64,
    pub(super) high_water: AtomicU64,
    pub(super) peak: AtomicU32,
    pub(super) rms: AtomicU32,
    pub(super) status: Mutex<SourceStatus>,
    pub(super) status_version: AtomicU64,
    /// Set by a source that wants the engine to flush (end of a script).
    pub(super) finished: AtomicBool,
}

/// The writing end of an audio buffer, given to an [`AudioSource`]. Cheap to clone; every
/// clone writes into the same buffer (one writer at a time: a second concurrent writer's
/// blocks are dropped and counted, never waited for).
#[derive(Clone)]
pub struct AudioSink {
    pub(super) shared: Arc<Shared>,
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
    pub(super) consumer: rtrb::Consumer<f32>,
    pub(super) shared: Arc<Shared>,
    pub(super) generation: u64,
    pub(super) status_version: u64,
    /// Samples taken out of the buffer so far (read or discarded).
    pub(super) consumed: u64,
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
    pub(super) shared: Arc<Shared>,
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
        format_changed_at: AtomicU64::new(0),
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
            consumed: 0,
        },
    )
}

pub(super) fn stats_of(s: &Shared) -> BufferStats {
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

pub(super) fn status_of(s: &Shared) -> SourceStatus {
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

    pub(super) fn push_frames(&self, frames: usize, samples: impl Iterator<Item = f32>) -> bool {
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

    pub(super) fn count_drop(&self, frames: usize) {
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
        let s = &*self.shared;
        if s.sample_rate.load(Ordering::SeqCst) != rate {
            // The boundary first, then the generation: a reader that sees the new generation
            // sees this boundary or a later one.
            s.format_changed_at
                .store(s.pushed.load(Ordering::SeqCst), Ordering::SeqCst);
            s.sample_rate.store(rate, Ordering::SeqCst);
            s.generation.fetch_add(1, Ordering::SeqCst);
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
            // Samples pushed before the change are of the old rate: discard those, and only
            // those. A source that starts (and announces its rate) before the engine reads
            // keeps what it pushed at the new rate, however long the engine took to start.
            let old = self
                .shared
                .format_changed_at
                .load(Ordering::SeqCst)
                .saturating_sub(self.consumed);
            let n = self
                .consumer
                .slots()
                .min(usize::try_from(old).unwrap_or(usize::MAX));
            if let Ok(chunk) = self.consumer.read_chunk(n) {
                chunk.commit_all();
                self.consumed += n as u64;
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
            self.consumed += samples as u64;
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
