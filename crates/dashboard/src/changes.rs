//! The few changes the dashboard makes, each only with the token: a power cycle (a BMC Job
//! for the machine's BMC Machine) and `allowPXE` on a machine's interfaces.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::StoreError;
use tracing::{info, warn};

use crate::{Dashboard, Refused, Shared, text, views};

/// Whether the request carries the dashboard's token; the refusal otherwise.
fn authorize(d: &Dashboard, headers: &HeaderMap) -> Result<(), Refused> {
    use subtle::ConstantTimeEq as _;
    let Some(token) = d.options.token.as_deref() else {
        return Err(Refused {
            status: StatusCode::FORBIDDEN,
            message: "changes are off: this dashboard was started without a token",
            bearer: false,
        });
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(given) if bool::from(given.as_bytes().ct_eq(token.as_bytes())) => Ok(()),
        _ => Err(Refused {
            status: StatusCode::UNAUTHORIZED,
            message: "a change needs the dashboard's token (Authorization: Bearer TOKEN)",
            bearer: true,
        }),
    }
}

fn store_error(what: &str, e: &StoreError) -> Response {
    if e.is_not_found() {
        text(StatusCode::NOT_FOUND, format!("{what}: not found"))
    } else if e.is_conflict() {
        text(
            StatusCode::CONFLICT,
            format!("{what} changed meanwhile; try again"),
        )
    } else {
        warn!("{what}: {e}");
        text(StatusCode::INTERNAL_SERVER_ERROR, format!("{what}: {e}"))
    }
}

fn hardware_key() -> TypeKey {
    TypeKey::new("tinkerbell.org/v1alpha1", "Hardware")
}

/// Power-cycles a machine: creates a BMC Job for its BMC Machine.
pub(crate) async fn power_cycle(
    State(d): State<Shared>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    if let Err(r) = authorize(&d, &headers) {
        return r.into_response();
    }
    let what = format!("Hardware {namespace}/{name}");
    let hw = match d.store.get(&hardware_key(), &namespace, &name).await {
        Ok(hw) => hw.to_value(),
        Err(e) => return store_error(&what, &e),
    };
    let bmc = views::text(&hw, "/spec/bmcRef/name");
    if bmc.is_empty() {
        return text(StatusCode::CONFLICT, format!("{what} has no BMC"));
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let job_name = format!("{name}-power-cycle-{stamp}");
    let job = serde_json::json!({
        "apiVersion": "bmc.tinkerbell.org/v1alpha1",
        "kind": "Job",
        "metadata": {"name": job_name, "namespace": namespace,
                     "labels": {"ironbell.dev/requested-by": "dashboard"}},
        "spec": {"machineRef": {"name": bmc, "namespace": namespace},
                 "tasks": [{"powerAction": "cycle"}]},
    });
    let job = match DynamicObject::from_json(&job.to_string()) {
        Ok(job) => job,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{what}: {e}")),
    };
    match d.store.create(job).await {
        Ok(_) => {
            info!(hardware = %name, namespace = %namespace, job = %job_name, "power cycle asked from the dashboard");
            text(
                StatusCode::CREATED,
                format!("BMC Job {namespace}/{job_name} created: power cycle of {name}"),
            )
        }
        Err(e) => store_error(&format!("BMC Job {namespace}/{job_name}"), &e),
    }
}

/// Sets `allowPXE` on every interface of a machine.
pub(crate) async fn allow_pxe(
    State(d): State<Shared>,
    headers: HeaderMap,
    Path((namespace, name, value)): Path<(String, String, String)>,
) -> Response {
    if let Err(r) = authorize(&d, &headers) {
        return r.into_response();
    }
    let allow = match value.as_str() {
        "on" | "true" => true,
        "off" | "false" => false,
        _ => return text(StatusCode::BAD_REQUEST, "allow-pxe/on or allow-pxe/off"),
    };
    let what = format!("Hardware {namespace}/{name}");
    let mut hw = match d.store.get(&hardware_key(), &namespace, &name).await {
        Ok(hw) => hw.to_value(),
        Err(e) => return store_error(&what, &e),
    };
    let Some(interfaces) = hw
        .pointer_mut("/spec/interfaces")
        .and_then(serde_json::Value::as_array_mut)
        .filter(|i| !i.is_empty())
    else {
        return text(StatusCode::CONFLICT, format!("{what} has no interfaces"));
    };
    for interface in interfaces.iter_mut() {
        let Some(interface) = interface.as_object_mut() else {
            continue;
        };
        let netboot = interface
            .entry("netboot")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(netboot) = netboot.as_object_mut() {
            netboot.insert("allowPXE".into(), serde_json::Value::Bool(allow));
        }
    }
    let hw = match DynamicObject::from_json(&hw.to_string()) {
        Ok(hw) => hw,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{what}: {e}")),
    };
    match d.store.update(hw).await {
        Ok(_) => {
            info!(hardware = %name, namespace = %namespace, allow, "allowPXE set from the dashboard");
            text(
                StatusCode::OK,
                format!("{what}: allowPXE {allow} on every interface"),
            )
        }
        Err(e) => store_error(&what, &e),
    }
}
