//! EKS Anywhere cluster specs.
//!
//! A cluster spec is a multi-document YAML file of `anywhere.eks.amazonaws.com/v1alpha1`
//! objects: one `Cluster`, its provider's datacenter config and machine configs, and
//! optional `TinkerbellTemplateConfig`, `OIDCConfig`, `AWSIamConfig`, `GitOpsConfig` and
//! `FluxConfig` documents. This crate loads such a file into typed values, applies EKS
//! Anywhere's defaults and validates it offline, reporting every error of a spec together.
//!
//! Not here: release data (`ironbell-release`), rendering Cluster API objects
//! (`ironbell-capi`), anything that touches infrastructure.
