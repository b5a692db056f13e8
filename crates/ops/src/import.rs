//! `hardware import`: rows of a `hardware.csv` (parsed and validated by
//! `ironbell-inventory`) become one Hardware, BMC Machine and Secret per row, written
//! through [`crate::apply::apply`]: checked against the store's inventory, all or nothing
//! where the backend can, resumable where it cannot. The Hardware names its Machine
//! (`spec.bmcRef`) and the Machine its Secret, which is what [`crate::delete`] follows.

use ironbell_inventory::Row;
use ironbell_model::DynamicObject;
use ironbell_store::Store;

use crate::OpsError;
use crate::apply::{ApplyOptions, Outcome, apply};

/// Imports `rows` into `namespace`; returns what happened to each object.
pub async fn import(
    store: &dyn Store,
    rows: &[Row],
    namespace: &str,
    options: ApplyOptions,
) -> Result<Vec<(DynamicObject, Outcome)>, OpsError> {
    let objects = ironbell_inventory::to_objects(rows, namespace)
        .iter()
        .map(ironbell_model::Object::to_dynamic)
        .collect::<Result<Vec<_>, _>>()?;
    apply(store, objects, options).await
}

/// Counts of what a write did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Objects created.
    pub created: usize,
    /// Objects updated.
    pub configured: usize,
    /// Objects left as they were.
    pub unchanged: usize,
}

impl Counts {
    /// Counts the outcomes of an apply or import.
    pub fn of(outcomes: &[(DynamicObject, Outcome)]) -> Self {
        let count = |o: Outcome| outcomes.iter().filter(|(_, x)| *x == o).count();
        Self {
            created: count(Outcome::Created),
            configured: count(Outcome::Configured),
            unchanged: count(Outcome::Unchanged),
        }
    }
}
