#!/usr/bin/env python3
"""A BMC built on pyghmi's server side (pyghmi.ipmi.bmc.Bmc) for the IPMI tests of ironbell-ipmi and ironbell-bmc.

Power state and boot flags live in memory. Every chassis action is appended to the log
file given with --log, so a test can see that a reset or soft shutdown reached the BMC.
Prints READY once its UDP socket is bound.

pyghmi's stock Get System Boot Options answers only "valid" and the device (it drops the
persistent and EFI bits); this BMC keeps the five boot-flag bytes it was sent and returns
them, and still passes the device through pyghmi's own parser (set_boot_device).

pyghmi's server session always answers the Open Session Request with cipher suite 3's
algorithms, whatever the client proposed. With --suite17, the handshake methods are
replaced by ones written from the IPMI 2.0 spec (sections 13.17-13.23, 13.31) that honour
a proposal of suite 17 (RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128); pyghmi's own
packet layer (integrity and AES) already follows self.currhashlib / self.currhashlen.
ipmitool -C 17 against this BMC checks that these methods are right.

With --power-delay SECONDS, a power change takes effect that long after the call (as on a
real server), so that a power task stays in flight for a while; the call is logged at once.

usage: pyghmi_bmc.py --port PORT --log FILE [--suite17] [--user admin] [--password password]
       [--power-delay SECONDS]
"""

import argparse
import hashlib
import hmac
import os
import struct
import sys
import threading

import pyghmi.ipmi.bmc as bmc
import pyghmi.ipmi.private.constants as constants
import pyghmi.ipmi.private.serversession as serversession


class Suite17Session(serversession.ServerSession):
    """A server session that does cipher suite 17 when asked, else 3."""

    def create_open_session_response(self, request):
        # Request: tag, privilege, 2 reserved, SIDm, then three 8-byte algorithm payloads
        # with the algorithm number at offset 4 of each (table 13-9).
        auth, integ, conf = request[12], request[20], request[28]
        if (auth, integ, conf) == (3, 4, 1):
            self.currhashlib, self.currhashlen = hashlib.sha256, 16
        else:
            self.currhashlib, self.currhashlen = hashlib.sha1, 12
            auth, integ, conf = 1, 1, 1
        self.clientsessionid = bytes(request[4:8])
        self.managedsessionid = os.urandom(4)
        self.privlevel = 4
        response = bytearray([request[0], 0, self.privlevel, 0])
        response += self.clientsessionid + self.managedsessionid
        for kind, alg in ((0, auth), (1, integ), (2, conf)):
            response += bytearray([kind, 0, 0, 8, alg, 0, 0, 0])
        return response

    def _hmac(self, key, data):
        return hmac.new(key, bytes(data), self.currhashlib).digest()

    def _got_rakp1(self, data):
        # RAKP 1 (table 13-11): tag, 3 reserved, SIDc, Rm (16), role, 2 reserved,
        # name length, name.
        tag = data[0]
        self.Rm = bytes(data[8:24])
        self.rolem = data[24]
        self.maxpriv = self.rolem & 0b111
        self.username = bytes(data[28:28 + data[27]])
        password = self.authdata.get(self.username.decode("utf-8"))
        if password is None:
            return  # like pyghmi: unknown users get no answer
        self.kuid = password.encode("utf-8")
        if self.kg is None:
            self.kg = self.kuid
        self.uuiddata = self.uuid.bytes
        self.Rc = os.urandom(16)
        # RAKP 2 code: HMAC_Kuid(SIDm | SIDc | Rm | Rc | GUIDc | RoleM | ULen | UName).
        code = self._hmac(self.kuid, self.clientsessionid + self.managedsessionid
                          + self.Rm + self.Rc + self.uuiddata
                          + bytes([self.rolem, len(self.username)]) + self.username)
        reply = bytearray([tag, 0, 0, 0]) + self.clientsessionid + self.Rc
        reply += self.uuiddata + code
        self.send_payload(reply, constants.payload_types["rakp2"], retry=False)

    def _got_rakp3(self, data):
        name = bytes([self.rolem, len(self.username)]) + self.username
        # SIK = HMAC_Kg(Rm | Rc | RoleM | ULen | UName); K1, K2 from 20-byte constants.
        self.sik = self._hmac(self.kg, self.Rm + self.Rc + name)
        self.k1 = self._hmac(self.sik, b"\x01" * 20)
        self.k2 = self._hmac(self.sik, b"\x02" * 20)
        self.aeskey = self.k2[0:16]
        # RAKP 3 code: HMAC_Kuid(Rc | SIDm | RoleM | ULen | UName).
        expected = self._hmac(self.kuid, self.Rc + self.clientsessionid + name)
        if data[1] != 0 or not hmac.compare_digest(expected, bytes(data[8:])):
            return
        self.localsid = struct.unpack("<I", self.managedsessionid)[0]
        self.ipmicallback = self.handle_client_request
        self._send_rakp4(data[0], 0)

    def _send_rakp4(self, tag, status):
        # RAKP 4 ICV: HMAC_SIK(Rm | SIDc | GUIDc), truncated to the integrity length.
        icv = self._hmac(self.sik, self.Rm + self.managedsessionid + self.uuiddata)
        reply = bytearray([tag, status, 0, 0]) + self.clientsessionid
        reply += icv[:self.currhashlen]
        self.send_payload(reply, constants.payload_types["rakp4"], retry=False)
        self.confalgo = "aes"
        self.integrityalgo = "sha256" if self.currhashlen == 16 else "sha1"
        self.sequencenumber = 1
        self.sessionid = struct.unpack("<I", self.clientsessionid)[0]


