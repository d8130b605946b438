//! Writes the seed corpus of the fuzz targets (`fuzz/corpus/<target>/seed-*`): small valid
//! and nearly valid audio files (WAV in each encoding, FLAC, Ogg Vorbis, MP3), manifests and
//! profile files for libFuzzer to mutate.
//!
//! `cargo run -p voice_emotion --example fuzz_seeds -- fuzz/corpus` (scripts/fuzz runs it).
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

#[path = "../tests/common/hostile.rs"]
mod hostile;
#[path = "../tests/common/profiles.rs"]
mod profiles;

use std::path::Path;

use hostile::{FLOAT, PCM, raw_wav, riff, tone, wav};
use voice_emotion::player::profile::encode_profile;

fn main() {
    let out = std::env::args().nth(1).expect("usage: fuzz_seeds OUT_DIR");
    let out = Path::new(&out);
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    };
    // WAV: every supported format, a few channel counts and rates, and near misses.
    for (bits, float) in [
        (8, false),
        (16, false),
        (24, false),
        (32, false),
        (32, true),
    ] {
        for channels in [1u16, 2, 6] {
            let name = format!("{}{bits}-{channels}ch.wav", if float { "f" } else { "i" });
            write(
                "wav",
                &name,
                &wav(channels, 16_000, bits, float, 64, |i, _| tone(i, 16_000)),
            );
        }
    }
    write(
        "wav",
        "48k.wav",
        &wav(1, 48_000, 16, false, 200, |i, _| tone(i, 48_000)),
    );
    write(
        "wav",
        "header-only.wav",
        &raw_wav(PCM, 1, 16_000, 16, 0, &[]),
    );
    write(
        "wav",
        "float-nan.wav",
        &raw_wav(
            FLOAT,
            1,
            16_000,
            32,
            8,
            &hostile::f32_bytes(&[f32::NAN, 0.5]),
        ),
    );
    write(
        "wav",
        "claims-more.wav",
        &raw_wav(PCM, 2, 44_100, 16, 1 << 30, &[1, 2, 3, 4]),
    );
    // A-law and μ-law (18-byte fmt chunk and a fact chunk, as sox writes them), and odd-sized
    // chunks with their pad bytes.
    for (name, tag) in [("alaw.wav", 6u16), ("mulaw.wav", 7)] {
        let mut fmt = raw_wav(tag, 1, 8_000, 8, 0, &[])[20..36].to_vec();
        fmt.extend_from_slice(&0u16.to_le_bytes());
        let codes: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
        write(
            "wav",
            name,
            &riff(&[
                (b"fmt ", fmt),
                (b"fact", 64u32.to_le_bytes().to_vec()),
                (b"data", codes),
            ]),
        );
    }
    let fmt = raw_wav(PCM, 1, 11_025, 8, 0, &[])[20..36].to_vec();
    write(
        "wav",
        "odd-chunks.wav",
        &riff(&[
            (b"junk", vec![0xAB; 3]),
            (b"fmt ", fmt),
            (b"data", (0..33u8).map(|i| 128 + i).collect()),
            (b"cue ", vec![0; 4]),
        ]),
    );
    // The compressed fixtures of core/tests/formats.rs (scripts/make-format-fixtures).
    for (name, bytes) in [
        (
            "tone.flac",
            &include_bytes!("../tests/fixtures/formats/tone-22050-stereo.flac")[..],
        ),
        (
            "tone.ogg",
            &include_bytes!("../tests/fixtures/formats/tone-16000-mono.ogg")[..],
        ),
        (
            "tone.mp3",
            &include_bytes!("../tests/fixtures/formats/tone-22050-mono.mp3")[..],
        ),
    ] {
        write("wav", name, bytes);
    }
    // Manifests: the README's example and variants (`a.wav`, `b.wav`, `sub/c.wav` exist).
    let manifests = [
        ("minimal.tsv", "path\temotion\tspeaker\na.wav\thappy\tp1\n"),
        (
            "full.tsv",
            "path\temotion\tspeaker\tsplit\tintensity\na.wav\tangry\tp1\tcalibrate\tstrong\nb.wav\tsad\tp2\ttest\tnormal\nsub/c.wav\tcalm\tp1\ttrain\t\n",
        ),
        (
            "crlf-bom.tsv",
            "\u{feff}Path\tEmotion\tSpeaker\r\n# a comment\r\n\r\na.wav\tneutral\tp\r\n",
        ),
        (
            "bad-label.tsv",
            "path\temotion\tspeaker\na.wav\tjoyful\tp1\n",
        ),
    ];
    for (name, text) in manifests {
        write("manifest", name, text.as_bytes());
    }
    // Profiles: whole files (mode byte 0) and bare payloads (mode byte 1, the target adds
    // the header).
    for (name, p) in [
        (
            "empty",
            voice_emotion::player::profile::PlayerProfile::new(profiles::id("p"), profiles::base()),
        ),
        ("small", profiles::profile("player-1", 3, 12, true)),
    ] {
        let file = encode_profile(&p).unwrap();
        let mut whole = vec![0u8];
        whole.extend_from_slice(&file);
        write("profile", &format!("{name}-file"), &whole);
        let mut payload = vec![1u8];
        payload.extend_from_slice(&file[voice_emotion::player::profile::HEADER_LEN..]);
        write("profile", &format!("{name}-payload"), &payload);
    }
}
