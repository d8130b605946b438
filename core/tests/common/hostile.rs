//! The hostile audio inputs of the bad-input suite, written into a folder: broken and odd WAV
//! files (cut and corrupted FLAC, Ogg and MP3 files are in `core/tests/formats.rs`), a
//! directory, a FIFO, an unreadable file, non-UTF-8 names. Shared by
//! `core/tests/hostile_inputs.rs` (the public API) and `trainer/tests/hostile_inputs.rs` (the
//! command line), which include this file by path.
#![allow(
    dead_code,
    reason = "shared by several test binaries, each using a part"
)]
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What decoding a case must give.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Decodes: the file's channels, rate and frames, and the first mono sample (±`tol`).
    Decodes {
        /// Channels in the file.
        channels: u16,
        /// Sample rate in the file.
        rate: u32,
        /// Frames.
        frames: usize,
        /// The first mono sample.
        first: f32,
        /// Tolerance on `first`.
        tol: f32,
    },
    /// Fails with this `AudioError` variant (and, for `Io`, this `io::ErrorKind`).
    Fails(&'static str, Option<std::io::ErrorKind>),
}

/// One hostile input.
#[derive(Debug, Clone)]
pub struct Case {
    /// Short name, for the results table.
    pub name: &'static str,
    /// The path handed to the API.
    pub path: PathBuf,
    /// The outcome required.
    pub expect: Expect,
    /// Whether it is slow (the 10-minute clip): the callers allow it more time.
    pub slow: bool,
}

/// WAV format tags.
pub const PCM: u16 = 1;
/// IEEE float.
pub const FLOAT: u16 = 3;

/// A canonical 44-byte-header WAV file whose header says exactly what it is told (sizes
/// included), followed by `data`.
pub fn raw_wav(
    format: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    data_len: u32,
    data: &[u8],
) -> Vec<u8> {
    let block = u32::from(channels) * u32::from(bits).div_ceil(8);
    let mut b = Vec::with_capacity(44 + data.len());
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&data_len.saturating_add(36).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&format.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&rate.wrapping_mul(block).to_le_bytes());
    b.extend_from_slice(&(block as u16).to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    b.extend_from_slice(data);
    b
}

/// A well-formed WAV file written by hound: `frames` frames of `f(frame, channel)` in `[-1, 1]`.
pub fn wav(
    channels: u16,
    rate: u32,
    bits: u16,
    float: bool,
    frames: usize,
    f: impl Fn(usize, usize) -> f64,
) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
        let max = if float {
            1.0
        } else {
            f64::from((1u32 << (bits - 1)) - 1)
        };
        for i in 0..frames {
            for c in 0..usize::from(channels) {
                let v = f(i, c).clamp(-1.0, 1.0);
                match (float, bits) {
                    (true, _) => w.write_sample(v as f32).unwrap(),
                    (false, 8) => w.write_sample((v * max).round() as i8).unwrap(),
                    (false, 16) => w.write_sample((v * max).round() as i16).unwrap(),
                    (false, _) => w.write_sample((v * max).round() as i32).unwrap(),
                }
            }
        }
        w.finalize().unwrap();
    }
    buf.into_inner()
}

/// A 220 Hz tone at amplitude 0.5, speech-like enough for the pipeline.
pub fn tone(i: usize, rate: u32) -> f64 {
    0.5 * (2.0 * std::f64::consts::PI * 220.0 * i as f64 / f64::from(rate)).sin()
}

/// Floats as little-endian bytes.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Whether this process runs as root (who reads files whatever their permissions).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The name of the unreadable (mode 000) file among the cases.
pub const NO_PERMISSION: &str = "no permission (mode 000)";

