//! Which Hardware a `TinkerbellMachine` gets: CAPT v0.6.5's `hardwareForMachine`, as a pure
//! function of the machine and the Hardware of every namespace.
//!
//! 1. Hardware already assigned to the machine (labels
//!    [`OWNER_NAME_LABEL`]`=<name>`, [`OWNER_NAMESPACE_LABEL`]`=<namespace>`) wins, so a
//!    reconcile after a restart finds the same machine again.
//! 2. Otherwise each `hardwareAffinity.required` term (one empty term when there are none)
//!    gets `OWNER_NAME_LABEL DoesNotExist` added; the terms are OR'd: the candidates are
//!    the union of what each selects.
//! 3. The candidates are sorted by the summed weights of the `preferred` terms they match,
//!    highest first, then by namespace and name; the first is taken.
//!
//! Only `matchLabels` exists in the spec types EKS Anywhere renders
//! (`ironbell_capi::api::LabelSelector`); `matchExpressions` is not modelled.

use std::collections::BTreeSet;

use ironbell_capi::api::LabelSelector;
use ironbell_capi::api::tinkerbell::HardwareAffinity;
use ironbell_model::Resource;
use ironbell_model::selector::{Requirement, Selector};
use ironbell_model::tinkerbell::Hardware;

use crate::{OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL};

/// No Hardware fits a machine.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no hardware available for TinkerbellMachine {namespace}/{name} matching {selectors}")]
pub struct NoHardwareAvailable {
    /// The machine's namespace.
    pub namespace: String,
    /// The machine's name.
    pub name: String,
    /// The required terms, as label selectors joined by ` or `.
    pub selectors: String,
}

/// The selector of a `matchLabels` map (every label must be equal).
pub fn match_labels_selector(selector: &LabelSelector) -> Selector {
    Selector {
        requirements: selector
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| Requirement::Equals(k.clone(), v.clone()))
            .collect(),
    }
}

/// The selectors CAPT lists unowned Hardware with: one per required term (one empty term
/// when there is none), each with `OWNER_NAME_LABEL DoesNotExist` added.
pub fn required_selectors(affinity: Option<&HardwareAffinity>) -> Vec<Selector> {
    let terms: Vec<LabelSelector> = match affinity {
        Some(a) if !a.required.is_empty() => a
            .required
            .iter()
            .map(|t| t.label_selector.clone())
            .collect(),
        _ => vec![LabelSelector::default()],
    };
    terms
        .iter()
        .map(|t| {
            let mut s = match_labels_selector(t);
            s.requirements
                .push(Requirement::NotExists(OWNER_NAME_LABEL.to_string()));
            s
        })
        .collect()
}

/// Whether `hw` is assigned to the machine `namespace/name`.
pub fn is_assigned_to(hw: &Hardware, namespace: &str, name: &str) -> bool {
    hw.metadata.label(OWNER_NAME_LABEL) == Some(name)
        && hw.metadata.label(OWNER_NAMESPACE_LABEL) == Some(namespace)
}

/// The summed weights of the `preferred` terms `hw` matches.
fn preference(hw: &Hardware, affinity: Option<&HardwareAffinity>) -> i64 {
    affinity
        .map(|a| {
            a.preferred
                .iter()
                .filter(|p| {
                    match_labels_selector(&p.hardware_affinity_term.label_selector)
                        .matches(hw.metadata.labels.as_ref())
                })
                .map(|p| i64::from(p.weight))
                .sum()
        })
        .unwrap_or(0)
}

/// The Hardware for machine `namespace/name` with `affinity`, among `hardware` (every
/// namespace), by the rules of the module documentation.
pub fn select<'a>(
    namespace: &str,
    name: &str,
    affinity: Option<&HardwareAffinity>,
    hardware: &'a [Hardware],
) -> Result<&'a Hardware, NoHardwareAvailable> {
    if let Some(hw) = hardware
        .iter()
        .filter(|hw| is_assigned_to(hw, namespace, name))
        .min_by(|a, b| key(a).cmp(&key(b)))
    {
        return Ok(hw);
    }
    let selectors = required_selectors(affinity);
    let mut seen = BTreeSet::new();
    let mut candidates: Vec<(i64, &Hardware)> = hardware
        .iter()
        .filter(|hw| {
            selectors
                .iter()
                .any(|s| s.matches(hw.metadata.labels.as_ref()))
        })
        .filter(|hw| seen.insert(key(hw)))
        .map(|hw| (preference(hw, affinity), hw))
        .collect();
    candidates.sort_by(|(wa, a), (wb, b)| wb.cmp(wa).then_with(|| key(a).cmp(&key(b))));
    candidates
        .first()
        .map(|(_, hw)| *hw)
        .ok_or_else(|| NoHardwareAvailable {
            namespace: namespace.to_string(),
            name: name.to_string(),
            selectors: selectors
                .iter()
                .map(|s| format!("{{{s}}}"))
                .collect::<Vec<_>>()
                .join(" or "),
        })
}

