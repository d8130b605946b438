//! Real RAVDESS clips played through the plugin give the labels the core gives the same
//! clips.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::time::Duration;

use bevy_voice_emotion::prelude::*;
use bevy_voice_emotion::testing::{MessageLog, log, update_until};
use bevy_voice_emotion::voice_emotion;
use e2e::{Reference, app, clips};
use voice_emotion::engine::{ClassifiedSpan, EngineConfig};
use voice_emotion::speech::{SegmentEvent, Segmenter};

/// Silence before the first clip and after each one, in seconds.
const LEAD: f64 = 0.5;
const GAP: f64 = 1.0;

/// The detections of `clips` played at 16 kHz through the plugin with `config`, one per clip.
fn play(clips: &[e2e::Clip], config: EngineConfig) -> Vec<EmotionDetected> {
    let mut script = ScriptedSource::new(Pace::Fast).silence(LEAD);
    for c in clips {
        script = script.samples(c.samples.to_vec(), 16_000).silence(GAP);
    }
    let mut app = app(VoiceEmotionPlugin::default()
        .with_source(script.end())
        .with_profiles(ProfileLocation::Memory)
        .with_engine_config(config));
    let finished = update_until(&mut app, Duration::from_secs(180), |w| {
        log(w).detected.len() >= clips.len()
            && w.resource::<MicrophoneStatus>().status == SourceStatus::Finished
    });
    update_until(&mut app, Duration::from_millis(500), |_| false);
    let detected = log(app.world()).detected.clone();
    assert!(
        finished,
        "{} detections of {} clips",
        detected.len(),
        clips.len()
    );
    assert_eq!(detected.len(), clips.len(), "one detection per clip");
    detected
}

/// What the core's segmenter (the engine's settings) finds as the speech of each clip in the
/// stream [`play`] plays.
fn speech_the_core_finds(clips: &[e2e::Clip]) -> Vec<Vec<f32>> {
    let silence = |seconds: f64| vec![0f32; (seconds * 16_000.0).round() as usize];
    let mut stream = silence(LEAD);
    for c in clips {
        stream.extend_from_slice(&c.samples);
        stream.extend(silence(GAP));
    }
    let mut segmenter = Segmenter::new(EngineConfig::default().vad, 16_000).unwrap();
    let mut events = Vec::new();
    for block in stream.chunks(1_600) {
        segmenter.push(block, &mut events);
    }
    segmenter.flush(&mut events);
    events
        .into_iter()
        .filter_map(|e| match e {
            SegmentEvent::SpeechEnded { utterance } => Some(utterance.speech().to_vec()),
            _ => None,
        })
        .collect()
}

/// The plugin's labels against the core's on the audio the model heard (`heard`, one per
/// clip): the same frames, the same probabilities (classify, then learn the voice).
fn compare_with_the_core(clips: &[e2e::Clip], detected: &[EmotionDetected], heard: &[Vec<f32>]) {
    assert_eq!(
        heard.len(),
        clips.len(),
        "the core finds one utterance per clip"
    );
    let mut core = Reference::default();
    let player = core.fresh_player();
    let mut correct = 0;
    for ((clip, d), audio) in clips.iter().zip(detected).zip(heard) {
        let mfcc = core.extractor.mfcc(audio).unwrap();
        let p = player.classify(&mfcc).unwrap();
        assert_eq!(
            *d.mfcc,
            mfcc,
            "{}: what the model heard",
            clip.path.display()
        );
        player.observe(&mfcc).unwrap();
        let max_diff = p
            .probabilities
            .iter()
            .zip(&d.probabilities)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        println!(
            "{}: plugin {:?} {:.3}, core {:?} {:.3}, max |dp| {max_diff:.2e}, latency {:.2} ms",
            clip.path.file_name().unwrap().to_string_lossy(),
            d.emotion,
            d.confidence,
            p.emotion,
            p.confidence,
            d.latency_ms
        );
        assert_eq!(d.emotion, p.emotion, "{}", clip.path.display());
        assert!(max_diff < 1e-6, "{}: {max_diff}", clip.path.display());
        correct += usize::from(d.emotion == clip.name.emotion);
    }
    println!(
        "all {} labels agree; plugin accuracy on these clips {correct}/{}",
        clips.len(),
        clips.len()
    );
}

