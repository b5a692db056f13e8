//! Resolving a cluster's release data from files: pick the EKS-A release, read its Bundles,
//! pick the versions bundle of each Kubernetes version the cluster uses, read its EKS-D
//! release and derive the distro — what EKS-A's `FileSpecBuilder` does, without downloads.
//!
//! Where a URL leads ([`Resolver::locate`]):
//! - a URL registered with [`Resolver::with_url_file`] reads that file (tests, or a mirror of
//!   release files kept on disk);
//! - `embed:///X` and relative paths resolve against the base directory (EKS-A's own tests
//!   embed `internal/test/`, so their `embed:///testdata/bundles.yaml` resolves against it);
//! - `file:///X` and absolute paths are local files;
//! - an `http(s)://` URL of an EKS-D release this crate ships ([`crate::shipped`]) reads the
//!   shipped copy; any other `http(s)://` URL is an error asking for the file locally,
//!   because ironbell downloads nothing.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{
    Bundles, ClusterRelease, ClusterVersionsBundle, EksdRelease, Error, ObjectMeta,
    ReleasesManifest,
};

/// The largest release file read (real Bundles are about 1 MiB).
pub const MAX_RELEASE_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// The namespace EKS-A gives the Bundles object of a cluster.
pub const BUNDLES_NAMESPACE: &str = "eksa-system";

/// Where the Bundles of a cluster come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundlesSource {
    /// A releases manifest: the release `eksa_version` in it names the Bundles.
    Releases {
        /// The releases manifest's URL or path.
        url: String,
        /// The EKS-A release wanted (`v0.24.6`).
        eksa_version: String,
    },
    /// A Bundles file given directly (EKS-A's `--bundles-override`); EKS-A then calls the
    /// release by the CLI's own version, here `eksa_version`.
    Bundles {
        /// The Bundles file's URL or path.
        url: String,
        /// The EKS-A version to report.
        eksa_version: String,
    },
    /// The Bundles this crate ships ([`crate::shipped`]).
    Shipped,
}

/// A location a URL resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file on disk.
    File(PathBuf),
    /// A file embedded in this crate.
    Shipped(&'static str),
}

/// Reads release data from local files; see the module documentation for URL rules.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    base_dir: Option<PathBuf>,
    url_files: BTreeMap<String, PathBuf>,
}

impl Resolver {
    /// A resolver with no base directory: relative paths are relative to the working
    /// directory and `embed:///` URLs are an error.
    pub fn new() -> Self {
        Resolver::default()
    }

    /// Resolves `embed:///X` and relative paths against `dir`.
    pub fn with_base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    /// Reads `url` (matched exactly, whatever its scheme) from the local file `path`.
    pub fn with_url_file(mut self, url: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.url_files.insert(url.into(), path.into());
        self
    }

    /// Where `url` would be read from.
    pub fn locate(&self, url: &str) -> Result<Location, Error> {
        if let Some(path) = self.url_files.get(url) {
            return Ok(Location::File(path.clone()));
        }
        if let Some(rest) = url.strip_prefix("embed:///") {
            let base = self.base_dir.as_ref().ok_or_else(|| Error::NoBaseDir {
                url: url.to_string(),
            })?;
            return Ok(Location::File(base.join(rest)));
        }
        if let Some(path) = url.strip_prefix("file://") {
            return Ok(Location::File(PathBuf::from(path)));
        }
        if url.starts_with("https://") || url.starts_with("http://") {
            return match crate::shipped::eksd_manifest(url) {
                Some(text) => Ok(Location::Shipped(text)),
                None => Err(Error::RemoteUrl {
                    url: url.to_string(),
                }),
            };
        }
        if url.contains("://") || url.is_empty() {
            return Err(Error::UnsupportedUrl {
                url: url.to_string(),
            });
        }
        let path = Path::new(url);
        match &self.base_dir {
            Some(base) if path.is_relative() => Ok(Location::File(base.join(path))),
            _ => Ok(Location::File(path.to_path_buf())),
        }
    }

