//! Decoding audio files through `symphonia`: WAV (integer PCM, float, A-law, μ-law,
//! `WAVE_FORMAT_EXTENSIBLE`), FLAC, Ogg Vorbis and MP3, any rate, mono or mixed down to mono.

use std::io::{Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};

use symphonia::core::audio::GenericAudioBufferRef;
use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_FLAC, CODEC_ID_MP1, CODEC_ID_MP2, CODEC_ID_MP3, CODEC_ID_PCM_ALAW, CODEC_ID_PCM_F32BE,
    CODEC_ID_PCM_F32LE, CODEC_ID_PCM_F64BE, CODEC_ID_PCM_F64LE, CODEC_ID_PCM_MULAW,
    CODEC_ID_VORBIS,
};
use symphonia::core::codecs::audio::{AudioCodecId, AudioDecoderOptions};
use symphonia::core::errors::Error as DecodeError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use super::*;

/// File name extensions of the formats [`read_audio`] decodes (compared without case).
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave", "flac", "ogg", "oga", "mp3"];

/// Whether `path` has one of the [`AUDIO_EXTENSIONS`] (for folder scans and dropped files; the
/// decoder itself looks at the bytes, not the name).
#[must_use]
pub fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Mono audio at a known sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Samples in `[-1, 1]` (integer formats are scaled by `2^(bits-1)`, so int16 is `/ 32768`).
    pub samples: Vec<f32>,
    /// Sample rate in Hz.
    pub sample_rate: u32,
}

impl Audio {
    /// Duration in seconds.
    #[must_use]
    pub fn duration_seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate.max(1))
    }

    /// Converts to `rate` Hz (a no-op when already there).
    ///
    /// # Errors
    /// [`AudioError::Resample`] when either rate is zero.
    pub fn into_rate(self, rate: u32) -> Result<Audio, AudioError> {
        if self.sample_rate == rate {
            return Ok(self);
        }
        let samples = resample(&self.samples, self.sample_rate, rate)?;
        Ok(Audio {
            samples,
            sample_rate: rate,
        })
    }
}

/// How the samples of a decoded file were stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Integer PCM (WAV, including `WAVE_FORMAT_EXTENSIBLE`).
    Pcm,
    /// IEEE float PCM (WAV, 32 or 64 bits).
    Float,
    /// G.711 A-law (WAV).
    ALaw,
    /// G.711 μ-law (WAV).
    MuLaw,
    /// FLAC (native or in Ogg).
    Flac,
    /// Vorbis (in Ogg).
    Vorbis,
    /// MPEG audio layer III (or I/II).
    Mp3,
}

impl Encoding {
    fn of(codec: AudioCodecId) -> Option<Encoding> {
        Some(match codec {
            CODEC_ID_PCM_ALAW => Encoding::ALaw,
            CODEC_ID_PCM_MULAW => Encoding::MuLaw,
            CODEC_ID_PCM_F32LE | CODEC_ID_PCM_F32BE | CODEC_ID_PCM_F64LE | CODEC_ID_PCM_F64BE => {
                Encoding::Float
            }
            CODEC_ID_FLAC => Encoding::Flac,
            CODEC_ID_VORBIS => Encoding::Vorbis,
            CODEC_ID_MP1 | CODEC_ID_MP2 | CODEC_ID_MP3 => Encoding::Mp3,
            _ => return None,
        })
    }

    /// Whether the file stores each sample in a fixed number of bytes (so it cannot hold more
    /// frames than its bytes allow).
    #[must_use]
    pub fn is_uncompressed(self) -> bool {
        matches!(
            self,
            Encoding::Pcm | Encoding::Float | Encoding::ALaw | Encoding::MuLaw
        )
    }
}

/// Format details of a decoded audio file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    /// How the samples were stored.
    pub encoding: Encoding,
    /// Channels in the file (they are mixed down to mono).
    pub channels: u16,
    /// Sample rate in the file.
    pub sample_rate: u32,
    /// Bits each sample takes in the file (8 for A-law and μ-law); `None` for the lossy codecs.
    pub bits_per_sample: Option<u16>,
    /// Whether the decoded samples are floating point (float WAV, Vorbis, MP3): they may go
    /// beyond full scale, integer ones never do.
    pub float: bool,
    /// Frames in the file.
    pub frames: usize,
}

