//! Every audio format the decoder takes, checked sample by sample where the format is exact:
//! WAV in A-law and μ-law (all 256 codes against the G.711 reference), `WAVE_FORMAT_EXTENSIBLE`
//! (integer with fewer valid bits than its container, float, A-law), WAV files with odd-sized
//! chunks and their RIFF pad byte; and FLAC, Ogg Vorbis and MP3 files made by the reference
//! encoders (`core/tests/fixtures/formats/`, written by `scripts/make-format-fixtures`). Cut
//! and corrupted copies of those give a result or a typed error naming the file, never a panic.

#[path = "common/hostile.rs"]
mod hostile;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use hostile::riff;

use voice_emotion::audio::{
    AudioError, AudioInfo, Encoding, decode_audio, has_audio_extension, load_clip, read_audio,
};

fn decode(bytes: &[u8]) -> Result<(Vec<f32>, AudioInfo), AudioError> {
    decode_audio(
        Cursor::new(bytes),
        Path::new("mem.wav"),
        bytes.len() as u64,
        60.0,
    )
    .map(|(audio, info)| (audio.samples, info))
}

/// A `fmt ` chunk: the 16 common bytes, then `extra` (a `cbSize` and what follows, if any).
fn fmt(tag: u16, channels: u16, rate: u32, bits: u16, extra: &[u8]) -> Vec<u8> {
    let block = channels * bits.div_ceil(8);
    let mut f = Vec::new();
    f.extend_from_slice(&tag.to_le_bytes());
    f.extend_from_slice(&channels.to_le_bytes());
    f.extend_from_slice(&rate.to_le_bytes());
    f.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    f.extend_from_slice(&block.to_le_bytes());
    f.extend_from_slice(&bits.to_le_bytes());
    f.extend_from_slice(extra);
    f
}

/// The 22 bytes after `cbSize` of a `WAVE_FORMAT_EXTENSIBLE` `fmt ` chunk.
fn extensible(valid_bits: u16, channel_mask: u32, sub_format: u16) -> Vec<u8> {
    let mut e = 22u16.to_le_bytes().to_vec();
    e.extend_from_slice(&valid_bits.to_le_bytes());
    e.extend_from_slice(&channel_mask.to_le_bytes());
    // KSDATAFORMAT_SUBTYPE_*: the format tag, then the fixed GUID tail.
    e.extend_from_slice(&u32::from(sub_format).to_le_bytes());
    e.extend_from_slice(&[
        0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
    ]);
    e
}

const PCM: u16 = 1;
const FLOAT: u16 = 3;
const ALAW: u16 = 6;
const MULAW: u16 = 7;
const EXTENSIBLE: u16 = 0xFFFE;

