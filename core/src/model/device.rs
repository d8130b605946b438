//! Devices named on a command line (`trainer train --device ...`): the CPU backends always,
//! burn's GPU backends where the crate was built with their cargo feature (`wgpu`, `cuda`).

use std::fmt;
use std::str::FromStr;

use burn::prelude::Device;

/// A device to train or evaluate on, as written on a command line.
///
/// | spelling | device | cargo feature |
/// | --- | --- | --- |
/// | `cpu` | burn's `flex` CPU backend (the default) | none |
/// | `ndarray` | burn's deprecated `ndarray` CPU backend | `ndarray` |
/// | `wgpu` | the best adapter wgpu finds (Vulkan, Metal, DX12) | `wgpu` |
/// | `wgpu:N` | the N-th discrete GPU | `wgpu` |
/// | `wgpu:cpu` | wgpu's software adapter (e.g. Mesa's lavapipe): slow, for smoke tests | `wgpu` |
/// | `cuda`, `cuda:N` | CUDA device N (0 when omitted) | `cuda` |
///
/// A spelling whose backend this build lacks is refused when parsed
/// ([`DeviceSpecError::NotBuilt`]), naming the feature to build with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    /// burn's `flex` CPU backend.
    #[default]
    Cpu,
    /// burn's deprecated `ndarray` CPU backend.
    NdArray,
    /// A wgpu adapter.
    Wgpu(WgpuAdapter),
    /// A CUDA device, by index.
    Cuda(usize),
}

/// Which wgpu adapter a [`DeviceSpec::Wgpu`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WgpuAdapter {
    /// The adapter wgpu prefers (high-power GPUs first; `CUBECL_WGPU_DEFAULT_DEVICE`
    /// overrides it).
    #[default]
    Best,
    /// The N-th discrete GPU.
    Discrete(usize),
    /// The software (CPU) adapter.
    Software,
}

/// A device spelling that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceSpecError {
    /// Not one of the spellings [`DeviceSpec`] lists.
    #[error("unknown device '{0}': expected cpu, ndarray, wgpu, wgpu:N, wgpu:cpu, cuda or cuda:N")]
    Unknown(String),
    /// The index after the colon is not a number.
    #[error("device '{0}': the index after ':' must be a whole number")]
    BadIndex(String),
    /// A list of devices that mixes backends (data-parallel training runs on devices of one
    /// backend).
    #[error(
        "'{0}' mixes backends: data-parallel training runs on devices of one backend (e.g. cuda:0,cuda:1)"
    )]
    MixedBackends(String),
    /// An empty list, or an empty entry in one (`cuda:0,`).
    #[error("'{0}' has an empty device name")]
    Empty(String),
    /// The backend exists but this build does not include it.
    #[error(
        "device '{spec}' needs a build with the '{feature}' cargo feature (e.g. cargo run --release -p trainer --features {feature} -- ...)"
    )]
    NotBuilt {
        /// The spelling given.
        spec: String,
        /// The cargo feature that adds the backend.
        feature: &'static str,
    },
}

