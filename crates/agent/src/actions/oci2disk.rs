//! `oci2disk`: streams a disk image stored as an OCI artifact onto a block device.
//!
//! Environment, as Tinkerbell's oci2disk reads it:
//! - `IMG_URL` (required): the OCI reference, `registry/repository:tag` or `...@sha256:…`
//!   (Docker Hub names like `library/x` work too). A `http://` prefix, or a loopback
//!   registry, means plain HTTP; otherwise HTTPS.
//! - `DEST_DISK` (required): the device or file (created if missing, as Tinkerbell does).
//! - `COMPRESSED`: `true` → the layer is decompressed (magic bytes, as image2disk).
//! - `REGISTRY_USERNAME`, `REGISTRY_PASSWORD`: credentials (Basic, or for the Bearer
//!   token exchange); anonymous otherwise.
//! - `SKIP_VERIFY`: `true` → accept any TLS certificate.
//!
//! The registry v2 API: the manifest (an index is resolved to this machine's platform or
//! its first entry), then its single layer blob (with several layers, the one of media type
//! `application/vnd.oci.image.layer.v1.tar`, Tinkerbell's only allowed type), streamed like
//! image2disk and checked against its sha256 digest.

use super::stream::{self, Target};
use super::{ActionError, ActionSpec, Context, Outcome};
use base64::Engine;
use std::time::Duration;

const ACTION: &str = "oci2disk";

const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The registry's `host[:port]` as contacted.
    pub registry: String,
    /// The repository path.
    pub repository: String,
    /// Tag or digest.
    pub reference: String,
}

/// Parses `IMG_URL`.
pub fn parse_reference(s: &str) -> Option<Reference> {
    let (forced, rest) = if let Some(r) = s.strip_prefix("http://") {
        (Some("http"), r)
    } else if let Some(r) = s.strip_prefix("https://") {
        (Some("https"), r)
    } else {
        (None, s.strip_prefix("oci://").unwrap_or(s))
    };
    let (name, reference) = if let Some((n, d)) = rest.split_once('@') {
        (n, d.to_string())
    } else {
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], rest[slash + i + 1..].to_string()),
            None => (rest, "latest".to_string()),
        }
    };
    let (first, remainder) = match name.split_once('/') {
        Some((f, r)) if f.contains('.') || f.contains(':') || f == "localhost" => (Some(f), r),
        _ => (None, name),
    };
    let (registry, repository) = match first {
        Some(h) => (h.to_string(), remainder.to_string()),
        None if remainder.contains('/') => ("registry-1.docker.io".into(), remainder.to_string()),
        None => (
            "registry-1.docker.io".into(),
            format!("library/{remainder}"),
        ),
    };
    if repository.is_empty() || reference.is_empty() {
        return None;
    }
    let host = registry
        .rsplit_once(':')
        .map_or(registry.as_str(), |(h, _)| h);
    let loopback = host == "localhost" || host.starts_with("127.") || host == "[::1]";
    let scheme = forced.unwrap_or(if loopback { "http" } else { "https" });
    Some(Reference {
        scheme,
        registry,
        repository,
        reference,
    })
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Debug, serde::Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Debug, serde::Deserialize)]
struct Manifest {
    #[serde(default)]
    manifests: Vec<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

struct Registry<'a> {
    http: reqwest::Client,
    r: &'a Reference,
    username: Option<String>,
    password: Option<String>,
    auth: Option<String>,
    name: &'a str,
}

impl Registry<'_> {
    fn err(&self, reason: impl Into<String>) -> ActionError {
        ActionError::Registry {
            action: ACTION,
            reference: self.name.to_string(),
            reason: reason.into(),
        }
    }

    fn url(&self, kind: &str, what: &str) -> String {
        format!(
            "{}://{}/v2/{}/{kind}/{what}",
            self.r.scheme, self.r.registry, self.r.repository
        )
    }

    async fn get(
        &mut self,
        url: &str,
        accept: Option<&str>,
    ) -> Result<reqwest::Response, ActionError> {
        for attempt in 0..2 {
            let mut req = self.http.get(url);
            if let Some(a) = accept {
                req = req.header(reqwest::header::ACCEPT, a);
            }
            if let Some(auth) = &self.auth {
                req = req.header(reqwest::header::AUTHORIZATION, auth);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| self.err(format!("GET {url}: {}", crate::error_chain(&e))))?;
            if resp.status() == reqwest::StatusCode::UNAUTHORIZED && attempt == 0 {
                let challenge = resp
                    .headers()
                    .get(reqwest::header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                self.authenticate(&challenge).await?;
                continue;
            }
            if !resp.status().is_success() {
                return Err(self.err(format!("GET {url}: status {}", resp.status())));
            }
            return Ok(resp);
        }
        Err(self.err(format!(
            "GET {url}: still unauthorized after authenticating"
        )))
    }

    fn basic(&self) -> Option<String> {
        let (u, p) = (self.username.as_ref()?, self.password.as_ref()?);
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        ))
    }

    async fn authenticate(&mut self, challenge: &str) -> Result<(), ActionError> {
        let Some(params) = challenge.strip_prefix("Bearer ") else {
            self.auth = Some(self.basic().ok_or_else(|| {
                self.err(
                    "the registry wants credentials: set REGISTRY_USERNAME and REGISTRY_PASSWORD",
                )
            })?);
            return Ok(());
        };
        let field = |name: &str| {
            params.split(',').find_map(|kv| {
                let (k, v) = kv.trim().split_once('=')?;
                (k == name).then(|| v.trim_matches('"').to_string())
            })
        };
        let realm = field("realm")
            .ok_or_else(|| self.err(format!("Bearer challenge without realm: {challenge}")))?;
        let scope =
            field("scope").unwrap_or_else(|| format!("repository:{}:pull", self.r.repository));
        let mut url = reqwest::Url::parse(&realm)
            .map_err(|e| self.err(format!("token realm {realm}: {e}")))?;
        url.query_pairs_mut().append_pair("scope", &scope);
        if let Some(service) = field("service") {
            url.query_pairs_mut().append_pair("service", &service);
        }
        let mut req = self.http.get(url);
        if let Some(b) = self.basic() {
            req = req.header(reqwest::header::AUTHORIZATION, b);
        }
        #[derive(serde::Deserialize)]
        struct Token {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.err(format!("token from {realm}: {}", crate::error_chain(&e))))?;
        if !resp.status().is_success() {
            return Err(self.err(format!("token from {realm}: status {}", resp.status())));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.err(format!("token from {realm}: {}", crate::error_chain(&e))))?;
        let t: Token = serde_json::from_slice(&body)
            .map_err(|e| self.err(format!("token from {realm}: {e}")))?;
        let token = if t.token.is_empty() {
            t.access_token
        } else {
            t.token
        };
        self.auth = Some(format!("Bearer {token}"));
        Ok(())
    }

    async fn manifest(&mut self, reference: &str) -> Result<Manifest, ActionError> {
        let url = self.url("manifests", reference);
        let resp = self.get(&url, Some(MANIFEST_TYPES)).await?;
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.err(format!("GET {url}: {}", crate::error_chain(&e))))?;
        serde_json::from_slice(&body).map_err(|e| self.err(format!("manifest {url}: {e}")))
    }
}

