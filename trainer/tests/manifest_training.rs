//! `trainer train --manifest` end to end on two corpora: RAVDESS clips at 16 kHz listed
//! directly (7 emotions, with intensity), and a second corpus of other RAVDESS actors'
//! clips resampled to 22050 Hz and renamed (6 emotions, no intensity column). One epoch, then
//! `evaluate` and `adapt-eval` on the model. Needs `RAVDESS_DIR` (fails without it).
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use voice_emotion::labels::Emotion;
use voice_emotion::training::dataset::{Dataset, RavdessName};

mod common;

use common::{ravdess_dir, trainer};

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `adapt-eval` of `model` on a manifest's speakers, the first clip of each emotion
/// calibrating, with the weight copy tuned for 5 steps; its chart at `plot`.
fn adapt_per_class(model: &Path, manifest: &Path, plot: &Path) -> String {
    ok(
        &trainer(&[
            "adapt-eval",
            "--model",
            path(model),
            "--manifest",
            path(manifest),
            "--per-class",
            "1",
            "--fine-tune",
            "--tune-steps",
            "5",
            "--plot",
            path(plot),
        ]),
        "adapt-eval",
    )
}

/// `studio.tsv`: RAVDESS actors 1-6 as they are (absolute paths), every emotion but
/// surprised, with intensity.
fn studio_manifest(dir: &Path) -> PathBuf {
    let ravdess = Dataset::from_ravdess_dir(ravdess_dir()).unwrap();
    let mut text =
        String::from("# RAVDESS actors 1-6, no surprised\npath\temotion\tspeaker\tintensity\n");
    for s in ravdess.samples() {
        if s.actor.is_some_and(|a| a <= 6) && s.emotion != Emotion::Surprised {
            let intensity = s.intensity.unwrap();
            writeln!(
                text,
                "{}\t{}\t{}\t{intensity}",
                s.path.display(),
                s.emotion,
                s.speaker
            )
            .unwrap();
        }
    }
    let m = dir.join("studio.tsv");
    std::fs::write(&m, text).unwrap();
    m
}

/// `lab.tsv` in `dir/lab/`: actors 7-10, renamed `p07/take01.wav` …, resampled to 22050 Hz,
/// 6 emotions (no calm, no surprised), both statements at normal intensity, no intensity
/// column, relative paths.
fn lab_manifest(dir: &Path) -> PathBuf {
    let ravdess = ravdess_dir();
    let lab = dir.join("lab");
    let mut text = String::from("path\temotion\tspeaker\n");
    let six = [
        Emotion::Neutral,
        Emotion::Happy,
        Emotion::Sad,
        Emotion::Angry,
        Emotion::Fearful,
        Emotion::Disgust,
    ];
    for actor in 7..=10u8 {
        let mut take = 0;
        for emotion in six {
            for statement in 1..=2u8 {
                let name = RavdessName {
                    modality: 3,
                    vocal_channel: 1,
                    emotion,
                    intensity: voice_emotion::labels::Intensity::Normal,
                    statement,
                    repetition: 1,
                    actor,
                };
                let source = ravdess
                    .join(format!("Actor_{actor:02}"))
                    .join(name.to_string());
                let audio = voice_emotion::audio::load_clip(&source).unwrap();
                let resampled = voice_emotion::audio::resample(&audio, 16_000, 22_050).unwrap();
                take += 1;
                let rel = format!("p{actor:02}/take{take:02}.wav");
                let file = lab.join(&rel);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                let spec = hound::WavSpec {
                    channels: 1,
                    sample_rate: 22_050,
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                };
                let mut w = hound::WavWriter::create(&file, spec).unwrap();
                for x in resampled {
                    w.write_sample((x.clamp(-1.0, 1.0) * 32767.0) as i16)
                        .unwrap();
                }
                w.finalize().unwrap();
                writeln!(text, "{rel}\t{emotion}\tp{actor:02}").unwrap();
            }
        }
    }
    let m = lab.join("lab.tsv");
    std::fs::write(&m, text).unwrap();
    m
}

