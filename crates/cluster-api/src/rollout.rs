//! The rollout rules, pure: which changes replace machines, the rolling-update step of a
//! `MachineDeployment`, the control plane's one-machine-at-a-time step, the order machines
//! are deleted in, and how much spare Hardware an upgrade needs.
//!
//! ## What triggers a replacement
//!
//! - `MachineDeployment`: any change of `spec.template` except what Cluster API ignores
//!   (`template.metadata`, `spec.providerID`, `spec.bootstrap.dataSecretName`, and the
//!   `apiVersion` of the infrastructure and bootstrap references). [`template_hash`] hashes
//!   what is left; the `MachineSet` of a template is `<deployment>-<hash>` with label
//!   `machine-template-hash: <hash>`. A change of `replicas` or `strategy` scales, it does not
//!   replace.
//! - `KubeadmControlPlane`: a machine is outdated ([`control_plane_outdated`]) when its
//!   Kubernetes `version`, the infrastructure template it was cloned from
//!   (`machineTemplate.infrastructureRef` kind and name) or the hash of `kubeadmConfigSpec`
//!   it was made from differ from the spec's.
//!
//! ## Hashing
//!
//! The hash is FNV-1a (32 bits) of the template's canonical JSON (fields in declaration order,
//! maps sorted), printed as Kubernetes prints `pod-template-hash` (`rand.SafeEncodeString`
//! of the decimal value: every digit mapped into `bcdfghjklmnpqrstvwxz2456789`). It is a few
//! lines, so written here rather than taken from a crate. Cluster API hashes the Go value
//! with `spew`, which cannot be reproduced outside Go; the names differ from Cluster API's,
//! not the behaviour (same template, same name; any relevant change, a new name).

use ironbell_capi::api::cluster::MachineTemplateSpec;
use ironbell_model::anywhere::IntOrString;
use serde::Serialize;

/// Label of a `MachineSet` and its machines: the hash of the template they were made from.
pub const MACHINE_TEMPLATE_HASH_LABEL: &str = "machine-template-hash";

/// FNV-1a, 32 bits.
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// Kubernetes' `rand.SafeEncodeString`: each byte mapped to a letter or digit that cannot
/// spell words.
fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

/// The hash of any serializable value, as [`template_hash`] prints it.
pub fn hash_of(value: &impl Serialize) -> String {
    // Serializing a struct of strings and maps cannot fail; an empty text still hashes.
    let json = serde_json::to_vec(value).unwrap_or_default();
    safe_encode(&fnv1a32(&json).to_string())
}

/// The hash of the parts of a machine template that trigger a replacement (module docs).
pub fn template_hash(template: &MachineTemplateSpec) -> String {
    let mut t = template.clone();
    t.metadata = None;
    t.spec.provider_id = None;
    t.spec.bootstrap.data_secret_name = None;
    t.spec.infrastructure_ref.api_version = group_of(&t.spec.infrastructure_ref.api_version);
    if let Some(r) = t.spec.bootstrap.config_ref.as_mut() {
        r.api_version = group_of(&r.api_version);
    }
    hash_of(&t)
}

fn group_of(api_version: &str) -> String {
    api_version
        .rsplit_once('/')
        .map_or("", |(g, _)| g)
        .to_string()
}

/// What a control-plane machine was made from, to compare with the current spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ControlPlaneOrigin {
    /// The machine's Kubernetes version.
    pub version: Option<String>,
    /// Kind and name of the infrastructure template its infrastructure object was cloned
    /// from (`cluster.x-k8s.io/cloned-from-*` annotations); `None` when unknown.
    pub infrastructure_template: Option<(String, String)>,
    /// Hash of the `kubeadmConfigSpec` it was made from; `None` when unknown.
    pub config_hash: Option<String>,
}

