//! Tinkerbell template rendering and validation for ironbell's workflow service.
//!
//! A Workflow binds a Template to a Hardware. The service renders the template's text with
//! Go `text/template` semantics over the Workflow's `hardwareMap` and the Hardware, parses
//! the result as a workflow template document
//! ([`ironbell_model::template_def::TemplateDefinition`]) and validates it as Tinkerbell
//! does. This crate is pure: no I/O, no store; text and data in, text or a validated
//! template (or an error naming what and where) out.
//!
//! - [`gotemplate`]: the Go `text/template` engine with Go's builtins, the Sprig functions
//!   and Tinkerbell's own (`formatPartition`, `netmaskToPrefixLength`, `toYaml`,
//!   `fromYaml`), bounded in output, steps and depth.
//! - [`workflow`]: the data a Tinkerbell template sees (`.device_1`, `.Hardware`), rendering
//!   and validation. Start at [`workflow::render_and_validate`].
//! - [`image`]: Docker image references, as Tinkerbell checks an action's `image`.
//!
//! Not here: storing templates or workflows, running them (see the workflow crate).

pub mod gotemplate;
pub mod image;
pub mod workflow;

pub use workflow::{TemplateError, render, render_and_validate, template_data, validate};
