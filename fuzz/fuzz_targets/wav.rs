//! Fuzz target: the audio decoder, `decode_audio` (WAV, FLAC, Ogg Vorbis, MP3; checks in
//! core/tests/common/fuzz_checks.rs).
#![no_main]

#[path = "../../core/tests/common/fuzz_checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::wav(data));