fn this_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Runs the action.
pub async fn run(spec: &ActionSpec, ctx: &Context) -> Result<Outcome, ActionError> {
    let name = spec.required(ACTION, "IMG_URL")?.to_string();
    let dest = spec.required(ACTION, "DEST_DISK")?.to_string();
    let r = parse_reference(&name).ok_or_else(|| ActionError::BadEnv {
        action: ACTION,
        key: "IMG_URL",
        value: name.clone(),
        reason: "not an OCI reference (registry/repository:tag or @digest)".into(),
    })?;
    let http = if spec.flag("SKIP_VERIFY") {
        crate::http_client(true).map_err(|e| ActionError::Registry {
            action: ACTION,
            reference: name.clone(),
            reason: e,
        })?
    } else {
        ctx.http.clone()
    };
    let mut reg = Registry {
        http,
        r: &r,
        username: spec.var("REGISTRY_USERNAME").map(String::from),
        password: spec.var("REGISTRY_PASSWORD").map(String::from),
        auth: None,
        name: &name,
    };
    let mut manifest = reg.manifest(&r.reference).await?;
    if manifest.layers.is_empty() && !manifest.manifests.is_empty() {
        let pick = manifest
            .manifests
            .iter()
            .find(|m| {
                m.platform
                    .as_ref()
                    .is_some_and(|p| p.os == "linux" && p.architecture == this_arch())
            })
            .or_else(|| manifest.manifests.first())
            .map(|m| m.digest.clone())
            .unwrap_or_default();
        manifest = reg.manifest(&pick).await?;
    }
    let layer = match manifest.layers.as_slice() {
        [] => return Err(reg.err("the manifest has no layers")),
        [one] => one,
        many => many
            .iter()
            .find(|l| l.media_type == "application/vnd.oci.image.layer.v1.tar")
            .ok_or_else(|| {
                reg.err(format!(
                    "the manifest has {} layers and none of type application/vnd.oci.image.layer.v1.tar",
                    many.len()
                ))
            })?,
    };
    let digest = layer.digest.clone();
    tracing::info!(reference = %name, %digest, media_type = %layer.media_type, %dest, "writing OCI layer");
    let blob_url = reg.url("blobs", &digest);
    let resp = reg.get(&blob_url, None).await?;
    let stats = stream::copy(
        resp,
        Target {
            action: ACTION,
            source_name: name.clone(),
            dest: dest.clone().into(),
            compressed: spec.flag("COMPRESSED"),
            create: true,
            progress_interval: Duration::from_secs(3),
            digest: digest.starts_with("sha256:").then(|| digest.clone()),
        },
    )
    .await?;
    Ok(Outcome::done(format!(
        "wrote {} bytes of {name} ({digest}) to {dest}",
        stats.written
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = parse_reference("127.0.0.1:5000/images/ubuntu:22.04").expect("ref");
        assert_eq!(
            r,
            Reference {
                scheme: "http",
                registry: "127.0.0.1:5000".into(),
                repository: "images/ubuntu".into(),
                reference: "22.04".into()
            }
        );
        let r = parse_reference("ghcr.io/org/disk@sha256:abc").expect("ref");
        assert_eq!((r.scheme, r.reference.as_str()), ("https", "sha256:abc"));
        let r = parse_reference("ubuntu").expect("ref");
        assert_eq!(
            (
                r.registry.as_str(),
                r.repository.as_str(),
                r.reference.as_str()
            ),
            ("registry-1.docker.io", "library/ubuntu", "latest")
        );
        let r = parse_reference("http://reg.lan:5000/x:1").expect("ref");
        assert_eq!((r.scheme, r.registry.as_str()), ("http", "reg.lan:5000"));
        assert!(parse_reference("reg.lan/").is_none());
    }
}
