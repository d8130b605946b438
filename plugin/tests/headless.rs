//! The plugin in a headless app (`MinimalPlugins`) with scripted input: no microphone, no
//! data set needed.

use std::time::Duration;

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;
use bevy_voice_emotion::testing::{MessageLogPlugin, log, update_until};

fn app(plugin: VoiceEmotionPlugin) -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(plugin.with_profiles(ProfileLocation::Memory))
        .add_plugins(MessageLogPlugin);
    app
}

fn ready(world: &World) -> bool {
    world.resource::<ActivePlayer>().id.is_some()
}

/// Deterministic white noise at `amplitude`.
fn noise(seconds: f64, amplitude: f32, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..(seconds * 16_000.0) as usize)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amplitude
        })
        .collect()
}

/// A vowel-like buzz: harmonics of a gliding pitch under a syllable envelope.
fn buzz(seconds: f64) -> Vec<f32> {
    let n = (seconds * 16_000.0) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            let f0 = 140.0 + 30.0 * (t * 3.0).sin();
            let env = (std::f32::consts::PI * t * 4.0).sin().abs();
            (1..6)
                .map(|h| (std::f32::consts::TAU * f0 * h as f32 * t).sin() / h as f32)
                .sum::<f32>()
                * 0.2
                * env
        })
        .collect()
}

#[test]
fn silence_and_quiet_noise_produce_no_detections() {
    let script = ScriptedSource::new(Pace::Fast)
        .silence(3.0)
        .samples(noise(5.0, 0.0005, 1), 16_000)
        .silence(2.0)
        .end();
    let mut app = app(VoiceEmotionPlugin::default().with_source(script));
    assert!(update_until(&mut app, Duration::from_secs(60), |w| {
        ready(w)
            && w.resource::<MicrophoneStatus>().status == SourceStatus::Finished
            && w.resource::<bevy_voice_emotion::VoiceEngine>()
                .monitor()
                .stats()
                .pushed_samples
                >= 160_000
    }));
    // Let the engine catch up with the last samples.
    update_until(&mut app, Duration::from_millis(500), |_| false);
    let log = log(app.world());
    assert!(log.started.is_empty(), "{:?}", log.started);
    assert!(log.detected.is_empty());
    assert_eq!(
        app.world().resource::<VoiceEmotionDiagnostics>().utterances,
        0
    );
}