#[test]
fn trains_one_epoch_on_two_corpora_then_evaluates_and_adapts() {
    let tmp = tempfile::tempdir().unwrap();
    let studio = studio_manifest(tmp.path());
    let lab = lab_manifest(tmp.path());
    let out = tmp.path().join("model");
    let cache = tmp.path().join("cache");
    let args = [
        "train",
        "--manifest",
        path(&studio),
        "--manifest",
        path(&lab),
        "--out",
        path(&out),
        "--max-epochs",
        "1",
        "--clips-per-speaker",
        "6",
        "--seed",
        "3",
        "--feature-cache",
        path(&cache),
    ];
    let run = trainer(&args);
    let stdout = ok(&run, "train");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("features: 60 clips in") && stderr.contains(", 0 from the cache in"),
        "{stderr}"
    );
    // A second run reads every clip's features from the cache and trains the same model.
    let again = trainer(&args);
    assert_eq!(ok(&again, "train again"), stdout);
    let again_err = String::from_utf8_lossy(&again.stderr);
    assert!(again_err.contains(", 60 from the cache in"), "{again_err}");
    let last = stdout.lines().last().unwrap();
    let accuracy: f64 = last.strip_prefix("accuracy: ").unwrap().parse().unwrap();
    assert!((0.0..=1.0).contains(&accuracy), "{last}");
    // Data-parallel over two CPU replicas: trains, evaluates, and the report says so.
    let parallel_out = tmp.path().join("parallel");
    let mut parallel_args = args.to_vec();
    let out_at = args.iter().position(|a| *a == "--out").unwrap() + 1;
    parallel_args[out_at] = path(&parallel_out);
    parallel_args.extend(["--device", "cpu,cpu"]);
    let parallel = trainer(&parallel_args);
    let parallel_last = ok(&parallel, "train on cpu,cpu");
    assert!(
        parallel_last
            .lines()
            .last()
            .unwrap()
            .starts_with("accuracy: "),
        "{parallel_last}"
    );
    let parallel_report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(parallel_out.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(parallel_report["splits"][0]["device"], "cpu,cpu");
    // The fast LSTM pass on two threads: trains, the config records it, and a second run
    // with the same seed is the same model (its dropout is drawn per thread from the seed).
    let fast_out = tmp.path().join("fast");
    let mut fast_args = parallel_args.clone();
    fast_args[out_at] = path(&fast_out);
    fast_args.extend(["--lstm-pass", "fast"]);
    let fast = ok(&trainer(&fast_args), "train --lstm-pass fast");
    assert!(
        fast.lines().last().unwrap().starts_with("accuracy: "),
        "{fast}"
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fast_out.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["lstm_pass"], "fast");
    assert_eq!(
        ok(&trainer(&fast_args), "train --lstm-pass fast again"),
        fast
    );
    assert!(
        stderr.contains("corpus studio: 36 clips, 6 speakers"),
        "{stderr}"
    );
    assert!(
        stderr.contains("corpus lab: 24 clips, 4 speakers"),
        "{stderr}"
    );
    assert!(
        stderr.contains("classes never seen in training: surprised"),
        "{stderr}"
    );

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["splits"][0]["device"], "cpu");
    let corpora = report["corpora"].as_array().unwrap();
    let names: Vec<&str> = corpora
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["studio", "lab"]);
    assert_eq!(corpora[0]["clips"], 36);
    assert_eq!(corpora[1]["clips"], 24);
    assert_eq!(corpora[1]["intensity_labelled"], 0);
    assert_eq!(
        corpora[1]["emotions"],
        serde_json::json!(["neutral", "happy", "sad", "angry", "fearful", "disgust"])
    );
    let split = &report["splits"][0];
    assert_eq!(
        split["classes_never_seen"],
        serde_json::json!(["surprised"])
    );
    // Speakers held out by corpus: 1 test and 1 validation speaker of each.
    for key in ["test_speakers", "valid_speakers"] {
        let speakers: Vec<&str> = split[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(speakers.len(), 2, "{key}: {speakers:?}");
        assert!(
            speakers[0].starts_with("lab/") && speakers[1].starts_with("studio/"),
            "{speakers:?}"
        );
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("corpus `lab`: 24 clips") && md.contains("never seen in training: surprised"),
        "{md}"
    );
    assert!(
        out.join("anchors.bin").is_file(),
        "train writes the anchors of a manifest model"
    );

    // The model evaluates on a manifest (the 22050 Hz corpus) ...
    let eval = ok(
        &trainer(&["evaluate", "--model", path(&out), "--manifest", path(&lab)]),
        "evaluate",
    );
    let last = eval.lines().last().unwrap();
    assert!(last.starts_with("accuracy: "), "{eval}");
    // ... and adapts to its speakers: the first clip of each emotion calibrates.
    let plot = tmp.path().join("adapt.png");
    let adapt = adapt_per_class(&out, &lab, &plot);
    assert!(plot.is_file(), "{adapt}");
    // The player's own weight copy was measured beside the voice head.
    let copy = adapt
        .lines()
        .find(|l| l.starts_with("weight copy (5 steps"))
        .unwrap_or_else(|| panic!("no weight copy line: {adapt}"));
    assert!(
        copy.contains("with the copy 0.") || copy.contains("with the copy 1."),
        "{copy}"
    );
    // The anchors can be picked again from the manifests.
    let anchors = ok(
        &trainer(&[
            "anchors",
            "--model",
            path(&out),
            "--manifest",
            path(&studio),
            "--manifest",
            path(&lab),
        ]),
        "anchors",
    );
    assert!(anchors.contains("anchors from 2 manifest(s)"), "{anchors}");

    // The model teaches a student trained on the same split (same seed): the student's
    // config records the distillation defaults and its report names the teacher.
    let student = tmp.path().join("student");
    let mut student_args = args.to_vec();
    student_args[out_at] = path(&student);
    student_args.extend(["--teacher", path(&out)]);
    let taught = trainer(&student_args);
    ok(&taught, "train with a teacher");
    let taught_err = String::from_utf8_lossy(&taught.stderr);
    assert!(
        taught_err.contains(&format!("teacher {}: accuracy", out.display())),
        "{taught_err}"
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(student.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(
        config["distillation"],
        serde_json::json!({"weight": 0.5, "temperature": 2.0})
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(student.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["teachers"], serde_json::json!([path(&out)]));
    // A config that asks for distillation without teachers is refused before any training.
    let distil_config = tmp.path().join("distil.json");
    std::fs::write(&distil_config, config.to_string()).unwrap();
    let untaught_out = tmp.path().join("untaught");
    let mut untaught_args = args.to_vec();
    untaught_args[out_at] = path(&untaught_out);
    untaught_args.extend(["--config", path(&distil_config)]);
    let untaught = trainer(&untaught_args);
    assert!(!untaught.status.success());
    let err = String::from_utf8_lossy(&untaught.stderr);
    assert!(err.contains("--teacher"), "{err}");
    assert!(!untaught_out.exists());
}

/// A model whose input has pitch features (`input.json` `"pitch": true`, 252 inputs a step)
/// trains, evaluates, and adapts to a player: the player's samples carry the pitch columns
/// through the voice head and the weight copy.
#[test]
fn a_model_with_pitch_features_trains_evaluates_and_adapts() {
    let tmp = tempfile::tempdir().unwrap();
    let studio = studio_manifest(tmp.path());
    let mut input: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base/input.json"),
        )
        .unwrap(),
    )
    .unwrap();
    input["pitch"] = serde_json::json!(true);
    let input_path = tmp.path().join("input.json");
    std::fs::write(&input_path, input.to_string()).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/base/config.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let config_path = tmp.path().join("config.json");
    let out = tmp.path().join("model");
    let train = |config: &serde_json::Value| {
        std::fs::write(&config_path, config.to_string()).unwrap();
        trainer(&[
            "train",
            "--manifest",
            path(&studio),
            "--out",
            path(&out),
            "--config",
            path(&config_path),
            "--input",
            path(&input_path),
            "--max-epochs",
            "1",
            "--clips-per-speaker",
            "6",
            "--no-feature-cache",
        ])
    };
    // The shipped config's widths do not fit the wider input: refused, naming both.
    let refused = train(&config);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("model.n_features = 240 but the input pipeline gives 252"),
        "{err}"
    );
    config["model"]["n_features"] = serde_json::json!(252);
    let refused = train(&config);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("coefficients = 40 but the input has 42"),
        "{err}"
    );
    config["spec_augment"]["coefficients"] = serde_json::json!(42);
    let trained = ok(&train(&config), "train with pitch features");
    assert!(
        trained.lines().last().unwrap().starts_with("accuracy: "),
        "{trained}"
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("input.json")).unwrap()).unwrap();
    assert_eq!(written["pitch"], true);
    let eval = ok(
        &trainer(&[
            "evaluate",
            "--model",
            path(&out),
            "--manifest",
            path(&studio),
        ]),
        "evaluate",
    );
    assert!(
        eval.lines().last().unwrap().starts_with("accuracy: "),
        "{eval}"
    );
    let adapt = adapt_per_class(&out, &studio, &tmp.path().join("adapt.png"));
    assert!(
        adapt
            .lines()
            .last()
            .unwrap()
            .starts_with("adapted accuracy: "),
        "{adapt}"
    );
    // Through the engine's live path (`trainer stream`): two sentences with a faint steady
    // hum under the whole recording (under the detector's floor: this checks the engine with
    // a pitch model, which it hands the room before each sentence, not the detector), each
    // found and classified.
    let mut recording = Vec::new();
    let hum = |n: usize, from: usize| -> Vec<f32> {
        (from..from + n)
            .map(|i| 0.001 * (2.0 * std::f32::consts::PI * 100.0 * i as f32 / 16_000.0).sin())
            .collect()
    };
    for file in ["03-01-05-02-01-01-01.wav", "03-01-04-02-02-01-02.wav"] {
        let gap = hum(32_000, recording.len());
        recording.extend(gap);
        let speech = voice_emotion::audio::load_clip(
            ravdess_dir().join(format!("Actor_{}/{file}", &file[18..20])),
        )
        .unwrap();
        let under = hum(speech.len(), recording.len());
        recording.extend(speech.iter().zip(&under).map(|(s, h)| s + h));
    }
    recording.extend(hum(24_000, recording.len()));
    let wav = tmp.path().join("hum.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(&wav, spec).unwrap();
    for &v in &recording {
        writer.write_sample(v).unwrap();
    }
    writer.finalize().unwrap();
    let replay = ok(
        &trainer(&["stream", "--model", path(&out), path(&wav)]),
        "stream",
    );
    assert_eq!(
        replay.trim_end().lines().last().unwrap(),
        "detections: 2",
        "{replay}"
    );
    assert_eq!(
        replay.lines().filter(|l| l.starts_with(' ')).count(),
        2,
        "{replay}"
    );
}

