//! One module per subcommand: an `Args` struct (clap) and a `run` function.

pub mod adapt_copy;
pub mod adapt_eval;
pub mod anchors;
pub mod charts;
pub mod dataset;
pub mod evaluate;
pub mod export_reference;
pub mod features;
pub mod originals;
pub mod predict;
pub mod robustness;
pub mod segment_eval;
pub mod splits;
pub mod stream;
pub mod teachers;
pub mod train;
pub mod train_detector;

/// Error of a subcommand: a message printed as one line by `main`.
pub type CmdResult = Result<(), Box<dyn std::error::Error>>;

/// The default worker count for feature extraction: every core this process may use.
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// Speech-detection settings from a JSON file (a partial `VadConfig`: the fields it leaves
/// out keep the engine's settings, `EngineConfig::default().vad`), validated; the engine's
/// settings when `path` is `None`.
///
/// # Errors
/// The file that cannot be read, is not a JSON object of `VadConfig` fields, or sets an
/// invalid value; each message names the file.
pub fn read_vad(
    path: Option<&std::path::Path>,
) -> Result<voice_emotion::speech::VadConfig, Box<dyn std::error::Error>> {
    let engine = voice_emotion::engine::EngineConfig::default().vad;
    let Some(path) = path else {
        return Ok(engine);
    };
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| named(&e))?;
    let given: serde_json::Value = serde_json::from_str(&text).map_err(|e| named(&e))?;
    let serde_json::Value::Object(given) = given else {
        return Err(named(&"expected a JSON object of VadConfig fields").into());
    };
    let mut merged = serde_json::to_value(&engine).map_err(|e| named(&e))?;
    if let serde_json::Value::Object(fields) = &mut merged {
        // A misspelt field would otherwise be ignored without a word.
        if let Some(unknown) = given.keys().find(|k| !fields.contains_key(*k)) {
            return Err(named(&format!("unknown field {unknown:?}")).into());
        }
        fields.extend(given);
    }
    let vad: voice_emotion::speech::VadConfig =
        serde_json::from_value(merged).map_err(|e| named(&e))?;
    vad.validate().map_err(|e| named(&e))?;
    Ok(vad)
}

#[cfg(test)]
mod tests {
    use super::read_vad;
    use voice_emotion::engine::{ENGINE_FLOOR_DBFS, EngineConfig};

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("vad-{name}-{}.json", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_partial_vad_file_keeps_the_engine_settings_it_leaves_out() {
        let engine = EngineConfig::default().vad;
        assert_eq!(read_vad(None).unwrap(), engine);
        let path = file(
            "partial",
            r#"{"absolute_floor_dbfs": -60, "sensitivity": 0.7}"#,
        );
        let vad = read_vad(Some(&path)).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(vad.absolute_floor_dbfs, -60.0);
        assert_eq!(vad.sensitivity, 0.7);
        assert_eq!(engine.absolute_floor_dbfs, ENGINE_FLOOR_DBFS);
        assert_eq!(
            (vad.pre_roll_ms, vad.tail_ms),
            (engine.pre_roll_ms, engine.tail_ms)
        );
    }

    #[test]
    fn bad_vad_files_are_errors_naming_the_file() {
        for (name, text, says) in [
            ("array", "[1, 2]", "JSON object"),
            ("broken", "{\"sensitivity\": ", "EOF"),
            ("unknown-type", r#"{"sensitivity": "loud"}"#, "loud"),
            (
                "out-of-range",
                r#"{"absolute_floor_dbfs": 3}"#,
                "absolute_floor_dbfs",
            ),
            ("misspelt", r#"{"absolute_floor": -60}"#, "absolute_floor"),
        ] {
            let path = file(name, text);
            let err = read_vad(Some(&path)).unwrap_err().to_string();
            std::fs::remove_file(&path).unwrap();
            assert!(err.contains(path.to_str().unwrap()), "{name}: {err}");
            assert!(err.contains(says), "{name}: {err}");
        }
        let missing = std::path::Path::new("/no/such/vad.json");
        let err = read_vad(Some(missing)).unwrap_err().to_string();
        assert!(err.contains("/no/such/vad.json"), "{err}");
    }
}
