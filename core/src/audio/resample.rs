//! Resampling with rubato: between fixed integer rates, or by a ratio.

use super::*;

/// Resamples mono audio between two fixed integer rates with rubato's FFT resampler
/// (band-limited, delay-compensated: output sample `i` lines up with input time `i / to`).
/// The same as pushing `samples` through a [`StreamResampler`] and finishing it.
///
/// # Errors
/// [`AudioError::Resample`] when a rate is zero or rubato fails.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    let mut stream = StreamResampler::new(from, to)?;
    let mut out = Vec::new();
    stream.push(samples, &mut out)?;
    stream.finish(&mut out)?;
    Ok(out)
}

/// [`resample`] for audio that arrives in blocks: [`push`](Self::push) each block as it
/// comes and [`finish`](Self::finish) at the end. The output is exactly [`resample`]'s of
/// all the blocks together, however the stream is split, and most of it is out before the
/// end (all but the last chunk of about 1024 input samples), so a caller can work on it while the
/// audio is still arriving. Allocation-free once its buffers have grown.
pub struct StreamResampler {
    /// `None` when the rates are equal (samples pass through).
    inner: Option<Box<Fft<f32>>>,
    from: u32,
    to: u32,
    /// Input not yet resampled (less than one chunk plus the last push).
    pending: Vec<f32>,
    /// One chunk's output.
    chunk_out: Vec<f32>,
    /// Output samples still to drop (the resampler's delay).
    to_skip: usize,
    /// Input samples per resampler call (rubato's `input_frames_next`, fixed).
    chunk: usize,
    consumed: usize,
    emitted: usize,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("consumed", &self.consumed)
            .field("emitted", &self.emitted)
            .finish_non_exhaustive()
    }
}

/// Input samples per resampler chunk asked of rubato (it rounds to fit the ratio).
const CHUNK: usize = 1024;

impl StreamResampler {
    /// A resampler from `from` Hz to `to` Hz.
    ///
    /// # Errors
    /// [`AudioError::Resample`] when a rate is zero or rubato refuses the pair.
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        if from == 0 || to == 0 {
            return Err(resample_error(from, to, "sample rates must be positive"));
        }
        let inner = if from == to {
            None
        } else {
            let r = Fft::<f32>::new(from as usize, to as usize, CHUNK, 1, FixedSync::Both)
                .map_err(|e| resample_error(from, to, e))?;
            Some(Box::new(r))
        };
        let to_skip = inner.as_ref().map_or(0, |r| r.output_delay());
        let out_max = inner.as_ref().map_or(0, |r| r.output_frames_max());
        let chunk = inner.as_ref().map_or(CHUNK, |r| r.input_frames_next());
        Ok(Self {
            chunk,
            inner,
            from,
            to,
            pending: Vec::with_capacity(2 * chunk + 1),
            chunk_out: vec![0.0; out_max],
            to_skip,
            consumed: 0,
            emitted: 0,
        })
    }

    /// Input samples pushed so far.
    #[must_use]
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// Resamples `samples`, appending to `out` what is ready.
    ///
    /// # Errors
    /// [`AudioError::Resample`] when rubato fails.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        self.consumed += samples.len();
        if self.inner.is_none() {
            out.extend_from_slice(samples);
            self.emitted += samples.len();
            return Ok(());
        }
        self.pending.extend_from_slice(samples);
        // Whole chunks while more than one is waiting: the last one (even if whole) is
        // resampled by `finish` as rubato's `process_all` does.
        let mut done = 0;
        while self.pending.len() - done > self.chunk {
            self.process(done, None, out)?;
            done += self.chunk;
        }
        self.pending.drain(..done);
        Ok(())
    }

    /// Resamples what is left and pads the end as [`resample`] does, appending to `out`;
    /// the resampler is then ready for a new stream.
    ///
    /// # Errors
    /// [`AudioError::Resample`] when rubato fails.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), AudioError> {
        if let Some(inner) = &self.inner
            && self.consumed > 0
        {
            let expected = (inner.resample_ratio() * self.consumed as f64).ceil() as usize;
            let start = out.len();
            let left = self.pending.len();
            self.pending.resize(self.chunk, 0.0);
            self.process(0, Some(left), out)?;
            while self.emitted < expected {
                self.process(0, Some(0), out)?;
            }
            out.truncate(out.len() - (self.emitted - expected).min(out.len() - start));
        }
        self.reset();
        Ok(())
    }

    /// Forgets the stream (nothing is output).
    pub fn reset(&mut self) {
        if let Some(inner) = &mut self.inner {
            inner.reset();
            self.to_skip = inner.output_delay();
        }
        self.pending.clear();
        self.consumed = 0;
        self.emitted = 0;
    }

    /// One chunk from `pending[offset..]` (`partial`: how many of its samples are real).
    fn process(
        &mut self,
        offset: usize,
        partial: Option<usize>,
        out: &mut Vec<f32>,
    ) -> Result<(), AudioError> {
        let (from, to) = (self.from, self.to);
        let err = |e: String| resample_error(from, to, e);
        let Some(inner) = &mut self.inner else {
            return Ok(());
        };
        let input = &self.pending[offset..offset + self.chunk];
        let input = InterleavedSlice::new(input, 1, self.chunk).map_err(|e| err(e.to_string()))?;
        let frames = self.chunk_out.len();
        let mut output = InterleavedSlice::new_mut(&mut self.chunk_out[..], 1, frames)
            .map_err(|e| err(e.to_string()))?;
        let indexing = rubato::Indexing {
            input_offset: 0,
            output_offset: 0,
            active_channels_mask: None,
            partial_len: partial,
        };
        let (_, produced) = inner
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| err(e.to_string()))?;
        let skip = self.to_skip.min(produced);
        self.to_skip -= skip;
        out.extend_from_slice(&self.chunk_out[skip..produced]);
        self.emitted += produced - skip;
        Ok(())
    }
}

