//! One QEMU machine as a BMC sees it: power state, power actions and the boot device,
//! carried out over QMP. Both protocol front ends (Redfish, IPMI) call these methods.
//!
//! The machine runs with `-S -no-shutdown`, so it never leaves QEMU:
//! - power state: `query-status` `running` is On; anything else (`prelaunch` before the
//!   first power-on, `paused` after a BMC power-off, `shutdown` after the guest powered
//!   itself off) is Off;
//! - on: `system_reset` then `cont` (a cold start from the firmware); off: `stop`; soft
//!   off: `system_powerdown` (ACPI, the guest decides); reset / cycle: `system_reset` and
//!   `cont`;
//! - boot device: the NIC's and the disk's `bootindex` (`qom-set`). A persistent choice is
//!   the order kept. A one-time choice is applied just before the next power-on or reset
//!   the BMC performs, and the order stays so until the BMC next boots the machine (which
//!   sets the persistent order, or another one-time device): putting the persistent order
//!   back right after the reset raced the firmware, which reads it while it starts (a
//!   machine powered off and network-booted again found its disk first; `tests/qemu.rs`).
//!   So a reboot by the guest itself also finds the one-time device first, where a real
//!   BMC's "next boot only" would not; with Tinkerbell it does no harm: once the Workflow
//!   is done the Hardware's `allowPXE` is false, iPXE is refused its script and the
//!   firmware goes on to the disk.

use std::path::PathBuf;

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::qmp::{Qmp, QmpError};

/// A QMP command and its arguments.
type Cmd = (String, Option<Value>);

/// What the machine boots from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootTarget {
    /// The NIC (PXE).
    Pxe,
    /// The disk.
    Disk,
}

/// A boot device setting as the BMC reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootSetting {
    /// The device.
    pub target: BootTarget,
    /// Kept for every boot (`false`: the next boot only).
    pub persistent: bool,
    /// UEFI (`Some(true)`), legacy (`Some(false)`) as last asked; recorded and reported,
    /// the VM's firmware is fixed.
    pub uefi: Option<bool>,
}

struct State {
    qmp: Option<Qmp>,
    persistent: BootTarget,
    once: Option<BootTarget>,
    uefi: Option<bool>,
}

