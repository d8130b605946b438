//! The cpal microphone: an [`AudioSource`] that survives a missing or unplugged device.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use cpal::SampleFormat;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SizedSample};
use voice_emotion::audio::capture::{
    AudioSink, AudioSource, CaptureError, SourceStatus, SourceThread,
};

/// A stream format to ask the device for instead of its default one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFormat {
    /// Channels.
    pub channels: u16,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Sample type.
    pub sample_format: SampleFormat,
}

/// Captures from a cpal input device (the default one, or one chosen by name) on its own
/// thread.
///
/// - No device: a `warn!`, [`SourceStatus::NoDevice`], and a new look every
///   [`CpalMicrophone::retry_every`] (default 1 s) until one appears.
/// - A device that fails or stops delivering for 3 s (unplugged):
///   [`SourceStatus::Disconnected`], then the same retrying.
/// - The driver's callback converts each block to mono `f32` straight into the engine's
///   buffer ([`AudioSink::push_interleaved`]: no lock wait, no allocation); a block that does
///   not fit is dropped and counted.
#[derive(Debug)]
pub struct CpalMicrophone {
    device: Option<String>,
    format: Option<StreamFormat>,
    retry: Duration,
    thread: SourceThread,
}

impl Default for CpalMicrophone {
    fn default() -> Self {
        Self::new(None)
    }
}

/// No audio for this long from an open stream counts as a disconnection.
const STALL: Duration = Duration::from_secs(3);

impl CpalMicrophone {
    /// The input device named `device` (as [`CpalMicrophone::devices`] lists them), or the
    /// system's default input when `None`.
    #[must_use]
    pub fn new(device: Option<String>) -> Self {
        Self {
            device,
            format: None,
            retry: Duration::from_secs(1),
            thread: SourceThread::default(),
        }
    }

    /// Opens the stream with this format rather than the device's default.
    #[must_use]
    pub fn with_format(mut self, format: StreamFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// How often to look for a missing device again (default 1 s).
    #[must_use]
    pub fn retry_every(mut self, every: Duration) -> Self {
        self.retry = every;
        self
    }

    /// Names of the input devices of the default host (for a settings screen).
    #[must_use]
    pub fn devices() -> Vec<String> {
        cpal::default_host()
            .input_devices()
            .map(|devices| devices.map(|d| d.to_string()).collect())
            .unwrap_or_default()
    }

    fn wanted(&self) -> String {
        self.device.clone().unwrap_or_else(|| "default".to_owned())
    }
}

impl AudioSource for CpalMicrophone {
    fn name(&self) -> String {
        format!("microphone {}", self.wanted())
    }

    fn start(&mut self, sink: AudioSink) -> Result<(), CaptureError> {
        let runner = Runner {
            device: self.device.clone(),
            format: self.format,
            retry: self.retry,
            sink,
        };
        self.thread
            .spawn(&self.name(), "voice-emotion-mic", move |stop| {
                runner.run(&stop)
            })
    }

    fn stop(&mut self) {
        self.thread.stop();
    }
}

enum OpenError {
    NoDevice,
    Device(String),
}

/// What the driver's error callback reports to the capture thread.
#[derive(Default)]
struct StreamHealth {
    failed: AtomicBool,
    xruns: AtomicU64,
    reason: Mutex<Option<String>>,
}

struct Runner {
    device: Option<String>,
    format: Option<StreamFormat>,
    retry: Duration,
    sink: AudioSink,
}

impl Runner {
    fn wanted(&self) -> String {
        self.device.clone().unwrap_or_else(|| "default".to_owned())
    }

