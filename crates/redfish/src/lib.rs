//! # ironbell-redfish
//!
//! A Redfish client for BMCs, the Redfish half of ironbell's BMC service (the replacement
//! for Rufio and bmclib's redfish provider): authenticate, find the `ComputerSystem`, read
//! and change its power, set a one-time or persistent boot override, insert and eject
//! virtual media.
//!
//! It is a protocol crate: it knows nothing of the store, of `Machine`/`Job`/`Task`
//! objects or of Secrets; the BMC service maps those onto [`Config`] and the calls below.
//! It is not a general Redfish SDK either: it reads only the handful of properties it
//! needs, leniently (unknown fields are ignored, missing optional ones tolerated).
//!
//! Start reading at [`Client::connect`], then [`Client::reset`] and [`plan_reset`] (the
//! fallback table), [`Client::set_boot_override`] and [`Client::insert_media`].
//!
//! ## Why a thin client on reqwest, not a Redfish crate
//!
//! `nv-redfish` (NVIDIA) was the candidate: maintained and quirk-aware, but it is built
//! from code generated out of the whole Redfish CSDL, fast-moving (0.4 to 0.8 within
//! months, split over several crates) and heavy to compile for the eight endpoints used
//! here; the other crates found (`redfish`, `rufish`) are young single-author SDKs. The
//! behaviour that matters to ironbell (the reset fallbacks, sushy's `Once` reported as
//! `Continuous`, the virtual media parameter retries) has to live here anyway. So this is
//! a thin client on `reqwest` 0.13 with a rustls configuration built here on the `ring`
//! provider (no OpenSSL, no aws-lc), which builds for `x86_64-unknown-linux-musl`.
//!
//! ## Behaviour worth knowing
//!
//! - **Auth**: [`Auth::Session`] (default) POSTs to the `Sessions` collection named by the
//!   service root (`Links.Sessions`) and sends `X-Auth-Token`; a 401 later logs in again
//!   once; [`Client::close`] DELETEs the session. It falls back to basic auth when the root
//!   advertises no session service (sushy-tools does not) or the login answers 404, 405,
//!   501 or no token. A 401/403 to the login itself is an authentication error.
//! - **TLS**: verified against the system roots plus [`Config::ca_pem`];
//!   [`Config::insecure_tls`] accepts any certificate; `http://` endpoints use no TLS.
//! - **Limits**: [`Config::connect_timeout`], [`Config::timeout`] per request,
//!   [`Config::max_body`] (4 MiB) per response body; no proxy is used.
//! - **Secrets**: the password is a [`Secret`] (`<redacted>` in `Debug`); no [`Error`]
//!   holds it (texts quoted from the BMC are scrubbed of it in every encoding: plain,
//!   JSON, percent, HTML, base64, `user:password` base64; see [`redact`]) and no log line
//!   carries a header or request body.
//!
//! ## sushy-tools quirks (the emulator the tests run against)
//!
//! - The service root advertises no `SessionService`, and its auth middleware answers 401
//!   to a POST on the usual `Sessions` path before any 404: so the client decides on
//!   sessions from the root's links, not by probing, and uses basic auth there.
//! - `BootSourceOverrideEnabled` always reads `Continuous` (libvirt has no one-time boot);
//!   [`Client::set_boot_override`] accepts that for `Once`.
//! - `BiosSetup` is missing from `BootSourceOverrideTarget@Redfish.AllowableValues` yet
//!   accepted, so that list is not enforced.
//! - The reset list has no `PowerCycle` (done as ForceOff, wait, On); the fake driver
//!   applies power changes 1–11 s after the request, and a restart drops to Off at once.
//! - The Manager's `VirtualMedia` link points into `/redfish/v1/Systems/<id>/VirtualMedia`;
//!   the emulator downloads the image on `InsertMedia` (so the URL must be reachable).
//! - The fake driver keeps state in one SQLite file per machine unless
//!   `SUSHY_EMULATOR_STATE_DIR` is set (the tests set it per emulator).

mod client;
mod config;
mod error;
mod model;
pub mod redact;
mod transport;

pub use client::Client;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use client::fuzz;
pub use config::{Auth, Config, Secret};
pub use error::{Error, Result};
pub use model::{
    BootMode, BootOverride, BootOverrideState, BootSource, MediaSlot, OverrideEnabled, PowerState,
    ResetType, Step, plan_reset,
};
pub use redact::{Redactor, scrub};
pub use reqwest::Url;