/// Reads an audio file (WAV, FLAC, Ogg Vorbis or MP3, recognised by its bytes whatever its
/// name) and mixes it to mono at its own sample rate.
///
/// Accepts WAV as 8/16/24/32-bit integer PCM, 32/64-bit float, A-law or μ-law (plain or
/// `WAVE_FORMAT_EXTENSIBLE`, odd-sized chunks with their pad byte), FLAC, Ogg Vorbis and MP3;
/// any channel count, 8–192 kHz, up to [`DEFAULT_MAX_SECONDS`].
///
/// # Errors
/// An [`AudioError`] naming `path` for unreadable, corrupt, truncated, empty, unsupported or
/// non-finite input.
pub fn read_audio(path: impl AsRef<Path>) -> Result<(Audio, AudioInfo), AudioError> {
    let path = path.as_ref();
    let (file, file_len) = open_regular_file(path)?;
    decode_audio(file, path, file_len, DEFAULT_MAX_SECONDS)
}

/// Opens `path` for reading after checking it is a regular file (or a link to one), and
/// returns it with its length. A directory, FIFO, socket or device is refused *before* it is
/// opened: opening a FIFO with no writer would block forever, and a device like `/dev/zero`
/// never ends.
///
/// # Errors
/// [`AudioError::Io`] naming `path` (kind `IsADirectory` for a directory, `InvalidInput` for
/// anything else that is not a regular file).
pub fn open_regular_file(path: &Path) -> Result<(File, u64), AudioError> {
    let io = |source| AudioError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device)",
        )));
    }
    let file = File::open(path).map_err(io)?;
    Ok((file, meta.len()))
}

/// Reads an audio file, mixes it to mono and resamples it to [`SAMPLE_RATE`].
///
/// # Errors
/// As [`read_audio`], plus [`AudioError::Resample`].
pub fn load_clip(path: impl AsRef<Path>) -> Result<Vec<f32>, AudioError> {
    let (audio, _) = read_audio(path)?;
    Ok(audio.into_rate(SAMPLE_RATE)?.samples)
}

/// Duration of an audio file in seconds, from what its container says where it says it (the
/// WAV data size, FLAC's stream info, Ogg's last page, an MP3's Xing/Info tag or, without one,
/// an estimate from its bitrate), otherwise by decoding it.
///
/// # Errors
/// As [`read_audio`].
pub fn audio_duration_seconds(path: impl AsRef<Path>) -> Result<f64, AudioError> {
    let path = path.as_ref();
    let (file, file_len) = open_regular_file(path)?;
    guarded(path, || {
        let opened = open(file, path, file_len)?;
        if let (Some(frames), Some(rate)) = (opened.declared_frames, opened.sample_rate) {
            if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
                return Err(AudioError::SampleRate {
                    path: path.to_path_buf(),
                    rate,
                });
            }
            if frames == 0 {
                return Err(AudioError::Empty {
                    path: path.to_path_buf(),
                });
            }
            return Ok(frames as f64 / f64::from(rate));
        }
        let (audio, _) = decode_opened(opened, path, file_len, DEFAULT_MAX_SECONDS)?;
        Ok(audio.duration_seconds())
    })
}

/// Decodes audio data (any format [`read_audio`] takes) from any seekable reader. `name` is
/// used in errors (and its extension as a hint); `byte_len` (the size of the data if known,
/// else `u64::MAX`) bounds the memory reserved for a header that lies about its length; clips
/// longer than `max_seconds` are refused, whether the header says so or the decoded samples
/// do.
///
/// # Errors
/// As [`read_audio`].
pub fn decode_audio<R: Read + Seek + Send + Sync>(
    reader: R,
    name: &Path,
    byte_len: u64,
    max_seconds: f64,
) -> Result<(Audio, AudioInfo), AudioError> {
    guarded(name, || {
        let opened = open(reader, name, byte_len)?;
        decode_opened(opened, name, byte_len, max_seconds)
    })
}

/// Runs `f`, turning a panic inside the decoders into an error naming the file: a bug in a
/// third-party demuxer must not take the game down. (The fuzz targets abort on the panic
/// before this sees it, so they still report such bugs.)
fn guarded<T>(name: &Path, f: impl FnOnce() -> Result<T, AudioError>) -> Result<T, AudioError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(AudioError::InvalidAudio {
            path: name.to_path_buf(),
            reason: "the decoder failed on corrupt data".to_owned(),
        })
    })
}

