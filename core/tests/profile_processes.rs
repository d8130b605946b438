//! The player profile store across processes: a writer's lock seen from another process and
//! released when its holder dies, and saves killed at any moment (`SIGKILL`) leaving a whole
//! profile.
//!
//! The tests run this test binary again as a child (`child_role`, below), with [`CHILD_ENV`]
//! telling it what to do. They live apart from `profile_store.rs` and take [`SERIAL`]: while a
//! process forks, the child briefly shares every open file of the parent, locked ones included,
//! so a test spawning children would make concurrent lock tests in the same process fail
//! spuriously. (Cargo runs test binaries one after another.)
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use voice_emotion::player::profile::{PlayerProfile, ProfileError, ProfileStore};

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

/// Checks a saved generation of the child's profile is whole: every sample, the voice head,
/// every history record and the update time carry the same generation number.
fn assert_whole(p: &PlayerProfile) -> u64 {
    let generation = p.updated_unix_ms;
    assert_eq!(p.samples.len(), profiles::SAMPLES);
    assert!(p.samples.iter().all(|s| s.time_unix_ms == generation));
    assert_eq!(
        p.voice,
        Some(profiles::voice_head(profiles::DESCRIPTOR, generation % 5))
    );
    assert!(p.history.iter().all(|r| r.time_unix_ms == generation));
    generation
}

/// Not a test by itself: the child side of the multi-process tests. It returns at once (and
/// passes) unless [`CHILD_ENV`] is set, which only the parent tests do when they run this
/// binary as `--exact child_role`. Roles:
/// - `hold DIR`: takes the lock of `crashy`, prints `<locked>`, waits until killed or stdin ends;
/// - `save-loop DIR`: takes the lock, prints `<saving>`, then saves ever newer generations of a
///   500-sample profile until killed;
/// - `full-disk DIR`: `DIR` is a small file system of its own ([`full_disk_child`]); saves a
///   profile, fills the disk, checks a bigger save fails cleanly and leaves the first whole,
///   frees space, saves again, prints `<full-disk ok>`.
#[test]
fn child_role() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (role, dir) = spec.split_once(' ').unwrap();
    if role == "full-disk" {
        full_disk_child(Path::new(dir));
        return;
    }
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
                p.voice = Some(profiles::voice_head(profiles::DESCRIPTOR, generation % 5));
                for r in &mut p.history {
                    r.time_unix_ms = generation;
                }
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

/// The `full-disk` child: runs inside its own mount namespace where `dir` is a 512 KiB tmpfs.
fn full_disk_child(dir: &Path) {
    let store = ProfileStore::new(dir).unwrap();
    let pid = id(CHILD_ID);
    let writer = store.acquire(&pid).unwrap();
    let mut first = profiles::profile(CHILD_ID, 4, 50, true);
    first.updated_unix_ms = 1;
    writer.save(&first).unwrap();
    // Fill what is left, a page at a time, until the file system says it is full.
    let filler_path = dir.join("filler");
    let mut filler = fs::File::create(&filler_path).unwrap();
    let page = vec![0xa5u8; 4096];
    let full = loop {
        if let Err(e) = std::io::Write::write_all(&mut filler, &page) {
            break e;
        }
    };
    assert_eq!(full.kind(), std::io::ErrorKind::StorageFull, "{full}");
    drop(filler);
    // A bigger profile (more samples, a new voice head) does not fit.
    let mut second = profiles::profile(CHILD_ID, 40, 50, true);
    second.updated_unix_ms = 2;
    match writer.save(&second) {
        Err(ProfileError::Io { path, source }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::StorageFull, "{source}");
            let name = name_of(&path);
            assert!(
                name.starts_with("crashy.profile.tmp-"),
                "error names {name}"
            );
        }
        other => panic!("a save on a full disk: expected Io(StorageFull), got {other:?}"),
    }
    // The previous profile is whole and loads; the failed save left no temporary file.
    assert_eq!(writer.load(&base()).unwrap(), Some(first.clone()));
    let left: Vec<String> = names(&store)
        .into_iter()
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    // Once there is room again, the same save goes through.
    fs::remove_file(&filler_path).unwrap();
    writer.save(&second).unwrap();
    assert_eq!(writer.load(&base()).unwrap(), Some(second));
    println!("<full-disk ok>");
}

#[test]
fn a_full_disk_during_save_keeps_the_previous_profile() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A real full file system: a 512 KiB tmpfs mounted in a mount namespace of the child's
    // own (`unshare` maps the caller to root there, so no privileges are needed where user
    // namespaces are enabled; CI runs as root).
    let dir = tempfile::tempdir().unwrap();
    let script = r#"mount -t tmpfs -o size=512k tmpfs "$1" && exec "$0" --exact child_role --nocapture --test-threads=1"#;
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", script])
        .arg(std::env::current_exe().unwrap())
        .arg(dir.path())
        .env(CHILD_ENV, format!("full-disk {}", dir.path().display()))
        .output()
        .unwrap_or_else(|e| panic!("this test needs util-linux's unshare to mount a tmpfs: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("<full-disk ok>"),
        "the full-disk child failed ({}); it needs user and mount namespaces (unshare -rm) to \
         mount a small tmpfs.\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}
