//! Why a spec could not be loaded: [`SpecError`], made of [`SpecIssue`]s that each name the
//! document and the field.

use std::fmt;
use std::path::PathBuf;

use ironbell_model::document::DocumentError;

/// One problem of a spec file, located by document and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecIssue {
    /// 1-based index of the YAML document, when the problem is in one.
    pub document: Option<usize>,
    /// `kind` of that document, if it had one.
    pub kind: Option<String>,
    /// `metadata.name` of that document, if it had one.
    pub name: Option<String>,
    /// Path of the offending field (`.` for the whole document or file).
    pub field: String,
    /// What is wrong, in words a user can act on.
    pub message: String,
}

impl SpecIssue {
    /// A problem of the whole file rather than of one document.
    pub fn file(message: impl Into<String>) -> Self {
        Self {
            document: None,
            kind: None,
            name: None,
            field: ".".into(),
            message: message.into(),
        }
    }
}

impl From<DocumentError> for SpecIssue {
    fn from(e: DocumentError) -> Self {
        Self {
            document: Some(e.document),
            kind: e.kind,
            name: e.name,
            field: e.path,
            message: e.message,
        }
    }
}

impl fmt::Display for SpecIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.document {
            Some(d) => write!(f, "document {d}")?,
            None => f.write_str("spec")?,
        }
        match (&self.kind, &self.name) {
            (Some(k), Some(n)) => write!(f, " ({k} {n:?})")?,
            (Some(k), None) => write!(f, " ({k})")?,
            (None, Some(n)) => write!(f, " ({n:?})")?,
            (None, None) => {}
        }
        if self.field != "." {
            write!(f, ": field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read cluster spec {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The text is not a valid spec; every problem found is listed.
    #[error("{}", Issues(.0))]
    Invalid(Vec<SpecIssue>),
}

impl SpecError {
    /// The problems of an invalid spec (empty for a read error).
    pub fn issues(&self) -> &[SpecIssue] {
        match self {
            Self::Invalid(issues) => issues,
            Self::Read { .. } => &[],
        }
    }
}

struct Issues<'a>(&'a [SpecIssue]);

impl fmt::Display for Issues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "invalid cluster spec: {n} problem{}",
            if n == 1 { "" } else { "s" }
        )?;
        for issue in self.0 {
            write!(f, "\n  {issue}")?;
        }
        Ok(())
    }
}
