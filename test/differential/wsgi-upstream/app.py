"""A WSGI app for the differential suite, served by the standard library's wsgiref.

It routes on PATH_INFO and HTTP_HOST as a WSGI app reads them (wsgiref decodes the path and folds
every header name the CGI way: "-" and "_" both become "_", so x-kratos_aal is HTTP_X_KRATOS_AAL),
and prints one JSON line per request it served. The first line it prints is its port.
"""
import json
import re
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

MARKER = re.compile(r"zz[0-9a-z]{8}")
IDENTITY = {
    "identity-id": "HTTP_X_KRATOS_IDENTITY_ID",
    "session-id": "HTTP_X_KRATOS_SESSION_ID",
    "aal": "HTTP_X_KRATOS_AAL",
    "email": "HTTP_X_USER_EMAIL",
    "jwt": "HTTP_X_KRATOS_JWT",
}


def host_route(host):
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.lower().rstrip(".")
    return {"admin.example.com": "admin-host", "secure.example.com": "secure-port"}.get(name)


def under(path, prefix):
    return path == prefix or path.startswith(prefix + "/")


def path_route(method, path):
    if under(path, "/admin"):
        return "admin"
    if under(path, "/data") and method == "DELETE":
        return "no-delete"
    if under(path, "/public"):
        return "public"
    return "default"


def app(environ, start_response):
    method = environ["REQUEST_METHOD"]
    # As Rack::MethodOverride and its WSGI ports do: a POST may say which method it means.
    override = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE")
    if method == "POST" and override:
        method = override.upper()
    host = environ.get("HTTP_HOST", "")
    route = host_route(host) or path_route(method, environ.get("PATH_INFO", ""))
    raw = environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", "")
    found = MARKER.search(raw)
    record = {
        "framework": "wsgi",
        "marker": environ.get("HTTP_X_DIFF_MARKER") or (found.group(0) if found else ""),
        "route": route,
        "host": host,
        "method": method,
        "identity": {key: environ[name] for key, name in IDENTITY.items() if name in environ},
    }
    line = json.dumps(record)
    print(line, flush=True)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [line.encode()]


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


if __name__ == "__main__":
    server = make_server("127.0.0.1", 0, app, server_class=Threading, handler_class=Quiet)
    print(server.server_port, flush=True)
    server.serve_forever()
