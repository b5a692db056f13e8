//! The IPMI front end: RMCP+ from [`ironbell_ipmi::server`], with chassis commands carried
//! out on the [`Machine`].

use std::sync::Arc;

use ironbell_ipmi::server::{self, Chassis, ChassisError};
use ironbell_ipmi::{BootDevice, BootOptions, ChassisControl};

use crate::Credentials;
use crate::machine::{BootSetting, BootTarget, Machine};

/// A [`Machine`] as an IPMI chassis.
pub struct QemuChassis(pub Arc<Machine>);

fn err(e: crate::qmp::QmpError) -> ChassisError {
    ChassisError(e.to_string())
}

impl Chassis for QemuChassis {
    async fn power_is_on(&self) -> Result<bool, ChassisError> {
        self.0.is_on().await.map_err(err)
    }

    async fn control(&self, action: ChassisControl) -> Result<(), ChassisError> {
        tracing::info!(bmc = %self.0.name(), "ipmi: chassis control {action}");
        match action {
            ChassisControl::PowerDown => self.0.power_off().await,
            ChassisControl::PowerUp => self.0.power_on().await,
            ChassisControl::PowerCycle | ChassisControl::HardReset => self.0.reset().await,
            ChassisControl::SoftShutdown => self.0.soft_off().await,
        }
        .map_err(err)
    }

    async fn set_boot_device(
        &self,
        device: BootDevice,
        options: BootOptions,
    ) -> Result<(), ChassisError> {
        let target = match device {
            BootDevice::Pxe => BootTarget::Pxe,
            BootDevice::Disk | BootDevice::DiskSafeMode | BootDevice::NoOverride => {
                BootTarget::Disk
            }
            other => {
                return Err(ChassisError(format!(
                    "boot device {other} is not supported (pxe, disk)"
                )));
            }
        };
        tracing::info!(
            bmc = %self.0.name(),
            "ipmi: boot device {target:?} {}",
            if options.persistent { "persistent" } else { "once" }
        );
        self.0
            .set_boot(BootSetting {
                target,
                persistent: options.persistent,
                uefi: Some(options.efi),
            })
            .await
            .map_err(err)
    }

    async fn boot_device(&self) -> Result<(BootDevice, BootOptions), ChassisError> {
        let s = self.0.boot_setting().await;
        let device = match s.target {
            BootTarget::Pxe => BootDevice::Pxe,
            BootTarget::Disk => BootDevice::Disk,
        };
        Ok((
            device,
            BootOptions {
                persistent: s.persistent,
                efi: s.uefi.unwrap_or(false),
            },
        ))
    }
}

/// Serves IPMI for `machine` on `socket` until the task is dropped.
pub async fn serve(
    socket: tokio::net::UdpSocket,
    machine: Arc<Machine>,
    credentials: Arc<Credentials>,
) {
    let name = machine.name().to_string();
    let creds = Credentials {
        username: credentials.username.clone(),
        password: credentials.password.clone(),
    };
    let stats = Arc::new(server::Stats::default());
    let chassis = Arc::new(QemuChassis(machine));
    if let Err(e) = server::serve(socket, creds, chassis, stats, std::future::pending()).await {
        tracing::error!(bmc = %name, "ipmi: stopped: {e}");
    }
}