/// A reader with a known length, as symphonia wants it.
struct Source<R> {
    inner: R,
    len: Option<u64>,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: Seek> Seek for Source<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl<R: Read + Seek + Send + Sync> MediaSource for Source<R> {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        self.len
    }
}

/// A file whose container was recognised and whose audio track has a decoder.
struct Opened<'s> {
    format: Box<dyn symphonia::core::formats::FormatReader + 's>,
    decoder: Box<dyn symphonia::core::codecs::audio::AudioDecoder>,
    track_id: u32,
    encoding: Option<Encoding>,
    channels: Option<usize>,
    sample_rate: Option<u32>,
    bits_per_sample: Option<u16>,
    declared_frames: Option<u64>,
}

/// Whether the first bytes carry the magic of a container we read (so a failure to open it is
/// an unsupported variant, not "this is not audio").
fn looks_like_audio(head: &[u8]) -> bool {
    head.starts_with(b"RIFF")
        || head.starts_with(b"fLaC")
        || head.starts_with(b"OggS")
        || head.starts_with(b"ID3")
        || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0)
}

/// Maps a symphonia error met while reading the header.
fn header_error(name: &Path, head: &[u8], e: DecodeError) -> AudioError {
    let path = name.to_path_buf();
    match e {
        DecodeError::IoError(source) if source.raw_os_error().is_some() => {
            AudioError::Io { path, source }
        }
        DecodeError::IoError(source) => AudioError::InvalidAudio {
            path,
            reason: format!("the header is cut short ({source})"),
        },
        DecodeError::Unsupported(what) if looks_like_audio(head) => AudioError::Unsupported {
            path,
            format: what.to_owned(),
        },
        DecodeError::Unsupported(_) => AudioError::InvalidAudio {
            path,
            reason: "not a WAV, FLAC, Ogg Vorbis or MP3 file".to_owned(),
        },
        other => AudioError::InvalidAudio {
            path,
            reason: other.to_string(),
        },
    }
}

/// Most channels a WAV file may have: symphonia positions at most 26.
const MAX_WAV_CHANNELS: u16 = 26;

/// What the `fmt ` chunk of a RIFF/WAVE file says about its channels.
struct WavLayout {
    channels: u16,
    /// The channel mask of a `WAVE_FORMAT_EXTENSIBLE` file.
    extensible_mask: Option<u32>,
}

/// How far into a file symphonia's probe looks for a container's marker (its default).
const PROBE_DEPTH: usize = 1 << 20;

/// Where `RIFF....WAVE` begins in the first [`PROBE_DEPTH`] bytes (plus a header's length).
fn riff_wave_offsets<R: Read + Seek>(reader: &mut R) -> std::io::Result<Vec<u64>> {
    reader.seek(SeekFrom::Start(0))?;
    let mut head = Vec::new();
    reader
        .by_ref()
        .take((PROBE_DEPTH + 12) as u64)
        .read_to_end(&mut head)?;
    Ok(head
        .windows(12)
        .enumerate()
        .filter(|(_, w)| &w[..4] == b"RIFF" && &w[8..] == b"WAVE")
        .map(|(i, _)| i as u64)
        .collect())
}

/// Most chunk headers read while checking one file's RIFF/WAVE headers: far more than any
/// real WAV file has, few enough that a hostile one cannot make the check slow.
const MAX_RIFF_CHUNKS: usize = 1 << 16;

/// The [`WavLayout`] of every `fmt ` chunk of the RIFF/WAVE header at byte `start`, in order
/// (symphonia reads each one it meets, a later one replacing an earlier), up to the `data`
/// chunk or the end. Reads chunk headers, skipping bodies; `budget` counts the headers read
/// and is shared by all the headers of a file. `None` once the budget is spent.
fn wav_layouts<R: Read + Seek>(
    reader: &mut R,
    start: u64,
    budget: &mut usize,
) -> std::io::Result<Option<Vec<WavLayout>>> {
    fn read_exact_or_none<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<bool> {
        match r.read_exact(buf) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(e),
        }
    }
    let mut layouts = Vec::new();
    let mut at = start + 12;
    loop {
        if *budget == 0 {
            return Ok(None);
        }
        *budget -= 1;
        reader.seek(SeekFrom::Start(at))?;
        let mut header = [0u8; 8];
        if !read_exact_or_none(reader, &mut header)? || &header[..4] == b"data" {
            return Ok(Some(layouts));
        }
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if &header[..4] == b"fmt " && len >= 4 {
            let mut fmt = [0u8; 24];
            let whole = (len as usize).min(fmt.len());
            if !read_exact_or_none(reader, &mut fmt[..whole])? {
                return Ok(Some(layouts));
            }
            let tag = u16::from_le_bytes([fmt[0], fmt[1]]);
            let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
            let extensible_mask = (tag == 0xFFFE && whole == 24)
                .then(|| u32::from_le_bytes([fmt[20], fmt[21], fmt[22], fmt[23]]));
            layouts.push(WavLayout {
                channels,
                extensible_mask,
            });
        }
        // Bodies are padded to an even length.
        at += 8 + u64::from(len) + u64::from(len & 1);
    }
}