/// Why a control-plane machine must be replaced, or `None` when it is up to date. Unknown
/// origins (`None` fields) do not count as changes.
pub fn control_plane_outdated(
    current: &ControlPlaneOrigin,
    machine: &ControlPlaneOrigin,
) -> Option<String> {
    if machine.version != current.version {
        return Some(format!(
            "version {} → {}",
            machine.version.as_deref().unwrap_or("none"),
            current.version.as_deref().unwrap_or("none")
        ));
    }
    if let (Some(m), Some(c)) = (
        &machine.infrastructure_template,
        &current.infrastructure_template,
    ) && m != c
    {
        return Some(format!(
            "infrastructure template {}/{} → {}/{}",
            m.0, m.1, c.0, c.1
        ));
    }
    if let (Some(m), Some(c)) = (&machine.config_hash, &current.config_hash)
        && m != c
    {
        return Some("kubeadmConfigSpec changed".into());
    }
    None
}

/// What the rendered objects of an upgrade mean for a group of machines: whether its machines
/// are replaced (and why), and how many spare Hardware the replacement needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replacement {
    /// Why the machines are replaced.
    pub reason: String,
    /// Machines created above the desired count at once: spare Hardware needed.
    pub spare: i64,
}

/// Whether changing a `MachineDeployment` from `old` to `new` replaces its machines, and the
/// spare Hardware that takes (its `maxSurge`); `None` when it only scales or changes
/// nothing that machines are made from.
pub fn deployment_replacement(
    old: &ironbell_capi::api::cluster::MachineDeploymentSpec,
    new: &ironbell_capi::api::cluster::MachineDeploymentSpec,
) -> Result<Option<Replacement>, String> {
    if template_hash(&old.template) == template_hash(&new.template) {
        return Ok(None);
    }
    let rolling = new
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref());
    let spare = spare_hardware(
        new.replicas.unwrap_or(1),
        rolling.and_then(|r| r.max_surge.as_ref()),
        rolling.and_then(|r| r.max_unavailable.as_ref()),
    )?;
    Ok(Some(Replacement {
        reason: "the machine template changed".into(),
        spare,
    }))
}

/// Whether changing a `KubeadmControlPlane` from `old` to `new` replaces its machines (a new
/// `version`, `machineTemplate.infrastructureRef` or `kubeadmConfigSpec`), and the spare
/// Hardware that takes (`maxSurge`, 1 by default, 0 or 1).
pub fn control_plane_replacement(
    old: &ironbell_capi::api::kubeadm::KubeadmControlPlaneSpec,
    new: &ironbell_capi::api::kubeadm::KubeadmControlPlaneSpec,
) -> Result<Option<Replacement>, String> {
    let origin = |s: &ironbell_capi::api::kubeadm::KubeadmControlPlaneSpec| ControlPlaneOrigin {
        version: Some(s.version.clone()),
        infrastructure_template: Some((
            s.machine_template.infrastructure_ref.kind.clone(),
            s.machine_template.infrastructure_ref.name.clone(),
        )),
        config_hash: Some(hash_of(&s.kubeadm_config_spec)),
    };
    let Some(reason) = control_plane_outdated(&origin(new), &origin(old)) else {
        return Ok(None);
    };
    let spare = new
        .rollout_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .map(|r| scaled_value(&r.max_surge, new.replicas, true))
        .transpose()?
        .unwrap_or(1)
        .max(0);
    Ok(Some(Replacement { reason, spare }))
}

/// Resolves an int-or-percent bound against `total`: a percentage rounds up
/// (`round_up`, maxSurge) or down (maxUnavailable), as Kubernetes'
/// `GetScaledValueFromIntOrPercent`. A malformed value is an error naming it.
pub fn scaled_value(value: &IntOrString, total: i64, round_up: bool) -> Result<i64, String> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let Some(p) = s.strip_suffix('%') else {
                return s.parse::<i64>().map_err(|_| {
                    format!("invalid value {s:?}: an integer or a percentage such as \"25%\"")
                });
            };
            let p: i64 = p.parse().map_err(|_| format!("invalid percentage {s:?}"))?;
            let scaled = p.saturating_mul(total);
            Ok(if round_up {
                (scaled + 99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            })
        }
    }
}

