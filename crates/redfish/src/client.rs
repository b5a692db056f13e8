//! [`Client`]: one authenticated connection to one BMC and one of its `ComputerSystem`s.
//!
//! Each operation reads what it needs from the BMC (nothing is cached but the paths found
//! at connect time), so it reflects the BMC's current state and capabilities.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{Auth, Config};
use crate::error::{Error, Result};
use crate::model::{
    BootMode, BootOverride, BootOverrideState, BootSource, MediaSlot, OverrideEnabled, PowerState,
    ResetType, Step, plan_reset,
};
use crate::transport::{AuthState, Transport};

#[derive(Deserialize, Debug, Clone)]
struct OdataRef {
    #[serde(rename = "@odata.id")]
    id: String,
}

#[derive(Deserialize, Debug, Default)]
struct RootDoc {
    #[serde(rename = "Systems")]
    systems: Option<OdataRef>,
    #[serde(rename = "Managers")]
    managers: Option<OdataRef>,
    #[serde(rename = "SessionService")]
    session_service: Option<OdataRef>,
    #[serde(rename = "Links", default)]
    links: RootLinks,
}

#[derive(Deserialize, Debug, Default)]
struct RootLinks {
    #[serde(rename = "Sessions")]
    sessions: Option<OdataRef>,
}

#[derive(Deserialize, Debug)]
struct CollectionDoc {
    #[serde(rename = "Members", default)]
    members: Vec<OdataRef>,
}

#[derive(Deserialize, Debug, Default)]
struct SystemDoc {
    #[serde(rename = "PowerState")]
    power_state: Option<String>,
    #[serde(rename = "Boot")]
    boot: Option<BootDoc>,
    #[serde(rename = "Actions", default)]
    actions: SystemActions,
    #[serde(rename = "VirtualMedia")]
    virtual_media: Option<OdataRef>,
    #[serde(rename = "Links", default)]
    links: SystemLinks,
    #[serde(rename = "@odata.etag")]
    etag: Option<String>,
}

/// Just enough of a system to list and match it (lenient: the rest may be anything).
#[derive(Deserialize, Debug)]
struct SystemIdent {
    #[serde(rename = "Id")]
    id: Option<String>,
    #[serde(rename = "Name")]
    name: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
struct SystemActions {
    #[serde(rename = "#ComputerSystem.Reset")]
    reset: Option<ResetAction>,
}

#[derive(Deserialize, Debug)]
struct ResetAction {
    target: Option<String>,
    #[serde(rename = "ResetType@Redfish.AllowableValues")]
    allowed: Option<Vec<String>>,
    #[serde(rename = "@Redfish.ActionInfo")]
    action_info: Option<String>,
}

#[derive(Deserialize, Debug)]
struct ActionInfoDoc {
    #[serde(rename = "Parameters", default)]
    parameters: Vec<ActionParameter>,
}

#[derive(Deserialize, Debug)]
struct ActionParameter {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "AllowableValues")]
    allowable_values: Option<Vec<String>>,
}