    fn run(self, stop: &AtomicBool) {
        let mut warned = false;
        while !stop.load(Ordering::SeqCst) {
            let health = Arc::new(StreamHealth::default());
            match self.open(&health) {
                Ok((stream, name, rate)) => {
                    warned = false;
                    tracing::info!("voice input: {name} at {rate} Hz");
                    self.sink.set_status(SourceStatus::Active {
                        device: name.clone(),
                        sample_rate: rate,
                    });
                    let reason = self.watch(&health, stop);
                    drop(stream);
                    if let Some(reason) = reason {
                        tracing::warn!("voice input {name}: {reason}; retrying");
                        self.sink.set_status(SourceStatus::Disconnected {
                            device: name,
                            reason,
                        });
                    }
                }
                Err(OpenError::NoDevice) => {
                    if !warned {
                        tracing::warn!(
                            "no microphone ({}) found: voice emotion is off until one appears",
                            self.wanted()
                        );
                        warned = true;
                    }
                    self.sink.set_status(SourceStatus::NoDevice {
                        wanted: self.wanted(),
                    });
                }
                Err(OpenError::Device(reason)) => {
                    if !warned {
                        tracing::warn!("microphone {}: {reason}; retrying", self.wanted());
                        warned = true;
                    }
                    self.sink.set_status(SourceStatus::Disconnected {
                        device: self.wanted(),
                        reason,
                    });
                }
            }
            let until = Instant::now() + self.retry;
            while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.sink.set_status(SourceStatus::Stopped);
    }

    /// Waits while the stream delivers; returns why it stopped (`None`: asked to stop).
    fn watch(&self, health: &StreamHealth, stop: &AtomicBool) -> Option<String> {
        let monitor = self.sink.monitor();
        let mut last = monitor.stats().pushed_samples + monitor.stats().dropped_samples;
        let mut last_change = Instant::now();
        loop {
            if stop.load(Ordering::SeqCst) {
                return None;
            }
            if health.failed.load(Ordering::SeqCst) {
                let reason = health
                    .reason
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                return Some(reason.unwrap_or_else(|| "stream error".to_owned()));
            }
            let stats = monitor.stats();
            let now = stats.pushed_samples + stats.dropped_samples;
            if now != last {
                last = now;
                last_change = Instant::now();
            } else if last_change.elapsed() > STALL {
                return Some(format!("no audio for {} s", STALL.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn open(&self, health: &Arc<StreamHealth>) -> Result<(cpal::Stream, String, u32), OpenError> {
        let host = cpal::default_host();
        let device = match &self.device {
            None => host.default_input_device().ok_or(OpenError::NoDevice)?,
            Some(name) => host
                .input_devices()
                .map_err(|e| OpenError::Device(e.to_string()))?
                .find(|d| d.to_string() == *name)
                .ok_or(OpenError::NoDevice)?,
        };
        let name = device.to_string();
        let (config, format) = match self.format {
            Some(f) => (
                cpal::StreamConfig {
                    channels: f.channels,
                    sample_rate: f.sample_rate,
                    buffer_size: cpal::BufferSize::Default,
                },
                f.sample_format,
            ),
            None => {
                let c = device
                    .default_input_config()
                    .map_err(|e| OpenError::Device(e.to_string()))?;
                (c.config(), c.sample_format())
            }
        };
        self.sink
            .set_sample_rate(config.sample_rate)
            .map_err(|e| OpenError::Device(e.to_string()))?;
        let stream = match format {
            SampleFormat::I8 => self.build::<i8>(&device, config, health),
            SampleFormat::I16 => self.build::<i16>(&device, config, health),
            SampleFormat::I32 => self.build::<i32>(&device, config, health),
            SampleFormat::U8 => self.build::<u8>(&device, config, health),
            SampleFormat::U16 => self.build::<u16>(&device, config, health),
            SampleFormat::U32 => self.build::<u32>(&device, config, health),
            SampleFormat::F32 => self.build::<f32>(&device, config, health),
            SampleFormat::F64 => self.build::<f64>(&device, config, health),
            other => {
                return Err(OpenError::Device(format!(
                    "unsupported sample format {other}"
                )));
            }
        }
        .map_err(|e| OpenError::Device(e.to_string()))?;
        stream
            .play()
            .map_err(|e| OpenError::Device(e.to_string()))?;
        Ok((stream, name, config.sample_rate))
    }

    fn build<T>(
        &self,
        device: &cpal::Device,
        config: cpal::StreamConfig,
        health: &Arc<StreamHealth>,
    ) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample,
        f32: FromSample<T>,
    {
        let channels = usize::from(config.channels.max(1));
        let sink = self.sink.clone();
        let health_cb = Arc::clone(health);
        device.build_input_stream::<T, _, _>(
            config,
            move |data: &[T], _: &cpal::InputCallbackInfo| {
                // Copy only: conversion and mixing happen as the samples are written.
                sink.push_interleaved(data, channels, |x| x.to_sample::<f32>());
            },
            move |err: cpal::Error| {
                if err.kind() == cpal::ErrorKind::Xrun {
                    health_cb.xruns.fetch_add(1, Ordering::Relaxed);
                } else {
                    *health_cb
                        .reason
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(err.to_string());
                    health_cb.failed.store(true, Ordering::SeqCst);
                }
            },
            Some(Duration::from_secs(2)),
        )
    }
}
