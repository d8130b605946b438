//! The shipped base model, compiled in.

use voice_emotion::engine::EmbeddedModel;

/// `models/base`: the stacked-LSTM base model trained on RAVDESS (see its model card,
/// `models/base/README.md`, for its accuracy, data and licence), with its anchor set. About
/// 4 MB in the binary (2.9 MB of weights, 1.1 MB of anchors).
pub const BASE_MODEL: EmbeddedModel = EmbeddedModel {
    name: "base",
    config: include_bytes!("../../models/base/config.json"),
    input: include_bytes!("../../models/base/input.json"),
    norm: include_bytes!("../../models/base/norm.json"),
    weights: include_bytes!("../../models/base/model.bpk"),
    anchors: include_bytes!("../../models/base/anchors.bin"),
};