#[test]
fn bad_manifests_fail_with_a_message_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let clip = ravdess_dir().join("Actor_01/03-01-01-01-01-01-01.wav");
    let write = |name: &str, text: String| {
        let m = tmp.path().join(name);
        std::fs::create_dir_all(m.parent().unwrap()).unwrap();
        std::fs::write(&m, text).unwrap();
        m
    };
    let train = |manifests: &[&Path]| {
        let mut args = vec![
            "train".to_owned(),
            "--out".to_owned(),
            path(&tmp.path().join("out")).to_owned(),
        ];
        for m in manifests {
            args.extend(["--manifest".to_owned(), path(m).to_owned()]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let c = clip.display();
    let unknown = write(
        "unknown.tsv",
        format!("path\temotion\tspeaker\n{c}\texcited\ta\n"),
    );
    let err = train(&[&unknown]);
    assert!(
        err.contains("unknown.tsv:2:") && err.contains("'excited'"),
        "{err}"
    );

    let missing = write(
        "missing.tsv",
        "path\temotion\tspeaker\nnope.wav\tsad\ta\n".to_owned(),
    );
    let err = train(&[&missing]);
    assert!(
        err.contains("missing.tsv:2:") && err.contains("nope.wav"),
        "{err}"
    );

    let other = ravdess_dir().join("Actor_01/03-01-02-01-01-01-01.wav");
    let two_splits = write(
        "two.tsv",
        format!(
            "path\temotion\tspeaker\tsplit\n{c}\tneutral\ta\ttrain\n{}\tcalm\ta\ttest\n",
            other.display()
        ),
    );
    let err = train(&[&two_splits]);
    assert!(
        err.contains("two/a") && err.contains("'train'") && err.contains("'test'"),
        "{err}"
    );

    let same = write(
        "x/unknown.tsv",
        format!("path\temotion\tspeaker\n{}\tcalm\tb\n", other.display()),
    );
    let err = train(&[&same, &unknown]);
    assert!(err.contains("both corpus 'unknown'"), "{err}");

    let err = train(&[]);
    assert!(
        err.contains("--data") && err.contains("--manifest"),
        "{err}"
    );
}

#[test]
fn a_device_this_build_lacks_is_refused_before_any_work_naming_its_feature() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let mut refused = 0;
    for (device, feature, built) in [
        ("cuda:1", "cuda", cfg!(feature = "cuda")),
        ("wgpu", "wgpu", cfg!(feature = "wgpu")),
    ] {
        if built {
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(["train", "--data", path(&ravdess_dir()), "--out"])
            .arg(&out_dir)
            .args(["--device", device])
            .output()
            .unwrap();
        assert!(!out.status.success(), "--device {device} succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(device) && stderr.contains(&format!("--features {feature}")),
            "{stderr}"
        );
        assert!(!out_dir.exists(), "--device {device} wrote a model");
        refused += 1;
    }
    // The default build (CI's) has neither GPU backend, so both were tried.
    assert!(refused > 0 || cfg!(all(feature = "cuda", feature = "wgpu")));
    let unknown = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["train", "--data", path(&ravdess_dir()), "--out"])
        .arg(&out_dir)
        .args(["--device", "tpu"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("unknown device 'tpu'"), "{stderr}");
}
