//! EKS Anywhere release data.
//!
//! An EKS Anywhere cluster spec names a Kubernetes version (`kubernetesVersion: "1.29"`) and,
//! optionally, an EKS Anywhere version. Everything else a renderer needs (image names and
//! tags of Kubernetes, CoreDNS, etcd, kube-vip, the Tinkerbell actions, the Cluster API
//! providers...) comes from release data: the releases manifest lists EKS-A releases, each
//! pointing at a `Bundles` object with one versions bundle per Kubernetes version, and each
//! versions bundle points at an EKS-D release manifest.
//!
//! Not here: downloading anything (files only), the cluster spec itself
//! (`ironbell-cluster-spec`), rendering (`ironbell-capi`).
