//! Streaming ([`InputStream`], the network and the player's model advanced while audio
//! arrives) gives exactly what the whole utterance gives, value for value, however the audio
//! is split into blocks.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::Lcg;
use voice_emotion::audio::read_audio;
use voice_emotion::model::{
    EmotionClassifier, InputConfig, InputExtractor, InputStream, default_device,
};
use voice_emotion::player::adapt::{
    ANCHORS_FILE, AdaptConfig, Adapter, AnchorSet, PlayerModel, PlayerState,
};
use voice_emotion::training::dataset::RavdessName;

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

/// Streams every fourth clip of actors 21-24 through `config`, in the room's noise when
/// `room` (then the room alone is given to both), and checks the result against the whole
/// computation, value for value, and that most of it came out on the way.
fn stream_equals_whole(config: &InputConfig, room: bool) {
    let mut extractor = InputExtractor::new(config.clone()).unwrap();
    let mut stream = InputStream::new(config.clone()).unwrap();
    let mut rng = Lcg(42);
    let (mut streamed, mut total, mut early, mut steps) = (0, 0, 0, 0);
    for sample in common::actors_21_to_24().iter().step_by(4) {
        let (audio, _) = read_audio(&sample.path).unwrap();
        let x = utterance(&audio.samples, &mut rng);
        let sound = if room {
            rng.noise(4800, 1e-3)
        } else {
            Vec::new()
        };
        let mfcc = extractor.mfcc_in_room(&x, &sound).unwrap();
        let input = extractor.finish(&mfcc);
        stream.reset();
        stream.set_room(&sound);
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

#[test]
fn input_stream_equals_the_whole_utterance_on_real_clips() {
    stream_equals_whole(&InputConfig::default(), false);
}

/// Pitch features stream given the room, whose noise the tracker subtracts.
#[test]
fn input_stream_with_pitch_features_equals_the_whole_utterance_on_real_clips() {
    let config = InputConfig {
        pitch: true,
        ..InputConfig::default()
    };
    stream_equals_whole(&config, true);
}

/// The player's model run while the audio arrives gives exactly `PlayerModel::classify` of
/// the whole utterance, for a new player (the base network, training-set statistics) and for
/// one with their own statistics and voice head (actor 24, calibrated on statement 1).
#[test]
fn a_players_stream_equals_classifying_the_whole_utterance() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base");
    let classifier = EmotionClassifier::load(&dir, &default_device()).unwrap();
    let anchors = AnchorSet::read(&dir.join(ANCHORS_FILE)).unwrap();
    let adapter = Arc::new(Adapter::new(&classifier, &anchors, AdaptConfig::new()));
    let mut extractor = InputExtractor::new(classifier.input_config().clone()).unwrap();
    let mut rng = Lcg(7);
    let clips: Vec<_> = common::actors_21_to_24()
        .into_iter()
        .filter(|s| s.actor == Some(24))
        .map(|s| {
            let name = RavdessName::parse(&s.path).unwrap();
            let (audio, _) = read_audio(&s.path).unwrap();
            (name, utterance(&audio.samples, &mut rng))
        })
        .collect();
    let new_player = PlayerModel::new(Arc::clone(&adapter), PlayerState::default(), None);
    let adapted = PlayerModel::new(Arc::clone(&adapter), PlayerState::default(), None);
    for (name, x) in clips
        .iter()
        .filter(|(n, _)| n.statement == 1 && n.repetition == 1)
    {
        let mfcc = extractor.mfcc(x).unwrap();
        adapted.observe(&mfcc).unwrap();
        adapted
            .confirm(mfcc, name.emotion, Some(name.intensity))
            .unwrap();
        adapted.wait_idle();
    }
    assert!(adapted.is_adapted());
    for player in [&new_player, &adapted] {
        let mut stream = player.stream().unwrap();
        let (mut provisional, mut tested) = (0, 0);
        for (name, x) in clips.iter().filter(|(n, _)| n.statement == 2) {
            let whole = player.classify(&extractor.mfcc(x).unwrap()).unwrap();
            stream.restart(player);
            let mut at = 0;
            while at < x.len() {
                let n = (1 + rng.next() as usize % 2400).min(x.len() - at);
                stream.push(&x[at..at + n]);
                at += n;
            }
            provisional += usize::from(stream.provisional(&player.heads()).is_some());
            let (mfcc, streamed) = stream.finish(player).unwrap();
            assert_eq!(mfcc, extractor.mfcc(x).unwrap());
            assert_eq!(streamed, whole, "{name:?}");
            tested += 1;
        }
        assert_eq!((provisional, tested), (30, 30));
    }
}
