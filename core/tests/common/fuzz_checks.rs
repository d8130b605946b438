//! What the fuzz targets check, one function a target: the decoder must return (never panic),
//! and what it returns must hold together. Shared by `fuzz/fuzz_targets/*.rs` (libFuzzer) and
//! `core/tests/fuzz_regressions.rs` (every kept input replayed by `cargo test`), which include
//! this file by path.
#![allow(
    dead_code,
    reason = "shared by several test binaries, each using a part"
)]
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use voice_emotion::audio::{MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, SAMPLE_RATE, decode_audio};
use voice_emotion::features::{Mfcc, MfccConfig};
use voice_emotion::player::profile::{
    FORMAT_VERSION, MAGIC, PlayerProfile, decode_profile, encode_profile,
};
use voice_emotion::training::dataset::Dataset;

/// Longest clip the audio target accepts, in seconds (the decoder's own limit is 30 min).
pub const MAX_SECONDS: f64 = 120.0;

/// The audio decoder: `decode_audio` on arbitrary bytes (WAV, FLAC, Ogg Vorbis, MP3: the
/// decoder recognises the bytes, whatever the name). A decoded clip has a valid rate and
/// channel count, no more frames than its limit allows nor, for uncompressed formats, than the
/// bytes can hold; every sample is finite (and within [-1, 1] for integer formats); short clips
/// also resample to 16 kHz and give finite MFCCs. Errors name the input.
pub fn wav(data: &[u8]) {
    let name = Path::new("fuzz-input.wav");
    match decode_audio(Cursor::new(data), name, data.len() as u64, MAX_SECONDS) {
        Ok((audio, info)) => {
            assert!(info.frames > 0);
            assert_eq!(audio.samples.len(), info.frames);
            assert!(info.channels > 0);
            assert!((MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&info.sample_rate));
            assert_eq!(audio.sample_rate, info.sample_rate);
            if info.encoding.is_uncompressed() {
                let bits = info
                    .bits_per_sample
                    .expect("uncompressed formats say their width");
                let bytes_per_frame = u64::from(info.channels) * u64::from(bits / 8);
                assert!(info.frames as u64 * bytes_per_frame <= data.len() as u64);
            }
            // Compressed or not, the decoded length is bounded by the limit.
            assert!(info.frames as f64 <= MAX_SECONDS * f64::from(info.sample_rate));
            assert!(audio.samples.iter().all(|s| s.is_finite()));
            if !info.float {
                assert!(audio.samples.iter().all(|s| (-1.0..=1.0).contains(s)));
            }
            if audio.samples.len() <= 16_000 {
                let resampled = audio
                    .into_rate(SAMPLE_RATE)
                    .expect("a valid rate resamples");
                let mut mfcc = Mfcc::new(MfccConfig::default()).unwrap();
                if let Ok(m) = mfcc.process(&resampled.samples) {
                    assert_eq!(m.data.len(), m.n_frames * m.n_features);
                    assert!(
                        m.data.iter().all(|v| v.is_finite()),
                        "non-finite MFCC from finite samples"
                    );
                }
            }
        }
        Err(e) => assert!(e.to_string().contains("fuzz-input.wav"), "{e}"),
    }
}

/// A folder with a few files for manifest rows to name: `a.wav`, `b.wav`, `sub/c.wav`.
fn manifest_base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ve-fuzz-manifest-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for f in ["a.wav", "b.wav", "sub/c.wav"] {
            std::fs::write(dir.join(f), b"RIFF").unwrap();
        }
        dir
    })
}

/// The manifest parser: `Dataset::from_manifest_text` on arbitrary UTF-8. A parsed dataset is
/// non-empty, names existing files and counts consistently; errors name the manifest.
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let name = Path::new("fuzz-manifest.tsv");
    match Dataset::from_manifest_text(text, name, manifest_base()) {
        Ok(ds) => {
            assert!(!ds.is_empty());
            assert!(ds.samples().iter().all(|s| s.path.is_file()));
            let counts = ds.counts();
            assert_eq!(counts.total, ds.len());
            assert_eq!(counts.by_emotion.iter().sum::<usize>(), ds.len());
        }
        Err(e) => assert!(e.to_string().contains("fuzz-manifest.tsv"), "{e}"),
    }
}

/// The profile decoder: `decode_profile` on arbitrary bytes. The first byte picks the mode:
/// odd, the rest is a payload wrapped in a valid header (so the fuzzer reaches the bincode
/// decoder past the checksum); even, the rest is a whole file. A decoded profile's every
/// sample decodes to a consistent matrix, and encoding it gives bytes that decode to the
/// same encoding.
pub fn profile(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode & 1 == 1 {
        wrap_payload(rest)
    } else {
        rest.to_vec()
    };
    let Ok(profile) = decode_profile(&bytes) else {
        return;
    };
    check_profile(&profile);
    let encoded = encode_profile(&profile).expect("a decoded profile encodes");
    let again = decode_profile(&encoded).expect("an encoded profile decodes");
    assert_eq!(encode_profile(&again).unwrap(), encoded);
}

/// A profile file's bytes around `payload`: magic, version, length, checksum.
pub fn wrap_payload(payload: &[u8]) -> Vec<u8> {
    let mut b = MAGIC.to_vec();
    b.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    b.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    b.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(payload).to_le_bytes());
    b.extend_from_slice(payload);
    b
}

fn check_profile(p: &PlayerProfile) {
    for s in &p.samples {
        let m = s.features.decode();
        assert_eq!(m.data.len(), m.n_frames * m.n_features);
        assert!(m.data.iter().all(|v| v.is_finite()));
    }
    if let Some(norm) = &p.norm {
        let (mean, std) = norm.mean_std();
        assert_eq!(mean.len(), norm.n_features());
        assert!(mean.iter().chain(&std).all(|v| v.is_finite()));
    }
}