    /// The text at `url`, and a name for it in errors.
    pub fn read(&self, url: &str) -> Result<(String, String), Error> {
        match self.locate(url)? {
            Location::Shipped(text) => Ok((text.to_string(), url.to_string())),
            Location::File(path) => {
                let io_error = |source| Error::Read {
                    url: url.to_string(),
                    path: path.clone(),
                    source,
                };
                let file = std::fs::File::open(&path).map_err(io_error)?;
                let too_large = || Error::TooLarge {
                    path: path.clone(),
                    limit: MAX_RELEASE_FILE_BYTES,
                };
                if file.metadata().map_err(io_error)?.len() > MAX_RELEASE_FILE_BYTES {
                    return Err(too_large());
                }
                let mut text = String::new();
                let read = file
                    .take(MAX_RELEASE_FILE_BYTES + 1)
                    .read_to_string(&mut text)
                    .map_err(io_error)?;
                if read as u64 > MAX_RELEASE_FILE_BYTES {
                    return Err(too_large());
                }
                Ok((text, path.display().to_string()))
            }
        }
    }

    /// Reads a releases manifest.
    pub fn releases(&self, url: &str) -> Result<ReleasesManifest, Error> {
        let (text, source) = self.read(url)?;
        ReleasesManifest::from_yaml(&text, &source)
    }

    /// Reads a Bundles file.
    pub fn bundles(&self, url: &str) -> Result<Bundles, Error> {
        let (text, source) = self.read(url)?;
        Bundles::from_yaml(&text, &source)
    }

    /// Reads an EKS-D release manifest.
    pub fn eksd(&self, url: &str) -> Result<EksdRelease, Error> {
        let (text, source) = self.read(url)?;
        EksdRelease::from_yaml(&text, &source)
    }

    /// The Bundles of `source` and the EKS-A version they belong to.
    pub fn bundles_for(&self, source: &BundlesSource) -> Result<(Bundles, String), Error> {
        match source {
            BundlesSource::Releases { url, eksa_version } => {
                let releases = self.releases(url)?;
                let release = releases.release(eksa_version)?;
                if release.bundle_manifest_url.is_empty() {
                    return Err(Error::MissingField {
                        object: format!("release {} in {url}", release.version),
                        field: "bundleManifestUrl".to_string(),
                    });
                }
                Ok((
                    self.bundles(&release.bundle_manifest_url)?,
                    release.version.clone(),
                ))
            }
            BundlesSource::Bundles { url, eksa_version } => {
                Ok((self.bundles(url)?, eksa_version.clone()))
            }
            BundlesSource::Shipped => Ok((
                crate::shipped::bundles()?,
                crate::shipped::EKSA_VERSION.to_string(),
            )),
        }
    }

    /// Resolves the release data of a cluster using `kube_versions` (the control plane's
    /// and each worker group's; repeats are ignored).
    pub fn resolve(
        &self,
        source: &BundlesSource,
        kube_versions: &[&str],
    ) -> Result<ClusterRelease, Error> {
        let (bundles, eksa_version) = self.bundles_for(source)?;
        let mut versions: Vec<ClusterVersionsBundle> = Vec::new();
        for kube_version in kube_versions {
            if versions.iter().any(|v| v.kube_version() == *kube_version) {
                continue;
            }
            let bundle = bundles.versions_bundle(kube_version)?;
            let eksd = self.eksd(bundle.eksd_manifest_url()?)?;
            if eksd.kube_version() != *kube_version {
                return Err(Error::EksdChannelMismatch {
                    url: bundle.eks_d.manifest_url.clone(),
                    channel: eksd.spec.channel.clone(),
                    kube_version: kube_version.to_string(),
                });
            }
            versions.push(ClusterVersionsBundle::new(bundle.clone(), &eksd)?);
        }
        Ok(ClusterRelease {
            eksa_version,
            bundles_number: bundles.spec.number,
            bundles_meta: ObjectMeta {
                name: bundles.metadata.name.clone(),
                namespace: BUNDLES_NAMESPACE.to_string(),
            },
            versions,
        })
    }
}
