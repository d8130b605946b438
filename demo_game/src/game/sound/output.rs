//! The sound output: the default output device through cpal (the crate the plugin's microphone
//! already uses), on a thread of its own that owns the stream (a cpal stream may not move
//! between threads). The game sends [`SoundCommand`]s over a bounded channel; the audio
//! callback applies them and fills the device's buffer with [`Mixer::fill`].

use std::time::Duration;

use bevy::prelude::Resource;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::synth::{Mixer, SoundCommand};

/// Commands waiting for the callback at most; more are dropped (a cue the player would
/// hear late is better dropped).
const COMMAND_CAPACITY: usize = 64;

/// Why no sound plays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// The system has no default output device.
    #[error("no audio output device")]
    NoDevice,
    /// The device refused (its message).
    #[error("audio output device '{device}': {reason}")]
    Device {
        /// The device's name.
        device: String,
        /// What went wrong.
        reason: String,
    },
    /// The output thread did not start or answer in time.
    #[error("audio output thread: {0}")]
    Thread(String),
}

/// A playing output: send it commands; dropping it stops the sound.
#[derive(Resource, Debug)]
pub struct SoundOutput {
    commands: Sender<SoundCommand>,
    /// Dropped with the output: the thread sees the channel close and drops the stream.
    _stop: Sender<()>,
    device: String,
}

impl SoundOutput {
    /// Opens the default output device and starts playing the ambience.
    ///
    /// # Errors
    /// [`OutputError`] when there is no device, it refuses the stream, or the thread fails.
    pub fn open() -> Result<Self, OutputError> {
        let (commands, command_rx) = crossbeam_channel::bounded(COMMAND_CAPACITY);
        let (stop, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let (opened_tx, opened) = crossbeam_channel::bounded(1);
        std::thread::Builder::new()
            .name("moodlight-sound".to_owned())
            .spawn(move || match open_stream(command_rx) {
                Ok((stream, device)) => {
                    let _ = opened_tx.send(Ok(device));
                    // Until the output is dropped.
                    let _ = stop_rx.recv();
                    drop(stream);
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                }
            })
            .map_err(|e| OutputError::Thread(e.to_string()))?;
        let device = opened
            .recv_timeout(Duration::from_secs(5))
            .map_err(|e| OutputError::Thread(e.to_string()))??;
        Ok(Self {
            commands,
            _stop: stop,
            device,
        })
    }

    /// An output whose commands go to the returned receiver instead of a device: for tests,
    /// or a game that mixes the sounds into audio of its own ([`super::synth::Mixer`]).
    #[must_use]
    pub fn to_channel() -> (Self, Receiver<SoundCommand>) {
        let (commands, receiver) = crossbeam_channel::bounded(COMMAND_CAPACITY);
        let (stop, _) = crossbeam_channel::bounded(0);
        (
            Self {
                commands,
                _stop: stop,
                device: "channel".to_owned(),
            },
            receiver,
        )
    }

    /// The device's name.
    #[must_use]
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Sends a command; `false` when the callback is behind and it was dropped.
    pub fn send(&self, command: SoundCommand) -> bool {
        match self.commands.try_send(command) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

fn open_stream(commands: Receiver<SoundCommand>) -> Result<(cpal::Stream, String), OutputError> {
    let host = cpal::default_host();
    let device = host.default_output_device().ok_or(OutputError::NoDevice)?;
    let name = device.to_string();
    let refused = |reason: String| OutputError::Device {
        device: name.clone(),
        reason,
    };
    let supported = device
        .default_output_config()
        .map_err(|e| refused(e.to_string()))?;
    let config = supported.config();
    let stream = match supported.sample_format() {
        SampleFormat::F32 => build::<f32>(&device, config, commands),
        SampleFormat::I16 => build::<i16>(&device, config, commands),
        SampleFormat::U16 => build::<u16>(&device, config, commands),
        SampleFormat::I32 => build::<i32>(&device, config, commands),
        SampleFormat::F64 => build::<f64>(&device, config, commands),
        other => return Err(refused(format!("unsupported sample format {other}"))),
    }
    .map_err(|e| refused(e.to_string()))?;
    stream.play().map_err(|e| refused(e.to_string()))?;
    Ok((stream, name))
}

fn build<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    commands: Receiver<SoundCommand>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    let channels = usize::from(config.channels.max(1));
    let mut mixer = Mixer::new(config.sample_rate);
    // Scratch for one callback, grown once to the device's buffer size.
    let mut scratch: Vec<f32> = Vec::new();
    device.build_output_stream::<T, _, _>(
        config,
        move |out: &mut [T], _: &cpal::OutputCallbackInfo| {
            while let Ok(command) = commands.try_recv() {
                mixer.command(command);
            }
            scratch.resize(out.len(), 0.0);
            mixer.fill(&mut scratch, channels);
            for (o, x) in out.iter_mut().zip(&scratch) {
                *o = T::from_sample(*x);
            }
        },
        |err: cpal::Error| tracing::warn!("sound output: {err}"),
        Some(Duration::from_secs(2)),
    )
}