#[test]
fn speech_like_sound_is_segmented_and_classified_once() {
    let script = ScriptedSource::new(Pace::Fast)
        .silence(1.0)
        .samples(buzz(1.5), 16_000)
        .silence(1.5)
        .end();
    let mut app = app(VoiceEmotionPlugin::default().with_source(script));
    assert!(update_until(&mut app, Duration::from_secs(60), |w| {
        !log(w).detected.is_empty()
    }));
    update_until(&mut app, Duration::from_millis(300), |_| false);
    let log = log(app.world());
    assert_eq!(log.started.len(), 1);
    assert_eq!(log.ended.len(), 1);
    assert_eq!(log.detected.len(), 1);
    let d = &log.detected[0];
    assert_eq!(d.utterance, log.started[0].utterance);
    assert!((d.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-3);
    assert_eq!(d.confidence, d.probabilities[d.emotion.index()]);
    // 1.5 s of sound, up to 0.8 s of pre-roll and 0.5 s of tail.
    assert!(
        d.duration_seconds > 1.4 && d.duration_seconds < 3.0,
        "{}",
        d.duration_seconds
    );
    assert_eq!(d.player, "player");
    let state = app.world().resource::<EmotionState>();
    assert_eq!(state.emotion(), Some(d.emotion));
    assert_eq!(state.latest(), Some(d));
}

#[test]
fn a_missing_microphone_is_a_status_not_a_panic() {
    let mut app = app(VoiceEmotionPlugin::default().with_microphone("no such microphone 1234"));
    assert!(update_until(&mut app, Duration::from_secs(30), |w| {
        ready(w)
            && matches!(
                w.resource::<MicrophoneStatus>().status,
                SourceStatus::NoDevice { .. } | SourceStatus::Disconnected { .. }
            )
    }));
    // The game runs on; messages in are taken without a source.
    app.world_mut().write_message(ConfirmEmotion {
        utterance: 99,
        emotion: Emotion::Happy,
        intensity: None,
    });
    assert!(update_until(&mut app, Duration::from_secs(10), |w| {
        !log(w).rejected.is_empty()
    }));
    assert_eq!(
        log(app.world()).rejected[0].rejection,
        ConfirmRejection::NotRecent {
            utterance: 99,
            kept: 32
        }
    );
    let status = &log(app.world()).microphone;
    assert!(!status.is_empty());
}

#[test]
fn a_script_with_a_missing_file_reports_it_and_the_app_runs_on() {
    let script = ScriptedSource::new(Pace::Fast).file("/no/such/clip.wav");
    let mut app = app(VoiceEmotionPlugin::default().with_source(script));
    assert!(update_until(&mut app, Duration::from_secs(30), ready));
    // The source's failure reaches the game with the engine's next pass, which may come a
    // frame after `Ready`.
    let failed = |w: &World| {
        matches!(
            w.resource::<MicrophoneStatus>().status,
            SourceStatus::Failed { .. }
        )
    };
    update_until(&mut app, Duration::from_secs(10), failed);
    let status = &app.world().resource::<MicrophoneStatus>().status;
    assert!(
        matches!(status, SourceStatus::Failed { reason } if reason.contains("/no/such/clip.wav")),
        "{status:?}"
    );
}

#[test]
fn a_model_directory_that_does_not_exist_turns_voice_off_without_a_panic() {
    let mut app = app(VoiceEmotionPlugin::default()
        .with_model_dir("/no/such/model")
        .with_input(VoiceInput::None));
    assert!(update_until(&mut app, Duration::from_secs(30), |w| {
        matches!(
            &w.resource::<MicrophoneStatus>().status,
            SourceStatus::Failed { reason } if reason.contains("/no/such/model")
        )
    }));
    assert!(!ready(app.world()));
}

#[test]
fn an_invalid_player_id_cannot_be_made_and_the_default_player_is_player() {
    assert!(PlayerId::new("../../etc").is_err());
    let mut app = app(VoiceEmotionPlugin::default().with_input(VoiceInput::None));
    assert!(update_until(&mut app, Duration::from_secs(30), ready));
    assert_eq!(
        app.world().resource::<ActivePlayer>().id,
        Some(PlayerId::default())
    );
    assert_eq!(PlayerId::default(), "player");
}

#[test]
fn the_voice_input_can_change_while_the_game_runs() {
    let mut app = app(VoiceEmotionPlugin::default().with_input(VoiceInput::None));
    assert!(update_until(&mut app, Duration::from_secs(30), ready));
    assert_eq!(
        app.world().resource::<MicrophoneStatus>().status,
        SourceStatus::Stopped
    );
    let script = ScriptedSource::new(Pace::Fast)
        .named("clips")
        .silence(1.0)
        .samples(buzz(1.5), 16_000)
        .silence(1.5)
        .end();
    app.world_mut()
        .commands()
        .queue(ChangeVoiceInput(VoiceInput::Source(Box::new(script))));
    app.world_mut().flush();
    assert!(update_until(&mut app, Duration::from_secs(60), |w| {
        !log(w).detected.is_empty()
    }));
    // Quick status changes are reported as the latest one: active, or already finished.
    assert!(log(app.world()).microphone.iter().any(|m| matches!(
        &m.status,
        SourceStatus::Active { device, .. } if device == "clips"
    ) || m.status == SourceStatus::Finished));
}

#[test]
fn known_players_and_the_history_follow_the_profile_folder() {
    use bevy_voice_emotion::BASE_MODEL;
    use bevy_voice_emotion::voice_emotion::player::profile::{
        BaseModelRef, PlayerProfile, ProfileStore, RecordKind, UpdateRecord,
    };

    let dir = tempfile::tempdir().unwrap();
    let store = ProfileStore::new(dir.path()).unwrap();
    let base = BaseModelRef::of_bytes("base", BASE_MODEL.weights);
    for (name, updates) in [("ana", 2), ("bo", 0)] {
        let id = PlayerId::new(name).unwrap();
        let mut profile = PlayerProfile::new(id.clone(), base.clone());
        profile.history = (0..updates)
            .map(|k| UpdateRecord {
                time_unix_ms: k,
                samples_used: 4,
                accuracy_before: 0.5,
                accuracy_after: 0.5,
                accepted: false,
                reason: format!("update {k}"),
                seconds: 0.01,
                kind: RecordKind::Update,
            })
            .collect();
        store.acquire(&id).unwrap().save(&profile).unwrap();
    }
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(
            VoiceEmotionPlugin::default()
                .with_profile_dir(dir.path())
                .with_player(PlayerId::new("cy").unwrap())
                .with_source(ScriptedSource::new(Pace::Fast).silence(0.5)),
        )
        .add_plugins(MessageLogPlugin);
    let names = |w: &World| -> Vec<String> {
        let known = w.resource::<KnownPlayers>();
        known
            .players
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect()
    };
    assert!(update_until(&mut app, Duration::from_secs(30), |w| {
        ready(w) && names(w) == ["ana", "bo"]
    }));
    assert_eq!(app.world().resource::<KnownPlayers>().problem, None);
    assert_eq!(
        app.world().resource::<ProfileFolder>().0.as_deref(),
        Some(dir.path())
    );
    assert!(app.world().resource::<ActivePlayer>().history.is_empty());

    app.world_mut().write_message(SwitchPlayer {
        player: PlayerId::new("ana").unwrap(),
    });
    assert!(update_until(&mut app, Duration::from_secs(30), |w| {
        w.resource::<ActivePlayer>().history.len() == 2
    }));
    let active = app.world().resource::<ActivePlayer>();
    assert_eq!(active.id.as_deref(), Some("ana"));
    assert_eq!(active.history[1].reason, "update 1");
    assert_eq!(active.samples_per_emotion, [0; Emotion::COUNT]);

    app.world_mut().write_message(ForgetPlayer {
        player: PlayerId::new("bo").unwrap(),
    });
    assert!(update_until(&mut app, Duration::from_secs(30), |w| {
        names(w) == ["ana"]
    }));
}

#[test]
fn memory_only_profiles_have_no_folder_and_no_known_players() {
    let mut app = app(
        VoiceEmotionPlugin::default().with_source(ScriptedSource::new(Pace::Fast).silence(0.5))
    );
    assert!(update_until(&mut app, Duration::from_secs(30), ready));
    app.update();
    assert_eq!(app.world().resource::<ProfileFolder>().0, None);
    assert_eq!(
        *app.world().resource::<KnownPlayers>(),
        KnownPlayers::default()
    );
}