/// By default the model hears the detected speech alone: exactly the speech the core's
/// segmenter finds in the same stream.
#[test]
fn clips_played_through_the_plugin_get_the_cores_labels() {
    let clips = clips(22, 2);
    assert_eq!(clips.len(), 16);
    let detected = play(&clips, EngineConfig::default());
    compare_with_the_core(&clips, &detected, &speech_the_core_finds(&clips));
}

/// With the whole utterance classified, the engine keeps enough audio around each one
/// (pre-roll, tail) for the classifier's own silence trimming to find exactly what it finds
/// in the whole clip.
#[test]
fn whole_utterances_through_the_plugin_get_the_labels_of_the_whole_clips() {
    let clips = clips(22, 1);
    let config = EngineConfig {
        classified_span: ClassifiedSpan::Utterance,
        ..EngineConfig::default()
    };
    let detected = play(&clips, config);
    let whole: Vec<Vec<f32>> = clips.iter().map(|c| c.samples.to_vec()).collect();
    compare_with_the_core(&clips, &detected, &whole);
}

/// The detections of `clips` played at 48 kHz through the plugin with `config`, from a source
/// running at 48 kHz (the engine resamples while the player speaks).
fn play_at_48k(clips: &[e2e::Clip], config: EngineConfig, provisional: bool) -> MessageLog {
    play_clipped_at_48k(clips, config, provisional, None)
}

/// [`play_at_48k`], each clip first amplified, with `overdrive_db`, so that its peak would be
/// that far above full scale and clipped there, as by a microphone's gain set too high (the
/// source runs at 48 kHz, where the microphone clipped: resampling would smooth the flattened
/// peaks away).
fn play_clipped_at_48k(
    clips: &[e2e::Clip],
    config: EngineConfig,
    provisional: bool,
    overdrive_db: Option<f32>,
) -> MessageLog {
    let mut script = ScriptedSource::new(Pace::Fast)
        .with_sample_rate(48_000)
        .unwrap_or_else(|e| panic!("{e}"))
        .silence(0.5);
    for c in clips {
        let mut up = voice_emotion::audio::resample(&c.samples, 16_000, 48_000)
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(db) = overdrive_db {
            let peak = up.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let gain = 10f32.powf(db / 20.0) / peak;
            up.iter_mut()
                .for_each(|v| *v = (*v * gain).clamp(-1.0, 1.0));
        }
        script = script.samples(up, 48_000).silence(1.0);
    }
    run(script, config, provisional, clips.len())
}

/// What the plugin reports playing `script` with `config` (and provisional results every
/// 0.3 s when asked for), once it has `expected` detections and the script has ended.
fn run(
    script: ScriptedSource,
    config: EngineConfig,
    provisional: bool,
    expected: usize,
) -> MessageLog {
    let mut plugin = VoiceEmotionPlugin::default()
        .with_source(script.end())
        .with_profiles(ProfileLocation::Memory)
        .with_engine_config(config);
    if provisional {
        plugin = plugin.with_provisional_results(Duration::from_millis(300));
    }
    let mut app = app(plugin);
    let finished = update_until(&mut app, Duration::from_secs(180), |w| {
        log(w).detected.len() >= expected
            && w.resource::<MicrophoneStatus>().status == SourceStatus::Finished
    });
    update_until(&mut app, Duration::from_millis(500), |_| false);
    assert!(finished, "{} detections", log(app.world()).detected.len());
    log(app.world()).clone()
}

