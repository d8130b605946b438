//! Compact feature storage: 8-bit quantised matrices.

use super::*;

// ---------------------------------------------------------------------------------------------
// Compact feature storage

/// A [`FeatureMatrix`] stored in a quarter of the space: per column a minimum and a step
/// (`scale`), and one byte per value, `round((x - min) / scale)`.
///
/// `scale` is the column's range over 255 (rounded up), so decoding is off by at most
/// `scale / 2` (plus f32 rounding of the result); a constant column is exact. Non-finite
/// values never panic, they are clamped: the column's minimum and scale come from its finite
/// values only, `+inf` decodes to the column maximum, `-inf` and `NaN` to the column minimum,
/// and a column with no finite value decodes to zeros.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "QuantisedParts")]
pub struct QuantisedMatrix {
    pub(super) n_frames: usize,
    pub(super) n_features: usize,
    pub(super) mins: Vec<f32>,
    pub(super) scales: Vec<f32>,
    #[serde(with = "bytes")]
    pub(super) values: Vec<u8>,
}

/// The serialised fields of a [`QuantisedMatrix`], checked before they become one.
#[derive(Deserialize)]
pub(super) struct QuantisedParts {
    pub(super) n_frames: usize,
    pub(super) n_features: usize,
    pub(super) mins: Vec<f32>,
    pub(super) scales: Vec<f32>,
    #[serde(with = "bytes")]
    pub(super) values: Vec<u8>,
}

impl TryFrom<QuantisedParts> for QuantisedMatrix {
    type Error = String;

    fn try_from(p: QuantisedParts) -> Result<Self, Self::Error> {
        let cells = p.n_frames.checked_mul(p.n_features);
        if p.mins.len() != p.n_features
            || p.scales.len() != p.n_features
            || cells != Some(p.values.len())
        {
            return Err(format!(
                "inconsistent quantised matrix: {} x {} with {} mins, {} scales, {} values",
                p.n_frames,
                p.n_features,
                p.mins.len(),
                p.scales.len(),
                p.values.len()
            ));
        }
        if !p.mins.iter().all(|m| m.is_finite())
            || !p.scales.iter().all(|s| s.is_finite() && *s >= 0.0)
        {
            return Err("non-finite minimum or scale in a quantised matrix".to_owned());
        }
        // Code 255 must decode to a finite f32 too (found by fuzzing: a large minimum plus a
        // large scale overflowed to infinity).
        if !p
            .mins
            .iter()
            .zip(&p.scales)
            .all(|(&m, &s)| ((f64::from(m) + 255.0 * f64::from(s)) as f32).is_finite())
        {
            return Err("a quantised matrix column's range overflows f32".to_owned());
        }
        Ok(Self {
            n_frames: p.n_frames,
            n_features: p.n_features,
            mins: p.mins,
            scales: p.scales,
            values: p.values,
        })
    }
}

impl QuantisedMatrix {
    /// Quantises `m` (its complete rows, if `data` is shorter than `n_frames * n_features`).
    #[must_use]
    pub fn encode(m: &FeatureMatrix) -> Self {
        let n_features = m.n_features;
        if n_features == 0 {
            return Self {
                n_frames: m.n_frames,
                n_features: 0,
                mins: Vec::new(),
                scales: Vec::new(),
                values: Vec::new(),
            };
        }
        let n_frames = m.n_frames.min(m.data.len() / n_features);
        let rows = || m.data.chunks_exact(n_features).take(n_frames);
        let mut lo = vec![f32::INFINITY; n_features];
        let mut hi = vec![f32::NEG_INFINITY; n_features];
        for row in rows() {
            for ((l, h), &v) in lo.iter_mut().zip(&mut hi).zip(row) {
                if v.is_finite() {
                    *l = l.min(v);
                    *h = h.max(v);
                }
            }
        }
        let (mins, scales): (Vec<f32>, Vec<f32>) = lo
            .iter()
            .zip(&hi)
            .map(|(&l, &h)| {
                if l > h {
                    return (0.0, 0.0); // no finite value in this column
                }
                let range = f64::from(h) - f64::from(l);
                let mut scale = (range / 255.0) as f32;
                // Round up so that 255 steps always cover the range.
                while f64::from(scale) * 255.0 < range {
                    scale = scale.next_up();
                }
                (l, scale)
            })
            .unzip();
        let mut values = Vec::with_capacity(n_frames * n_features);
        for row in rows() {
            values.extend(
                row.iter()
                    .zip(&mins)
                    .zip(&scales)
                    .map(|((&v, &min), &scale)| quantise(v, min, scale)),
            );
        }
        Self {
            n_frames,
            n_features,
            mins,
            scales,
            values,
        }
    }

    /// The matrix back, each value within `scale / 2` of the original (see the type's docs).
    #[must_use]
    pub fn decode(&self) -> FeatureMatrix {
        let mut data = Vec::with_capacity(self.values.len());
        if self.n_features > 0 {
            for row in self.values.chunks_exact(self.n_features) {
                data.extend(row.iter().zip(&self.mins).zip(&self.scales).map(
                    |((&q, &min), &scale)| {
                        (f64::from(min) + f64::from(q) * f64::from(scale)) as f32
                    },
                ));
            }
        }
        FeatureMatrix {
            data,
            n_frames: self.n_frames,
            n_features: self.n_features,
        }
    }

    /// Rows (frames).
    #[must_use]
    pub fn n_frames(&self) -> usize {
        self.n_frames
    }

    /// Columns (coefficients).
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Per-column minimum (the value of code 0).
    #[must_use]
    pub fn mins(&self) -> &[f32] {
        &self.mins
    }

    /// Per-column step between codes; the worst decoding error of a column is half of it.
    #[must_use]
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }
}

pub(super) fn quantise(v: f32, min: f32, scale: f32) -> u8 {
    if scale == 0.0 || v.is_nan() {
        return 0;
    }
    // Clamping sends +inf to 255 and -inf to 0.
    ((f64::from(v) - f64::from(min)) / f64::from(scale))
        .round()
        .clamp(0.0, 255.0) as u8
}

/// `Vec<u8>` as serde bytes (one length and a block copy in bincode, not a sequence of `u8`s).
pub(super) mod bytes {
    use serde::de::{Deserializer, SeqAccess, Visitor};
    use serde::ser::Serializer;
    use std::fmt;

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_byte_buf(BytesVisitor)
    }

    struct BytesVisitor;

    impl<'de> Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E>(self, v: &[u8]) -> Result<Self::Value, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Self::Value, E> {
            Ok(v)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }

    /// `Option<Vec<u8>>` as an option of serde bytes (read only: format version 1's network
    /// weights).
    pub(crate) mod option {
        use serde::{Deserialize, Deserializer};

        struct Owned(Vec<u8>);

        impl<'de> Deserialize<'de> for Owned {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                super::deserialize(d).map(Owned)
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Vec<u8>>, D::Error> {
            Ok(Option::<Owned>::deserialize(d)?.map(|o| o.0))
        }
    }
}
