//! STUB: Kubernetes label selectors. Interface fixed; implementation to be written.

use crate::Labels;

/// A parsed label selector: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// The requirements, all of which must match.
    pub requirements: Vec<Requirement>,
}

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `key` (the label exists).
    Exists(String),
    /// `!key` (the label does not exist).
    NotExists(String),
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value` (also true when the label is absent).
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)` (also true when the label is absent).
    NotIn(String, Vec<String>),
}

/// A selector string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector {input:?} at offset {offset}: {message}")]
pub struct SelectorError {
    /// The selector as given.
    pub input: String,
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was expected.
    pub message: String,
}

impl Selector {
    /// Parses `a=b,c!=d,!e,f in (x,y),g notin (z),h`.
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        Err(SelectorError {
            input: input.into(),
            offset: 0,
            message: "not implemented".into(),
        })
    }

    /// Whether the labels satisfy every requirement.
    pub fn matches(&self, _labels: Option<&Labels>) -> bool {
        self.requirements.is_empty()
    }
}