/// Writes every case into `dir` and returns them, in table order (the header claiming
/// gigabytes comes before anything large, so a memory high-water mark taken around it means
/// something).
pub fn make_cases(dir: &Path) -> Vec<Case> {
    use Expect::{Decodes, Fails};
    use std::io::ErrorKind as K;
    let mut cases = Vec::new();
    let mut add = |name: &'static str, file: &OsStr, bytes: Option<Vec<u8>>, expect: Expect| {
        let path = dir.join(file);
        if let Some(bytes) = bytes {
            std::fs::write(&path, bytes).unwrap();
        }
        cases.push(Case {
            name,
            path,
            expect,
            slow: false,
        });
    };
    let os = |s: &str| OsStr::new(s).to_owned();
    let decodes = |channels, rate, frames, first, tol| Decodes {
        channels,
        rate,
        frames,
        first,
        tol,
    };

    // The header says almost 4 GiB of data; the file has 8 or 64 bytes. At 16 kHz that is 37 hours
    // (refused by length), at 192 kHz and 8 float channels 11.6 minutes (decoded until the
    // data ends, with an allocation bounded by the file's size).
    add(
        "header claiming 4 GiB (37 h)",
        &os("gigabytes-long.wav"),
        Some(raw_wav(PCM, 1, 16_000, 16, u32::MAX - 1, &[0; 8])),
        Fails("TooLong", None),
    );
    add(
        "header claiming 4 GiB (12 min)",
        &os("gigabytes.wav"),
        Some(raw_wav(
            FLOAT,
            8,
            192_000,
            32,
            (u32::MAX - 36) / 32 * 32,
            &[0; 64],
        )),
        Fails("Truncated", None),
    );
    add(
        "empty file",
        &os("empty.wav"),
        Some(Vec::new()),
        Fails("InvalidAudio", None),
    );
    add(
        "header only",
        &os("header-only.wav"),
        Some(raw_wav(PCM, 1, 16_000, 16, 0, &[])),
        Fails("Empty", None),
    );
    let full = wav(1, 16_000, 16, false, 16_000, |i, _| tone(i, 16_000));
    add(
        "truncated data (half the samples)",
        &os("truncated.wav"),
        Some(full[..44 + 16_000].to_vec()),
        Fails("Truncated", None),
    );
    add(
        "truncated mid-sample",
        &os("truncated-odd.wav"),
        Some(full[..44 + 1001].to_vec()),
        Fails("Truncated", None),
    );
    add(
        "truncated header",
        &os("truncated-header.wav"),
        Some(full[..30].to_vec()),
        Fails("InvalidAudio", None),
    );
    let mut ogg = full.clone();
    ogg[..4].copy_from_slice(b"OggS");
    add(
        "wrong magic",
        &os("wrong-magic.wav"),
        Some(ogg),
        Fails("InvalidAudio", None),
    );
    add(
        "text, not audio",
        &os("notes.wav"),
        Some(b"these are my notes, not a recording\n".to_vec()),
        Fails("InvalidAudio", None),
    );
    add(
        "0 channels",
        &os("zero-channels.wav"),
        Some(raw_wav(PCM, 0, 16_000, 16, 4, &[0; 4])),
        Fails("InvalidAudio", None),
    );
    add(
        "12-bit integer",
        &os("int12.wav"),
        Some(raw_wav(PCM, 1, 16_000, 12, 4, &[0; 4])),
        Fails("InvalidAudio", None),
    );
    // Refused while the reader was hound; symphonia decodes 64-bit float WAV.
    let data: Vec<u8> = (0..8_000)
        .flat_map(|i| (if i == 0 { 0.25 } else { tone(i, 16_000) }).to_le_bytes())
        .collect();
    add(
        "64-bit float",
        &os("float64.wav"),
        Some(raw_wav(FLOAT, 1, 16_000, 64, data.len() as u32, &data)),
        decodes(1, 16_000, 8_000, 0.25, 1e-6),
    );
    for (name, file, bits, float) in [
        ("8-bit integer", "int8.wav", 8, false),
        ("16-bit integer", "int16.wav", 16, false),
        ("24-bit integer", "int24.wav", 24, false),
        ("32-bit integer", "int32.wav", 32, false),
        ("32-bit float", "float32.wav", 32, true),
    ] {
        let tol = if bits == 8 { 0.01 } else { 1e-4 };
        add(
            name,
            &os(file),
            Some(wav(1, 16_000, bits, float, 8_000, |i, _| {
                if i == 0 { 0.25 } else { tone(i, 16_000) }
            })),
            decodes(1, 16_000, 8_000, 0.25, tol),
        );
    }
    for (name, channels) in [
        ("1 channel", 1u16),
        ("2 channels", 2),
        ("3 channels", 3),
        ("4 channels", 4),
        ("5 channels", 5),
        ("6 channels", 6),
        ("7 channels", 7),
        ("8 channels", 8),
    ] {
        // Channel c holds a constant (c + 1) / 10 in the first frame: mono is their mean.
        let first = (1..=channels).map(f32::from).sum::<f32>() / 10.0 / f32::from(channels);
        add(
            name,
            &os(&format!("channels-{channels}.wav")),
            Some(wav(channels, 22_050, 16, false, 11_025, |i, c| {
                if i == 0 {
                    (c + 1) as f64 / 10.0
                } else {
                    tone(i, 22_050)
                }
            })),
            decodes(channels, 22_050, 11_025, first, 1e-3),
        );
    }
    for (name, rate) in [
        ("8 kHz", 8_000u32),
        ("11.025 kHz", 11_025),
        ("22.05 kHz", 22_050),
        ("44.1 kHz", 44_100),
        ("48 kHz", 48_000),
        ("96 kHz", 96_000),
        ("192 kHz", 192_000),
    ] {
        add(
            name,
            &os(&format!("rate-{rate}.wav")),
            Some(wav(1, rate, 16, false, rate as usize, |i, _| tone(i, rate))),
            decodes(1, rate, rate as usize, 0.0, 1e-4),
        );
    }
    for (name, rate) in [("7.999 kHz", 7_999u32), ("384 kHz", 384_000), ("0 Hz", 0)] {
        add(
            name,
            &os(&format!("rate-{rate}.wav")),
            Some(raw_wav(PCM, 1, rate, 16, 4, &[0; 4])),
            Fails("SampleRate", None),
        );
    }
    add(
        "0.05 s clip",
        &os("short.wav"),
        Some(wav(1, 16_000, 16, false, 800, |i, _| tone(i, 16_000))),
        decodes(1, 16_000, 800, 0.0, 1e-4),
    );
    add(
        "pure silence",
        &os("silence.wav"),
        Some(wav(1, 16_000, 16, false, 32_000, |_, _| 0.0)),
        decodes(1, 16_000, 32_000, 0.0, 0.0),
    );
    add(
        "full-scale clipping",
        &os("clipping.wav"),
        Some(wav(1, 16_000, 16, false, 32_000, |i, _| {
            if (i / 20) % 2 == 0 { 1.0 } else { -1.0 }
        })),
        decodes(1, 16_000, 32_000, 32_767.0 / 32_768.0, 1e-6),
    );
    add(
        "DC offset",
        &os("dc-offset.wav"),
        Some(wav(1, 16_000, 16, false, 32_000, |i, _| {
            0.5 + 0.3 * tone(i, 16_000)
        })),
        decodes(1, 16_000, 32_000, 0.5, 1e-4),
    );
    for (name, file, bad) in [
        ("NaN float", "nan.wav", f32::NAN),
        ("+Inf float", "inf.wav", f32::INFINITY),
        ("-Inf float", "neg-inf.wav", f32::NEG_INFINITY),
    ] {
        let mut v = vec![0.1f32; 1600];
        v[1234] = bad;
        let data = f32_bytes(&v);
        add(
            name,
            &os(file),
            Some(raw_wav(FLOAT, 1, 16_000, 32, data.len() as u32, &data)),
            Fails("NonFinite", None),
        );
    }
    let mut hot = vec![0.2f32; 1600];
    hot[0] = 1.5;
    let data = f32_bytes(&hot);
    add(
        "float over full scale (1.5)",
        &os("float-hot.wav"),
        Some(raw_wav(FLOAT, 1, 16_000, 32, data.len() as u32, &data)),
        decodes(1, 16_000, 1600, 1.5, 0.0),
    );
    // Two channels near f32::MAX: their sum overflowed f32 before the mix went to f64
    // (found by fuzzing); now refused as out of range.
    let data = f32_bytes(&[3e38, 3e38, 0.1, 0.1]);
    add(
        "float far beyond full scale (3e38)",
        &os("float-huge.wav"),
        Some(raw_wav(FLOAT, 2, 16_000, 32, data.len() as u32, &data)),
        Fails("OutOfRange", None),
    );
    let sub = dir.join("a-folder.wav");
    std::fs::create_dir_all(&sub).unwrap();
    add(
        "a directory",
        &os("a-folder.wav"),
        None,
        Fails("Io", Some(K::IsADirectory)),
    );
    let fifo = dir.join("fifo.wav");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", fifo.display());
    add(
        "a FIFO (nobody writing)",
        &os("fifo.wav"),
        None,
        Fails("Io", Some(K::InvalidInput)),
    );
    add(
        "missing file",
        &os("missing.wav"),
        None,
        Fails("Io", Some(K::NotFound)),
    );
    add(
        "a path through a file",
        &os("int16.wav/inner.wav"),
        None,
        Fails("Io", Some(K::NotADirectory)),
    );
    std::os::unix::fs::symlink(dir.join("nowhere.wav"), dir.join("dangling.wav")).unwrap();
    add(
        "a dangling symlink",
        &os("dangling.wav"),
        None,
        Fails("Io", Some(K::NotFound)),
    );
    let locked = dir.join("no-permission.wav");
    std::fs::write(
        &locked,
        wav(1, 16_000, 16, false, 1600, |i, _| tone(i, 16_000)),
    )
    .unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    add(
        NO_PERMISSION,
        &os("no-permission.wav"),
        None,
        Fails("Io", Some(K::PermissionDenied)),
    );
    let bad_utf8 = OsStr::from_bytes(b"clip-\xff\xfe-\xc3.wav");
    add(
        "non-UTF-8 name",
        bad_utf8,
        Some(wav(1, 16_000, 16, false, 4_000, |i, _| tone(i, 16_000))),
        decodes(1, 16_000, 4_000, 0.0, 1e-4),
    );
    add(
        "non-UTF-8 name, not audio",
        OsStr::from_bytes(b"notes-\xff.wav"),
        Some(b"not audio".to_vec()),
        Fails("InvalidAudio", None),
    );
    // Last: the large file (19 MB), after the memory check of the gigabyte headers.
    add(
        "10 min clip",
        &os("ten-minutes.wav"),
        Some(wav(1, 16_000, 16, false, 9_600_000, |i, _| {
            // Speech-like bursts: 2 s of tone, 1 s of silence.
            if (i / 16_000) % 3 == 2 {
                0.0
            } else {
                tone(i, 16_000)
            }
        })),
        decodes(1, 16_000, 9_600_000, 0.0, 1e-4),
    );
    cases.last_mut().unwrap().slow = true;
    cases
}

/// An unreadable file even for root: reading `/proc/self/mem` at offset 0 fails with `EIO`.
pub fn unreadable_for_anyone() -> Case {
    Case {
        name: "unreadable (read fails with EIO)",
        path: PathBuf::from("/proc/self/mem"),
        expect: Expect::Fails("Io", None),
        slow: false,
    }
}

/// A RIFF/WAVE file of these chunks, each followed by a pad byte when its size is odd (as RIFF
/// requires; the size field does not count the pad).
pub fn riff(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    for (id, data) in chunks {
        body.extend_from_slice(*id);
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut b = b"RIFF".to_vec();
    b.extend_from_slice(&(body.len() as u32).to_le_bytes());
    b.extend_from_slice(&body);
    b
}