/// Whether a `WAVE_FORMAT_EXTENSIBLE` channel mask can be fixed up to `channels` positions:
/// symphonia adds the missing positions above the mask's highest bit, which only fits in 32
/// bits when fewer than 32 are missing and bit 31 is free (otherwise its shift overflows).
fn channel_mask_is_fixable(channels: u16, mask: u32) -> bool {
    let missing = i64::from(channels) - i64::from(mask.count_ones());
    missing <= 0 || (missing < 32 && mask.leading_zeros() > 0)
}

/// Recognises the container, finds the audio track and makes its decoder.
fn open<'s, R: Read + Seek + Send + Sync + 's>(
    mut reader: R,
    name: &Path,
    byte_len: u64,
) -> Result<Opened<'s>, AudioError> {
    let io = |source| AudioError::Io {
        path: name.to_path_buf(),
        source,
    };
    // The first bytes, to tell "not audio" from "audio we cannot decode" in errors.
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    let head = &head[..got];
    if head.is_empty() {
        return Err(AudioError::InvalidAudio {
            path: name.to_path_buf(),
            reason: "the file is empty".to_owned(),
        });
    }
    // symphonia's WAV header code overflows on some channel counts and masks (found by cargo
    // fuzz: a panic in debug builds, a wrapped value in release); such a file is refused
    // before symphonia sees it. Its probe finds a container's marker anywhere in the first
    // MiB, so every RIFF/WAVE header there is checked.
    let unsupported = |format: String| AudioError::Unsupported {
        path: name.to_path_buf(),
        format,
    };
    let mut budget = MAX_RIFF_CHUNKS;
    let mut layouts = Vec::new();
    for start in riff_wave_offsets(&mut reader).map_err(io)? {
        match wav_layouts(&mut reader, start, &mut budget).map_err(io)? {
            Some(found) => layouts.extend(found),
            None => {
                return Err(unsupported(format!(
                    "RIFF with more than {MAX_RIFF_CHUNKS} chunks"
                )));
            }
        }
    }
    for layout in layouts {
        if layout.channels > MAX_WAV_CHANNELS {
            return Err(unsupported(format!(
                "WAV with {} channels (at most {MAX_WAV_CHANNELS})",
                layout.channels
            )));
        }
        if let Some(mask) = layout.extensible_mask
            && !channel_mask_is_fixable(layout.channels, mask)
        {
            return Err(unsupported(format!(
                "WAVE_FORMAT_EXTENSIBLE with {} channels and channel mask {mask:#010x} (more channels than the mask can place)",
                layout.channels
            )));
        }
    }
    reader.seek(SeekFrom::Start(0)).map_err(io)?;
    let source = Source {
        inner: reader,
        len: (byte_len != u64::MAX).then_some(byte_len),
    };
    let stream = MediaSourceStream::new(Box::new(source), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = name.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let format = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| header_error(name, head, e))?;
    let invalid = |reason: &str| AudioError::InvalidAudio {
        path: name.to_path_buf(),
        reason: reason.to_owned(),
    };
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| invalid("no audio track"))?;
    let Some(CodecParameters::Audio(params)) = &track.codec_params else {
        return Err(invalid("no audio track"));
    };
    let encoding = Encoding::of(params.codec);
    let decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| match e {
            DecodeError::Unsupported(_) => AudioError::Unsupported {
                path: name.to_path_buf(),
                format: format!("audio codec {:?}", params.codec),
            },
            other => header_error(name, head, other),
        })?;
    let channels = params.channels.as_ref().map(|c| c.count());
    if channels == Some(0) {
        return Err(AudioError::NoChannels {
            path: name.to_path_buf(),
        });
    }
    let bits_per_sample = match encoding {
        Some(Encoding::ALaw | Encoding::MuLaw) => Some(8),
        Some(Encoding::Float) => Some(
            if matches!(params.codec, CODEC_ID_PCM_F64LE | CODEC_ID_PCM_F64BE) {
                64
            } else {
                32
            },
        ),
        Some(Encoding::Vorbis | Encoding::Mp3) => None,
        _ => params
            .bits_per_coded_sample
            .or(params.bits_per_sample)
            .and_then(|b| u16::try_from(b).ok()),
    };
    Ok(Opened {
        track_id: track.id,
        encoding,
        channels,
        sample_rate: params.sample_rate,
        bits_per_sample,
        declared_frames: track.num_frames,
        decoder,
        format,
    })
}