class TestBmc(bmc.Bmc):
    def __init__(self, authdata, port, address, log, power_delay=0.0):
        super().__init__(authdata, port=port, address=address)
        self.powerstate = "off"
        self.power_delay = power_delay
        self.bootdevice = "default"
        self.bootflags = [0, 0, 0, 0, 0]
        self.log = log

    def note(self, what):
        with open(self.log, "a") as f:
            f.write(what + "\n")

    def get_power_state(self):
        return self.powerstate

    def set_power(self, state):
        if self.power_delay > 0:
            timer = threading.Timer(self.power_delay, setattr, (self, "powerstate", state))
            timer.daemon = True
            timer.start()
        else:
            self.powerstate = state

    def power_off(self):
        self.note("power off")
        self.set_power("off")

    def power_on(self):
        self.note("power on")
        self.set_power("on")

    def power_cycle(self):
        self.note("power cycle")
        self.powerstate = "on"

    def power_reset(self):
        self.note("power reset")

    def power_shutdown(self):
        self.note("power shutdown")
        self.powerstate = "off"

    def get_boot_device(self):
        return self.bootdevice

    def set_boot_device(self, bootdevice):
        self.note("boot device " + str(bootdevice))
        self.bootdevice = bootdevice

    def set_system_boot_options(self, request, session):
        data = request["data"]
        if data[0] == 5 and len(data) >= 6:
            self.bootflags = list(data[1:6])
        super().set_system_boot_options(request, session)

    def get_system_boot_options(self, request, session):
        if request["data"][0] == 5:
            session.send_ipmi_response(data=[1, 5] + self.bootflags)
        else:
            super().get_system_boot_options(request, session)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--log", required=True)
    p.add_argument("--user", default="admin")
    p.add_argument("--password", default="password")
    p.add_argument("--suite17", action="store_true")
    p.add_argument("--power-delay", type=float, default=0.0)
    a = p.parse_args()
    if a.suite17:
        serversession.ServerSession = Suite17Session
    server = TestBmc({a.user: a.password}, a.port, a.address, a.log, a.power_delay)
    print("READY", flush=True)
    server.listen()


if __name__ == "__main__":
    sys.exit(main())
