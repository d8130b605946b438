//! The cpal path itself: capture through a real ALSA device. A test-only `HOME` holds an
//! `.asoundrc` whose default PCM is ALSA's `file` plugin reading a raw file of known audio
//! (16-bit little-endian mono at 16 kHz) in front of the `null` device; the microphone must
//! deliver exactly that audio.
//!
//! ALSA reads `~/.asoundrc` once per process, so the test re-runs itself in a child process
//! with `HOME` set (setting the environment of a running test process is unsound).
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::process::Command;
use std::time::{Duration, Instant};

use bevy_voice_emotion::voice_emotion::audio::capture::{AudioSource, SourceStatus, audio_buffer};
use bevy_voice_emotion::{CpalMicrophone, StreamFormat};

const CHILD: &str = "VOICE_EMOTION_ALSA_CHILD";
const RAW: &str = "capture.raw";

/// A chirp whose every sample differs from its neighbours.
fn chirp() -> Vec<i16> {
    (0..16_000)
        .map(|i| {
            let t = i as f64 / 16_000.0;
            (12_000.0 * (std::f64::consts::TAU * (200.0 + 800.0 * t) * t).sin()) as i16
        })
        .collect()
}

#[test]
fn the_default_alsa_device_delivers_the_audio_it_is_given() {
    if std::env::var_os(CHILD).is_some() {
        capture_in_child();
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let raw = home.path().join(RAW);
    let bytes: Vec<u8> = chirp().iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(&raw, bytes).unwrap();
    std::fs::write(
        home.path().join(".asoundrc"),
        format!(
            "pcm.!default {{ type file; slave.pcm \"null\"; file \"/dev/null\"; \
             infile \"{}\"; format \"raw\" }}\n",
            raw.display()
        ),
    )
    .unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_default_alsa_device_delivers_the_audio_it_is_given",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HOME", home.path())
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "capture in the child failed:\n{text}");
    assert!(text.contains("captured"), "{text}");
}

fn capture_in_child() {
    let (sink, mut tap) = audio_buffer(64_000);
    let monitor = sink.monitor();
    let mut mic = CpalMicrophone::new(None).with_format(StreamFormat {
        channels: 1,
        sample_rate: 16_000,
        sample_format: bevy_voice_emotion::SampleFormat::I16,
    });
    mic.start(sink).unwrap();
    let expected: Vec<f32> = chirp().iter().map(|&s| f32::from(s) / 32768.0).collect();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < expected.len() && Instant::now() < deadline {
        tap.read(&mut got, usize::MAX);
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = monitor.status();
    mic.stop();
    assert!(
        got.len() >= expected.len(),
        "{} samples captured; status {status:?}",
        got.len()
    );
    assert!(
        matches!(
            &status,
            SourceStatus::Active {
                sample_rate: 16_000,
                ..
            }
        ),
        "{status:?}"
    );
    let n = expected.len();
    let max_diff = got[..n]
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff < 1e-6, "max difference {max_diff}");
    println!(
        "captured {} samples through ALSA; the first {n} match the file",
        got.len()
    );
}
