//! A profile made for another base model (the base weights retrained, the front end the same),
//! opened by the engine: re-based, its original file kept, the player's voice head fitted
//! again on the new base, the profile saved on the new base. And one whose samples do not fit
//! the front end: left untouched, as before.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use voice_emotion::audio::capture::audio_buffer;
use voice_emotion::audio::load_clip;
use voice_emotion::engine::{
    Engine, EngineConfig, EngineEvent, ModelSource, ProfileLocation, ProfileNotice,
};
use voice_emotion::labels::Emotion;
use voice_emotion::model::{EmotionClassifier, InputExtractor, default_device};
use voice_emotion::player::profile::{
    BaseModelRef, ConfirmedSample, PlayerId, PlayerProfile, ProfileStore, QuantisedMatrix,
    RecordKind, UpdateRecord,
};
use voice_emotion::training::dataset::RavdessName;

mod common;
#[path = "common/profiles.rs"]
mod profiles;

const WAIT: Duration = Duration::from_secs(180);

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base")
}

/// What profiles made by the engine on `models/base` record as their base.
fn current_base() -> BaseModelRef {
    BaseModelRef::of_file("base", model_dir().join("model.bpk")).unwrap()
}

/// The base the profiles were made on: the weights before retraining.
fn old_base() -> BaseModelRef {
    BaseModelRef::of_bytes("base", b"the base weights before retraining")
}

/// `per_emotion` confirmed samples of each emotion spoken by RAVDESS `actor`, as the engine
/// would have stored them (MFCC frames of the shipped front end).
fn confirmed(actor: u8, per_emotion: usize) -> Vec<ConfirmedSample> {
    let classifier = EmotionClassifier::load(model_dir(), &default_device()).unwrap();
    let mut extractor = InputExtractor::new(classifier.input_config().clone()).unwrap();
    let dir = common::ravdess_dir().join(format!("Actor_{actor:02}"));
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    paths.sort();
    let mut taken = [0usize; Emotion::COUNT];
    let mut out = Vec::new();
    for path in paths {
        let name = RavdessName::parse(&path).unwrap();
        if taken[name.emotion.index()] >= per_emotion {
            continue;
        }
        taken[name.emotion.index()] += 1;
        let mfcc = extractor.mfcc(&load_clip(&path).unwrap()).unwrap();
        out.push(ConfirmedSample {
            features: QuantisedMatrix::encode(&mfcc),
            emotion: name.emotion,
            intensity: Some(name.intensity),
            time_unix_ms: 1_700_000_000_000 + out.len() as u64,
            audio: None,
        });
    }
    out
}

/// An adapted player's profile on [`old_base`]: `samples`, a voice head made on the old
/// network (its width fits no network of this shape) and the record of its update.
fn old_profile(player: &str, samples: Vec<ConfirmedSample>) -> PlayerProfile {
    let mut p = PlayerProfile::new(PlayerId::new(player).unwrap(), old_base());
    p.voice = Some(profiles::voice_head(7, 3));
    p.history.push(UpdateRecord {
        time_unix_ms: 1_700_000_100_000,
        samples_used: samples.len(),
        accuracy_before: 0.4,
        accuracy_after: 0.7,
        accepted: true,
        reason: "fitted on the old base".to_owned(),
        seconds: 0.2,
        kind: RecordKind::Update,
    });
    p.samples = samples;
    p
}

fn start(store: &ProfileStore, player: &PlayerId) -> Engine {
    // No audio ever arrives: the test is about opening, fitting and saving.
    let (_sink, tap) = audio_buffer(48_000);
    Engine::start(
        ModelSource::Directory(model_dir()),
        EngineConfig::default(),
        &ProfileLocation::Directory(store.root().to_path_buf()),
        player.clone(),
        tap,
    )
    .unwrap()
}

/// Events until `done` says so (panics after [`WAIT`]).
fn events_until(engine: &Engine, mut done: impl FnMut(&EngineEvent) -> bool) -> Vec<EngineEvent> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Some(e) = engine.event_timeout(Duration::from_millis(100)) {
            let stop = done(&e);
            seen.push(e);
            if stop {
                return seen;
            }
        }
    }
    panic!("timed out; events so far: {seen:#?}");
}

/// What the engine said when it opened the player: the `Ready` event's fields.
struct Opened {
    player: PlayerId,
    adapted: bool,
    samples: usize,
    notice: Option<ProfileNotice>,
}

/// Starts an engine on `player` and waits for it to be ready.
fn open(store: &ProfileStore, player: &PlayerId) -> (Engine, Opened) {
    let engine = start(store, player);
    let events = events_until(&engine, |e| matches!(e, EngineEvent::Ready { .. }));
    let Some(EngineEvent::Ready {
        player,
        adapted,
        samples,
        notice,
    }) = events.last().cloned()
    else {
        panic!("{events:#?}")
    };
    (
        engine,
        Opened {
            player,
            adapted,
            samples,
            notice,
        },
    )
}

