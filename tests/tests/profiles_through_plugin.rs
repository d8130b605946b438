//! Player profiles through the plugin: confirmations train and are saved across restarts,
//! switching players switches voice heads, a corrupt profile keeps the game running.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::Path;
use std::time::Duration;

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;
use bevy_voice_emotion::testing::{log, update_until};
use bevy_voice_emotion::voice_emotion;
use e2e::{Reference, app, base_ref, clips, ready};
use voice_emotion::labels::Emotion;
use voice_emotion::player::adapt::PlayerModel;
use voice_emotion::player::profile::{PlayerId, PlayerProfile, ProfileStore};
use voice_emotion::player::voice::{VoiceFit, VoiceHead};

const WAIT: Duration = Duration::from_secs(120);

fn plugin(dir: &Path, player: &str, feed: &mut Option<ScriptFeed>) -> VoiceEmotionPlugin {
    let source = ScriptedSource::new(Pace::Fast).silence(0.5);
    *feed = Some(source.feed());
    VoiceEmotionPlugin::default()
        .with_profile_dir(dir)
        .with_player(PlayerId::new(player).unwrap())
        .with_source(source)
}

#[test]
fn confirmations_train_the_player_model_which_is_saved_and_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clips = clips(23, 1);
    let mut feed = None;
    let mut app = app(plugin(dir.path(), "ana", &mut feed));
    let feed = feed.unwrap();
    for c in &clips[..5] {
        feed.samples(c.samples.to_vec(), 16_000);
        feed.silence(1.0);
    }
    assert!(update_until(&mut app, WAIT, |w| log(w).detected.len() >= 5));
    let detected = log(app.world()).detected.clone();
    for (c, d) in clips.iter().zip(&detected) {
        app.world_mut().write_message(ConfirmEmotion {
            utterance: d.utterance,
            emotion: c.name.emotion,
            intensity: Some(c.name.intensity),
        });
    }
    assert!(
        update_until(&mut app, WAIT, |w| log(w)
            .updated
            .iter()
            .any(|u| u.samples_used == 5)),
        "{:?}",
        log(app.world()).updated
    );
    let update = log(app.world()).updated.last().unwrap().clone();
    println!("update: {update:?}");
    assert_eq!(update.player, "ana");
    let player = app.world().resource::<ActivePlayer>().clone();
    assert_eq!(player.samples, 5);
    assert_eq!(player.adapted, update.outcome == UpdateOutcome::Accepted);
    // The history and the samples per emotion come from the engine's copy of the profile.
    let mut per_emotion = [0; Emotion::COUNT];
    for c in &clips[..5] {
        per_emotion[c.name.emotion.index()] += 1;
    }
    assert!(update_until(&mut app, WAIT, |w| {
        let active = w.resource::<ActivePlayer>();
        active.history.last().map(|r| r.samples_used) == Some(5)
    }));
    let player = app.world().resource::<ActivePlayer>().clone();
    assert_eq!(player.samples_per_emotion, per_emotion);
    assert!(update_until(&mut app, WAIT, |w| w
        .resource::<KnownPlayers>()
        .players
        .iter()
        .any(|p| p.as_str() == "ana")));
    assert_eq!(
        app.world().resource::<ProfileFolder>().0.as_deref(),
        Some(dir.path())
    );

    // Saved after the update, while the game still runs.
    let store = ProfileStore::new(dir.path()).unwrap();
    let id = PlayerId::new("ana").unwrap();
    let saved = |store: &ProfileStore| store.load(&id, &base_ref()).unwrap();
    assert!(update_until(&mut app, WAIT, |_| saved(&store)
        .is_some_and(|p| p.samples.len() == 5)));

    // Restart: the player's samples, history and voice head are back.
    drop(app);
    let profile = saved(&store).unwrap();
    assert_eq!(profile.samples.len(), 5);
    assert!(!profile.history.is_empty());
    assert_eq!(profile.voice.is_some(), player.adapted);
    let mut feed = None;
    let mut app = e2e::app(plugin(dir.path(), "ana", &mut feed));
    assert!(update_until(&mut app, WAIT, ready));
    let changed = log(app.world()).players.first().unwrap().clone();
    assert_eq!(changed.player, "ana");
    assert_eq!(changed.samples, 5);
    assert_eq!(changed.adapted, player.adapted);
    assert_eq!(changed.notice, None);
    assert!(update_until(&mut app, WAIT, |w| {
        w.resource::<ActivePlayer>().history.len() == profile.history.len()
    }));
    let restarted = app.world().resource::<ActivePlayer>();
    assert_eq!(restarted.samples_per_emotion, per_emotion);
}

