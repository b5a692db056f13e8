//! Cluster API manifests from an EKS Anywhere cluster spec.
//!
//! Pure functions from (validated spec, versions bundle, template names, current objects when
//! upgrading) to the Cluster API objects that build the cluster: `Cluster`,
//! `KubeadmControlPlane`, `KubeadmConfigTemplate`, `MachineDeployment`, and each provider's
//! infrastructure kinds. The output is what EKS Anywhere renders for the same inputs, compared
//! as data by the golden tests against EKS Anywhere's own expected files.
//!
//! Not here: loading or validating the spec (`ironbell-cluster-spec`), applying the objects
//! or reconciling them (the lifecycle).
