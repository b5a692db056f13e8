//! An authenticated, encrypted RMCP+ session with one BMC, and the UDP exchange beneath it.
//!
//! [`Session::connect`] runs (IPMI 2.0 section 13.15, figure 13-5):
//!
//! 1. Get Channel Authentication Capabilities, outside any session (v1.5 header): proves
//!    the BMC answers and speaks IPMI v2.0.
//! 2. For each candidate cipher suite: Open Session Request/Response, RAKP 1/2 (the BMC
//!    proves it knows the password; we check its HMAC), RAKP 3/4 (we prove it; we check the
//!    BMC's integrity check value over the new session keys). A BMC that refuses the
//!    suite's algorithms, answers with other algorithms than proposed, or does not answer
//!    the Open Session Request at all moves on to the next candidate.
//! 3. Set Session Privilege Level to ADMINISTRATOR.
//!
//! Each request is sent up to `retries + 1` times, waiting `timeout` for each. Answers are
//! matched by payload type, message tag and session ID during the handshake, and by session
//! ID, netFn, command and `rqSeq` after it. Anything else that arrives (another sender,
//! undecodable bytes, a failed integrity check, an old or duplicate answer) is dropped and
//! counted in [`Stats::dropped`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::commands::{self, *};
use crate::config::{CipherSuite, Config};
use crate::crypto::{SessionKeys, ct_eq};
use crate::error::{AuthFailure, CompletionCode, Error, RakpStatus};
use crate::rakp::{self, Handshake};
use crate::wire::{self, payload};

/// Counters of one session's traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams received and dropped: malformed, failing the integrity check, from
    /// another address, or not answering the outstanding request.
    pub dropped: u64,
    /// Requests sent again after a timeout.
    pub retransmissions: u64,
    /// Requests answered.
    pub answered: u64,
}

/// The UDP socket and the retry policy, shared by the handshake and the session.
#[derive(Debug)]
struct Link {
    socket: UdpSocket,
    peer: SocketAddr,
    host: String,
    port: u16,
    timeout: Duration,
    retries: u32,
    stats: Stats,
    buf: Vec<u8>,
}

impl Link {
    /// Sends what `make` builds (anew for each attempt) and waits for a datagram that
    /// `accept` takes, retransmitting on timeout.
    async fn exchange<T>(
        &mut self,
        step: &'static str,
        mut make: impl FnMut() -> Vec<u8>,
        mut accept: impl FnMut(&[u8]) -> Option<T>,
    ) -> Result<T, Error> {
        let attempts = self.retries.saturating_add(1);
        let dropped_before = self.stats.dropped;
        for attempt in 0..attempts {
            if attempt > 0 {
                self.stats.retransmissions += 1;
                debug!(host = %self.host, step, attempt, "IPMI request retransmitted");
            }
            let datagram = make();
            self.send(&datagram).await?;
            let deadline = Instant::now() + self.timeout;
            loop {
                let received =
                    tokio::time::timeout_at(deadline, self.socket.recv_from(&mut self.buf)).await;
                let (n, from) = match received {
                    Err(_elapsed) => break,
                    Ok(Ok(r)) => r,
                    // ICMP errors and the like: keep waiting for the deadline.
                    Ok(Err(e)) => {
                        debug!(host = %self.host, step, error = %e, "UDP receive error");
                        continue;
                    }
                };
                if from != self.peer {
                    self.stats.dropped += 1;
                    debug!(host = %self.host, %from, step, "datagram from another address dropped");
                    continue;
                }
                match accept(&self.buf[..n]) {
                    Some(t) => {
                        self.stats.answered += 1;
                        return Ok(t);
                    }
                    None => {
                        self.stats.dropped += 1;
                        debug!(host = %self.host, step, len = n, "unexpected or malformed datagram dropped");
                    }
                }
            }
        }
        Err(Error::Timeout {
            host: self.host.clone(),
            port: self.port,
            step,
            attempts,
            timeout: self.timeout,
            dropped: self.stats.dropped - dropped_before,
        })
    }