fn base_copies(store: &ProfileStore, player: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(store.root())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{player}.profile.base-"))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn a_profile_for_the_retrained_base_is_rebased_backed_up_refitted_and_saved() {
    let dir = tempfile::tempdir().unwrap();
    let store = ProfileStore::new(dir.path().join("profiles")).unwrap();
    let samples = confirmed(21, 3);
    assert_eq!(samples.len(), 3 * Emotion::COUNT);
    let old = old_profile("ana", samples);
    store.acquire(&old.id).unwrap().save(&old).unwrap();
    let path = store.path_of(&old.id);
    let original = fs::read(&path).unwrap();
    let new = current_base();
    assert_ne!(new.hash, old_base().hash);

    let (engine, opened) = open(&store, &old.id);
    assert_eq!(
        (&opened.player, opened.samples),
        (&old.id, old.samples.len())
    );
    assert!(
        !opened.adapted,
        "the old voice head is not used on the new base"
    );
    let notice = opened.notice.unwrap();
    println!("{notice}");
    assert!(notice.still_saved());
    let ProfileNotice::Rebased {
        player,
        from,
        to,
        backup,
    } = &notice
    else {
        panic!("expected Rebased, got {notice:?}")
    };
    assert_eq!((player, from, to), (&old.id, &old_base(), &new));
    assert_eq!(
        backup,
        &store
            .root()
            .join(format!("ana.profile.base-{}", old_base().hash))
    );
    assert_eq!(
        fs::read(backup).unwrap(),
        original,
        "the copy is byte for byte"
    );

    // The voice head is fitted again at load, and the result saved.
    let mut update = None;
    let events = events_until(&engine, |e| {
        if let EngineEvent::ModelUpdated { record, .. } = e {
            update = Some(record.clone());
        }
        update.is_some() && matches!(e, EngineEvent::ProfileSaved { .. })
    });
    let update = update.unwrap();
    println!("refit: {update:?}");
    assert_eq!(update.kind, RecordKind::Update);
    assert_eq!(update.samples_used, old.samples.len());
    // The game is told the history with the refit last.
    let told = events.iter().rev().find_map(|e| match e {
        EngineEvent::PlayerHistory { history, .. } => Some(history.to_vec()),
        _ => None,
    });
    let told_kinds: Vec<RecordKind> = told.unwrap().iter().map(|r| r.kind).collect();
    assert_eq!(
        told_kinds,
        [RecordKind::Update, RecordKind::Rebased, RecordKind::Update]
    );
    engine.shutdown();

    // On disk: the profile on the new base, with everything the player gave.
    let saved = store.load(&old.id, &new).unwrap().unwrap();
    assert_eq!(saved.base, new);
    assert_eq!(saved.samples, old.samples);
    assert_eq!(saved.norm, old.norm);
    let kinds: Vec<RecordKind> = saved.history.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [RecordKind::Update, RecordKind::Rebased, RecordKind::Update]
    );
    assert_eq!(saved.history[0], old.history[0]);
    let rebased = &saved.history[1];
    assert!(!rebased.accepted);
    assert_eq!(rebased.samples_used, old.samples.len());
    assert!(
        rebased.reason.contains(&old_base().to_string())
            && rebased.reason.contains(&new.to_string()),
        "{}",
        rebased.reason
    );
    assert_eq!(saved.history[2].accepted, update.accepted);
    // Adapted on the new base: RAVDESS actor 21's own samples help the network.
    assert!(update.accepted, "{update:?}");
    let voice = saved.voice.unwrap();
    assert_ne!(Some(&voice), old.voice.as_ref());
    // The copy is still the original, and the only one.
    assert_eq!(base_copies(&store, "ana"), std::slice::from_ref(backup));
    assert_eq!(fs::read(backup).unwrap(), original);

    // Opened again: on its own base now, nothing to re-base.
    let (engine, opened) = open(&store, &old.id);
    assert_eq!((opened.adapted, opened.notice), (true, None));
    engine.shutdown();
    assert_eq!(base_copies(&store, "ana").len(), 1);
}

#[test]
fn a_profile_whose_samples_do_not_fit_the_front_end_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = ProfileStore::new(dir.path().join("profiles")).unwrap();
    // 13 coefficients per frame: made for another front end.
    let samples = (0..8u64)
        .map(|k| {
            let mut mfcc = profiles::mfcc_like(60, k);
            let frames: Vec<f32> = mfcc
                .data
                .chunks(profiles::N_MFCC)
                .flat_map(|f| f[..13].to_vec())
                .collect();
            mfcc.data = frames;
            mfcc.n_features = 13;
            ConfirmedSample {
                features: QuantisedMatrix::encode(&mfcc),
                emotion: Emotion::ALL[k as usize],
                intensity: None,
                time_unix_ms: 1_700_000_000_000 + k,
                audio: None,
            }
        })
        .collect();
    let old = old_profile("bo", samples);
    store.acquire(&old.id).unwrap().save(&old).unwrap();
    let path = store.path_of(&old.id);
    let original = fs::read(&path).unwrap();

    let (engine, opened) = open(&store, &old.id);
    assert_eq!(
        (opened.adapted, opened.samples),
        (false, 0),
        "the base model, from memory"
    );
    let notice = opened.notice.unwrap();
    assert_eq!(
        notice,
        ProfileNotice::WrongBase {
            player: old.id.clone(),
            expected: current_base(),
            found: old_base(),
        }
    );
    assert!(!notice.still_saved());
    engine.send(voice_emotion::engine::Command::Save);
    std::thread::sleep(Duration::from_millis(300));
    engine.shutdown();
    assert_eq!(fs::read(&path).unwrap(), original, "untouched");
    assert!(base_copies(&store, "bo").is_empty());
}