/// The engine classifies while the player speaks (resampling 48 kHz audio, features and
/// network steps as the audio arrives): exactly what classifying each whole utterance at its
/// end gives, with provisional results on the way when asked for.
#[test]
fn streaming_at_48k_gives_what_the_whole_utterance_gives() {
    let clips = clips(23, 1);
    let streamed = play_at_48k(&clips, EngineConfig::default(), true);
    let whole = play_at_48k(
        &clips,
        EngineConfig {
            streaming: false,
            ..EngineConfig::default()
        },
        false,
    );
    assert_eq!(streamed.detected.len(), clips.len());
    assert_eq!(whole.detected.len(), clips.len());
    for ((s, w), clip) in streamed.detected.iter().zip(&whole.detected).zip(&clips) {
        let name = clip.path.display();
        assert_eq!(s.mfcc, w.mfcc, "{name}: what the model heard");
        assert_eq!(s.probabilities, w.probabilities, "{name}");
        assert_eq!(s.intensity_confidence, w.intensity_confidence, "{name}");
        let provisional: Vec<_> = streamed
            .provisional
            .iter()
            .filter(|p| p.utterance == s.utterance)
            .collect();
        println!(
            "{}: {:?} {:.3}, {} provisional results ({:?}), latency {:.2} ms streamed, {:.2} ms whole",
            clip.path.file_name().unwrap().to_string_lossy(),
            s.emotion,
            s.confidence,
            provisional.len(),
            provisional.iter().map(|p| p.emotion).collect::<Vec<_>>(),
            s.latency_ms,
            w.latency_ms,
        );
        // A result every 0.3 s heard: at least one for every utterance (the shortest, a
        // neutral sentence of 1.1 s, gets one), several for those of 2 s and more.
        let seconds = streamed
            .ended
            .iter()
            .find(|e| e.utterance == s.utterance)
            .unwrap_or_else(|| panic!("{name}: no SpeechEnded"))
            .duration_seconds;
        let expected = if seconds >= 2.0 { 3 } else { 1 };
        assert!(
            provisional.len() >= expected,
            "{name}: {} provisional results in {seconds:.2} s",
            provisional.len()
        );
        assert!(
            provisional
                .windows(2)
                .all(|p| p[0].heard_seconds < p[1].heard_seconds),
            "{name}"
        );
    }
    assert!(whole.provisional.is_empty());
}

/// A microphone whose gain is too high: the engine restores the clipped peaks at the source's
/// rate before the model hears them, the same streamed as whole, and the model hears
/// something else than the clipped audio as it came (`declip: false`).
#[test]
fn clipped_speech_is_restored_alike_streamed_and_whole() {
    let clips = clips(23, 1);
    let play = |config| play_clipped_at_48k(&clips, config, false, Some(12.0));
    let streamed = play(EngineConfig::default());
    let whole = play(EngineConfig {
        streaming: false,
        ..EngineConfig::default()
    });
    let as_it_came = play(EngineConfig {
        declip: false,
        ..EngineConfig::default()
    });
    assert_eq!(streamed.detected.len(), clips.len());
    assert_eq!(whole.detected.len(), clips.len());
    assert_eq!(as_it_came.detected.len(), clips.len());
    for (((s, w), a), clip) in streamed
        .detected
        .iter()
        .zip(&whole.detected)
        .zip(&as_it_came.detected)
        .zip(&clips)
    {
        let name = clip.path.display();
        assert_eq!(s.mfcc, w.mfcc, "{name}: what the model heard");
        assert_eq!(s.probabilities, w.probabilities, "{name}");
        assert_ne!(
            s.mfcc, a.mfcc,
            "{name}: the clipped audio was heard as it came"
        );
        // The share reported is the microphone's, restored or not.
        assert!(
            s.clipped > 0.005 && s.clipped < 0.5,
            "{name}: {}",
            s.clipped
        );
        assert_eq!((s.clipped, a.clipped), (w.clipped, w.clipped), "{name}");
    }
}

