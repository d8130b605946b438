//! The player profile store across processes: a writer's lock seen from another process and
//! released when its holder dies, and saves killed at any moment (`SIGKILL`) leaving a whole
//! profile.
//!
//! The tests run this test binary again as a child (`child_role`, below), with [`CHILD_ENV`]
//! telling it what to do. They live apart from `profile_store.rs` and take [`SERIAL`]: while a
//! process forks, the child briefly shares every open file of the parent, locked ones included,
//! so a test spawning children would make concurrent lock tests in the same process fail
//! spuriously. (Cargo runs test binaries one after another.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use voice_emotion::profile::{PlayerProfile, ProfileError, ProfileStore};

#[path = "common/profiles.rs"]
mod profiles;
use profiles::{base, corrupt_copies, id, names, store};

/// Set (to `<role> <store dir>`) when this binary runs as a child of a test.
const CHILD_ENV: &str = "VOICE_EMOTION_PROFILE_CHILD";

/// Held by each test for its whole run: one test spawns children at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs this test binary again as a child running only `child_role` in `role`.
fn spawn_child(role: &str, store: &ProfileStore) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_role", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{role} {}", store.root().display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads the child's output until a line containing `marker` (libtest may print
/// `test child_role ... ` before it on the same line); panics if the child exits first.
fn wait_for(child: &mut Child, marker: &str) {
    let out = child.stdout.as_mut().unwrap();
    for l in BufReader::new(out).lines() {
        if l.unwrap().contains(marker) {
            return;
        }
    }
    panic!(
        "child exited before printing {marker:?}: {:?}",
        child.wait()
    );
}

const CHILD_ID: &str = "crashy";

/// Checks a saved generation of the child's profile is whole: every sample, the weights and
/// the update time carry the same generation number.
fn assert_whole(p: &PlayerProfile) -> u64 {
    let generation = p.updated_unix_ms;
    assert_eq!(p.samples.len(), profiles::SAMPLES);
    assert!(p.samples.iter().all(|s| s.time_unix_ms == generation));
    let w = p.weights.as_ref().unwrap();
    assert_eq!(w.len(), profiles::WEIGHTS_BYTES);
    assert!(w.iter().all(|&b| b == generation as u8));
    generation
}

/// Not a test by itself: the child side of the multi-process tests. It returns at once (and
/// passes) unless [`CHILD_ENV`] is set, which only the parent tests do when they run this
/// binary as `--exact child_role`. Roles:
/// - `hold DIR`: takes the lock of `crashy`, prints `<locked>`, waits until killed or stdin ends;
/// - `save-loop DIR`: takes the lock, prints `<saving>`, then saves ever newer generations of a
///   500-sample profile until killed.
#[test]
fn child_role() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (role, dir) = spec.split_once(' ').unwrap();
    let store = ProfileStore::new(dir).unwrap();
    let writer = store.acquire(&id(CHILD_ID)).unwrap();
    match role {
        "hold" => {
            println!("<locked>");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).unwrap();
        }
        "save-loop" => {
            let mut p = match writer.load(&base()).unwrap() {
                Some(p) => p,
                None => {
                    let mut p = profiles::large_profile(CHILD_ID);
                    p.updated_unix_ms = 0;
                    p
                }
            };
            println!("<saving>");
            for generation in p.updated_unix_ms + 1.. {
                p.updated_unix_ms = generation;
                for s in &mut p.samples {
                    s.time_unix_ms = generation;
                }
                p.weights = Some(vec![generation as u8; profiles::WEIGHTS_BYTES]);
                writer.save(&p).unwrap();
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

#[test]
fn the_lock_holds_across_processes_and_dies_with_its_holder() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (_dir, store) = store();
    let crashy = id(CHILD_ID);
    let mut child = spawn_child("hold", &store);
    wait_for(&mut child, "<locked>");
    assert!(matches!(
        store.acquire(&crashy),
        Err(ProfileError::Locked { .. })
    ));
    assert!(matches!(
        store.forget(&crashy),
        Err(ProfileError::Locked { .. })
    ));
    child.kill().unwrap(); // SIGKILL on Unix: no destructor runs
    child.wait().unwrap();
    let w = store
        .acquire(&crashy)
        .expect("the OS released the dead holder's lock");
    drop(w);

    // A holder that ends normally releases it too.
    let mut child = spawn_child("hold", &store);
    wait_for(&mut child, "<locked>");
    assert!(matches!(
        store.acquire(&crashy),
        Err(ProfileError::Locked { .. })
    ));
    drop(child.stdin.take()); // ends its wait
    assert!(child.wait().unwrap().success());
    store.acquire(&crashy).unwrap();
}

#[test]
fn a_save_killed_at_any_moment_leaves_a_whole_profile() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (_dir, store) = store();
    let crashy = id(CHILD_ID);
    let path = store.path_of(&crashy);
    // A scratch store where leftover temporary files are tried as profiles.
    let scratch = ProfileStore::new(store.root().join("scratch")).unwrap();
    let mut last = 0;
    let mut killed_mid_save = 0;
    let delays_ms = [0, 5, 13, 29, 41, 67, 97, 151, 211, 307];
    for delay in delays_ms {
        let mut child = spawn_child("save-loop", &store);
        wait_for(&mut child, "<saving>");
        // Let the first save finish before the first kill, so there is an old version.
        let deadline = Instant::now() + Duration::from_secs(120);
        while !path.exists() {
            assert!(Instant::now() < deadline, "the child never saved");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(delay));
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child died by itself"
        );
        child.kill().unwrap();
        child.wait().unwrap();

        let p = store.load(&crashy, &base()).unwrap().expect("a profile");
        let generation = assert_whole(&p);
        assert!(generation >= last, "generation {generation} after {last}");
        last = generation;
        assert!(corrupt_copies(&store, CHILD_ID).is_empty());

        // A save cut short leaves only its temporary file, which never passes as a profile.
        let temps: Vec<PathBuf> = fs::read_dir(store.root())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| name_of(p).starts_with("crashy.profile.tmp-"))
            .collect();
        for t in &temps {
            killed_mid_save += 1;
            let partial = fs::read(t).unwrap();
            fs::write(scratch.path_of(&crashy), &partial).unwrap();
            match scratch.load(&crashy, &base()) {
                Ok(Some(p)) => {
                    // Killed after the last byte but before the rename: whole, one ahead.
                    assert_eq!(assert_whole(&p), generation + 1);
                }
                Err(ProfileError::Corrupt { .. }) => {}
                other => panic!("partial file of {} bytes: {other:?}", partial.len()),
            }
        }
        // The next writer cleans them up.
        drop(store.acquire(&crashy).unwrap());
        assert!(
            !names(&store)
                .iter()
                .any(|n| n.starts_with("crashy.profile.tmp-"))
        );
    }
    println!(
        "{} kills, {killed_mid_save} during a write; last generation {last}",
        delays_ms.len()
    );
    assert!(last > 1, "the child saved more than once");
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}