fn resample_error(from: u32, to: u32, reason: impl ToString) -> AudioError {
    AudioError::Resample {
        from: f64::from(from),
        to: f64::from(to),
        reason: reason.to_string(),
    }
}

/// Resamples mono audio by an arbitrary ratio (`output rate / input rate`) with rubato's
/// sinc resampler; used by pitch shifting, where the ratio is not a ratio of integer rates.
///
/// # Errors
/// [`AudioError::Resample`] when `ratio` is not finite and positive.
pub fn resample_by_ratio(samples: &[f32], ratio: f64) -> Result<Vec<f32>, AudioError> {
    let err = |reason: String| AudioError::Resample {
        from: 1.0,
        to: ratio,
        reason,
    };
    if !ratio.is_finite() || ratio <= 0.0 {
        return Err(err("the ratio must be finite and positive".to_owned()));
    }
    if samples.is_empty() || (ratio - 1.0).abs() < 1e-12 {
        return Ok(samples.to_vec());
    }
    let params = SincInterpolationParameters::new(128, WindowFunction::BlackmanHarris2);
    let mut resampler = Async::<f32>::new_sinc(ratio, 1.0, &params, 1024, 1, FixedAsync::Input)
        .map_err(|e| err(e.to_string()))?;
    run_resampler(&mut resampler, samples).map_err(err)
}

pub(super) fn run_resampler(
    resampler: &mut dyn Resampler<f32>,
    samples: &[f32],
) -> Result<Vec<f32>, String> {
    let input = InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| e.to_string())?;
    let out = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| e.to_string())?;
    Ok(out.take_data())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rubato's own whole-clip call, the reference the stream must equal.
    fn process_all(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
        let mut r = Fft::<f32>::new(from as usize, to as usize, CHUNK, 1, FixedSync::Both).unwrap();
        run_resampler(&mut r, samples).unwrap()
    }

    #[test]
    fn a_stream_in_any_blocks_equals_the_whole_clip() {
        let mut seed = 7u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed >> 8
        };
        for (from, len) in [
            (48_000, 1),
            (48_000, 1023),
            (48_000, 1024),
            (48_000, 2048),
            (48_000, 2049),
            (44_100, 30_001),
            (22_050, 17_000),
            (16_000, 5000),
        ] {
            let x: Vec<f32> = (0..len)
                .map(|i| (i as f32 * 0.01).sin() * 0.5 + (next() % 100) as f32 * 1e-3)
                .collect();
            let whole = if from == 16_000 {
                x.clone()
            } else {
                process_all(&x, from, 16_000)
            };
            assert_eq!(
                resample(&x, from, 16_000).unwrap(),
                whole,
                "{from} Hz, {len}"
            );
            let mut stream = StreamResampler::new(from, 16_000).unwrap();
            for _ in 0..2 {
                let mut out = Vec::new();
                let mut at = 0;
                while at < x.len() {
                    let n = (next() as usize % 3000).min(x.len() - at);
                    stream.push(&x[at..at + n], &mut out).unwrap();
                    at += n;
                }
                stream.finish(&mut out).unwrap();
                assert_eq!(out, whole, "{from} Hz, {len} samples in blocks");
            }
        }
    }
}
