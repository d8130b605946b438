//! vad
