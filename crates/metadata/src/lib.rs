//! # ironbell-metadata
//!
//! ironbell's metadata service, the replacement for Tinkerbell's Hegel: installed machines
//! and the in-memory OS read their identity, addresses, SSH keys, disks and user-data from
//! it over HTTP (default port 7172). cloud-init's EC2 datasource is its main client.
//!
//! - the EC2 instance metadata API under `/2009-04-04/` and `/latest/` ([`ec2`]), with
//!   Hegel's mapping from Hardware ([`machine`]) and IMDSv2 session tokens ([`token`]);
//! - `/metadata`, the Tinkerbell JSON document with the disk layout ([`document`]);
//! - `/healthz` and Prometheus `/metrics` ([`metrics`]);
//! - `POST /phone-home`, where an installed OS reports in after first boot (cloud-init's
//!   `phone_home` module) and its machine's `v1 Node` becomes Ready ([`phone_home`]).
//!
//! A machine sees only its own data: each request is tied to the Hardware whose interface
//! `dhcp.ip.address` is the request's source address, or the address a trusted proxy names
//! in `X-Forwarded-For` ([`client`]); a trusted range that covers machines' own addresses
//! would let them impersonate each other, and is warned about ([`proxies`]). The Hardware
//! come from an in-memory [`Index`] that a store watch keeps current, so changes show at
//! once and requests never wait on the store.
//!
//! It writes nothing but those Nodes; it is not a store or a writer of Hardware, and it does not bind sockets or parse
//! command lines: `ironbell serve metadata` binds the listener and calls [`serve`].
//!
//! Start reading at [`http`] (routes, identification, tokens, limits), then [`ec2`] and
//! [`machine`].
//!
//! ## Where it differs from Hegel, and why
//!
//! - A missing value (absent or empty) answers 404 and is left out of its directory's
//!   listing; Hegel answers 200 with an empty body and lists every path to everyone. EC2
//!   does the former, and cloud-init's crawler gives up on the whole tree when a listed
//!   path fails, so listings are per machine and need identification.
//! - `public-keys/` follows EC2 (`0=<name>`, `0/openssh-key`) and is filled from
//!   `spec.metadata.instance.ssh_keys`; Hegel's Kubernetes backend serves no keys.
//! - IMDSv2 tokens (`PUT /latest/api/token`) exist; Hegel has none and no `/latest/`.
//! - `/metadata` answers 404 for an unknown address (Hegel: 500). Its JSON is the same
//!   document, though not HTML-escaped as Go writes it.
//! - Several `X-Forwarded-For` header lines are read as one list (Hegel reads the first).
//! - `/healthz` answers 500 until the index holds the store's first list (Hegel's is
//!   healthy as soon as it runs).

pub mod client;
pub mod document;
pub mod ec2;
pub mod http;
mod index;
pub mod machine;
pub mod metrics;
pub mod phone_home;
pub mod proxies;
pub mod token;

pub use client::{Cidr, CidrError};
pub use http::{Config, DEFAULT_PORT, MetadataState, router, serve, serve_state};
pub use index::{Index, Lookup, Snapshot};
pub use machine::{Field, HardwareRecord, Machine};
