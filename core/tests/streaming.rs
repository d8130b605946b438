//! Streaming ([`InputStream`], the network and the player's model advanced while audio
//! arrives) gives exactly what the whole utterance gives, value for value, however the audio
//! is split into blocks.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod common;

use voice_emotion::audio::read_audio;
use voice_emotion::model::{InputConfig, InputExtractor, InputStream};

/// A deterministic generator of block sizes and noise.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn noise(&mut self, n: usize, amplitude: f32) -> Vec<f32> {
        (0..n)
            .map(|_| (self.next() % 2001) as f32 / 1000.0 - 1.0)
            .map(|x| x * amplitude)
            .collect()
    }
}

/// A clip as the engine hands it over: a little room noise before and after the speech.
fn utterance(clip: &[f32], rng: &mut Lcg) -> Vec<f32> {
    let mut x = rng.noise(4800, 1e-3);
    x.extend_from_slice(clip);
    x.extend(rng.noise(6400, 1e-3));
    for v in &mut x {
        *v += (rng.next() % 3) as f32 * 1e-4;
    }
    x
}

fn push_in_blocks(stream: &mut InputStream, x: &[f32], rng: &mut Lcg) -> usize {
    let mut at = 0;
    let mut steps_before_end = 0;
    while at < x.len() {
        let n = (1 + rng.next() as usize % 2400).min(x.len() - at);
        stream.push(&x[at..at + n]);
        at += n;
        steps_before_end = stream.steps().len();
    }
    steps_before_end
}

#[test]
fn input_stream_equals_the_whole_utterance_on_real_clips() {
    let config = InputConfig::default();
    let mut extractor = InputExtractor::new(config.clone()).unwrap();
    let mut stream = InputStream::new(config.clone()).unwrap();
    let mut rng = Lcg(42);
    let (mut streamed, mut total, mut early, mut steps) = (0, 0, 0, 0);
    for sample in common::actors_21_to_24().iter().step_by(4) {
        let (audio, _) = read_audio(&sample.path).unwrap();
        let x = utterance(&audio.samples, &mut rng);
        let mfcc = extractor.mfcc(&x).unwrap();
        let input = extractor.finish(&mfcc);
        stream.reset();
        let before = push_in_blocks(&mut stream, &x, &mut rng);
        let got = stream.finish().unwrap();
        assert_eq!(got, mfcc, "{}", sample.path.display());
        assert_eq!(stream.steps(), &input.data[..], "{}", sample.path.display());
        total += 1;
        streamed += usize::from(stream.finished_from_stream());
        early += before / config.n_features();
        steps += input.n_frames;
    }
    println!(
        "{streamed} of {total} finished from the stream; {early} of {steps} steps out before the end"
    );
    assert!(streamed * 10 >= total * 9, "{streamed} of {total} streamed");
    assert!(
        early * 10 >= steps * 8,
        "{early} of {steps} steps before the end"
    );
}