/// G.711 A-law to 16-bit linear, as in the ITU reference (`g711.c`, `alaw2linear`).
fn alaw_reference(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = i32::from(a & 0x0F) << 4;
    let seg = (a & 0x70) >> 4;
    t += if seg == 0 { 8 } else { 0x108 };
    if seg > 1 {
        t <<= seg - 1;
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// G.711 μ-law to 16-bit linear (`g711.c`, `ulaw2linear`).
fn mulaw_reference(code: u8) -> i16 {
    let u = !code;
    let t = ((i32::from(u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

#[test]
fn the_g711_references_give_the_textbook_values() {
    // Checks the references themselves, so the tests below cannot agree with a wrong table.
    assert_eq!(alaw_reference(0xD5), 8);
    assert_eq!(alaw_reference(0x55), -8);
    assert_eq!(alaw_reference(0xAA), 32_256);
    assert_eq!(alaw_reference(0x2A), -32_256);
    assert_eq!(mulaw_reference(0xFF), 0);
    assert_eq!(mulaw_reference(0x80), 32_124);
    assert_eq!(mulaw_reference(0x00), -32_124);
}

#[test]
fn a_law_and_mu_law_wav_decode_every_code_exactly() {
    let codes: Vec<u8> = (0..=255).collect();
    for (tag, reference, encoding) in [
        (ALAW, alaw_reference as fn(u8) -> i16, Encoding::ALaw),
        (MULAW, mulaw_reference, Encoding::MuLaw),
    ] {
        // As sox writes them: an 18-byte fmt chunk (cbSize 0) and a fact chunk.
        let bytes = riff(&[
            (b"fmt ", fmt(tag, 1, 8_000, 8, &0u16.to_le_bytes())),
            (b"fact", 256u32.to_le_bytes().to_vec()),
            (b"data", codes.clone()),
        ]);
        let (samples, info) = decode(&bytes).unwrap();
        assert_eq!(info.encoding, encoding);
        assert_eq!(
            (info.channels, info.sample_rate, info.frames),
            (1, 8_000, 256)
        );
        assert_eq!(info.bits_per_sample, Some(8));
        assert!(!info.float);
        for (&code, &got) in codes.iter().zip(&samples) {
            let want = f32::from(reference(code)) / 32_768.0;
            assert_eq!(got, want, "{encoding:?} code {code:#04x}");
        }
    }
}

#[test]
fn a_law_stereo_is_mixed_to_mono() {
    // Left 0xAA (+32256), right 0xD5 (+8): the mean.
    let bytes = riff(&[
        (b"fmt ", fmt(ALAW, 2, 16_000, 8, &0u16.to_le_bytes())),
        (b"data", [0xAA, 0xD5].repeat(100)),
    ]);
    let (samples, info) = decode(&bytes).unwrap();
    assert_eq!((info.channels, info.frames), (2, 100));
    let want = ((32_256.0 + 8.0) / 32_768.0 / 2.0) as f32;
    assert!(
        samples.iter().all(|&s| (s - want).abs() < 1e-7),
        "{}",
        samples[0]
    );
}

#[test]
fn wave_format_extensible_decodes_integer_float_and_a_law() {
    // 24 valid bits in a 32-bit container (left-justified), stereo, front left + right.
    let values = [0x40_0000i32, -0x40_0000, 0x7F_FFFF, -0x80_0000, 1, 0];
    let mut data = Vec::new();
    for v in values {
        data.extend_from_slice(&(v << 8).to_le_bytes());
    }
    let bytes = riff(&[
        (
            b"fmt ",
            fmt(EXTENSIBLE, 2, 48_000, 32, &extensible(24, 0b11, PCM)),
        ),
        (b"data", data),
    ]);
    let (samples, info) = decode(&bytes).unwrap();
    assert_eq!(info.encoding, Encoding::Pcm);
    assert_eq!(
        (info.channels, info.sample_rate, info.frames),
        (2, 48_000, 3)
    );
    let s = |v: i32| f64::from(v) / 8_388_608.0;
    for (frame, got) in samples.iter().enumerate() {
        let want = (s(values[2 * frame]) + s(values[2 * frame + 1])) / 2.0;
        assert!(
            (f64::from(*got) - want).abs() < 1e-7,
            "frame {frame}: {got} != {want}"
        );
    }

    // Float, 5.1 (six channels, mask 0x3F): each frame's mean.
    let mut data = Vec::new();
    for frame in 0..10 {
        for c in 0..6 {
            data.extend_from_slice(&(0.1 * c as f32 - 0.01 * frame as f32).to_le_bytes());
        }
    }
    let bytes = riff(&[
        (
            b"fmt ",
            fmt(EXTENSIBLE, 6, 44_100, 32, &extensible(32, 0x3F, FLOAT)),
        ),
        (b"data", data),
    ]);
    let (samples, info) = decode(&bytes).unwrap();
    assert_eq!(info.encoding, Encoding::Float);
    assert!(info.float);
    assert_eq!((info.channels, info.frames), (6, 10));
    for (frame, got) in samples.iter().enumerate() {
        let want = 0.25 - 0.01 * frame as f32;
        assert!((got - want).abs() < 1e-6, "frame {frame}: {got} != {want}");
    }

    // 16-bit stereo through the extensible header (what some editors write for any file).
    let data: Vec<u8> = [1000i16, -3000, 16_384, 16_384]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let bytes = riff(&[
        (
            b"fmt ",
            fmt(EXTENSIBLE, 2, 16_000, 16, &extensible(16, 0b11, PCM)),
        ),
        (b"data", data),
    ]);
    let (samples, info) = decode(&bytes).unwrap();
    assert_eq!((info.bits_per_sample, info.frames), (Some(16), 2));
    assert_eq!(samples, [-1000.0 / 32_768.0, 0.5]);
}

#[test]
fn g711_inside_wave_format_extensible_is_a_typed_error() {
    // symphonia 0.6.1 refuses A-law and μ-law behind the extensible header (it checks the
    // 8 coded bits against its 16-bit output, and looks for μ-law under the wrong GUID); plain
    // A-law and μ-law headers, which is what sox and ffmpeg write, decode above. Here: an error
    // naming the file, not a panic or noise.
    for sub_format in [ALAW, MULAW] {
        let bytes = riff(&[
            (
                b"fmt ",
                fmt(EXTENSIBLE, 1, 8_000, 8, &extensible(8, 0x4, sub_format)),
            ),
            (b"data", vec![0xAA, 0x2A, 0xD5]),
        ]);
        match decode(&bytes) {
            Err(e @ (AudioError::Unsupported { .. } | AudioError::InvalidAudio { .. })) => {
                assert!(e.to_string().contains("mem.wav"), "{e}");
            }
            other => panic!("format {sub_format}: {other:?}"),
        }
    }
}

#[test]
fn odd_sized_chunks_and_their_pad_bytes_are_skipped() {
    // An odd `junk` chunk before `fmt `, a `LIST` holding an odd comment between `fmt ` and
    // `data`, and an odd 8-bit `data` chunk followed by its pad byte and one more chunk.
    let data: Vec<u8> = (0..101u8).map(|i| 128 + (i % 50)).collect();
    // An INFO list whose comment is 5 bytes: padded inside the list, as writers do.
    let mut list = b"INFOICMT".to_vec();
    list.extend_from_slice(&5u32.to_le_bytes());
    list.extend_from_slice(b"odd!\0\0");
    let bytes = riff(&[
        (b"junk", vec![0xAB; 3]),
        (b"fmt ", fmt(PCM, 1, 11_025, 8, &[])),
        (b"LIST", list),
        (b"data", data.clone()),
        (b"cue ", vec![0; 4]),
    ]);
    // The pads really are there: every chunk starts on an even offset.
    assert_eq!(bytes.len() % 2, 0);
    let (samples, info) = decode(&bytes).unwrap();
    assert_eq!(
        (info.channels, info.sample_rate, info.frames),
        (1, 11_025, 101)
    );
    for (&b, &got) in data.iter().zip(&samples) {
        assert_eq!(got, (f32::from(b) - 128.0) / 128.0);
    }

    // The same with 16-bit stereo after the odd chunks.
    let frames: Vec<[i16; 2]> = (0..64).map(|i| [i * 100, -i * 50]).collect();
    let data: Vec<u8> = frames
        .iter()
        .flat_map(|f| f.iter().flat_map(|v| v.to_le_bytes()))
        .collect();
    let bytes = riff(&[
        (b"bext", vec![1; 7]),
        (b"fmt ", fmt(PCM, 2, 16_000, 16, &[])),
        (b"afsp", vec![2; 9]),
        (b"data", data),
    ]);
    let (samples, info) = decode(&bytes).unwrap();
    assert_eq!((info.channels, info.frames), (2, 64));
    for (f, got) in frames.iter().zip(&samples) {
        let want = (f32::from(f[0]) + f32::from(f[1])) / 2.0 / 32_768.0;
        assert!((got - want).abs() < 1e-7);
    }
}

#[test]
fn a_64_bit_float_wav_decodes() {
    let v = [0.5f64, -0.25, 1.5, 0.0];
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let bytes = riff(&[(b"fmt ", fmt(FLOAT, 1, 16_000, 64, &[])), (b"data", data)]);
    let (samples, info) = decode(&bytes).unwrap();
    assert_eq!(info.bits_per_sample, Some(64));
    assert!(info.float);
    assert_eq!(samples, [0.5, -0.25, 1.5, 0.0]);
}

#[test]
fn wav_variants_we_do_not_decode_are_typed_errors_naming_the_file() {
    // IMA ADPCM (recognised, no decoder built in) and MP3 inside WAV (format tag 0x55).
    let mut adpcm_extra = 2u16.to_le_bytes().to_vec();
    adpcm_extra.extend_from_slice(&505u16.to_le_bytes());
    let mut adpcm_fmt = fmt(0x11, 1, 8_000, 4, &adpcm_extra);
    adpcm_fmt[12..14].copy_from_slice(&256u16.to_le_bytes()); // block align
    let cases = [
        riff(&[(b"fmt ", adpcm_fmt), (b"data", vec![0; 256])]),
        riff(&[
            (b"fmt ", fmt(0x55, 1, 8_000, 0, &0u16.to_le_bytes())),
            (b"data", vec![0; 64]),
        ]),
    ];
    for bytes in cases {
        match decode(&bytes) {
            Err(e @ AudioError::Unsupported { .. }) => {
                assert!(e.to_string().contains("mem.wav"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats")
        .join(name)
}

/// The tone of `scripts/make-format-fixtures`: 440 Hz at 0.5 (times `gain`), 16-bit.
fn tone(i: usize, rate: u32, gain: f64) -> f32 {
    let v = 0.5 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(rate)).sin();
    ((gain * v * 32_767.0).round() / 32_768.0) as f32
}

/// Signal-to-error ratio of `got` against `want`, in dB.
fn snr_db(got: &[f32], want: &[f32]) -> f64 {
    let (mut signal, mut error) = (0.0f64, 0.0f64);
    for (g, w) in got.iter().zip(want) {
        signal += f64::from(*w).powi(2);
        error += f64::from(g - w).powi(2);
    }
    10.0 * (signal / error.max(1e-30)).log10()
}

#[test]
fn flac_decodes_losslessly_and_mixes_stereo() {
    let (audio, info) = read_audio(fixture("tone-22050-stereo.flac")).unwrap();
    assert_eq!(info.encoding, Encoding::Flac);
    assert_eq!(
        (info.channels, info.sample_rate, info.frames),
        (2, 22_050, 11_025)
    );
    assert_eq!(info.bits_per_sample, Some(16));
    assert!(!info.float);
    for (i, &got) in audio.samples.iter().enumerate() {
        // Left the tone, right half of it, each quantised to 16 bits; mono is their mean.
        let want = (tone(i, 22_050, 1.0) + tone(i, 22_050, 0.5)) / 2.0;
        assert!((got - want).abs() < 1e-6, "sample {i}: {got} != {want}");
    }
}

#[test]
fn ogg_vorbis_decodes_to_the_tone() {
    let (audio, info) = read_audio(fixture("tone-16000-mono.ogg")).unwrap();
    assert_eq!(info.encoding, Encoding::Vorbis);
    assert_eq!(
        (info.channels, info.sample_rate, info.frames),
        (1, 16_000, 8_000)
    );
    assert_eq!(info.bits_per_sample, None);
    assert!(info.float);
    let want: Vec<f32> = (0..8_000).map(|i| tone(i, 16_000, 1.0)).collect();
    // Vorbis is sample-exact in length; lossy in value.
    let snr = snr_db(&audio.samples, &want);
    assert!(snr > 20.0, "SNR {snr:.1} dB");
}

#[test]
fn mp3_with_an_id3v2_tag_decodes_to_the_tone() {
    let bytes = std::fs::read(fixture("tone-44100-mono.mp3")).unwrap();
    assert!(bytes.starts_with(b"ID3"), "the fixture starts with its tag");
    let (audio, info) = read_audio(fixture("tone-44100-mono.mp3")).unwrap();
    assert_eq!(info.encoding, Encoding::Mp3);
    assert_eq!((info.channels, info.sample_rate), (1, 44_100));
    assert_eq!(info.bits_per_sample, None);
    assert!(info.float);
    // LAME's Info tag gives the encoder delay and padding: gapless decoding trims both.
    assert_eq!(info.frames, 22_050);
    let want: Vec<f32> = (0..22_050).map(|i| tone(i, 44_100, 1.0)).collect();
    let snr = snr_db(&audio.samples, &want);
    assert!(snr > 15.0, "SNR {snr:.1} dB");
}

#[test]
fn mpeg2_mp3_at_22_khz_decodes_with_its_encoder_delay() {
    // symphonia 0.6.1 reads LAME's delay and padding only from MPEG-1 frames: at 22.05 kHz
    // (MPEG-2) the clip keeps LAME's 1105 samples of delay in front and its padding behind.
    let (audio, info) = read_audio(fixture("tone-22050-mono.mp3")).unwrap();
    assert_eq!(info.encoding, Encoding::Mp3);
    assert_eq!((info.channels, info.sample_rate), (1, 22_050));
    assert!(
        (11_025..=11_025 + 1105 + 2 * 576).contains(&info.frames),
        "{}",
        info.frames
    );
    let want: Vec<f32> = (0..11_025).map(|i| tone(i, 22_050, 1.0)).collect();
    let snr = snr_db(&audio.samples[1105..1105 + 11_025], &want);
    assert!(snr > 15.0, "SNR {snr:.1} dB after the delay");
}

#[test]
fn every_format_loads_at_16_khz() {
    for (name, seconds) in [
        ("tone-22050-stereo.flac", 0.5),
        ("tone-16000-mono.ogg", 0.5),
        ("tone-44100-mono.mp3", 0.5),
    ] {
        let clip = load_clip(fixture(name)).unwrap();
        let want = (seconds * 16_000.0) as usize;
        assert!(clip.len().abs_diff(want) <= 1, "{name}: {}", clip.len());
        assert!(has_audio_extension(&fixture(name)));
    }
    assert!(has_audio_extension(Path::new("a/B.WAV")));
    assert!(!has_audio_extension(Path::new("notes.txt")));
    assert!(!has_audio_extension(Path::new("wav")));
}

#[test]
fn cut_and_corrupted_compressed_files_give_audio_or_a_typed_error() {
    for name in [
        "tone-22050-stereo.flac",
        "tone-16000-mono.ogg",
        "tone-44100-mono.mp3",
        "tone-22050-mono.mp3",
    ] {
        let whole = std::fs::read(fixture(name)).unwrap();
        let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
        for cut in [0, 1, 4, 10, 40, 100, 500, whole.len() / 2, whole.len() - 1] {
            variants.push((format!("cut at {cut}"), whole[..cut].to_vec()));
        }
        // Flip bytes through the file (a cheap deterministic fuzz).
        for k in 0..60 {
            let mut b = whole.clone();
            let at = (k * 7919 + 13) % b.len();
            b[at] ^= 0x5A;
            b[(at * 31 + 1) % whole.len()] = 0xFF;
            variants.push((format!("flipped at {at}"), b));
        }
        let label = Path::new(name);
        for (what, bytes) in variants {
            let r = decode_audio(Cursor::new(&bytes), label, bytes.len() as u64, 60.0);
            match r {
                Ok((audio, info)) => {
                    assert_eq!(audio.samples.len(), info.frames, "{name} {what}");
                    assert!(info.frames > 0);
                    assert!(audio.samples.iter().all(|s| s.is_finite()), "{name} {what}");
                }
                Err(e) => assert!(e.to_string().contains(name), "{name} {what}: {e}"),
            }
        }
    }
}