/// Decodes every packet of the opened track, mixing to mono as it goes.
fn decode_opened(
    opened: Opened<'_>,
    name: &Path,
    byte_len: u64,
    max_seconds: f64,
) -> Result<(Audio, AudioInfo), AudioError> {
    let path = || name.to_path_buf();
    let Opened {
        mut format,
        mut decoder,
        track_id,
        encoding,
        channels: declared_channels,
        sample_rate: declared_rate,
        bits_per_sample,
        declared_frames,
    } = opened;
    let check_rate = |rate: u32| {
        if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
            Ok(())
        } else {
            Err(AudioError::SampleRate { path: path(), rate })
        }
    };
    if let Some(rate) = declared_rate {
        check_rate(rate)?;
        let seconds = declared_frames.unwrap_or(0) as f64 / f64::from(rate);
        if seconds > max_seconds {
            return Err(AudioError::TooLong {
                path: path(),
                seconds,
                max_seconds,
            });
        }
    }
    // Never trust the header for the allocation: an uncompressed file cannot hold more
    // samples than bytes.
    let declared = usize::try_from(declared_frames.unwrap_or(0)).unwrap_or(usize::MAX);
    let bytes_per_frame = (declared_channels.unwrap_or(1) as u64)
        * u64::from(bits_per_sample.unwrap_or(8).div_ceil(8)).max(1);
    let cap_frames = usize::try_from(byte_len / bytes_per_frame).unwrap_or(usize::MAX);
    let mut mono: Vec<f32> = Vec::with_capacity(declared.min(cap_frames).min(1 << 24));

    // Fixed by the first decoded packet when the header did not say.
    let mut channels = declared_channels.unwrap_or(0);
    let mut rate = declared_rate.unwrap_or(0);
    let mut float = false;
    let mut max_frames = 0usize;
    let mut index = 0usize;
    let mut interleaved: Vec<f64> = Vec::new();
    let truncated = |frames_read: usize, reason: String| AudioError::Truncated {
        path: path(),
        frames_read,
        reason,
    };
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            // A WAV file streamed with an unknown length ends wherever the bytes do (its last,
            // partial packet is lost).
            Err(DecodeError::IoError(e))
                if declared_frames.is_none() && e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                break;
            }
            Err(DecodeError::IoError(source)) if source.raw_os_error().is_some() => {
                return Err(AudioError::Io {
                    path: path(),
                    source,
                });
            }
            Err(e) => return Err(truncated(mono.len(), e.to_string())),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buffer = decoder
            .decode(&packet)
            .map_err(|e| truncated(mono.len(), e.to_string()))?;
        if buffer.frames() == 0 {
            continue;
        }
        let spec = buffer.spec();
        let (packet_channels, packet_rate) = (spec.channels().count(), spec.rate());
        if packet_channels == 0 {
            return Err(AudioError::NoChannels { path: path() });
        }
        if max_frames == 0 {
            // The first packet: the stream's real shape.
            if channels == 0 {
                channels = packet_channels;
            }
            if rate == 0 {
                check_rate(packet_rate)?;
                rate = packet_rate;
            }
            float = matches!(
                buffer,
                GenericAudioBufferRef::F32(_) | GenericAudioBufferRef::F64(_)
            );
            max_frames = (max_seconds * f64::from(rate)).min(usize::MAX as f64) as usize;
        }
        if packet_channels != channels || packet_rate != rate {
            return Err(AudioError::Unsupported {
                path: path(),
                format: format!(
                    "a stream that changes from {channels} channels at {rate} Hz to \
                     {packet_channels} at {packet_rate} Hz"
                ),
            });
        }
        buffer.copy_to_vec_interleaved(&mut interleaved);
        let inv_channels = 1.0 / channels as f64;
        for frame in interleaved.chunks_exact(channels) {
            // The mix is summed in f64: 8 channels of large floats cannot overflow it.
            let mut acc = 0.0f64;
            for &v in frame {
                if !v.is_finite() {
                    return Err(AudioError::NonFinite {
                        path: path(),
                        index,
                        value: v as f32,
                    });
                }
                if v.abs() > f64::from(MAX_FLOAT_SAMPLE) {
                    return Err(AudioError::OutOfRange {
                        path: path(),
                        index,
                        value: v as f32,
                    });
                }
                acc += v;
                index += 1;
            }
            mono.push((acc * inv_channels) as f32);
        }
        if mono.len() > max_frames {
            return Err(AudioError::TooLong {
                path: path(),
                seconds: mono.len() as f64 / f64::from(rate),
                max_seconds,
            });
        }
    }
    if mono.is_empty() {
        return Err(AudioError::Empty { path: path() });
    }
    let info = AudioInfo {
        encoding: encoding.unwrap_or(if float {
            Encoding::Float
        } else {
            Encoding::Pcm
        }),
        channels: u16::try_from(channels).unwrap_or(u16::MAX),
        sample_rate: rate,
        bits_per_sample,
        float,
        frames: mono.len(),
    };
    Ok((
        Audio {
            samples: mono,
            sample_rate: rate,
        },
        info,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_masks_symphonia_cannot_fix_are_recognised() {
        // Enough or too many positions, or few enough missing below bit 31.
        assert!(channel_mask_is_fixable(2, 0b11));
        assert!(channel_mask_is_fixable(0, 0xFFFF_FFFF));
        assert!(channel_mask_is_fixable(9, 0));
        assert!(channel_mask_is_fixable(31, 0));
        assert!(channel_mask_is_fixable(32, 1));
        // 32 or more missing, or bit 31 taken with some missing: its shift would overflow.
        assert!(!channel_mask_is_fixable(32, 0));
        assert!(!channel_mask_is_fixable(1793, 1));
        assert!(!channel_mask_is_fixable(2, 0x8000_0000));
    }

    /// A `WAVE_FORMAT_EXTENSIBLE` 16-bit file with one frame of silence.
    fn extensible_wav(channels: u16, mask: u32) -> Vec<u8> {
        let block = 2 * u32::from(channels);
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF");
        wav.extend_from_slice(&(4 + 8 + 40 + 8 + block).to_le_bytes());
        wav.extend_from_slice(b"WAVEfmt ");
        wav.extend_from_slice(&40u32.to_le_bytes());
        wav.extend_from_slice(&0xFFFEu16.to_le_bytes());
        wav.extend_from_slice(&channels.to_le_bytes());
        wav.extend_from_slice(&16_000u32.to_le_bytes());
        wav.extend_from_slice(&(16_000 * block).to_le_bytes());
        wav.extend_from_slice(&u16::try_from(block).unwrap_or(u16::MAX).to_le_bytes());
        wav.extend_from_slice(&16u16.to_le_bytes());
        wav.extend_from_slice(&22u16.to_le_bytes());
        wav.extend_from_slice(&16u16.to_le_bytes());
        wav.extend_from_slice(&mask.to_le_bytes());
        // KSDATAFORMAT_SUBTYPE_PCM
        wav.extend_from_slice(&[
            1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
        ]);
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&block.to_le_bytes());
        wav.resize(wav.len() + block as usize, 0);
        wav
    }

    #[test]
    fn such_files_are_refused_by_name_and_good_ones_still_decode() {
        let name = Path::new("odd-layout.wav");
        for (channels, mask, expected) in [
            (40, 0, "40 channels"),
            (2, 0x8000_0000, "channel mask 0x80000000"),
        ] {
            let wav = extensible_wav(channels, mask);
            let err = decode_audio(std::io::Cursor::new(&wav), name, wav.len() as u64, 60.0)
                .expect_err("refused");
            let message = err.to_string();
            assert!(
                message.contains("odd-layout.wav") && message.contains(expected),
                "{message}"
            );
        }
        // A stereo file with a proper mask, and one with no positions (fixed up by symphonia).
        for mask in [0b11, 0] {
            let wav = extensible_wav(2, mask);
            let (audio, info) =
                decode_audio(std::io::Cursor::new(&wav), name, wav.len() as u64, 60.0)
                    .unwrap_or_else(|e| panic!("mask {mask:#b}: {e}"));
            assert_eq!((info.channels, audio.samples.len()), (2, 1));
        }
    }
}
