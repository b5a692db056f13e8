//! # ironbell-ops
//!
//! The operations layer between ironbell's services and its front ends (the `ironbell`
//! command, the lab, later the cluster lifecycle): everything a command *does*, with no
//! argument parsing and no printing.
//!
//! - [`spec`]: open a store from a spec (`sqlite:PATH` or a bare path; other schemes are
//!   named and refused until their backend exists), creating it private (directory 0700,
//!   file 0600) or refusing a missing one for read-only commands.
//! - [`apply`]: create-or-update of a set of documents ([`apply::apply`]), all or nothing
//!   where the backend commits atomically, else object by object in dependency order,
//!   idempotent and resumable; `hardware import` ([`import::import`]) goes through it.
//! - [`integrity`]: inventory checks against the store (a MAC or IP held by two Hardware).
//! - [`lookup`]: kinds by name, [`lookup::find_one`].
//! - [`migrate`]: copy every object of a plane to another store, owner references
//!   rebuilt, resumable, checked object by object (`ironbell store migrate`).
//! - [`mover`]: a cluster's management objects from one store to another with
//!   `clusterctl move`'s semantics (`ironbell move`), or to and from a directory.
//! - [`delete`]: delete an object with what it owns (a Hardware's BMC Machine and Secret,
//!   a Job's Tasks).
//! - [`native`]: a cluster's management plane moving onto its own control-plane machines
//!   (the `native` node bootstrapper's etcd members and replicas), and back for a delete.
//! - [`network`]: one description of a plane's network from which every service's
//!   configuration is derived, so that no two services disagree on a port.
//! - [`plane`]: start boot, metadata, workflow, BMC and the cluster (and Docker)
//!   controllers over one store, and stop them; a lifecycle command's bootstrap plane.
//! - [`service`]: the plane as a service that outlives a lifecycle command (a systemd unit
//!   or a detached `ironbell serve all|cluster`).
//!
//! What it is not: a service itself. The protocols live in their own crates; this crate wires
//! them. Start reading at [`spec::open`], then [`apply::apply`], then [`plane::Plane`].

pub mod apply;
pub mod delete;
mod error;
pub mod import;
pub mod integrity;
pub mod lookup;
pub mod metrics;
pub mod migrate;
pub mod mover;
pub mod native;
pub mod network;
pub mod plane;
pub mod service;
pub mod spec;

pub use error::OpsError;

/// The namespace `hardware import` and `apply` use when none is given (the one EKS Anywhere
/// puts hardware objects in), so that imported Hardware and applied Workflows meet.
pub const DEFAULT_NAMESPACE: &str = ironbell_inventory::DEFAULT_NAMESPACE;
