//! `ironbell generate clusterconfig`, `ironbell validate cluster` and `ironbell generate
//! manifests`: EKS Anywhere cluster specs, offline, in the manner of `eksctl anywhere`.
//!
//! Thin over `ironbell-cluster-spec` (loading, defaults, validation, starting specs),
//! `ironbell-release` (the versions bundle) and `ironbell-capi` (rendering). Nothing here
//! touches a store, a network or a machine.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use ironbell_cluster_spec::{CheckResult, Provider, Report, Spec, SpecError};
use ironbell_release::{BundlesSource, Resolver};

/// The exit status of `validate cluster` for a spec that is not valid.
const INVALID: u8 = 1;
/// The exit status for a file that cannot be read.
const UNREADABLE: u8 = 2;

/// `ironbell generate ...`.
#[derive(Subcommand, Debug)]
pub enum GenerateCommand {
    /// Print a complete, valid starting cluster spec for a provider (edit it, then `validate
    /// cluster`).
    Clusterconfig {
        /// The cluster's name.
        name: String,
        /// The infrastructure: tinkerbell, docker, vsphere, cloudstack, nutanix or snow.
        #[arg(short, long)]
        provider: Provider,
    },
    /// Print the Cluster API objects a cluster spec renders to, as YAML documents.
    Manifests {
        /// The cluster spec.
        #[arg(short = 'f', long = "filename", value_name = "FILE")]
        file: PathBuf,
        /// An EKS Anywhere Bundles file to take versions and images from (as `eksctl
        /// anywhere --bundles-override`); default: the bundle ironbell ships.
        #[arg(long, value_name = "FILE")]
        bundles: Option<PathBuf>,
        /// The hardware.csv whose machines a Tinkerbell cluster will use (checked against the
        /// spec's hardware selectors).
        #[arg(long, value_name = "FILE")]
        hardware_csv: Option<PathBuf>,
    },
}

/// `ironbell validate ...`.
#[derive(Subcommand, Debug)]
pub enum ValidateCommand {
    /// Run the offline validations of a cluster spec; exit 0 when it is valid, 1 when it is
    /// not, 2 when the file cannot be read.
    Cluster {
        /// The cluster spec.
        #[arg(short = 'f', long = "filename", value_name = "FILE")]
        file: PathBuf,
        /// The hardware.csv whose machines a Tinkerbell cluster will use.
        #[arg(long, value_name = "FILE")]
        hardware_csv: Option<PathBuf>,
    },
}

/// Runs `generate ...`.
pub fn generate(command: GenerateCommand) -> anyhow::Result<ExitCode> {
    match command {
        GenerateCommand::Clusterconfig { name, provider } => {
            ironbell_model::names::validate_name(&name)
                .map_err(|e| anyhow::anyhow!("cluster name {name:?}: {e}"))?;
            print!("{}", ironbell_cluster_spec::generate(&name, provider));
            Ok(ExitCode::SUCCESS)
        }
        GenerateCommand::Manifests {
            file,
            bundles,
            hardware_csv,
        } => manifests(&file, bundles.as_deref(), hardware_csv.as_deref()),
    }
}

/// Runs `validate ...`.
pub fn validate(command: ValidateCommand) -> anyhow::Result<ExitCode> {
    let ValidateCommand::Cluster { file, hardware_csv } = command;
    let spec = match load(&file) {
        Ok(spec) => spec,
        Err(code) => return Ok(code),
    };
    let inventory = read_inventory(hardware_csv.as_deref())?;
    let report = ironbell_cluster_spec::validate(&spec, inventory.as_ref());
    print_report(&report);
    if report.is_valid() {
        println!("{}: cluster {} is valid", file.display(), spec.name());
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(INVALID))
    }
}

fn manifests(
    file: &Path,
    bundles: Option<&Path>,
    hardware_csv: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let spec = match load(file) {
        Ok(spec) => spec,
        Err(code) => return Ok(code),
    };
    let inventory = read_inventory(hardware_csv)?;
    let report = ironbell_cluster_spec::validate(&spec, inventory.as_ref());
    if !report.is_valid() {
        for (name, finding) in report.failures() {
            eprintln!("✗ {name}: {finding}");
        }
        eprintln!(
            "error: {}: the spec is not valid; nothing rendered",
            file.display()
        );
        return Ok(ExitCode::from(INVALID));
    }
    let spec = spec.with_defaults();
    let source = match bundles {
        Some(path) => BundlesSource::Bundles {
            url: path.display().to_string(),
            eksa_version: spec
                .cluster
                .spec
                .eksa_version
                .clone()
                .unwrap_or_else(|| ironbell_release::shipped::EKSA_VERSION.to_string()),
        },
        None => BundlesSource::Shipped,
    };
    let kube_versions = spec.kubernetes_versions();
    let kube_versions: Vec<&str> = kube_versions.iter().map(String::as_str).collect();
    let release = Resolver::new()
        .resolve(&source, &kube_versions)
        .context("resolving the versions bundle")?;
    let inputs = ironbell_capi::CreateInputs {
        now_unix_ms: now_unix_ms(),
        tinkerbell_ip: None,
        registry_credentials: registry_credentials(),
        vsphere_credentials: vsphere_credentials(),
        nutanix_credentials: nutanix_credentials(),
        snow_credentials: snow_credentials()?,
    };
    let manifests = ironbell_capi::render(&spec, &release, &inputs)
        .with_context(|| format!("rendering cluster {}", spec.name()))?;
    let yaml = manifests.to_yaml().context("printing the manifests")?;
    std::io::stdout()
        .lock()
        .write_all(yaml.as_bytes())
        .context("writing to standard output")?;
    Ok(ExitCode::SUCCESS)
}