#[test]
fn switching_players_switches_voice_heads() {
    let dir = tempfile::tempdir().unwrap();
    let core = Reference::default();
    // Player `odd` has a voice head of their own, fitted to made-up descriptors with little
    // regularisation, so its predictions differ visibly from the base model's.
    let odd = PlayerId::new("odd").unwrap();
    let width = core.adapter.descriptor_width();
    let descriptors: Vec<Vec<f32>> = (0..16)
        .map(|k| {
            (0..width)
                .map(|j| (((k * 7 + j * 13) % 23) as f32 - 11.0) * 0.3)
                .collect()
        })
        .collect();
    let refs: Vec<&[f32]> = descriptors.iter().map(Vec::as_slice).collect();
    let labels: Vec<Emotion> = (0..16).map(|k| Emotion::ALL[k % 8]).collect();
    let fit = VoiceFit {
        c: 100.0,
        ..VoiceFit::default()
    };
    let mut profile = PlayerProfile::new(odd.clone(), base_ref());
    profile.voice = Some(VoiceHead::fit(&refs, &labels, None, &fit).unwrap());
    let store = ProfileStore::new(dir.path()).unwrap();
    store.acquire(&odd).unwrap().save(&profile).unwrap();

    let clip = &clips(21, 1)[4];
    let mut feed = None;
    let mut app = app(plugin(dir.path(), "first", &mut feed));
    let feed = feed.unwrap();
    feed.samples(clip.samples.to_vec(), 16_000);
    feed.silence(1.0);
    assert!(update_until(&mut app, WAIT, |w| log(w).detected.len() == 1));
    app.world_mut().write_message(SwitchPlayer {
        player: PlayerId::new("odd").unwrap(),
    });
    assert!(update_until(&mut app, WAIT, |w| log(w)
        .players
        .iter()
        .any(|p| p.player == "odd")));
    let changed = log(app.world()).players.last().unwrap().clone();
    assert!(changed.adapted && changed.notice.is_none(), "{changed:?}");
    feed.samples(clip.samples.to_vec(), 16_000);
    feed.silence(1.0);
    assert!(update_until(&mut app, WAIT, |w| log(w).detected.len() == 2));
    let (first, second) = {
        let d = &log(app.world()).detected;
        (d[0].clone(), d[1].clone())
    };
    assert_eq!(first.player, "first");
    assert!(!first.adapted);
    assert_eq!(second.player, "odd");
    assert!(second.adapted);
    // The second detection is the odd player's model's, not the base model's.
    let reference = PlayerModel::from_profile(core.adapter.clone(), profile).unwrap();
    let expected = reference.classify(&second.mfcc).unwrap();
    assert_eq!(second.probabilities, expected.probabilities);
    let base = core.fresh_player().classify(&second.mfcc).unwrap();
    let diff = base
        .probabilities
        .iter()
        .zip(&second.probabilities)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        diff > 0.05,
        "the base model would say nearly the same: {diff}"
    );
    // And back.
    app.world_mut().write_message(SwitchPlayer {
        player: PlayerId::new("first").unwrap(),
    });
    assert!(update_until(&mut app, WAIT, |w| w
        .resource::<ActivePlayer>()
        .id
        .as_deref()
        == Some("first")));
}

#[test]
fn a_corrupt_profile_is_moved_aside_and_the_game_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = ProfileStore::new(dir.path()).unwrap();
    let id = PlayerId::new("broken").unwrap();
    std::fs::write(store.path_of(&id), b"\x89VEPROF\nthis is not a profile").unwrap();
    let clip = &clips(24, 1)[2];
    let mut feed = None;
    let mut app = app(plugin(dir.path(), "broken", &mut feed));
    let feed = feed.unwrap();
    feed.samples(clip.samples.to_vec(), 16_000);
    feed.silence(1.0);
    assert!(update_until(&mut app, WAIT, |w| log(w).detected.len() == 1));
    let changed = log(app.world()).players.first().unwrap().clone();
    assert_eq!(changed.player, "broken");
    assert!(!changed.adapted);
    let notice = changed.notice.unwrap();
    let ProfileNotice::MovedAside { path, moved_to, .. } = &notice else {
        panic!("expected MovedAside, got {notice:?}");
    };
    assert_eq!(path, &store.path_of(&id));
    assert!(notice.to_string().contains("moved to"), "{notice}");
    let moved: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("broken.profile.corrupt-"))
        })
        .collect();
    assert_eq!(
        moved,
        std::slice::from_ref(moved_to),
        "the damaged file is kept for inspection"
    );
}