/// `maxSurge` and `maxUnavailable` resolved for `desired` replicas, Cluster API's way:
/// defaults 1 and 0, surge rounded up, unavailability down, and both 0 made (0, 1) so a
/// rollout can progress.
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i64,
) -> Result<(i64, i64), String> {
    let surge = max_surge.map_or(Ok(1), |v| scaled_value(v, desired, true))?;
    let unavailable = max_unavailable.map_or(Ok(0), |v| scaled_value(v, desired, false))?;
    Ok(if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge.max(0), unavailable.max(0))
    })
}

/// One `MachineSet` as the rolling step sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetState {
    /// Its name.
    pub name: String,
    /// `spec.replicas`.
    pub replicas: i64,
    /// Machines that exist, including those being deleted.
    pub alive: i64,
    /// Machines available and not being deleted.
    pub available: i64,
}

impl SetState {
    /// Machines counted against the surge bound: at least the spec, and any not gone yet.
    fn counted(&self) -> i64 {
        self.replicas.max(self.alive)
    }
}

/// A new `spec.replicas` for a `MachineSet`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scale {
    /// The set.
    pub name: String,
    /// Its new replica count.
    pub replicas: i64,
}

/// One step of a rolling update (Cluster API's `rolloutRolling`): the new set scales up
/// within `desired + max_surge` machines alive, and old sets (given oldest first) scale down
/// while at least `desired - max_unavailable` machines stay available, unavailable old
/// machines first. Returns the sets whose replicas change. Run it again after each change
/// is acted on; it returns nothing once the rollout is complete.
pub fn rolling_step(
    desired: i64,
    max_surge: i64,
    max_unavailable: i64,
    new: &SetState,
    old: &[SetState],
) -> Vec<Scale> {
    let mut scales = Vec::new();
    let mut new_replicas = new.replicas;
    // The new set.
    if new.replicas > desired {
        new_replicas = desired;
    } else if new.replicas < desired {
        let max_total = desired + max_surge;
        let current_total: i64 = new.counted() + old.iter().map(SetState::counted).sum::<i64>();
        if current_total < max_total {
            let up = (max_total - current_total).min(desired - new.replicas);
            new_replicas = new.replicas + up;
        }
    }
    if new_replicas != new.replicas {
        scales.push(Scale {
            name: new.name.clone(),
            replicas: new_replicas,
        });
    }
    // The old sets.
    let min_available = desired - max_unavailable;
    let all: i64 = new_replicas.max(new.alive) + old.iter().map(SetState::counted).sum::<i64>();
    let new_unavailable = (new_replicas - new.available).max(0);
    let mut budget = all - min_available - new_unavailable;
    let mut old_replicas: Vec<i64> = old.iter().map(|s| s.replicas).collect();
    // Unavailable old machines go first: removing them costs no availability.
    for (s, r) in old.iter().zip(old_replicas.iter_mut()) {
        if budget <= 0 {
            break;
        }
        let unhealthy = (*r - s.available).max(0).min(budget);
        *r -= unhealthy;
        budget -= unhealthy;
    }
    // Then available ones, within the availability bound. A set may still delete down to
    // its spec and may pick available machines: only `min(available, replicas)` stay.
    let available: i64 = new.available.min(new_replicas)
        + old
            .iter()
            .zip(&old_replicas)
            .map(|(s, r)| s.available.min(*r))
            .sum::<i64>();
    let mut down = available - min_available;
    for r in old_replicas.iter_mut() {
        if down <= 0 {
            break;
        }
        let n = (*r).min(down);
        *r -= n;
        down -= n;
    }
    for (s, r) in old.iter().zip(old_replicas) {
        if r != s.replicas {
            scales.push(Scale {
                name: s.name.clone(),
                replicas: r,
            });
        }
    }
    scales
}

