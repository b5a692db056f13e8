//! image2disk and oci2disk from in-test HTTP servers into files and loop devices.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use ironbell_agent::actions::{self, ActionSpec, Context};
use ironbell_agent::config::Settings;
use ironbell_agent::power::DryRunPower;
use sha2::Digest;
use std::collections::HashMap;
use std::sync::Arc;

const FORMATS: [&str; 5] = ["raw", "gzip", "xz", "zstd", "bzip2"];

fn ctx() -> Context {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Context {
        settings: Arc::new(
            Settings::from_sources("grpc_authority=x worker_id=y", &|_| None, &[]).unwrap(),
        ),
        power: Arc::new(DryRunPower::default()),
        http: ironbell_agent::http_client(false).unwrap(),
    }
}

fn spec(image: &str, env: &[(&str, &str)]) -> ActionSpec {
    ActionSpec {
        image: image.into(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

async fn serve_all(image: &[u8]) -> HttpServer {
    let mut routes = HashMap::new();
    for f in FORMATS {
        routes.insert(format!("/disk.{f}"), Route::bytes(compress(image, f)));
    }
    HttpServer::start(routes).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_into_a_file() {
    let image = test_image((3 << 20) + 4321); // an unaligned tail too
    let http = serve_all(&image).await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx();
    for f in FORMATS {
        let dest = dir.path().join(format!("out-{f}.img"));
        std::fs::write(&dest, b"").unwrap();
        let url = http.url(&format!("/disk.{f}"));
        let compressed = if f == "raw" { "false" } else { "true" };
        let out = actions::execute(
            &spec(
                "quay.io/tinkerbell/actions/image2disk:latest",
                &[
                    ("IMG_URL", &url),
                    ("DEST_DISK", &dest.display().to_string()),
                    ("COMPRESSED", compressed),
                ],
            ),
            &ctx,
        )
        .await
        .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(
            out.message
                .contains(&format!("wrote {} bytes", image.len())),
            "{f}: {}",
            out.message
        );
        assert!(std::fs::read(&dest).unwrap() == image, "{f}: bytes differ");
    }
    // COMPRESSED=true on raw data is an error naming the formats; a missing file is not created.
    let dest = dir.path().join("plain.img");
    std::fs::write(&dest, b"").unwrap();
    let url = http.url("/disk.raw");
    let e = actions::execute(
        &spec(
            "image2disk",
            &[
                ("IMG_URL", &url),
                ("DEST_DISK", &dest.display().to_string()),
                ("COMPRESSED", "true"),
            ],
        ),
        &ctx,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("none of gzip"), "{e}");
    let missing = dir.path().join("nope/disk.img");
    let e = actions::execute(
        &spec(
            "image2disk",
            &[
                ("IMG_URL", &url),
                ("DEST_DISK", &missing.display().to_string()),
            ],
        ),
        &ctx,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("opening"), "{e}");
    let e = actions::execute(&spec("image2disk", &[("DEST_DISK", "/x")]), &ctx)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "image2disk: IMG_URL is required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_into_a_loop_device() {
    let image = test_image((3 << 20) + 4321); // an unaligned tail too
    let http = serve_all(&image).await;
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("loop.img");
    std::fs::write(&backing, vec![0u8; 4 << 20]).unwrap();
    let Some(lo) = Loop::attach(&backing, None, false) else {
        return;
    };
    let ctx = ctx();
    for f in FORMATS {
        // clear the device between formats
        std::fs::write(&lo.dev, vec![0u8; 4 << 20]).unwrap();
        let url = http.url(&format!("/disk.{f}"));
        let compressed = if f == "raw" { "false" } else { "true" };
        actions::execute(
            &spec(
                "image2disk",
                &[
                    ("IMG_URL", &url),
                    ("DEST_DISK", &lo.dev),
                    ("COMPRESSED", compressed),
                ],
            ),
            &ctx,
        )
        .await
        .unwrap_or_else(|e| panic!("{f}: {e}"));
        let mut back = vec![0u8; image.len()];
        use std::io::Read;
        std::fs::File::open(&lo.dev)
            .unwrap()
            .read_exact(&mut back)
            .unwrap();
        assert!(back == image, "{f}: device bytes differ");
    }
}

fn sha(data: &[u8]) -> String {
    format!(
        "sha256:{}",
        sha2::Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci2disk_from_a_registry() {
    let image = test_image(2 << 20);
    let blob = compress(&image, "zstd");
    let blob_digest = sha(&blob);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha(b"{}"), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blob_digest, "size": blob.len()}]
    })
    .to_string()
    .into_bytes();
    let manifest_digest = sha(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:00", "size": 1,
             "platform": {"os": "linux", "architecture": "riscv64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(),
             "platform": {"os": "linux", "architecture": "amd64"}}
        ]
    })
    .to_string()
    .into_bytes();
    let bad = serde_json::json!({
        "schemaVersion": 2,
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(b"other"), "size": blob.len()}]
    })
    .to_string()
    .into_bytes();
    let mut routes = HashMap::new();
    let json = |body: Vec<u8>, ct: &str| Route {
        content_type: ct.into(),
        ..Route::bytes(body)
    };
    routes.insert(
        "/v2/images/disk/manifests/v1".into(),
        json(index, "application/vnd.oci.image.index.v1+json"),
    );
    routes.insert(
        format!("/v2/images/disk/manifests/{manifest_digest}"),
        json(manifest, "application/vnd.oci.image.manifest.v1+json"),
    );
    routes.insert(
        "/v2/images/disk/manifests/bad".into(),
        json(bad, "application/vnd.oci.image.manifest.v1+json"),
    );
    routes.insert(
        format!("/v2/images/disk/blobs/{blob_digest}"),
        Route::bytes(blob.clone()),
    );
    routes.insert(
        format!("/v2/images/disk/blobs/{}", sha(b"other")),
        Route::bytes(blob),
    );
    let registry = HttpServer::start(routes).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("created-by-oci2disk.img");
    let reference = format!("{}/images/disk:v1", registry.addr);
    let ctx = ctx();
    let out = actions::execute(
        &spec(
            "quay.io/tinkerbell/actions/oci2disk:latest",
            &[
                ("IMG_URL", &reference),
                ("DEST_DISK", &dest.display().to_string()),
                ("COMPRESSED", "true"),
            ],
        ),
        &ctx,
    )
    .await
    .unwrap();
    assert!(out.message.contains(&blob_digest), "{}", out.message);
    assert!(
        std::fs::read(&dest).unwrap() == image,
        "oci2disk wrote other bytes"
    );
    let hits = registry.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 3, "{hits:?}"); // index, manifest, blob

    let reference = format!("{}/images/disk:bad", registry.addr);
    let e = actions::execute(
        &spec(
            "oci2disk",
            &[
                ("IMG_URL", &reference),
                ("DEST_DISK", &dest.display().to_string()),
                ("COMPRESSED", "true"),
            ],
        ),
        &ctx,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("digest"), "{e}");
    let reference = format!("{}/images/disk:nope", registry.addr);
    let e = actions::execute(
        &spec(
            "oci2disk",
            &[("IMG_URL", &reference), ("DEST_DISK", "/dev/null")],
        ),
        &ctx,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("404"), "{e}");
}