#[derive(Deserialize, Debug, Default)]
struct BootDoc {
    #[serde(rename = "BootSourceOverrideTarget")]
    target: Option<String>,
    #[serde(rename = "BootSourceOverrideEnabled")]
    enabled: Option<String>,
    #[serde(rename = "BootSourceOverrideMode")]
    mode: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
struct SystemLinks {
    #[serde(rename = "ManagedBy", default)]
    managed_by: Vec<OdataRef>,
}

#[derive(Deserialize, Debug)]
struct ManagerDoc {
    #[serde(rename = "VirtualMedia")]
    virtual_media: Option<OdataRef>,
}

#[derive(Deserialize, Debug)]
struct MediaDoc {
    #[serde(rename = "Id")]
    id: Option<String>,
    #[serde(rename = "MediaTypes", default)]
    media_types: Vec<String>,
    #[serde(rename = "Image")]
    image: Option<String>,
    #[serde(rename = "Inserted")]
    inserted: Option<bool>,
    #[serde(rename = "Actions", default)]
    actions: MediaActions,
}

#[derive(Deserialize, Debug, Default)]
struct MediaActions {
    #[serde(rename = "#VirtualMedia.InsertMedia")]
    insert: Option<ActionTarget>,
    #[serde(rename = "#VirtualMedia.EjectMedia")]
    eject: Option<ActionTarget>,
}

#[derive(Deserialize, Debug)]
struct ActionTarget {
    target: Option<String>,
}

/// A virtual media slot with the action targets found on it.
struct Slot {
    state: MediaSlot,
    insert: Option<String>,
    eject: Option<String>,
}

/// A connection to one BMC, bound to one `ComputerSystem`. Start with [`Client::connect`];
/// end with [`Client::close`] (which deletes the Redfish session).
#[derive(Debug)]
pub struct Client {
    t: Transport,
    system: String,
    system_id: String,
    managers: Option<String>,
}

const POLL: Duration = Duration::from_secs(1);

impl Client {
    /// Reads the service root, authenticates (see [`Auth`]) and finds the system: the only
    /// member of the `Systems` collection, or the one whose `Id`, `Name` or path segment is
    /// `config.system_name`.
    pub async fn connect(config: Config) -> Result<Self> {
        let t = Transport::new(&config)?;
        let root: RootDoc = t.service_root().await?;
        match config.auth {
            Auth::Basic => t.set_auth(AuthState::Basic),
            Auth::Session => {
                let sessions = root
                    .links
                    .sessions
                    .as_ref()
                    .map(|s| s.id.clone())
                    .or_else(|| {
                        root.session_service
                            .as_ref()
                            .map(|_| "/redfish/v1/SessionService/Sessions".to_string())
                    });
                let made = match &sessions {
                    Some(path) => t.login(path).await?,
                    None => false,
                };
                if !made {
                    tracing::info!(host = %t.host, "no Redfish session service; using basic auth");
                    t.set_auth(AuthState::Basic);
                }
            }
        }
        let systems = root
            .systems
            .map(|s| s.id)
            .unwrap_or_else(|| "/redfish/v1/Systems".to_string());
        let (system, system_id) = match find_system(&t, &systems).await {
            Ok(found) => found,
            Err(e) => {
                // Do not leave a session behind.
                let _ = t.logout().await;
                return Err(e);
            }
        };
        tracing::debug!(host = %t.host, system = %system, "redfish system found");
        Ok(Self {
            t,
            system,
            system_id,
            managers: root.managers.map(|m| m.id),
        })
    }

    /// The system's `@odata.id`.
    pub fn system_path(&self) -> &str {
        &self.system
    }

    /// The system's `Id`.
    pub fn system_id(&self) -> &str {
        &self.system_id
    }

    /// The authentication in use after connecting (a session may have fallen back to basic).
    pub fn auth_in_use(&self) -> Auth {
        if self.t.auth_kind() == "session" {
            Auth::Session
        } else {
            Auth::Basic
        }
    }

    fn host(&self) -> String {
        self.t.host.clone()
    }

