//! Tinkerbell's `tinkerbell.org/v1alpha1` kinds: [`Hardware`], [`Template`] and [`Workflow`],
//! plus Hegel's flat-file instance format in [`hegel`].
//!
//! Every field follows the v1alpha1 CRDs exactly, including Tinkerbell's mix of JSON names
//! (`name_servers` and `lease_time` beside `allowPXE` and `bmcRef`). Unknown fields are
//! rejected; optional fields are `Option`s so that what a user wrote (an explicit `false`,
//! an empty list) survives a round trip.
//!
//! This module only describes data: the DHCP, metadata and workflow services interpret it.
//! Start with [`Hardware`] (and its helpers such as [`Hardware::interface_by_mac`]), then
//! [`Workflow`].

mod hardware;
pub mod hegel;
mod template;
mod workflow;

pub use hardware::*;
pub use template::*;
pub use workflow::*;
