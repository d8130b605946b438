//! Live audio input: the [`AudioSource`] trait, the bounded buffer sources write into
//! ([`audio_buffer`]: an [`AudioSink`] for the source, an [`AudioTap`] for the engine), and
//! [`ScriptedSource`], which plays WAV files or sample buffers as if they were a microphone.
//!
//! May import [`crate::audio`] only.
//!
//! A source runs on its own thread (a microphone's driver callback, a scripted player) and
//! hands mono `f32` blocks to [`AudioSink::push`]. That call never blocks and never allocates:
//! it copies into a fixed single-producer single-consumer ring buffer (rtrb) whose producer sits
//! behind a `Mutex` taken with `try_lock` (so sources on several threads can share a sink), and
//! a block that does not fit, or meets the lock taken, is dropped whole and counted. The engine's thread drains the other end.
//!
//! The sink also keeps the input level (peak and RMS of the latest block) for a level meter,
//! the sample rate of the stream, and the source's [`SourceStatus`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::audio::{
    AudioError, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, SAMPLE_RATE, read_audio, resample,
};

mod ring;
mod scripted;
pub use ring::*;
pub use scripted::*;

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

#[cfg(test)]
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
    fn a_source_that_starts_before_the_engine_keeps_its_samples() {
        // A microphone opened (rate announced, audio pushed) while the engine still loads
        // its model: nothing it pushed at its own rate may be lost.
        let (sink, mut tap) = audio_buffer(48_000);
        sink.push(&[0.2; 100]);
        sink.set_sample_rate(48_000).unwrap();
        sink.push(&[0.1; 30_000]);
        let mut out = Vec::new();
        let info = tap.read(&mut out, usize::MAX);
        assert!(info.format_changed && info.sample_rate == 48_000);
        assert_eq!(info.samples, 30_000);
        assert!(out.iter().all(|&x| x == 0.1));
        // A second change later: only what came before it goes.
        sink.push(&[0.3; 200]);
        sink.set_sample_rate(44_100).unwrap();
        sink.push(&[0.4; 300]);
        out.clear();
        let info = tap.read(&mut out, usize::MAX);
        assert!(info.format_changed && info.sample_rate == 44_100);
        assert_eq!(out, vec![0.4; 300]);
        // The same rate again is no change.
        sink.set_sample_rate(44_100).unwrap();
        sink.push(&[0.5; 10]);
        out.clear();
        let info = tap.read(&mut out, usize::MAX);
        assert!(!info.format_changed && info.samples == 10);
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

    /// Everything a script delivers until it finishes (20 s at most).
    fn read_to_the_end(tap: &mut AudioTap) -> Vec<f32> {
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(tap.source_finished() && tap.waiting() == 0) {
            assert!(Instant::now() < deadline, "script did not finish");
            tap.read(&mut out, 512);
        }
        out
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
        let out = read_to_the_end(&mut tap);
        assert_eq!(out.len(), 10_000 + 1600);
        assert_eq!(&out[..10_000], &ramp[..]);
        assert_eq!(tap.monitor().stats().dropped_blocks, 0);
        source.stop();
        assert_eq!(tap.monitor().status(), SourceStatus::Stopped);
    }

    #[test]
    fn a_script_of_files_plays_each_with_its_gap_then_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut paths = Vec::new();
        for (name, n) in [("a.wav", 3_000), ("b.wav", 5_000)] {
            let path = dir.path().join(name);
            let mut w = hound::WavWriter::create(&path, spec).unwrap();
            for _ in 0..n {
                w.write_sample(8_000i16).unwrap();
            }
            w.finalize().unwrap();
            paths.push(path);
        }
        let (sink, mut tap) = audio_buffer(1 << 16);
        let mut source = ScriptedSource::new(Pace::Fast).files(&paths, 0.1);
        source.start(sink).unwrap();
        let out = read_to_the_end(&mut tap);
        // Each file (at 16 kHz) and 0.1 s of silence after it.
        assert_eq!(out.len(), 3_000 + 1_600 + 5_000 + 1_600);
        assert!(out[..3_000].iter().all(|&x| x > 0.2));
        assert!(out[3_000..4_600].iter().all(|&x| x == 0.0));
        source.stop();
    }

    #[test]
    fn a_missing_file_fails_at_start_naming_it() {
        let (sink, _tap) = audio_buffer(1024);
        let mut source = ScriptedSource::new(Pace::Fast).file("/no/such/clip.wav");
        let err = source.start(sink).unwrap_err();
        assert!(err.to_string().contains("/no/such/clip.wav"), "{err}");
    }
}