fn key(hw: &Hardware) -> (&str, &str) {
    (hw.namespace(), hw.name())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ironbell_capi::api::tinkerbell::{HardwareAffinityTerm, WeightedHardwareAffinityTerm};
    use ironbell_model::ObjectMeta;

    use super::*;

    fn hw(ns: &str, name: &str, labels: &[(&str, &str)]) -> Hardware {
        let mut meta = ObjectMeta::named(ns, name);
        meta.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        Hardware {
            metadata: meta,
            ..Hardware::default()
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
        }
    }

    fn required(terms: &[&[(&str, &str)]]) -> HardwareAffinity {
        HardwareAffinity {
            required: terms
                .iter()
                .map(|t| HardwareAffinityTerm {
                    label_selector: labels(t),
                })
                .collect(),
            preferred: Vec::new(),
        }
    }

    fn prefer(mut a: HardwareAffinity, weight: i32, term: &[(&str, &str)]) -> HardwareAffinity {
        a.preferred.push(WeightedHardwareAffinityTerm {
            weight,
            hardware_affinity_term: HardwareAffinityTerm {
                label_selector: labels(term),
            },
        });
        a
    }

    fn pick(affinity: &HardwareAffinity, all: &[Hardware]) -> String {
        let hw = select("eksa-system", "tm-1", Some(affinity), all).expect("some hardware");
        format!("{}/{}", hw.namespace(), hw.name())
    }

    #[test]
    fn required_terms_are_ored_and_owned_hardware_is_skipped() {
        let all = [
            hw("a", "cp", &[("type", "cp")]),
            hw("a", "gpu", &[("type", "gpu")]),
            hw("a", "taken", &[("type", "worker"), (OWNER_NAME_LABEL, "x")]),
            hw("a", "worker", &[("type", "worker")]),
        ];
        let a = required(&[&[("type", "worker")], &[("type", "gpu")]]);
        // gpu and worker both qualify (OR), taken is owned; ties go by name.
        assert_eq!(pick(&a, &all), "a/gpu");
        let only_worker = required(&[&[("type", "worker")]]);
        assert_eq!(pick(&only_worker, &all), "a/worker");
    }

    #[test]
    fn preferred_weights_are_summed_and_win_over_names() {
        let all = [
            hw("a", "h1", &[("type", "w")]),
            hw("a", "h2", &[("type", "w"), ("disk", "ssd")]),
            hw("a", "h3", &[("type", "w"), ("disk", "ssd"), ("rack", "r1")]),
            hw("a", "h4", &[("type", "w"), ("rack", "r1")]),
        ];
        let a = prefer(required(&[&[("type", "w")]]), 10, &[("disk", "ssd")]);
        // h2 and h3 both score 10: the name decides.
        assert_eq!(pick(&a, &all), "a/h2");
        let a = prefer(a, 5, &[("rack", "r1")]);
        assert_eq!(pick(&a, &all), "a/h3"); // 15
        let a = prefer(a, 20, &[("rack", "r1")]);
        // h3: 35, h4: 25, h2: 10.
        assert_eq!(pick(&a, &all), "a/h3");
    }

    #[test]
    fn ties_go_by_namespace_then_name_across_namespaces() {
        let all = [
            hw("zeta", "a", &[("type", "w")]),
            hw("alpha", "z", &[("type", "w")]),
            hw("alpha", "y", &[("type", "w")]),
        ];
        assert_eq!(pick(&required(&[&[("type", "w")]]), &all), "alpha/y");
    }

    #[test]
    fn assigned_hardware_comes_first_even_against_preferences() {
        let all = [
            hw("a", "best", &[("type", "w"), ("disk", "ssd")]),
            hw(
                "b",
                "mine",
                &[
                    ("type", "other"),
                    (OWNER_NAME_LABEL, "tm-1"),
                    (OWNER_NAMESPACE_LABEL, "eksa-system"),
                ],
            ),
            hw(
                "b",
                "same-name-other-ns",
                &[
                    (OWNER_NAME_LABEL, "tm-1"),
                    (OWNER_NAMESPACE_LABEL, "elsewhere"),
                ],
            ),
        ];
        let a = prefer(required(&[&[("type", "w")]]), 100, &[("disk", "ssd")]);
        assert_eq!(pick(&a, &all), "b/mine");
    }

    #[test]
    fn no_terms_select_any_unowned_hardware() {
        let all = [
            hw("a", "owned", &[(OWNER_NAME_LABEL, "x")]),
            hw("a", "free", &[]),
        ];
        let got = select("ns", "tm", None, &all).expect("free");
        assert_eq!(got.name(), "free");
    }

    #[test]
    fn nothing_available_names_the_machine_and_the_selectors() {
        let all = [
            hw("a", "owned", &[("type", "cp"), (OWNER_NAME_LABEL, "x")]),
            hw("a", "other", &[("type", "worker")]),
        ];
        let a = required(&[&[("type", "cp")], &[("type", "gpu")]]);
        let err = select("eksa-system", "tm-1", Some(&a), &all).expect_err("none");
        assert_eq!(
            err.to_string(),
            "no hardware available for TinkerbellMachine eksa-system/tm-1 matching \
             {type=cp,!v1alpha1.tinkerbell.org/ownerName} or \
             {type=gpu,!v1alpha1.tinkerbell.org/ownerName}"
        );
        let err = select("ns", "tm", None, &[]).expect_err("none");
        assert!(
            err.to_string()
                .ends_with("matching {!v1alpha1.tinkerbell.org/ownerName}"),
            "{err}"
        );
    }
}
