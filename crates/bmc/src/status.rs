//! Status helpers with Rufio's semantics: condition types and statuses as Rufio spells
//! them, `SetCondition`/`HasCondition` as its api package defines them, and RFC 3339
//! timestamps as `metav1.Time` writes them (UTC, whole seconds).

use ironbell_model::bmc::{JobCondition, JobStatus, MachineCondition, MachineStatus, PowerState};

/// Rufio's `ConditionTrue`.
pub const TRUE: &str = "True";
/// Rufio's `ConditionFalse`.
pub const FALSE: &str = "False";

pub use ironbell_model::values::{now, since};

/// Whether `conditions` has `type_` with `status` (Rufio's `HasCondition`: the first
/// condition of that type decides).
pub fn has(conditions: Option<&[JobCondition]>, type_: &str, status: &str) -> bool {
    conditions
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == type_)
        .is_some_and(|c| c.status == status)
}

/// Whether a Job (or Task) has ended: `Completed` or `Failed` is `True`.
pub fn ended(conditions: Option<&[JobCondition]>) -> bool {
    has(conditions, JobCondition::COMPLETED, TRUE) || has(conditions, JobCondition::FAILED, TRUE)
}

/// Rufio's Job/Task `SetCondition`: sets the status (and message, if given) of the
/// condition of `type_`, appending it if absent.
pub fn set(status: &mut JobStatus, type_: &str, value: &str, message: Option<String>) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let idx = match conditions.iter().position(|c| c.type_ == type_) {
        Some(i) => i,
        None => {
            conditions.push(JobCondition {
                type_: type_.to_string(),
                ..JobCondition::default()
            });
            conditions.len() - 1
        }
    };
    let c = &mut conditions[idx];
    c.status = value.to_string();
    if let Some(m) = message {
        c.message = Some(m).filter(|m| !m.is_empty());
    }
}

/// Rufio's Machine `SetCondition` followed by a power state: `lastUpdateTime` changes only
/// when the condition's status does, so an unchanged observation gives an equal status
/// (and no write).
pub fn machine(
    old: Option<&MachineStatus>,
    power: PowerState,
    contactable: bool,
    message: Option<String>,
) -> MachineStatus {
    let mut s = old.cloned().unwrap_or_default();
    s.power_state = Some(power);
    let value = if contactable { TRUE } else { FALSE };
    let conditions = s.conditions.get_or_insert_with(Vec::new);
    let idx = match conditions
        .iter()
        .position(|c| c.type_ == MachineCondition::CONTACTABLE)
    {
        Some(i) => i,
        None => {
            conditions.push(MachineCondition {
                type_: MachineCondition::CONTACTABLE.to_string(),
                ..MachineCondition::default()
            });
            conditions.len() - 1
        }
    };
    let c = &mut conditions[idx];
    if c.status != value {
        c.status = value.to_string();
        c.last_update_time = Some(now());
    }
    c.message = message.filter(|m| !m.is_empty());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_observation_gives_an_equal_status() {
        let first = machine(None, PowerState::On, true, None);
        let again = machine(Some(&first), PowerState::On, true, None);
        assert_eq!(first, again);
        let down = machine(
            Some(&first),
            PowerState::Unknown,
            false,
            Some("boom".into()),
        );
        assert_ne!(down, first);
        let c = &down.conditions.as_deref().unwrap_or_default()[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str()),
            ("Contactable", "False")
        );
        assert_eq!(c.message.as_deref(), Some("boom"));
    }

    #[test]
    fn conditions_are_set_in_place_and_read_by_the_first_of_a_type() {
        let mut s = JobStatus::default();
        set(&mut s, JobCondition::RUNNING, TRUE, None);
        set(
            &mut s,
            JobCondition::FAILED,
            TRUE,
            Some("task x failed".into()),
        );
        set(&mut s, JobCondition::RUNNING, TRUE, None);
        assert_eq!(s.conditions.as_ref().map(Vec::len), Some(2));
        assert!(has(s.conditions.as_deref(), "Failed", TRUE));
        assert!(!has(s.conditions.as_deref(), "Completed", TRUE));
    }
}
