"""A fake Redfish BMC that echoes credentials back in its error messages.

No real Redfish implementation (sushy-tools included) echoes a password, so this mock
stands in for the broken BMCs that do: the session login answers 400 quoting the JSON
body it received (as text, re-encoded by Python's ASCII-only json.dumps, and
form-encoded), and every other request answers 401 quoting the Authorization header and
the decoded user:password (raw, percent- and form-encoded).

usage: echo_bmc.py PORT CERT KEY
"""
import base64
import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus

ROOT = {
    "@odata.id": "/redfish/v1/",
    "Systems": {"@odata.id": "/redfish/v1/Systems"},
    "Links": {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}},
}


class Handler(BaseHTTPRequestHandler):
    def reply(self, code, doc):
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, code, message, infos):
        self.reply(code, {"error": {
            "code": "Base.1.0.GeneralError",
            "message": message,
            "@Message.ExtendedInfo": [{"Message": m} for m in infos],
        }})

    def do_GET(self):
        if self.path.rstrip("/") == "/redfish/v1":
            return self.reply(200, ROOT)
        auth = self.headers.get("Authorization", "")
        pair = ""
        if auth.startswith("Basic "):
            pair = base64.b64decode(auth[6:]).decode("utf-8", "replace")
        self.error(401, "rejected Authorization: " + auth, [
            "credentials " + pair,
            "form " + quote_plus(pair),
            "uri " + quote(pair, safe=""),
            "json " + json.dumps(pair),
        ])

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        text = self.rfile.read(length).decode("utf-8", "replace")
        try:
            password = json.loads(text).get("Password", "")
        except ValueError:
            password = ""
        self.error(400, "cannot create a session from " + text, [
            "ascii json " + json.dumps(json.loads(text)),
            "form Password=" + quote_plus(password),
        ])

    def do_DELETE(self):
        self.reply(204, {})

    def log_message(self, *args):
        pass


def main():
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


main()