impl DeviceSpec {
    /// The cargo feature this device needs, if any.
    #[must_use]
    pub fn feature(self) -> Option<&'static str> {
        match self {
            DeviceSpec::Cpu => None,
            DeviceSpec::NdArray => Some("ndarray"),
            DeviceSpec::Wgpu(_) => Some("wgpu"),
            DeviceSpec::Cuda(_) => Some("cuda"),
        }
    }

    /// Whether this build includes the device's backend.
    #[must_use]
    pub fn is_built(self) -> bool {
        match self {
            DeviceSpec::Cpu => true,
            DeviceSpec::NdArray => cfg!(feature = "ndarray"),
            DeviceSpec::Wgpu(_) => cfg!(feature = "wgpu"),
            DeviceSpec::Cuda(_) => cfg!(feature = "cuda"),
        }
    }

    /// Whether the device is a GPU (its tensors live outside the process's memory).
    #[must_use]
    pub fn is_gpu(self) -> bool {
        match self {
            DeviceSpec::Cpu | DeviceSpec::NdArray => false,
            DeviceSpec::Wgpu(WgpuAdapter::Software) => false,
            DeviceSpec::Wgpu(_) | DeviceSpec::Cuda(_) => true,
        }
    }

    /// The burn device. Lazy: a GPU is only opened when the first tensor is made on it
    /// (burn panics there if the adapter or driver is missing).
    ///
    /// # Errors
    /// [`DeviceSpecError::NotBuilt`] when this build lacks the backend (a spec made by
    /// parsing never does).
    pub fn device(self) -> Result<Device, DeviceSpecError> {
        match self {
            DeviceSpec::Cpu => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            #[expect(
                deprecated,
                reason = "burn deprecates ndarray; the feature exists to compare against it"
            )]
            DeviceSpec::NdArray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            DeviceSpec::Wgpu(adapter) => {
                use burn::prelude::DeviceKind;
                Ok(Device::wgpu(match adapter {
                    WgpuAdapter::Best => DeviceKind::DefaultDevice,
                    WgpuAdapter::Discrete(n) => DeviceKind::DiscreteGpu(n),
                    WgpuAdapter::Software => DeviceKind::Cpu,
                }))
            }
            #[cfg(feature = "cuda")]
            DeviceSpec::Cuda(n) => Ok(Device::cuda(n)),
            #[allow(
                unreachable_patterns,
                reason = "reachable only in builds without a backend"
            )]
            other => Err(DeviceSpecError::NotBuilt {
                spec: other.to_string(),
                feature: other.feature().unwrap_or("default"),
            }),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => write!(f, "cpu"),
            DeviceSpec::NdArray => write!(f, "ndarray"),
            DeviceSpec::Wgpu(WgpuAdapter::Best) => write!(f, "wgpu"),
            DeviceSpec::Wgpu(WgpuAdapter::Discrete(n)) => write!(f, "wgpu:{n}"),
            DeviceSpec::Wgpu(WgpuAdapter::Software) => write!(f, "wgpu:cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = DeviceSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim().to_ascii_lowercase();
        if text.is_empty() {
            return Err(DeviceSpecError::Empty(s.to_string()));
        }
        let (name, index) = match text.split_once(':') {
            Some((name, index)) => (name, Some(index)),
            None => (text.as_str(), None),
        };
        let number = |index: &str| {
            index
                .parse::<usize>()
                .map_err(|_| DeviceSpecError::BadIndex(s.to_string()))
        };
        let spec = match (name, index) {
            ("cpu" | "flex", None) => DeviceSpec::Cpu,
            ("ndarray", None) => DeviceSpec::NdArray,
            ("wgpu", None) => DeviceSpec::Wgpu(WgpuAdapter::Best),
            ("wgpu", Some("cpu")) => DeviceSpec::Wgpu(WgpuAdapter::Software),
            ("wgpu", Some(i)) => DeviceSpec::Wgpu(WgpuAdapter::Discrete(number(i)?)),
            ("cuda", None) => DeviceSpec::Cuda(0),
            ("cuda", Some(i)) => DeviceSpec::Cuda(number(i)?),
            _ => return Err(DeviceSpecError::Unknown(s.to_string())),
        };
        if spec.is_built() {
            Ok(spec)
        } else {
            Err(DeviceSpecError::NotBuilt {
                spec: s.to_string(),
                feature: spec.feature().unwrap_or("default"),
            })
        }
    }
}

/// One device or several of one backend, as `--device` takes them: `cpu`, `cuda:0,cuda:1`.
///
/// Several devices train data-parallel: each batch is split between them and burn's
/// `ModuleOptimizer::step_multi` sums their gradients (`training::data_parallel_step`). The same device may
/// be named twice (`cpu,cpu`: two replicas, each in its own thread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpecs(Vec<DeviceSpec>);

impl DeviceSpecs {
    /// The devices, in the order given; never empty, the first holds the model.
    #[must_use]
    pub fn specs(&self) -> &[DeviceSpec] {
        &self.0
    }

    /// The first device (where the model lives).
    #[must_use]
    pub fn primary(&self) -> DeviceSpec {
        self.0[0]
    }

    /// Whether this is the default, the CPU alone.
    #[must_use]
    pub fn is_default(&self) -> bool {
        self.0 == [DeviceSpec::Cpu]
    }

    /// The burn devices.
    ///
    /// # Errors
    /// As [`DeviceSpec::device`].
    pub fn devices(&self) -> Result<Vec<Device>, DeviceSpecError> {
        self.0.iter().map(|d| d.device()).collect()
    }
}

impl Default for DeviceSpecs {
    fn default() -> Self {
        Self(vec![DeviceSpec::Cpu])
    }
}

impl From<DeviceSpec> for DeviceSpecs {
    fn from(spec: DeviceSpec) -> Self {
        Self(vec![spec])
    }
}

impl fmt::Display for DeviceSpecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, spec) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ",")?;
            }
            write!(f, "{spec}")?;
        }
        Ok(())
    }
}