/// One machine as the deletion order sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Its name.
    pub name: String,
    /// Already being deleted.
    pub deleting: bool,
    /// Its node is Ready (phase `Running`).
    pub ready: bool,
    /// `creationTimestamp`, as RFC 3339 text (sorts by time).
    pub created: String,
}

/// The order machines of a set are deleted in when it scales down: those already being
/// deleted, then those not ready (they serve nothing), then the oldest, then by name.
/// Cluster API's default policy is `Random` among the not-ready-first group; ironbell picks
/// the oldest instead so that repeated scale-downs are predictable and old machines (the
/// most likely outdated) go first.
pub fn deletion_order(mut machines: Vec<Candidate>) -> Vec<Candidate> {
    machines.sort_by(|a, b| {
        (!a.deleting, a.ready, &a.created, &a.name).cmp(&(
            !b.deleting,
            b.ready,
            &b.created,
            &b.name,
        ))
    });
    machines
}

/// What the control plane does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlPlaneAction {
    /// Nothing to do: replicas and spec match.
    Nothing,
    /// Wait for machines to come up or go away before the next step.
    Wait,
    /// Create one machine (`init` when it is the first of the cluster).
    Create,
    /// Delete this machine.
    Delete(String),
}

/// One control-plane machine as [`control_plane_step`] sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlPlaneMachine {
    /// Its name.
    pub name: String,
    /// `creationTimestamp` as text.
    pub created: String,
    /// It does not match the current spec.
    pub outdated: bool,
    /// Its node is Ready.
    pub ready: bool,
    /// It is being deleted.
    pub deleting: bool,
}

/// The control plane's next step, one machine at a time as `KubeadmControlPlane` does:
/// wait while any machine is being deleted or (for any change but the first machine) while
/// any is not ready; scale up below `replicas`; scale down above it, outdated machines
/// then the oldest first; with outdated machines at `replicas`, create a new one first when
/// `max_surge` is 1 (then the scale-down removes an outdated one), or delete the oldest
/// outdated first when it is 0.
pub fn control_plane_step(
    replicas: i64,
    max_surge: i64,
    machines: &[ControlPlaneMachine],
) -> ControlPlaneAction {
    if machines.iter().any(|m| m.deleting) {
        return ControlPlaneAction::Wait;
    }
    let n = i64::try_from(machines.len()).unwrap_or(i64::MAX);
    if n == 0 {
        return if replicas > 0 {
            ControlPlaneAction::Create
        } else {
            ControlPlaneAction::Nothing
        };
    }
    let all_ready = machines.iter().all(|m| m.ready);
    let outdated_oldest = || {
        machines
            .iter()
            .filter(|m| m.outdated)
            .min_by(|a, b| (&a.created, &a.name).cmp(&(&b.created, &b.name)))
    };
    let action = if n < replicas {
        ControlPlaneAction::Create
    } else if n > replicas {
        let victim = outdated_oldest().or_else(|| {
            machines
                .iter()
                .min_by(|a, b| (&a.created, &a.name).cmp(&(&b.created, &b.name)))
        });
        match victim {
            Some(m) => ControlPlaneAction::Delete(m.name.clone()),
            None => ControlPlaneAction::Nothing,
        }
    } else if let Some(m) = outdated_oldest() {
        if max_surge >= 1 {
            ControlPlaneAction::Create
        } else {
            ControlPlaneAction::Delete(m.name.clone())
        }
    } else {
        return ControlPlaneAction::Nothing;
    };
    if all_ready {
        action
    } else {
        ControlPlaneAction::Wait
    }
}

