//! `GET /metadata`: the Tinkerbell JSON document installer actions (the `rootio` hub
//! action) read the disk layout from.
//!
//! The shape is Hegel's `hack` frontend exactly: the Hardware's
//! `spec.metadata.instance.storage` disks (device, partitions with label, number and size,
//! wipe_table) and filesystems (mount device, format, point, create options), nested under
//! `metadata.instance.storage`, every field always present as Go writes zero values
//! (`""`, `0`, `false`, and `null` for an absent list). Other storage fields (RAID arrays,
//! partition start and type, files, `force`) are not part of the document, as in Hegel.

use serde::Serialize;

use ironbell_model::tinkerbell::{Hardware, MetadataInstanceStorage};

use crate::machine::HardwareRecord;

/// The whole document.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Document {
    /// `metadata`.
    pub metadata: DocMetadata,
}

impl Document {
    /// The document of a Hardware without storage: `disks` and `filesystems` both `null`.
    pub const EMPTY: Document = Document {
        metadata: DocMetadata {
            instance: DocInstance {
                storage: DocStorage {
                    disks: None,
                    filesystems: None,
                },
            },
        },
    };
}

/// `metadata`.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct DocMetadata {
    /// `metadata.instance`.
    pub instance: DocInstance,
}

/// `metadata.instance`.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct DocInstance {
    /// `metadata.instance.storage`.
    pub storage: DocStorage,
}

/// `metadata.instance.storage`.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct DocStorage {
    /// Disks, `null` when the Hardware lists none.
    pub disks: Option<Vec<DocDisk>>,
    /// Filesystems, `null` when the Hardware lists none.
    pub filesystems: Option<Vec<DocFilesystem>>,
}

/// One disk.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct DocDisk {
    /// Device path.
    pub device: String,
    /// Partitions, `null` when none are listed.
    pub partitions: Option<Vec<DocPartition>>,
    /// Whether to wipe the partition table first.
    pub wipe_table: bool,
}

/// One partition.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct DocPartition {
    /// Label.
    pub label: String,
    /// Number.
    pub number: i64,
    /// Size (Hegel reads it as an unsigned number).
    pub size: u64,
}

/// One filesystem.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct DocFilesystem {
    /// How it is created and mounted.
    pub mount: DocMount,
}

/// Creation and mount settings.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct DocMount {
    /// Creation options.
    pub create: DocCreate,
    /// Device.
    pub device: String,
    /// Format, e.g. `ext4`.
    pub format: String,
    /// Mount point.
    pub point: String,
}

/// Filesystem creation options.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct DocCreate {
    /// Options passed to mkfs, `null` when none are listed.
    pub options: Option<Vec<String>>,
}

/// The Hardware's storage cannot be written as the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Hardware {hardware}: disk {disk} partition {partition} has a negative size {size}")]
pub struct DocumentError {
    /// `namespace/name` of the Hardware.
    pub hardware: String,
    /// Position of the disk.
    pub disk: usize,
    /// Position of the partition.
    pub partition: usize,
    /// The size found.
    pub size: i64,
}

/// The document of the Hardware `hw` was made of, as [`build`] wrote it when the record
/// was made (the service serves [`HardwareRecord::document`] without copying it).
pub fn document(hw: &HardwareRecord) -> Result<Document, DocumentError> {
    hw.document().cloned().map_err(Clone::clone)
}

/// The document of `hw`.
pub fn build(hw: &Hardware) -> Result<Document, DocumentError> {
    let storage: Option<&MetadataInstanceStorage> = hw.instance().and_then(|i| i.storage.as_ref());
    let Some(storage) = storage else {
        return Ok(Document::default());
    };
    let disks = match &storage.disks {
        None => None,
        Some(disks) => {
            let mut out = Vec::with_capacity(disks.len());
            for (d, disk) in disks.iter().enumerate() {
                let partitions = match &disk.partitions {
                    None => None,
                    Some(parts) => {
                        let mut list = Vec::with_capacity(parts.len());
                        for (p, part) in parts.iter().enumerate() {
                            let size = part.size.unwrap_or(0);
                            let size = u64::try_from(size).map_err(|_| DocumentError {
                                hardware: format!(
                                    "{}/{}",
                                    hw.metadata.namespace(),
                                    hw.metadata.name()
                                ),
                                disk: d,
                                partition: p,
                                size,
                            })?;
                            list.push(DocPartition {
                                label: part.label.clone().unwrap_or_default(),
                                number: part.number.unwrap_or(0),
                                size,
                            });
                        }
                        Some(list)
                    }
                };
                out.push(DocDisk {
                    device: disk.device.clone().unwrap_or_default(),
                    partitions,
                    wipe_table: disk.wipe_table.unwrap_or(false),
                });
            }
            Some(out)
        }
    };
    let filesystems = storage.filesystems.as_ref().map(|fss| {
        fss.iter()
            .map(|fs| {
                let m = fs.mount.clone().unwrap_or_default();
                DocFilesystem {
                    mount: DocMount {
                        create: DocCreate {
                            options: m.create.and_then(|c| c.options),
                        },
                        device: m.device.unwrap_or_default(),
                        format: m.format.unwrap_or_default(),
                        point: m.point.unwrap_or_default(),
                    },
                }
            })
            .collect()
    });
    Ok(Document {
        metadata: DocMetadata {
            instance: DocInstance {
                storage: DocStorage { disks, filesystems },
            },
        },
    })
}