/// Loads a spec. A file that cannot be read gives exit status 2; one that does not load
/// (bad YAML, a wrong field, a reference to a missing document) prints every problem and
/// gives 1, as a spec that fails validation does.
pub(crate) fn load(file: &Path) -> Result<Spec, ExitCode> {
    match Spec::load(file) {
        Ok(spec) => Ok(spec),
        Err(e @ SpecError::Read { .. }) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(UNREADABLE))
        }
        Err(e) => {
            eprintln!("error: {}: not a valid cluster spec:", file.display());
            for issue in e.issues() {
                eprintln!("  {issue}");
            }
            Err(ExitCode::from(INVALID))
        }
    }
}

fn read_inventory(path: Option<&Path>) -> anyhow::Result<Option<ironbell_inventory::Inventory>> {
    let Some(path) = path else { return Ok(None) };
    let text = crate::commands::read_input(path)?;
    let inventory = ironbell_inventory::parse_inventory(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Some(inventory))
}

fn print_report(report: &Report) {
    for check in &report.checks {
        match &check.result {
            CheckResult::Passed => println!("✓ {}", check.name),
            CheckResult::Skipped(why) => println!("- {} (skipped: {why})", check.name),
            CheckResult::Warning(findings) => {
                println!("! {}", check.name);
                for f in findings {
                    println!("    warning: {f}");
                }
            }
            CheckResult::Failed(findings) => {
                println!("✗ {}", check.name);
                for f in findings {
                    println!("    {f}");
                }
            }
        }
    }
}

/// Registry mirror credentials, from the same variables EKS Anywhere reads.
fn registry_credentials() -> Option<ironbell_capi::kubeadm::RegistryCredentials> {
    let username = std::env::var("REGISTRY_USERNAME").ok()?;
    let password = std::env::var("REGISTRY_PASSWORD").ok()?;
    Some(ironbell_capi::kubeadm::RegistryCredentials { username, password })
}

/// vCenter credentials, from the same variables EKS Anywhere reads (the cloud provider's
/// own pair is optional).
fn vsphere_credentials() -> Option<ironbell_capi::vsphere::VSphereCredentials> {
    Some(ironbell_capi::vsphere::VSphereCredentials {
        username: var("EKSA_VSPHERE_USERNAME")?,
        password: var("EKSA_VSPHERE_PASSWORD")?,
        cloud_provider_username: var("EKSA_VSPHERE_CP_USERNAME"),
        cloud_provider_password: var("EKSA_VSPHERE_CP_PASSWORD"),
    })
}

/// Prism Central credentials, from the variables EKS Anywhere's Nutanix provider reads.
fn nutanix_credentials() -> Option<ironbell_capi::nutanix::PrismCredentials> {
    Some(ironbell_capi::nutanix::PrismCredentials {
        username: var("EKSA_NUTANIX_USERNAME")?,
        password: var("EKSA_NUTANIX_PASSWORD")?,
    })
}

/// The Snow devices' credentials and CA bundle, from the files `EKSA_AWS_CREDENTIALS_FILE`
/// and `EKSA_AWS_CA_BUNDLES_FILE` name, as EKS Anywhere's Snow provider reads them; `None`
/// when either is unset. A named file that cannot be read is an error.
fn snow_credentials() -> anyhow::Result<Option<ironbell_capi::snow::SnowCredentials>> {
    use base64::Engine as _;
    let (Some(credentials), Some(ca_bundle)) = (
        var("EKSA_AWS_CREDENTIALS_FILE"),
        var("EKSA_AWS_CA_BUNDLES_FILE"),
    ) else {
        return Ok(None);
    };
    let encoded = |path: &str, what: &str| -> anyhow::Result<String> {
        let bytes = std::fs::read(path).with_context(|| format!("reading the {what} {path}"))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    };
    Ok(Some(ironbell_capi::snow::SnowCredentials {
        credentials_b64: encoded(&credentials, "Snow credentials file")?,
        ca_bundle_b64: encoded(&ca_bundle, "Snow CA bundle file")?,
    }))
}

/// An environment variable's value, `None` when it is unset or empty.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