/// A QEMU machine behind a BMC.
pub struct Machine {
    name: String,
    socket: PathBuf,
    nic: String,
    disk: String,
    state: Mutex<State>,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("name", &self.name)
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl Machine {
    /// The machine `name` whose QMP socket is `socket`, with NIC and disk device ids.
    /// The persistent boot device starts as the disk.
    pub fn new(name: &str, socket: PathBuf, nic: &str, disk: &str) -> Self {
        Self {
            name: name.to_string(),
            socket,
            nic: nic.to_string(),
            disk: disk.to_string(),
            state: Mutex::new(State {
                qmp: None,
                persistent: BootTarget::Disk,
                once: None,
                uefi: None,
            }),
        }
    }

    /// The machine's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `commands` in order on the QMP session and returns their results, connecting
    /// as needed; after a broken session it reconnects and runs them all once more (each
    /// command here is safe to repeat).
    async fn run(&self, state: &mut State, commands: &[Cmd]) -> Result<Vec<Value>, QmpError> {
        let mut last = None;
        for _attempt in 0..2 {
            if state.qmp.is_none() {
                state.qmp = Some(Qmp::connect(&self.socket).await?);
            }
            let Some(qmp) = state.qmp.as_mut() else {
                continue;
            };
            let mut results = Vec::with_capacity(commands.len());
            let mut broken = None;
            for (command, args) in commands {
                match qmp.execute(command, args.clone()).await {
                    Ok(v) => results.push(v),
                    Err(e @ (QmpError::Io { .. } | QmpError::Protocol { .. })) => {
                        broken = Some(e);
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            match broken {
                None => return Ok(results),
                Some(e) => {
                    state.qmp = None;
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| QmpError::Protocol {
            socket: self.socket.clone(),
            what: "no session".into(),
        }))
    }

    async fn status(&self, state: &mut State) -> Result<String, QmpError> {
        let ret = self.run(state, &[("query-status".into(), None)]).await?;
        ret.first()
            .and_then(|r| r.get("status"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| QmpError::Protocol {
                socket: self.socket.clone(),
                what: format!("query-status returned {ret:?}"),
            })
    }

    /// Whether the machine is on.
    pub async fn is_on(&self) -> Result<bool, QmpError> {
        let mut state = self.state.lock().await;
        let status = self.status(&mut state).await?;
        Ok(status == "running")
    }

    /// Powers on (a no-op when on).
    pub async fn power_on(&self) -> Result<(), QmpError> {
        let mut state = self.state.lock().await;
        let status = self.status(&mut state).await?;
        if status == "running" {
            return Ok(());
        }
        self.boot(&mut state).await
    }

    /// Powers off at once (a no-op when off).
    pub async fn power_off(&self) -> Result<(), QmpError> {
        let mut state = self.state.lock().await;
        let status = self.status(&mut state).await?;
        if status != "running" {
            return Ok(());
        }
        self.run(&mut state, &[("stop".into(), None)])
            .await
            .map(drop)
    }

    /// Presses the power button (ACPI); the guest decides.
    pub async fn soft_off(&self) -> Result<(), QmpError> {
        let mut state = self.state.lock().await;
        self.run(&mut state, &[("system_powerdown".into(), None)])
            .await
            .map(drop)
    }

    /// Resets the machine (and powers it on when off), applying a one-time boot device.
    pub async fn reset(&self) -> Result<(), QmpError> {
        let mut state = self.state.lock().await;
        self.boot(&mut state).await
    }

    /// Sets the boot device.
    pub async fn set_boot(&self, setting: BootSetting) -> Result<(), QmpError> {
        let mut state = self.state.lock().await;
        state.uefi = setting.uefi.or(state.uefi);
        if setting.persistent {
            state.persistent = setting.target;
            state.once = None;
            let order = self.order(setting.target);
            self.run(&mut state, &order).await.map(drop)
        } else {
            state.once = Some(setting.target);
            Ok(())
        }
    }

    /// The boot device setting now in force.
    pub async fn boot_setting(&self) -> BootSetting {
        let state = self.state.lock().await;
        match state.once {
            Some(target) => BootSetting {
                target,
                persistent: false,
                uefi: state.uefi,
            },
            None => BootSetting {
                target: state.persistent,
                persistent: true,
                uefi: state.uefi,
            },
        }
    }

    /// The commands that put `first` first in the boot order (boot indexes must stay
    /// unique at every step, so both move out of the way first).
    fn order(&self, first: BootTarget) -> Vec<Cmd> {
        let (a, b) = match first {
            BootTarget::Pxe => (&self.nic, &self.disk),
            BootTarget::Disk => (&self.disk, &self.nic),
        };
        [(a, 101), (b, 102), (a, 1), (b, 2)]
            .into_iter()
            .map(|(device, index)| {
                (
                    "qom-set".to_string(),
                    Some(json!({
                        "path": format!("/machine/peripheral/{device}"),
                        "property": "bootindex",
                        "value": index,
                    })),
                )
            })
            .collect()
    }

    /// Reset and run, with the one-time device (if any) first (see the module docs for why
    /// the order is not put back at once).
    async fn boot(&self, state: &mut State) -> Result<(), QmpError> {
        let once = state.once.take();
        let persistent = state.persistent;
        let first = once.unwrap_or(persistent);
        let mut commands = self.order(first);
        commands.push(("system_reset".into(), None));
        commands.push(("cont".into(), None));
        self.run(state, &commands).await?;
        if let Some(t) = once {
            tracing::info!(bmc = %self.name, "booting from {t:?} once; {persistent:?} afterwards");
        }
        Ok(())
    }
}
