//! The bad-input suite through the command line: every hostile audio input of
//! `core/tests/common/hostile.rs` through `trainer predict` (and the failing ones through
//! `trainer features`), and hostile manifests through `trainer dataset` and `trainer evaluate`.
//! A file that decodes gives a row; anything else exits non-zero with exactly one line,
//! `error: …`, naming the input. Nothing panics or hangs.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

#[path = "../../core/tests/common/hostile.rs"]
mod hostile;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hostile::Expect;

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base")
}

/// Runs `program args`, killing it after `limit` (a hang fails the test).
fn run_limited(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let started = Instant::now();
    // Drain stdout on a thread: `features` of a long clip prints megabytes.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).unwrap();
        v
    });
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("{command:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = child.wait_with_output().unwrap();
    out.stdout = reader.join().unwrap();
    out
}

fn trainer(args: &[&OsStr]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    c.args(args);
    c
}

/// Checks a failed run: non-zero, one line on stderr, `error: `, naming `named`.
fn assert_one_line_error(what: &str, out: &Output, named: &Path) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "{what}: succeeded\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: exit {:?} (a panic is 101): {err}",
        out.status
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: not one line: {err}"
    );
    assert!(err.starts_with("error: "), "{what}: {err}");
    let name = named.display().to_string();
    assert!(err.contains(&name), "{what}: does not name {name}: {err}");
    err.trim_end().to_owned()
}

#[test]
fn every_hostile_audio_input_exits_cleanly_through_predict_and_features() {
    let dir = tempfile::tempdir().unwrap();
    // Readable by an unprivileged user too (the mode-000 case runs as one under root).
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut cases = hostile::make_cases(dir.path());
    cases.push(hostile::unreadable_for_anyone());
    let model = model_dir();
    println!("| input | trainer predict |\n| --- | --- |");
    for case in &cases {
        let limit = Duration::from_secs(if case.slow { 600 } else { 60 });
        let predict_args = [
            OsStr::new("predict"),
            OsStr::new("--model"),
            model.as_os_str(),
            case.path.as_os_str(),
        ];
        let mut command = trainer(&predict_args);
        if case.name == hostile::NO_PERMISSION && hostile::is_root() {
            // Root reads anything: drop to `nobody` for this one.
            command = Command::new("setpriv");
            command
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(env!("CARGO_BIN_EXE_trainer"))
                .args(predict_args);
        }
        let out = run_limited(command, limit);
        match &case.expect {
            Expect::Decodes { .. } => {
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success(),
                    "{}: {}",
                    case.name,
                    String::from_utf8_lossy(&out.stderr)
                );
                let row = stdout.lines().nth(1).unwrap_or_default().to_owned();
                let file_name = case
                    .path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                assert!(row.starts_with(&file_name), "{}: {stdout}", case.name);
                println!(
                    "| {} | ok: {} |",
                    case.name,
                    row.split_whitespace().collect::<Vec<_>>().join(" ")
                );
            }
            Expect::Fails(..) => {
                let line = assert_one_line_error(case.name, &out, &case.path);
                println!("| {} | exit 1: `{line}` |", case.name);
                if case.name != hostile::NO_PERMISSION {
                    let features = run_limited(
                        trainer(&[OsStr::new("features"), case.path.as_os_str()]),
                        limit,
                    );
                    assert_one_line_error(case.name, &features, &case.path);
                }
            }
        }
    }
}

/// Hostile manifests: each through `trainer dataset` and `trainer evaluate --manifest`.
#[test]
fn every_hostile_manifest_exits_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let clip = d.join("clip.wav");
    std::fs::write(
        &clip,
        hostile::wav(1, 16_000, 16, false, 16_000, |i, _| {
            hostile::tone(i, 16_000)
        }),
    )
    .unwrap();
    std::fs::create_dir(d.join("folder.wav")).unwrap();
    let header = "path\temotion\tspeaker\n";
    let file = |name: &str, bytes: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let fifo = d.join("fifo.tsv");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let manifest_dir = d.join("a-folder.tsv");
    std::fs::create_dir(&manifest_dir).unwrap();
    let cases: Vec<(&str, PathBuf)> = vec![
        ("empty file", file("empty.tsv", b"")),
        ("header only", file("header-only.tsv", header.as_bytes())),
        (
            "comments and blank lines only",
            file("comments.tsv", b"# nothing\n\n   \n"),
        ),
        (
            "non-UTF-8 bytes",
            file(
                "latin1.tsv",
                b"path\temotion\tspeaker\nclip.wav\tgl\xfccklich\tp1\n",
            ),
        ),
        (
            "binary junk",
            file("junk.tsv", &[0u8, 159, 146, 150, 0xff, 0xfe, 7, 0]),
        ),
        (
            "unknown emotion",
            file(
                "joy.tsv",
                format!("{header}clip.wav\tjoyful\tp1\n").as_bytes(),
            ),
        ),
        (
            "missing column",
            file("two-columns.tsv", b"path\temotion\nclip.wav\thappy\n"),
        ),
        (
            "unknown column",
            file(
                "extra.tsv",
                b"path\temotion\tspeaker\tmood\nclip.wav\thappy\tp1\tx\n",
            ),
        ),
        (
            "wrong cell count",
            file("cells.tsv", format!("{header}clip.wav\thappy\n").as_bytes()),
        ),
        (
            "empty cell",
            file(
                "empty-cell.tsv",
                format!("{header}clip.wav\t\tp1\n").as_bytes(),
            ),
        ),
        (
            "missing clip",
            file(
                "missing.tsv",
                format!("{header}gone.wav\thappy\tp1\n").as_bytes(),
            ),
        ),
        (
            "clip is a directory",
            file(
                "folder.tsv",
                format!("{header}folder.wav\thappy\tp1\n").as_bytes(),
            ),
        ),
        (
            "duplicate row",
            file(
                "dup.tsv",
                format!("{header}clip.wav\thappy\tp1\n./clip.wav\tsad\tp1\n").as_bytes(),
            ),
        ),
        ("a directory", manifest_dir),
        ("a FIFO (nobody writing)", fifo),
        ("missing manifest", d.join("nowhere.tsv")),
        ("non-UTF-8 name", file_os(d, b"m\xff.tsv", b"")),
    ];
    println!("| manifest | trainer dataset |\n| --- | --- |");
    for (name, path) in &cases {
        let out = run_limited(
            trainer(&[OsStr::new("dataset"), path.as_os_str()]),
            Duration::from_secs(30),
        );
        let line = assert_one_line_error(name, &out, path);
        println!("| {name} | exit 1: `{line}` |");
        let evaluate = run_limited(
            trainer(&[
                OsStr::new("evaluate"),
                OsStr::new("--model"),
                model_dir().as_os_str(),
                OsStr::new("--manifest"),
                path.as_os_str(),
            ]),
            Duration::from_secs(30),
        );
        assert_one_line_error(name, &evaluate, path);
    }
}

fn file_os(dir: &Path, name: &[u8], bytes: &[u8]) -> PathBuf {
    let p = dir.join(OsString::from(OsStr::from_bytes(name)));
    std::fs::write(&p, bytes).unwrap();
    p
}