    async fn system_doc(&self) -> Result<(SystemDoc, Option<String>)> {
        let reply = self
            .t
            .request(Method::GET, &self.system, None, None)
            .await?;
        let doc: SystemDoc = self.t.parse(&self.system, &reply.body)?;
        let etag = reply
            .headers
            .get("ETag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| doc.etag.clone());
        Ok((doc, etag))
    }

    fn unexpected(&self, path: &str, detail: String) -> Error {
        Error::Unexpected {
            host: self.host(),
            path: path.to_string(),
            detail,
        }
    }

    fn power_of(&self, doc: &SystemDoc) -> Result<PowerState> {
        let raw = doc
            .power_state
            .as_deref()
            .ok_or_else(|| self.unexpected(&self.system, "no PowerState".into()))?;
        PowerState::parse(raw)
            .ok_or_else(|| self.unexpected(&self.system, format!("unknown PowerState {raw:?}")))
    }

    /// The system's `PowerState`.
    pub async fn power_state(&self) -> Result<PowerState> {
        let (doc, _) = self.system_doc().await?;
        self.power_of(&doc)
    }

    /// The `ResetType` values the BMC allows: from the action's
    /// `ResetType@Redfish.AllowableValues`, else from its `@Redfish.ActionInfo`; `None`
    /// when it says neither.
    async fn allowed_resets(&self, action: &ResetAction) -> Result<Option<Vec<String>>> {
        if let Some(allowed) = &action.allowed {
            return Ok(Some(allowed.clone()));
        }
        let Some(info) = &action.action_info else {
            return Ok(None);
        };
        match self.t.get::<ActionInfoDoc>(info).await {
            Ok(doc) => Ok(doc
                .parameters
                .into_iter()
                .find(|p| p.name == "ResetType")
                .and_then(|p| p.allowable_values)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Resets the system as `kind` asks, falling back as [`plan_reset`] documents when the
    /// BMC does not allow it. Returns the reset types actually sent, in order (empty when
    /// the system already was in the wanted state). It does not wait for the final state
    /// (poll [`Client::power_state`]), except for the "off" step of an off-then-on fallback.
    pub async fn reset(&self, kind: ResetType) -> Result<Vec<ResetType>> {
        let (doc, _) = self.system_doc().await?;
        let state = self.power_of(&doc)?;
        let action = doc
            .actions
            .reset
            .as_ref()
            .ok_or_else(|| Error::Unsupported {
                host: self.host(),
                path: self.system.clone(),
                what: "ComputerSystem.Reset".into(),
                allowed: Vec::new(),
            })?;
        let target = action.target.clone().unwrap_or_else(|| {
            format!(
                "{}/Actions/ComputerSystem.Reset",
                self.system.trim_end_matches('/')
            )
        });
        let allowed = self.allowed_resets(action).await?;
        let plan =
            plan_reset(kind, allowed.as_deref(), state).ok_or_else(|| Error::Unsupported {
                host: self.host(),
                path: target.clone(),
                what: format!("ResetType {kind}"),
                allowed: allowed.clone().unwrap_or_default(),
            })?;
        tracing::info!(host = %self.t.host, wanted = %kind, %state, ?plan, "redfish reset");
        let mut sent = Vec::new();
        for step in plan {
            match step {
                Step::Send(t) => {
                    let body = json!({ "ResetType": t.as_str() });
                    self.t
                        .request(Method::POST, &target, Some(&body), None)
                        .await?;
                    sent.push(t);
                }
                Step::WaitOff => self.wait_power(PowerState::Off).await?,
            }
        }
        Ok(sent)
    }

    /// Polls until the power state is `wanted`, within `Config::power_wait`.
    pub async fn wait_power(&self, wanted: PowerState) -> Result<()> {
        let limit = self.t.config().power_wait;
        let start = Instant::now();
        loop {
            let now = self.power_state().await?;
            if now == wanted {
                return Ok(());
            }
            if start.elapsed() >= limit {
                return Err(Error::PowerWait {
                    host: self.host(),
                    path: self.system.clone(),
                    wanted,
                    last: now,
                    waited: start.elapsed(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn boot_state(&self, doc: &SystemDoc) -> Result<BootOverrideState> {
        let boot = doc
            .boot
            .as_ref()
            .ok_or_else(|| self.unexpected(&self.system, "no Boot object".into()))?;
        let enabled = match boot.enabled.as_deref() {
            None => OverrideEnabled::Disabled,
            Some(s) => OverrideEnabled::parse(s).ok_or_else(|| {
                self.unexpected(
                    &self.system,
                    format!("unknown BootSourceOverrideEnabled {s:?}"),
                )
            })?,
        };
        Ok(BootOverrideState {
            target: boot
                .target
                .as_deref()
                .map_or(BootSource::None, BootSource::parse),
            enabled,
            mode: boot.mode.as_deref().and_then(BootMode::parse),
        })
    }

    /// The boot override the BMC reports.
    pub async fn boot_override(&self) -> Result<BootOverrideState> {
        let (doc, _) = self.system_doc().await?;
        self.boot_state(&doc)
    }

    /// Sets `BootSourceOverrideTarget` to `source`, `BootSourceOverrideEnabled` to `Once` or
    /// `Continuous`, and `BootSourceOverrideMode` when `how.uefi` says; then reads it back.
    ///
    /// Tolerated on read-back (logged, not failed): `Continuous` where `Once` was asked
    /// (sushy-tools and libvirt-backed BMCs always report `Continuous`), and a mode other
    /// than asked when the BMC refused the mode (the PATCH is then retried without it, as
    /// bmclib does). A different target is an error.
    pub async fn set_boot_override(
        &self,
        source: BootSource,
        how: BootOverride,
    ) -> Result<BootOverrideState> {
        // Read first for the ETag. BootSourceOverrideTarget@Redfish.AllowableValues is not
        // enforced: sushy-tools leaves BiosSetup out of it yet accepts it.
        let (_, etag) = self.system_doc().await?;
        let enabled = if how.persistent {
            OverrideEnabled::Continuous
        } else {
            OverrideEnabled::Once
        };
        let mode = how
            .uefi
            .map(|u| if u { BootMode::Uefi } else { BootMode::Legacy });
        let mut boot = json!({
            "BootSourceOverrideTarget": source.as_str(),
            "BootSourceOverrideEnabled": enabled.as_str(),
        });
        if let (Some(m), Some(obj)) = (mode, boot.as_object_mut()) {
            obj.insert("BootSourceOverrideMode".into(), Value::from(m.as_str()));
        }
        let sent = self
            .patch_system(json!({ "Boot": boot }), etag.as_deref())
            .await;
        match sent {
            Err(Error::Http { status: 400, .. }) if mode.is_some() => {
                tracing::warn!(host = %self.t.host, "BMC refused the boot mode; retrying without it");
                if let Some(obj) = boot.as_object_mut() {
                    obj.remove("BootSourceOverrideMode");
                }
                self.patch_system(json!({ "Boot": boot }), etag.as_deref())
                    .await?;
            }
            other => other?,
        }
        let now = self.boot_override().await?;
        if now.target != source {
            return Err(self.unexpected(
                &self.system,
                format!(
                    "BootSourceOverrideTarget reads {} after setting {source}",
                    now.target
                ),
            ));
        }
        match (enabled, now.enabled) {
            (a, b) if a == b => {}
            (OverrideEnabled::Once, OverrideEnabled::Continuous) => {
                tracing::warn!(host = %self.t.host, "BMC reports Continuous after Once was set (known quirk of sushy-tools/libvirt)");
            }
            (a, b) => {
                return Err(self.unexpected(
                    &self.system,
                    format!(
                        "BootSourceOverrideEnabled reads {} after setting {}",
                        b.as_str(),
                        a.as_str()
                    ),
                ));
            }
        }
        if mode.is_some() && now.mode != mode {
            tracing::warn!(host = %self.t.host, wanted = ?mode, got = ?now.mode, "boot mode differs on read-back");
        }
        Ok(now)
    }

    /// PATCHes the system, with `If-Match` when an ETag is known (some BMCs require it); a
    /// 412 is retried once without it.
    async fn patch_system(&self, body: Value, etag: Option<&str>) -> Result<()> {
        let reply = self
            .t
            .request_any(Method::PATCH, &self.system, Some(&body), etag)
            .await?;
        if reply.status.is_success() {
            return Ok(());
        }
        if reply.status.as_u16() == 412 && etag.is_some() {
            self.t
                .request(Method::PATCH, &self.system, Some(&body), None)
                .await?;
            return Ok(());
        }
        Err(self.t.status_error(&Method::PATCH, &self.system, &reply))
    }

    /// The path of the virtual media collection: the managers' first (the system's
    /// `Links.ManagedBy`, else every member of `/redfish/v1/Managers`), then the system's
    /// own (as Dell iDRAC has it), the order bmclib uses.
    async fn media_collection(&self) -> Result<Vec<String>> {
        let (doc, _) = self.system_doc().await?;
        let mut managers: Vec<String> = doc.links.managed_by.iter().map(|m| m.id.clone()).collect();
        if managers.is_empty()
            && let Some(path) = &self.managers
        {
            match self.t.get::<CollectionDoc>(path).await {
                Ok(c) => managers = c.members.into_iter().map(|m| m.id).collect(),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let mut candidates = Vec::new();
        for manager in managers {
            match self.t.get::<ManagerDoc>(&manager).await {
                Ok(ManagerDoc {
                    virtual_media: Some(vm),
                }) => candidates.push(vm.id),
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(vm) = doc.virtual_media {
            candidates.push(vm.id);
        }
        for collection in candidates {
            match self.t.get::<CollectionDoc>(&collection).await {
                Ok(c) if !c.members.is_empty() => {
                    return Ok(c.members.into_iter().map(|m| m.id).collect());
                }
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Err(Error::Unsupported {
            host: self.host(),
            path: self.system.clone(),
            what: "VirtualMedia".into(),
            allowed: Vec::new(),
        })
    }

    async fn slot(&self, path: &str) -> Result<Slot> {
        let doc: MediaDoc = self.t.get(path).await?;
        let image = doc.image.filter(|i| !i.is_empty());
        Ok(Slot {
            state: MediaSlot {
                path: path.to_string(),
                id: doc.id.unwrap_or_else(|| {
                    path.trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_string()
                }),
                media_types: doc.media_types,
                inserted: doc.inserted.unwrap_or(image.is_some()),
                image,
            },
            insert: doc.actions.insert.and_then(|a| a.target),
            eject: doc.actions.eject.and_then(|a| a.target),
        })
    }

    async fn slots(&self) -> Result<Vec<Slot>> {
        let mut out = Vec::new();
        for path in self.media_collection().await? {
            out.push(self.slot(&path).await?);
        }
        Ok(out)
    }

    /// Every virtual media slot, as the BMC reports it.
    pub async fn virtual_media(&self) -> Result<Vec<MediaSlot>> {
        Ok(self.slots().await?.into_iter().map(|s| s.state).collect())
    }

    async fn eject_slot(&self, slot: &Slot) -> Result<()> {
        match &slot.eject {
            Some(target) => {
                self.t
                    .request(Method::POST, target, Some(&json!({})), None)
                    .await?;
            }
            None => {
                let body = json!({ "Image": null, "Inserted": false });
                self.t
                    .request(Method::PATCH, &slot.state.path, Some(&body), None)
                    .await?;
            }
        }
        Ok(())
    }

    /// Inserts the ISO at `image_url` into the first CD/DVD slot (ejecting what is there),
    /// with the `InsertMedia` action or, when the slot has none, a PATCH. Tries
    /// `{Image, Inserted, WriteProtected}`, then `{Image, Inserted}`, then `{Image}` on HTTP
    /// 400 (BMCs differ in which they take), then the next CD/DVD slot. Returns the slot as
    /// read back.
    pub async fn insert_media(&self, image_url: &str) -> Result<MediaSlot> {
        let slots = self.slots().await?;
        let all_types: Vec<String> = slots
            .iter()
            .flat_map(|s| s.state.media_types.clone())
            .collect();
        let mut last_err = None;
        for slot in slots.iter().filter(|s| s.state.takes_cd()) {
            match self.insert_into(slot, image_url).await {
                Ok(state) => return Ok(state),
                Err(e) => {
                    tracing::warn!(host = %self.t.host, slot = %slot.state.path, error = %e, "insert failed");
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Unsupported {
            host: self.host(),
            path: self.system.clone(),
            what: "CD/DVD virtual media".into(),
            allowed: all_types,
        }))
    }

    async fn insert_into(&self, slot: &Slot, image_url: &str) -> Result<MediaSlot> {
        if slot.state.inserted || slot.state.image.is_some() {
            // Ejecting first makes the insert succeed more often (bmclib); a failure here
            // is not fatal, the insert may still replace the media.
            if let Err(e) = self.eject_slot(slot).await {
                tracing::warn!(host = %self.t.host, slot = %slot.state.path, error = %e, "eject before insert failed");
            }
        }
        let bodies = [
            json!({ "Image": image_url, "Inserted": true, "WriteProtected": true }),
            json!({ "Image": image_url, "Inserted": true }),
            json!({ "Image": image_url }),
        ];
        let (method, path) = match &slot.insert {
            Some(target) => (Method::POST, target.as_str()),
            None => (Method::PATCH, slot.state.path.as_str()),
        };
        let mut result = Ok(());
        for body in &bodies {
            result = self
                .t
                .request(method.clone(), path, Some(body), None)
                .await
                .map(drop);
            match &result {
                Err(Error::Http { status: 400, .. }) => continue,
                _ => break,
            }
        }
        result?;
        let now = self.slot(&slot.state.path).await?.state;
        if now.image.as_deref() != Some(image_url) || !now.inserted {
            return Err(self.unexpected(
                &slot.state.path,
                format!(
                    "after InsertMedia the slot reads Image {:?}, Inserted {}",
                    now.image, now.inserted
                ),
            ));
        }
        Ok(now)
    }

    /// Ejects the media of every CD/DVD slot that has some (`EjectMedia`, or a PATCH of
    /// `{Image: null, Inserted: false}` when the slot has no action).
    pub async fn eject_media(&self) -> Result<()> {
        for slot in self.slots().await? {
            if slot.state.takes_cd() && (slot.state.inserted || slot.state.image.is_some()) {
                self.eject_slot(&slot).await?;
            }
        }
        Ok(())
    }

    /// Deletes the Redfish session (if one was made). Dropping a client without closing it
    /// leaves the session to expire on the BMC.
    pub async fn close(self) -> Result<()> {
        self.t.logout().await
    }
}

/// Finds the system in the `systems` collection (see [`Client::connect`]).
async fn find_system(t: &Transport, systems: &str) -> Result<(String, String)> {
    let collection: CollectionDoc = t.get(systems).await?;
    let wanted = t.config().system_name.clone();
    let mut seen = Vec::new();
    for member in &collection.members {
        let doc: SystemIdent = t.get(&member.id).await?;
        let segment = member
            .id
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let id = doc.id.clone().unwrap_or_else(|| segment.clone());
        let matches = match &wanted {
            None => collection.members.len() == 1,
            Some(w) => {
                doc.id.as_deref() == Some(w.as_str())
                    || doc.name.as_deref() == Some(w.as_str())
                    || segment == *w
            }
        };
        if matches {
            return Ok((member.id.clone(), id));
        }
        seen.push(match &doc.name {
            Some(name) => format!("{id} ({name})"),
            None => id,
        });
    }
    Err(Error::SystemNotFound {
        host: t.host.clone(),
        wanted,
        available: seen,
    })
}

/// The fuzz target `redfish_reply` (feature `fuzzing`; not an API): `body` as every reply
/// document the client reads (service root, collection, system, action info, manager,
/// virtual media) and as an error body; a system document then gives its power and boot
/// state as [`Client::power_state`] and [`Client::boot_override`] read them. None may
/// panic, and every error formats.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub fn fuzz(body: &[u8]) {
    static CLIENT: std::sync::OnceLock<Option<Client>> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        let config = Config::new("http://bmc.invalid", "admin", "fuzz-secret").ok()?;
        Some(Client {
            t: Transport::new(&config).ok()?,
            system: "/redfish/v1/Systems/1".into(),
            system_id: "1".into(),
            managers: None,
        })
    });
    let Some(c) = client else {
        return;
    };
    fn check<T>(r: Result<T>) -> Option<T> {
        r.map_err(|e| e.to_string()).ok()
    }
    let path = "/redfish/v1/fuzz";
    let _ = check(c.t.parse::<RootDoc>(path, body));
    let _ = check(c.t.parse::<CollectionDoc>(path, body));
    let _ = check(c.t.parse::<ActionInfoDoc>(path, body));
    let _ = check(c.t.parse::<ManagerDoc>(path, body));
    let _ = check(c.t.parse::<MediaDoc>(path, body));
    if let Some(doc) = check(c.t.parse::<SystemDoc>(path, body)) {
        let _ = check(c.power_of(&doc));
        let _ = check(c.boot_state(&doc));
    }
    let _ = c.t.error_message(body);
}