    async fn send(&self, datagram: &[u8]) -> Result<(), Error> {
        self.socket
            .send_to(datagram, self.peer)
            .await
            .map(drop)
            .map_err(|source| Error::Unreachable {
                host: self.host.clone(),
                port: self.port,
                source,
            })
    }
}

/// An active RMCP+ session at ADMINISTRATOR privilege. Close it with [`Session::close`];
/// dropping it sends a best-effort Close Session without waiting for the answer.
#[derive(Debug)]
pub struct Session {
    link: Link,
    username: String,
    suite: CipherSuite,
    keys: SessionKeys,
    console_sid: u32,
    bmc_sid: u32,
    out_seq: u32,
    rq_seq: u8,
    recent_in: VecDeque<u32>,
    closed: bool,
}

/// How one cipher suite attempt ended, when it did not produce a session.
enum Attempt {
    /// The BMC does not do this suite: try the next one.
    Unsupported(Error),
    /// A real failure: stop.
    Fatal(Error),
}

impl Session {
    /// Opens a session as `config` says (see the module documentation for the steps).
    pub async fn connect(config: Config) -> Result<Session, Error> {
        let Config {
            host,
            port,
            username,
            password,
            cipher_suite,
            timeout,
            retries,
        } = config;
        let invalid = |reason| Error::InvalidConfig {
            host: host.clone(),
            reason,
        };
        if username.len() > rakp::MAX_USERNAME {
            return Err(invalid("user name longer than 16 bytes"));
        }
        if password.len() > rakp::MAX_PASSWORD {
            return Err(invalid("password longer than 20 bytes"));
        }
        if timeout.is_zero() {
            return Err(invalid("timeout is zero"));
        }
        let peer = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|source| Error::Resolve {
                host: host.clone(),
                source,
            })?
            .next()
            .ok_or_else(|| Error::Resolve {
                host: host.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
            })?;
        let local: SocketAddr = if peer.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|source| Error::Socket {
                host: host.clone(),
                port,
                source,
            })?;
        let mut link = Link {
            socket,
            peer,
            host,
            port,
            timeout,
            retries,
            stats: Stats::default(),
            buf: vec![0u8; 1024],
        };

        // 1. Get Channel Authentication Capabilities (22.13): current channel (0xE), with
        //    bit 7 asking for the IPMI v2.0 extended data, for ADMINISTRATOR.
        let rq_seq = 1u8;
        let msg = wire::ipmi_request(
            NETFN_APP,
            rq_seq,
            CMD_GET_CHANNEL_AUTH_CAPS,
            &[0x8E, rakp::ROLE_ADMIN],
        );
        let answer = link
            .exchange(
                "Get Channel Authentication Capabilities",
                || wire::encode_v15(&msg),
                |d| {
                    let r = wire::ipmi_response(wire::decode_v15(d)?)?;
                    (r.netfn == NETFN_APP + 1
                        && r.cmd == CMD_GET_CHANNEL_AUTH_CAPS
                        && r.rq_seq == rq_seq)
                        .then_some(r)
                },
            )
            .await?;
        if answer.ccode != 0 {
            return Err(Error::Completion {
                host: link.host.clone(),
                command: "Get Channel Authentication Capabilities",
                code: CompletionCode::new(answer.ccode),
            });
        }
        let caps = parse_channel_auth_caps(&answer.data).ok_or_else(|| Error::Malformed {
            host: link.host.clone(),
            step: "Get Channel Authentication Capabilities",
            reason: format!("{} data bytes, expected 8", answer.data.len()),
        })?;
        if !caps.ipmi20 {
            return Err(Error::NotIpmi20 {
                host: link.host.clone(),
            });
        }
        debug!(host = %link.host, channel = caps.channel, "BMC speaks IPMI v2.0");

        // 2. Open Session and RAKP, suite by suite.
        let candidates = cipher_suite.candidates();
        let mut last = None;
        for (i, suite) in candidates.iter().copied().enumerate() {
            let more = i + 1 < candidates.len();
            match handshake(&mut link, &username, password.as_bytes(), suite, more).await {
                Ok((keys, console_sid, bmc_sid)) => {
                    let mut session = Session {
                        link,
                        username,
                        suite,
                        keys,
                        console_sid,
                        bmc_sid,
                        out_seq: 0,
                        rq_seq: 0,
                        recent_in: VecDeque::with_capacity(32),
                        closed: false,
                    };
                    // 3. Set Session Privilege Level (22.18) to ADMINISTRATOR.
                    let r = session
                        .request(
                            "Set Session Privilege Level",
                            NETFN_APP,
                            CMD_SET_SESSION_PRIVILEGE,
                            &[rakp::ROLE_ADMIN],
                        )
                        .await?;
                    if r.ccode != 0 {
                        let code = commands::code(r.ccode, SET_PRIVILEGE_CODES);
                        return Err(Error::Authentication {
                            host: session.link.host.clone(),
                            username: session.username.clone(),
                            reason: AuthFailure::Privilege(code),
                        });
                    }
                    debug!(host = %session.link.host, suite = suite.id(), "IPMI session open");
                    return Ok(session);
                }
                Err(Attempt::Unsupported(e)) if more => {
                    debug!(host = %link.host, suite = suite.id(), error = %e, "cipher suite not usable, trying the next");
                    last = Some(e);
                }
                Err(Attempt::Unsupported(e) | Attempt::Fatal(e)) => return Err(e),
            }
        }
        Err(last.unwrap_or(Error::InvalidConfig {
            host: link.host.clone(),
            reason: "no cipher suite to try",
        }))
    }

    /// The negotiated cipher suite.
    pub fn cipher_suite(&self) -> CipherSuite {
        self.suite
    }

    /// Traffic counters, including the handshake.
    pub fn stats(&self) -> Stats {
        self.link.stats
    }

    /// The BMC's host as configured.
    pub fn host(&self) -> &str {
        &self.link.host
    }

    /// Get Chassis Status (28.2).
    pub async fn chassis_status(&mut self) -> Result<ChassisStatus, Error> {
        const STEP: &str = "Get Chassis Status";
        let d = self
            .command(STEP, NETFN_CHASSIS, CMD_GET_CHASSIS_STATUS, &[], &[])
            .await?;
        parse_chassis_status(&d).ok_or_else(|| self.malformed(STEP, &d, "at least 3"))
    }

    /// Chassis Control (28.3): power down, up, cycle, hard reset or soft shutdown.
    pub async fn chassis_control(&mut self, action: ChassisControl) -> Result<(), Error> {
        self.command(
            "Chassis Control",
            NETFN_CHASSIS,
            CMD_CHASSIS_CONTROL,
            &[action.code()],
            &[],
        )
        .await
        .map(drop)
    }

    /// Sets the boot device override (boot option parameter 5), the way ipmitool's
    /// `chassis bootdev` does: set-in-progress, clear the BIOS boot-info acknowledge, write
    /// the boot flags, commit, set-complete. The set-in-progress and acknowledge steps are
    /// optional in the spec; a BMC that rejects them (ipmi_sim answers 0xCC to parameter 0)
    /// still gets the boot flags.
    pub async fn set_boot_device(
        &mut self,
        device: BootDevice,
        options: BootOptions,
    ) -> Result<(), Error> {
        const STEP: &str = "Set System Boot Options";
        let in_progress = self
            .optional_boot_param(PARAM_SET_IN_PROGRESS, &[0x01])
            .await?;
        // Boot info acknowledge: write mask and data for "BIOS/POST" (bit 0), as ipmitool.
        self.optional_boot_param(PARAM_BOOT_INFO_ACK, &[0x01, 0x01])
            .await?;
        let mut data = vec![PARAM_BOOT_FLAGS];
        data.extend_from_slice(&boot_flags_data(device, options));
        let result = self
            .command(
                STEP,
                NETFN_CHASSIS,
                CMD_SET_BOOT_OPTIONS,
                &data,
                BOOT_OPTION_CODES,
            )
            .await;
        if in_progress {
            if result.is_ok() {
                self.optional_boot_param(PARAM_SET_IN_PROGRESS, &[0x02])
                    .await?;
            }
            self.optional_boot_param(PARAM_SET_IN_PROGRESS, &[0x00])
                .await?;
        }
        result.map(drop)
    }

    /// Writes a boot option parameter whose failure is tolerated; true if it was accepted.
    async fn optional_boot_param(&mut self, param: u8, value: &[u8]) -> Result<bool, Error> {
        let mut data = vec![param];
        data.extend_from_slice(value);
        match self
            .command(
                "Set System Boot Options",
                NETFN_CHASSIS,
                CMD_SET_BOOT_OPTIONS,
                &data,
                BOOT_OPTION_CODES,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(Error::Completion { code, .. }) => {
                debug!(host = %self.link.host, param, %code, "optional boot parameter refused");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Get System Boot Options, parameter 5 (boot flags), parsed.
    pub async fn boot_device(&mut self) -> Result<BootFlags, Error> {
        const STEP: &str = "Get System Boot Options";
        let d = self
            .command(
                STEP,
                NETFN_CHASSIS,
                CMD_GET_BOOT_OPTIONS,
                &[PARAM_BOOT_FLAGS, 0, 0],
                BOOT_OPTION_CODES,
            )
            .await?;
        parse_boot_flags(&d).ok_or_else(|| self.malformed(STEP, &d, "7, for parameter 5"))
    }

    /// Get Device ID (20.1).
    pub async fn device_id(&mut self) -> Result<DeviceId, Error> {
        const STEP: &str = "Get Device ID";
        let d = self
            .command(STEP, NETFN_APP, CMD_GET_DEVICE_ID, &[], &[])
            .await?;
        parse_device_id(&d).ok_or_else(|| self.malformed(STEP, &d, "at least 11"))
    }

    /// Sends any IPMI request in the session; returns the data after a 0x00 completion
    /// code.
    pub async fn raw(&mut self, netfn: u8, cmd: u8, data: &[u8]) -> Result<Vec<u8>, Error> {
        self.command("raw request", netfn, cmd, data, &[]).await
    }

    /// Close Session (22.19).
    pub async fn close(mut self) -> Result<(), Error> {
        let sid = self.bmc_sid.to_le_bytes();
        let r = self
            .request("Close Session", NETFN_APP, CMD_CLOSE_SESSION, &sid)
            .await;
        self.closed = true;
        let r = r?;
        if r.ccode != 0 {
            return Err(Error::Completion {
                host: self.link.host.clone(),
                command: "Close Session",
                code: commands::code(r.ccode, CLOSE_SESSION_CODES),
            });
        }
        debug!(host = %self.link.host, "IPMI session closed");
        Ok(())
    }

    fn malformed(&self, step: &'static str, d: &[u8], expected: &str) -> Error {
        Error::Malformed {
            host: self.link.host.clone(),
            step,
            reason: format!("{} data bytes, expected {expected}", d.len()),
        }
    }

    async fn command(
        &mut self,
        step: &'static str,
        netfn: u8,
        cmd: u8,
        data: &[u8],
        specific: &[(u8, &'static str)],
    ) -> Result<Vec<u8>, Error> {
        let r = self.request(step, netfn, cmd, data).await?;
        if r.ccode != 0 {
            return Err(Error::Completion {
                host: self.link.host.clone(),
                command: step,
                code: commands::code(r.ccode, specific),
            });
        }
        Ok(r.data)
    }

    /// One request/response in the session.
    async fn request(
        &mut self,
        step: &'static str,
        netfn: u8,
        cmd: u8,
        data: &[u8],
    ) -> Result<wire::IpmiResponse, Error> {
        self.rq_seq = (self.rq_seq + 1) & 0x3F;
        let rq_seq = self.rq_seq;
        let msg = wire::ipmi_request(netfn, rq_seq, cmd, data);
        let keys = &self.keys;
        let (bmc_sid, console_sid) = (self.bmc_sid, self.console_sid);
        let out_seq = &mut self.out_seq;
        let recent = &mut self.recent_in;
        self.link
            .exchange(
                step,
                || {
                    *out_seq = out_seq.wrapping_add(1).max(1);
                    wire::encode_v2(payload::IPMI, bmc_sid, *out_seq, &msg, Some(keys))
                },
                |d| {
                    let p = wire::decode_v2(d, Some(keys))?;
                    if p.payload_type != payload::IPMI
                        || p.session_id != console_sid
                        || recent.contains(&p.seq)
                    {
                        return None;
                    }
                    let r = wire::ipmi_response(&p.payload)?;
                    if r.netfn != netfn + 1 || r.cmd != cmd || r.rq_seq != rq_seq {
                        return None;
                    }
                    if recent.len() == 32 {
                        recent.pop_front();
                    }
                    recent.push_back(p.seq);
                    Some(r)
                },
            )
            .await
    }

    /// Close Session without waiting: for `Drop`.
    fn close_now(&mut self) {
        self.rq_seq = (self.rq_seq + 1) & 0x3F;
        self.out_seq = self.out_seq.wrapping_add(1).max(1);
        let msg = wire::ipmi_request(
            NETFN_APP,
            self.rq_seq,
            CMD_CLOSE_SESSION,
            &self.bmc_sid.to_le_bytes(),
        );
        let d = wire::encode_v2(
            payload::IPMI,
            self.bmc_sid,
            self.out_seq,
            &msg,
            Some(&self.keys),
        );
        if let Err(e) = self.link.socket.try_send_to(&d, self.link.peer) {
            debug!(host = %self.link.host, error = %e, "best-effort Close Session not sent");
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.closed {
            self.close_now();
        }
    }
}

/// Open Session and RAKP 1-4 for one suite: the session keys and (SIDm, SIDc).
async fn handshake(
    link: &mut Link,
    username: &str,
    password: &[u8],
    suite: CipherSuite,
    fallback_possible: bool,
) -> Result<(SessionKeys, u32, u32), Attempt> {
    let host = link.host.clone();
    let unsupported = |reason: String| {
        Attempt::Unsupported(Error::UnsupportedCipherSuite {
            host: host.clone(),
            suite: suite.id(),
            reason,
        })
    };
    let console_sid = rand::random::<u32>().max(1);
    let tag = rand::random::<u8>();

    // Open Session Request / Response (13.17, 13.18).
    let req = rakp::open_session_request(tag, console_sid, suite);
    let open = link
        .exchange(
            "RMCP+ Open Session Request",
            || wire::encode_v2(payload::OPEN_REQUEST, 0, 0, &req, None),
            |d| {
                let p = wire::decode_v2(d, None)?;
                if p.payload_type != payload::OPEN_RESPONSE {
                    return None;
                }
                let o = rakp::parse_open_session_response(&p.payload)?;
                (o.tag == tag && o.console_sid.is_none_or(|s| s == console_sid)).then_some(o)
            },
        )
        .await;
    let open = match open {
        Ok(o) => o,
        // Some BMCs ignore requests for suites they lack; the next suite may work.
        Err(e @ Error::Timeout { .. }) if fallback_possible => {
            return Err(Attempt::Unsupported(e));
        }
        Err(e) => return Err(Attempt::Fatal(e)),
    };
    if open.status != 0 {
        let status = RakpStatus(open.status);
        if status.is_algorithm_mismatch() {
            return Err(unsupported(format!(
                "Open Session Response status {status}"
            )));
        }
        return Err(Attempt::Fatal(Error::SessionRefused {
            host,
            step: "RMCP+ Open Session Request",
            status,
        }));
    }
    if open.algorithms != suite.algorithms() {
        let (a, i, c) = open.algorithms;
        return Err(unsupported(format!(
            "BMC chose authentication/integrity/confidentiality algorithms \
             {a:#04x}/{i:#04x}/{c:#04x} instead of the suite's"
        )));
    }
    if open.bmc_sid == 0 {
        return Err(Attempt::Fatal(Error::Malformed {
            host,
            step: "RMCP+ Open Session Request",
            reason: "managed system session ID 0".into(),
        }));
    }

    // RAKP 1 / 2 (13.20, 13.21).
    let hs = Handshake::new(
        suite.hash(),
        console_sid,
        open.bmc_sid,
        username.as_bytes(),
        password,
    );
    let rakp1 = hs.rakp1(tag);
    let code_len = suite.hash().len();
    let auth_error = |reason| {
        Attempt::Fatal(Error::Authentication {
            host: host.clone(),
            username: username.to_string(),
            reason,
        })
    };
    let r2 = link
        .exchange(
            "RAKP message 1",
            || wire::encode_v2(payload::RAKP1, 0, 0, &rakp1, None),
            |d| {
                let p = wire::decode_v2(d, None)?;
                if p.payload_type != payload::RAKP2 {
                    return None;
                }
                let r = rakp::parse_rakp2(&p.payload, code_len)?;
                (r.tag == tag && r.console_sid.is_none_or(|s| s == console_sid)).then_some(r)
            },
        )
        .await
        .map_err(|e| match e {
            // It answered Open Session a moment ago, so it is there: it ignores the user.
            Error::Timeout { .. } => auth_error(AuthFailure::NoRakp2),
            e => Attempt::Fatal(e),
        })?;
    if r2.status != 0 {
        let status = RakpStatus(r2.status);
        return Err(if is_credential_status(status) {
            auth_error(AuthFailure::Rakp2Status(status))
        } else {
            Attempt::Fatal(Error::SessionRefused {
                host,
                step: "RAKP message 1",
                status,
            })
        });
    }
    if !ct_eq(&hs.rakp2_code(&r2.rc, &r2.guid), &r2.code) {
        // Tell the BMC to drop the half-open session (RAKP 3 with "invalid integrity check
        // value"), without waiting for its answer.
        let bye = hs.rakp3(tag, 0x0F, &r2.rc);
        let _ = link
            .send(&wire::encode_v2(payload::RAKP3, 0, 0, &bye, None))
            .await;
        warn!(host = %host, username, "BMC's RAKP 2 HMAC does not match: wrong password");
        return Err(auth_error(AuthFailure::Rakp2Mismatch));
    }

    // RAKP 3 / 4 (13.22, 13.23).
    let rakp3 = hs.rakp3(tag, 0, &r2.rc);
    let icv_len = hs.icv_len();
    let r4 = link
        .exchange(
            "RAKP message 3",
            || wire::encode_v2(payload::RAKP3, 0, 0, &rakp3, None),
            |d| {
                let p = wire::decode_v2(d, None)?;
                if p.payload_type != payload::RAKP4 {
                    return None;
                }
                let r = rakp::parse_rakp4(&p.payload, icv_len)?;
                (r.tag == tag && r.console_sid.is_none_or(|s| s == console_sid)).then_some(r)
            },
        )
        .await
        .map_err(Attempt::Fatal)?;
    if r4.status != 0 {
        let status = RakpStatus(r4.status);
        return Err(if is_credential_status(status) {
            auth_error(AuthFailure::Rakp4Status(status))
        } else {
            Attempt::Fatal(Error::SessionRefused {
                host,
                step: "RAKP message 3",
                status,
            })
        });
    }
    let sik = hs.sik(&r2.rc);
    if !ct_eq(&hs.rakp4_icv(&sik, &r2.guid), &r4.icv) {
        warn!(host = %host, "BMC's RAKP 4 integrity check value does not match");
        return Err(auth_error(AuthFailure::Rakp4Mismatch));
    }
    let keys = SessionKeys::derive(suite.hash(), &sik, suite.authcode_len());
    Ok((keys, console_sid, open.bmc_sid))
}

/// RAKP status codes that mean "these credentials are not accepted".
fn is_credential_status(s: RakpStatus) -> bool {
    matches!(s.0, 0x09 | 0x0A | 0x0C | 0x0D | 0x0E | 0x0F)
}