/// `clips` played at 16 kHz, with 1 s of room before each, under a mains hum of 60 Hz and its
/// overtones up to 2 kHz (amplitudes falling as 1/k) 10 dB below the clips' speech, running
/// through the whole stream as a room's hum does (`hum: false`: the same stream without it).
fn play_in_hum(clips: &[e2e::Clip], config: EngineConfig, hum: bool) -> MessageLog {
    let rate = 16_000;
    let mut stream = vec![0.0f32; rate];
    for c in clips {
        stream.extend_from_slice(&c.samples);
        stream.extend(vec![0.0; rate]);
    }
    if hum {
        let speech: f64 = clips
            .iter()
            .map(|c| voice_emotion::audio::active_power(&c.samples, 16_000))
            .sum::<f64>()
            / clips.len() as f64;
        let overtones: Vec<f64> = (1..34).map(f64::from).collect();
        let tone = |i: usize| -> f64 {
            let t = i as f64 / rate as f64;
            overtones
                .iter()
                .map(|k| (2.0 * std::f64::consts::PI * 60.0 * k * t + k).sin() / k)
                .sum()
        };
        let power = overtones.iter().map(|k| 0.5 / (k * k)).sum::<f64>();
        let scale = (speech / 10.0 / power).sqrt();
        for (i, v) in stream.iter_mut().enumerate() {
            *v += (scale * tone(i)) as f32;
        }
    }
    let script = ScriptedSource::new(Pace::Fast).samples(stream, 16_000);
    run(script, config, false, clips.len())
}

/// Each MFCC's mean over an utterance's frames.
fn mean_mfcc(m: &voice_emotion::features::FeatureMatrix) -> Vec<f64> {
    (0..m.n_features)
        .map(|j| {
            (0..m.n_frames)
                .map(|i| f64::from(m.data[i * m.n_features + j]))
                .sum::<f64>()
                / m.n_frames.max(1) as f64
        })
        .collect()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// A room with a mains hum: the engine finds the hum in the room before each utterance and
/// removes it, the same streamed as whole; what the model hears is much closer to the
/// utterance without the hum than the hummed audio as it came (`dehum: false`).
#[test]
fn hum_is_removed_alike_streamed_and_whole() {
    let clips = clips(23, 1);
    let streamed = play_in_hum(&clips, EngineConfig::default(), true);
    let whole = play_in_hum(
        &clips,
        EngineConfig {
            streaming: false,
            ..EngineConfig::default()
        },
        true,
    );
    let as_it_came = play_in_hum(
        &clips,
        EngineConfig {
            dehum: false,
            ..EngineConfig::default()
        },
        true,
    );
    let quiet = play_in_hum(&clips, EngineConfig::default(), false);
    for log in [&streamed, &whole, &as_it_came, &quiet] {
        assert_eq!(log.detected.len(), clips.len());
    }
    let mut labels = [0; 3];
    for (i, clip) in clips.iter().enumerate() {
        let name = clip.path.display();
        let (s, w, a, q) = (
            &streamed.detected[i],
            &whole.detected[i],
            &as_it_came.detected[i],
            &quiet.detected[i],
        );
        assert_eq!(s.mfcc, w.mfcc, "{name}: what the model heard");
        assert_eq!(s.probabilities, w.probabilities, "{name}");
        assert_eq!(s.hum_hz, w.hum_hz, "{name}");
        let f0 = s.hum_hz.unwrap_or_else(|| panic!("{name}: no hum found"));
        assert!((f0 - 60.0).abs() < 0.01, "{name}: {f0} Hz");
        assert_eq!((a.hum_hz, q.hum_hz), (None, None), "{name}");
        let clean = mean_mfcc(&q.mfcc);
        let (removed, kept) = (
            distance(&mean_mfcc(&s.mfcc), &clean),
            distance(&mean_mfcc(&a.mfcc), &clean),
        );
        println!(
            "{}: {:?} without hum, {:?} hum removed, {:?} as it came; mean MFCCs {removed:.2} \
             from the quiet room's, {kept:.2} as it came",
            clip.path.file_name().unwrap().to_string_lossy(),
            q.emotion,
            s.emotion,
            a.emotion
        );
        assert!(
            removed * 3.0 < kept,
            "{name}: {removed:.2} against {kept:.2}"
        );
        for (n, d) in labels.iter_mut().zip([q, s, a]) {
            *n += usize::from(d.emotion == clip.name.emotion);
        }
    }
    println!(
        "right: {} without hum, {} hum removed, {} as it came (of {})",
        labels[0],
        labels[1],
        labels[2],
        clips.len()
    );
}
