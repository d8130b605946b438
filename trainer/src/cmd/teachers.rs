//! Teachers for knowledge distillation (`trainer train --teachers DIR`): models whose mean
//! probabilities on each training example become part of the student's emotion target
//! (`voice_emotion::model::DistillationConfig`).
//!
//! A teacher must never have heard the speakers the student is tested on, or the student's
//! test figure would leak. Under `--protocol cv` the teacher of fold K is `DIR/foldK` (the
//! fold models a `cv` run writes); otherwise it is `DIR` itself. Where `DIR/report.json`
//! says which speakers each of the teacher's splits trained and validated on, they are
//! checked against the student's test speakers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use voice_emotion::model::{EmotionClassifier, InputConfig, NormStats, Prediction, default_device};
use voice_emotion::training::{Example, TeacherTargets, ensemble};

/// The teachers of one split: `root/foldK` for fold `K` of a `cv` run, else `root`.
pub fn dirs(roots: &[PathBuf], cv_fold: Option<usize>) -> Vec<PathBuf> {
    roots
        .iter()
        .map(|root| match cv_fold {
            Some(k) => root.join(format!("fold{k}")),
            None => root.clone(),
        })
        .collect()
}

/// The student's split, as far as the teachers need to know it.
pub struct StudentSplit<'a> {
    /// Its name, as in `report.json` (`fold 0 (actors 01-04)`).
    pub name: &'a str,
    /// Its fold number when it is a fold of a `cv` run (the teacher's split must then have
    /// its name, and `DIR/foldK` teaches it).
    pub fold: Option<usize>,
    /// The speakers it tests on.
    pub test_speakers: &'a [String],
}

/// Checks that the teacher under `root` never trained or validated on a speaker `split` tests
/// on, from `root/report.json`; warns and passes when there is no report to read.
///
/// # Errors
/// A report that cannot be read, a `cv` fold the teacher did not run, or a shared speaker.
pub fn check_unheard(root: &Path, split: &StudentSplit<'_>) -> Result<(), String> {
    let path = root.join("report.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "warning: {} has no report.json: cannot check that the teacher never heard the test speakers",
                root.display()
            );
            return Ok(());
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let report: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a training report: {e}", path.display()))?;
    let splits = report["splits"]
        .as_array()
        .ok_or_else(|| format!("{}: no \"splits\" list", path.display()))?;
    let teacher = if split.fold.is_some() {
        splits.iter().find(|s| s["split"] == split.name)
    } else {
        splits.first()
    }
    .ok_or_else(|| {
        format!(
            "{}: the teacher has no split '{}' to teach it",
            path.display(),
            split.name
        )
    })?;
    for field in ["train_speakers", "valid_speakers"] {
        let heard = teacher[field]
            .as_array()
            .ok_or_else(|| format!("{}: split '{}' has no {field}", path.display(), split.name))?;
        if let Some(shared) = split
            .test_speakers
            .iter()
            .find(|s| heard.iter().any(|h| h == s.as_str()))
        {
            return Err(format!(
                "{}: the teacher heard test speaker {shared} of '{}' ({field}); its targets would leak the test set",
                root.display(),
                split.name
            ));
        }
    }
    Ok(())
}

/// Checks every teacher under `roots` against `split` ([`check_unheard`]) and labels
/// `examples` with the teachers of that split ([`dirs`], [`label`]).
///
/// # Errors
/// As [`check_unheard`] and [`label`].
pub fn teach(
    roots: &[PathBuf],
    split: &StudentSplit<'_>,
    examples: &mut [Example],
    input: &InputConfig,
    speakers: &BTreeMap<String, NormStats>,
) -> Result<(), Box<dyn std::error::Error>> {
    for root in roots {
        check_unheard(root, split)?;
    }
    label(examples, &dirs(roots, split.fold), input, speakers)
}

/// Loads the teachers in `dirs` (each must have the student's input pipeline) and sets each
/// example's [`Example::teacher`] to their mean probabilities, with the speaker's statistics
/// from `speakers` and cold. Prints each teacher's accuracy on the examples.
///
/// # Errors
/// A teacher that cannot be loaded, or whose `input.json` differs from `input`.
pub fn label(
    examples: &mut [Example],
    dirs: &[PathBuf],
    input: &InputConfig,
    speakers: &BTreeMap<String, NormStats>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut with_speaker: Vec<Vec<Prediction>> = Vec::new();
    let mut cold: Vec<Vec<Prediction>> = Vec::new();
    for dir in dirs {
        let teacher = EmotionClassifier::load(dir, &default_device())?;
        if teacher.input_config() != input {
            return Err(format!(
                "teacher {}: its input.json differs from the student's input pipeline",
                dir.display()
            )
            .into());
        }
        let scored = teacher.evaluate(examples, Some(speakers));
        eprintln!(
            "teacher {}: accuracy {:.4} on the training examples",
            dir.display(),
            scored.confusion.accuracy()
        );
        with_speaker.push(scored.predictions);
        cold.push(teacher.evaluate(examples, None).predictions);
    }
    for ((e, s), c) in examples
        .iter_mut()
        .zip(ensemble(&with_speaker))
        .zip(ensemble(&cold))
    {
        e.teacher = Some(TeacherTargets {
            speaker: s.probabilities,
            cold: c.probabilities,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_teacher_that_heard_a_test_speaker_is_refused() {
        let root = std::env::temp_dir().join(format!("teachers-check-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
        let report = serde_json::json!({"splits": [
            {"split": "fold 0 (actors 01-04)", "train_speakers": ["05", "06"], "valid_speakers": ["07"]},
            {"split": "fold 1 (actors 05-08)", "train_speakers": ["01", "02"], "valid_speakers": ["09"]},
        ]});
        std::fs::write(root.join("report.json"), report.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let tests = ["01".to_owned(), "02".to_owned()];
        let split = |name, fold| StudentSplit {
            name,
            fold,
            test_speakers: &tests,
        };
        assert_eq!(
            check_unheard(&root, &split("fold 0 (actors 01-04)", Some(0))),
            Ok(())
        );
        let err = check_unheard(&root, &split("fold 1 (actors 05-08)", Some(1)))
            .expect_err("fold 1's teacher trained on 01");
        assert!(
            err.contains("test speaker 01") && err.contains("train_speakers"),
            "{err}"
        );
        let err =
            check_unheard(&root, &split("fold 2 (actors 09-12)", Some(2))).expect_err("no fold 2");
        assert!(err.contains("no split 'fold 2"), "{err}");
        // Outside cv the teacher's first split is the one it shipped from.
        assert_eq!(check_unheard(&root, &split("actors 21-24", None)), Ok(()));
        let nowhere = root.join("none");
        assert_eq!(check_unheard(&nowhere, &split("x", None)), Ok(()));
        std::fs::remove_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            dirs(&[PathBuf::from("a"), PathBuf::from("b")], Some(3)),
            [PathBuf::from("a/fold3"), PathBuf::from("b/fold3")]
        );
        assert_eq!(dirs(&[PathBuf::from("a")], None), [PathBuf::from("a")]);
    }
}