#[test]
fn reset_goes_back_to_the_base_model_and_forget_deletes_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let clips = clips(21, 1);
    let mut feed = None;
    let mut app = app(plugin(dir.path(), "kim", &mut feed));
    let feed = feed.unwrap();
    // Four clips to confirm, and a fifth the player never confirms (a held-out take).
    for c in &clips[..5] {
        feed.samples(c.samples.to_vec(), 16_000);
        feed.silence(1.0);
    }
    assert!(update_until(&mut app, WAIT, |w| log(w).detected.len() >= 5));
    let detected = log(app.world()).detected.clone();
    for (c, d) in clips.iter().zip(&detected[..4]) {
        app.world_mut().write_message(ConfirmEmotion {
            utterance: d.utterance,
            emotion: c.name.emotion,
            intensity: None,
        });
    }
    assert!(update_until(&mut app, WAIT, |w| log(w)
        .updated
        .iter()
        .any(|u| u.samples_used == 4)));
    let store = ProfileStore::new(dir.path()).unwrap();
    let id = PlayerId::new("kim").unwrap();
    assert!(update_until(&mut app, WAIT, |_| store
        .load(&id, &base_ref())
        .unwrap()
        .is_some_and(|p| p.samples.len() == 4)));

    // What the model makes of the player's own samples now.
    app.world_mut().write_message(EvaluatePlayer);
    assert!(update_until(&mut app, WAIT, |w| !log(w)
        .evaluated
        .is_empty()));
    let evaluated = log(app.world()).evaluated[0].clone();
    println!("own samples after adaptation: {evaluated:?}");
    assert_eq!((evaluated.player.as_str(), evaluated.total), ("kim", 4));

    // The held-out take, scored by the base network and by the player's model; an id the
    // engine never heard is reported missing, not scored.
    app.world_mut().write_message(EvaluateHeldOut {
        takes: vec![
            (detected[4].utterance, clips[4].name.emotion),
            (9999, Emotion::Sad),
        ],
    });
    assert!(update_until(&mut app, WAIT, |w| !log(w)
        .held_out
        .is_empty()));
    let held_out = log(app.world()).held_out[0].clone();
    println!("held-out take: {held_out:?}");
    assert_eq!(
        (held_out.player.as_str(), held_out.total, held_out.missing),
        ("kim", 1, vec![9999])
    );
    assert!(held_out.base_correct <= 1 && held_out.player_correct <= 1);
    // It was not confirmed: the profile still has four samples.
    assert_eq!(
        store.load(&id, &base_ref()).unwrap().unwrap().samples.len(),
        4
    );

    // Reset, keeping nothing: base weights, no samples, and saved so.
    let before = log(app.world()).players.len();
    app.world_mut().write_message(ResetPlayer {
        keep_samples: false,
    });
    assert!(update_until(&mut app, WAIT, |w| log(w).players.len() > before));
    let reset = log(app.world()).players.last().unwrap().clone();
    assert_eq!(
        (reset.player.as_str(), reset.adapted, reset.samples),
        ("kim", false, 0)
    );
    let saved = store.load(&id, &base_ref()).unwrap().unwrap();
    assert!(saved.voice.is_none() && saved.samples.is_empty());

    // Forget: the file is gone and the player starts again from nothing.
    let before = log(app.world()).players.len();
    app.world_mut().write_message(ForgetPlayer {
        player: PlayerId::new("kim").unwrap(),
    });
    assert!(update_until(&mut app, WAIT, |w| log(w).players.len() > before));
    assert!(!store.path_of(&id).exists());
    assert_eq!(store.list().unwrap(), Vec::<PlayerId>::new());
    let player = app.world().resource::<ActivePlayer>().clone();
    assert_eq!((player.id.as_deref(), player.samples), (Some("kim"), 0));
    // Still listening after all that.
    feed.samples(clips[5].samples.to_vec(), 16_000);
    feed.silence(1.0);
    assert!(update_until(&mut app, WAIT, |w| log(w).detected.len() == 6));
}