/// Spare Hardware a group's upgrade needs: its `maxSurge` (the machines created above the
/// desired count while old ones still hold their Hardware). A `maxSurge` of 0 needs none.
pub fn spare_hardware(
    desired: i64,
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
) -> Result<i64, String> {
    Ok(resolve_fenceposts(max_surge, max_unavailable, desired)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbell_capi::api::ObjectReference;
    use ironbell_capi::api::cluster::{MachineSpec, TemplateMeta};

    fn template(version: &str) -> MachineTemplateSpec {
        MachineTemplateSpec {
            metadata: None,
            spec: MachineSpec {
                cluster_name: "c".into(),
                infrastructure_ref: ObjectReference::new(
                    "infrastructure.cluster.x-k8s.io/v1beta1",
                    "TinkerbellMachineTemplate",
                    "c-md-1",
                ),
                version: Some(version.into()),
                ..MachineSpec::default()
            },
        }
    }

    #[test]
    fn the_hash_changes_with_the_spec_not_with_ignored_fields() {
        let a = template("v1.30.0");
        let h = template_hash(&a);
        assert_eq!(h, template_hash(&a.clone()), "stable");
        assert!(
            h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{h}"
        );
        let mut b = a.clone();
        b.spec.version = Some("v1.31.0".into());
        assert_ne!(h, template_hash(&b), "a version change replaces");
        let mut c = a.clone();
        c.spec.infrastructure_ref.name = "c-md-2".into();
        assert_ne!(h, template_hash(&c), "a new machine template replaces");
        let mut d = a.clone();
        d.metadata = Some(TemplateMeta::default());
        d.spec.provider_id = Some("x://y".into());
        d.spec.bootstrap.data_secret_name = Some("s".into());
        d.spec.infrastructure_ref.api_version = "infrastructure.cluster.x-k8s.io/v1beta2".into();
        assert_eq!(h, template_hash(&d), "ignored fields do not replace");
    }

    #[test]
    fn control_plane_changes_that_replace() {
        let cur = ControlPlaneOrigin {
            version: Some("v1.30".into()),
            infrastructure_template: Some(("TMT".into(), "cp-1".into())),
            config_hash: Some("h1".into()),
        };
        assert_eq!(control_plane_outdated(&cur, &cur.clone()), None);
        let mut m = cur.clone();
        m.version = Some("v1.29".into());
        assert!(control_plane_outdated(&cur, &m).is_some_and(|r| r.contains("version")));
        let mut m = cur.clone();
        m.infrastructure_template = Some(("TMT".into(), "cp-0".into()));
        assert!(control_plane_outdated(&cur, &m).is_some_and(|r| r.contains("cp-0")));
        let mut m = cur.clone();
        m.config_hash = Some("h0".into());
        assert!(control_plane_outdated(&cur, &m).is_some());
        let mut m = cur.clone();
        m.config_hash = None;
        m.infrastructure_template = None;
        assert_eq!(
            control_plane_outdated(&cur, &m),
            None,
            "unknown is not a change"
        );
    }

    #[test]
    fn int_or_percent_with_capi_rounding() {
        let pct = |s: &str| IntOrString::String(s.into());
        assert_eq!(scaled_value(&pct("25%"), 5, true), Ok(2));
        assert_eq!(scaled_value(&pct("25%"), 5, false), Ok(1));
        assert_eq!(scaled_value(&IntOrString::Int(3), 5, false), Ok(3));
        assert_eq!(scaled_value(&pct("2"), 5, false), Ok(2));
        assert!(scaled_value(&pct("x%"), 5, false).is_err());
        assert_eq!(resolve_fenceposts(None, None, 3), Ok((1, 0)));
        assert_eq!(
            resolve_fenceposts(Some(&IntOrString::Int(0)), Some(&IntOrString::Int(0)), 3),
            Ok((0, 1))
        );
        assert_eq!(
            resolve_fenceposts(Some(&pct("10%")), Some(&pct("10%")), 3),
            Ok((1, 0))
        );
        assert_eq!(spare_hardware(3, Some(&IntOrString::Int(2)), None), Ok(2));
        assert_eq!(
            spare_hardware(3, Some(&IntOrString::Int(0)), Some(&IntOrString::Int(1))),
            Ok(0)
        );
    }

    #[test]
    fn which_upgrades_replace_and_how_much_spare_hardware_they_need() {
        use ironbell_capi::api::cluster::{
            MachineDeploymentSpec, MachineDeploymentStrategy, RollingUpdate,
        };
        use ironbell_capi::api::kubeadm::{
            ControlPlaneRollingUpdate, KubeadmControlPlaneSpec, RolloutStrategy,
        };
        let md = MachineDeploymentSpec {
            replicas: Some(2),
            template: template("v1.30.0"),
            strategy: Some(MachineDeploymentStrategy {
                strategy_type: None,
                rolling_update: Some(RollingUpdate {
                    max_surge: Some(IntOrString::Int(2)),
                    max_unavailable: None,
                }),
            }),
            ..MachineDeploymentSpec::default()
        };
        let mut scaled = md.clone();
        scaled.replicas = Some(5);
        assert_eq!(
            deployment_replacement(&md, &scaled),
            Ok(None),
            "a scale replaces nothing"
        );
        let mut upgraded = md.clone();
        upgraded.template.spec.version = Some("v1.31.0".into());
        assert_eq!(
            deployment_replacement(&md, &upgraded).map(|r| r.map(|r| r.spare)),
            Ok(Some(2))
        );
        let mut default_surge = upgraded.clone();
        default_surge.strategy = None;
        assert_eq!(
            deployment_replacement(&md, &default_surge).map(|r| r.map(|r| r.spare)),
            Ok(Some(1))
        );

        let cp = KubeadmControlPlaneSpec {
            replicas: 3,
            version: "v1.30.0".into(),
            ..KubeadmControlPlaneSpec::default()
        };
        let mut more = cp.clone();
        more.replicas = 5;
        assert_eq!(control_plane_replacement(&cp, &more), Ok(None));
        let mut new_version = cp.clone();
        new_version.version = "v1.31.0".into();
        let r = control_plane_replacement(&cp, &new_version).ok().flatten();
        assert!(
            r.as_ref()
                .is_some_and(|r| r.spare == 1 && r.reason.contains("v1.31.0")),
            "{r:?}"
        );
        let mut no_surge = new_version.clone();
        no_surge.rollout_strategy = Some(RolloutStrategy {
            rolling_update: Some(ControlPlaneRollingUpdate {
                max_surge: IntOrString::Int(0),
            }),
            strategy_type: None,
        });
        let r = control_plane_replacement(&cp, &no_surge).ok().flatten();
        assert_eq!(r.map(|r| r.spare), Some(0));
        let mut files = cp.clone();
        files.kubeadm_config_spec.pre_kubeadm_commands = Some(vec!["true".into()]);
        assert!(
            control_plane_replacement(&cp, &files)
                .ok()
                .flatten()
                .is_some()
        );
    }

    fn set(name: &str, replicas: i64, alive: i64, available: i64) -> SetState {
        SetState {
            name: name.into(),
            replicas,
            alive,
            available,
        }
    }

    /// Simulates a rollout: each step's scales are applied, machines created become
    /// available at once, deleted ones go at once; checks the bounds at every step.
    fn simulate(desired: i64, surge: i64, unavailable: i64, old: i64) -> usize {
        let mut new = set("new", 0, 0, 0);
        let mut olds = vec![set("old", old, old, old)];
        for step in 0..100 {
            let scales = rolling_step(desired, surge, unavailable, &new, &olds);
            if scales.is_empty() {
                assert_eq!(new.replicas, desired);
                assert!(olds.iter().all(|s| s.replicas == 0));
                return step;
            }
            for s in scales {
                let target = if s.name == "new" {
                    &mut new
                } else {
                    &mut olds[0]
                };
                target.replicas = s.replicas;
            }
            // Deletions first (as the set controller acts), then creations.
            for s in olds.iter_mut().chain(std::iter::once(&mut new)) {
                s.alive = s.alive.min(s.replicas);
                s.available = s.available.min(s.replicas);
            }
            let alive: i64 =
                new.replicas.max(new.alive) + olds.iter().map(|s| s.alive).sum::<i64>();
            assert!(alive <= desired + surge, "step {step}: {alive} alive");
            new.alive = new.replicas;
            new.available = new.replicas;
            let available = new.available + olds.iter().map(|s| s.available).sum::<i64>();
            assert!(
                available >= desired - unavailable,
                "step {step}: {available} available"
            );
        }
        panic!("no convergence");
    }

    #[test]
    fn rolling_updates_respect_surge_and_unavailability() {
        assert!(simulate(3, 1, 0, 3) > 2);
        simulate(3, 0, 1, 3);
        simulate(5, 2, 1, 5);
        simulate(1, 1, 0, 1);
    }

    #[test]
    fn scale_only_and_unhealthy_old_machines_first() {
        // No old sets: scale up to desired at once, scale down at once.
        let s = rolling_step(3, 1, 0, &set("new", 2, 2, 2), &[]);
        assert_eq!(
            s,
            vec![Scale {
                name: "new".into(),
                replicas: 3
            }]
        );
        let s = rolling_step(1, 1, 0, &set("new", 3, 3, 3), &[]);
        assert_eq!(
            s,
            vec![Scale {
                name: "new".into(),
                replicas: 1
            }]
        );
        // An old set with an unavailable machine loses it even at maxUnavailable 0.
        let s = rolling_step(3, 1, 0, &set("new", 1, 1, 1), &[set("old", 3, 3, 2)]);
        assert!(
            s.contains(&Scale {
                name: "old".into(),
                replicas: 2
            }),
            "{s:?}"
        );
        // Machines not yet gone count against the surge.
        let s = rolling_step(3, 1, 0, &set("new", 1, 1, 1), &[set("old", 2, 3, 2)]);
        assert!(!s.iter().any(|x| x.name == "new"), "{s:?}");
    }

    #[test]
    fn deletion_order_is_deleting_then_not_ready_then_oldest() {
        let c = |n: &str, deleting, ready, created: &str| Candidate {
            name: n.into(),
            deleting,
            ready,
            created: created.into(),
        };
        let order = deletion_order(vec![
            c("a", false, true, "2026-01-01T00:00:02Z"),
            c("b", false, true, "2026-01-01T00:00:01Z"),
            c("c", false, false, "2026-01-01T00:00:03Z"),
            c("d", true, true, "2026-01-01T00:00:04Z"),
        ]);
        let names: Vec<_> = order.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["d", "c", "b", "a"]);
    }

    #[test]
    fn control_plane_rollout_one_at_a_time() {
        let m = |n: &str, outdated, ready| ControlPlaneMachine {
            name: n.into(),
            created: n.into(),
            outdated,
            ready,
            deleting: false,
        };
        assert_eq!(control_plane_step(1, 1, &[]), ControlPlaneAction::Create);
        assert_eq!(
            control_plane_step(3, 1, &[m("a", false, false)]),
            ControlPlaneAction::Wait
        );
        assert_eq!(
            control_plane_step(3, 1, &[m("a", false, true)]),
            ControlPlaneAction::Create
        );
        let three = [m("a", true, true), m("b", true, true), m("c", false, true)];
        assert_eq!(control_plane_step(3, 1, &three), ControlPlaneAction::Create);
        assert_eq!(
            control_plane_step(3, 0, &three),
            ControlPlaneAction::Delete("a".into())
        );
        let four = [
            m("a", true, true),
            m("b", true, true),
            m("c", false, true),
            m("d", false, true),
        ];
        assert_eq!(
            control_plane_step(3, 1, &four),
            ControlPlaneAction::Delete("a".into())
        );
        let mut deleting = four.clone();
        deleting[0].deleting = true;
        assert_eq!(
            control_plane_step(3, 1, &deleting),
            ControlPlaneAction::Wait
        );
        let done = [
            m("c", false, true),
            m("d", false, true),
            m("e", false, true),
        ];
        assert_eq!(control_plane_step(3, 1, &done), ControlPlaneAction::Nothing);
        assert_eq!(
            control_plane_step(1, 1, &done),
            ControlPlaneAction::Delete("c".into())
        );
    }
}