impl FromStr for DeviceSpecs {
    type Err = DeviceSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let specs = s
            .split(',')
            .map(|part| {
                if part.trim().is_empty() {
                    Err(DeviceSpecError::Empty(s.to_string()))
                } else {
                    part.parse::<DeviceSpec>()
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let backend = |d: &DeviceSpec| d.feature();
        if specs.iter().any(|d| backend(d) != backend(&specs[0])) {
            return Err(DeviceSpecError::MixedBackends(s.to_string()));
        }
        Ok(Self(specs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_or_names_its_feature() {
        assert_eq!("cpu".parse::<DeviceSpec>(), Ok(DeviceSpec::Cpu));
        assert_eq!(" CPU ".parse::<DeviceSpec>(), Ok(DeviceSpec::Cpu));
        // The crate's tests build with ndarray.
        assert_eq!("ndarray".parse::<DeviceSpec>(), Ok(DeviceSpec::NdArray));
        for (text, spec) in [
            ("wgpu", DeviceSpec::Wgpu(WgpuAdapter::Best)),
            ("wgpu:1", DeviceSpec::Wgpu(WgpuAdapter::Discrete(1))),
            ("wgpu:cpu", DeviceSpec::Wgpu(WgpuAdapter::Software)),
            ("cuda", DeviceSpec::Cuda(0)),
            ("cuda:3", DeviceSpec::Cuda(3)),
        ] {
            match text.parse::<DeviceSpec>() {
                Ok(parsed) => {
                    assert!(spec.is_built(), "{text} parsed without its feature");
                    assert_eq!(parsed, spec);
                    assert!(parsed.device().is_ok());
                }
                Err(DeviceSpecError::NotBuilt { spec: s, feature }) => {
                    assert!(!spec.is_built(), "{text} refused although built");
                    assert_eq!(s, text);
                    assert_eq!(Some(feature), spec.feature());
                    assert!(matches!(
                        spec.device(),
                        Err(DeviceSpecError::NotBuilt { .. })
                    ));
                }
                Err(e) => panic!("{text}: {e}"),
            }
            // Display spells it back the way it parses.
            assert!(
                matches!(
                    spec.to_string().parse::<DeviceSpec>(),
                    Ok(p) if p == spec
                ) || !spec.is_built()
            );
        }
    }

    #[test]
    fn bad_spellings_are_named() {
        assert_eq!(
            "tpu".parse::<DeviceSpec>(),
            Err(DeviceSpecError::Unknown("tpu".into()))
        );
        assert_eq!(
            "cpu:1".parse::<DeviceSpec>(),
            Err(DeviceSpecError::Unknown("cpu:1".into()))
        );
        assert_eq!(
            "".parse::<DeviceSpec>(),
            Err(DeviceSpecError::Empty(String::new()))
        );
        let e = "cuda:x".parse::<DeviceSpec>();
        assert!(
            matches!(&e, Err(DeviceSpecError::BadIndex(s)) if s == "cuda:x")
                || matches!(&e, Err(DeviceSpecError::NotBuilt { .. })),
            "{e:?}"
        );
        let message = DeviceSpecError::NotBuilt {
            spec: "cuda:0".into(),
            feature: "cuda",
        }
        .to_string();
        assert!(message.contains("--features cuda"), "{message}");
    }

    #[test]
    fn device_lists_parse_with_one_backend() {
        let one: DeviceSpecs = "cpu".parse().unwrap();
        assert!(one.is_default());
        assert_eq!(one, DeviceSpecs::default());
        let two: DeviceSpecs = "cpu, flex".parse().unwrap();
        assert_eq!(two.specs(), &[DeviceSpec::Cpu, DeviceSpec::Cpu]);
        assert_eq!(two.to_string(), "cpu,cpu");
        assert_eq!(two.devices().unwrap().len(), 2);
        assert!(!two.is_default());
        assert_eq!(
            "cpu,ndarray".parse::<DeviceSpecs>(),
            Err(DeviceSpecError::MixedBackends("cpu,ndarray".into()))
        );
        for bad in ["", "cpu,", ",cpu", "cpu,,cpu"] {
            assert_eq!(
                bad.parse::<DeviceSpecs>(),
                Err(DeviceSpecError::Empty(bad.into())),
                "{bad:?}"
            );
        }
        // An unknown or unbuilt entry names itself, not the list.
        assert_eq!(
            "cpu,tpu".parse::<DeviceSpecs>(),
            Err(DeviceSpecError::Unknown("tpu".into()))
        );
        match "cuda:0,cuda:1".parse::<DeviceSpecs>() {
            Ok(list) => assert_eq!(list.specs(), &[DeviceSpec::Cuda(0), DeviceSpec::Cuda(1)]),
            Err(DeviceSpecError::NotBuilt { spec, feature }) => {
                assert_eq!((spec.as_str(), feature), ("cuda:0", "cuda"));
            }
            Err(e) => panic!("{e}"),
        }
    }
}
