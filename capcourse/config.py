"""Configuration from the environment, with defaults that are safe to run."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from capcourse import jsoncodec

#: Environment variables read, with the setting each one fills.
ENVIRONMENT = {
    "CAPCOURSE_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "CAPCOURSE_SECRET_KEY": "SECRET_KEY",
    "CAPCOURSE_BASE_URL": "CAPCOURSE_BASE_URL",
    "CAPCOURSE_MAX_CONTENT_LENGTH": "MAX_CONTENT_LENGTH",
    "CAPCOURSE_PACKAGE_DIR": "CAPCOURSE_PACKAGE_DIR",
    "CAPCOURSE_PACKAGE_MAX_BYTES": "CAPCOURSE_PACKAGE_MAX_BYTES",
    "CAPCOURSE_PACKAGE_MAX_UNPACKED_BYTES": "CAPCOURSE_PACKAGE_MAX_UNPACKED_BYTES",
    "CAPCOURSE_PACKAGE_MAX_FILES": "CAPCOURSE_PACKAGE_MAX_FILES",
    "CAPCOURSE_CASE_MAX_BYTES": "CAPCOURSE_CASE_MAX_BYTES",
    "CAPCOURSE_OUTBOUND_ALLOW": "CAPCOURSE_OUTBOUND_ALLOW",
    "CAPCOURSE_SIGN_IN_LIMIT_ACCOUNT": "CAPCOURSE_SIGN_IN_LIMIT_ACCOUNT",
    "CAPCOURSE_SIGN_IN_LIMIT_ADDRESS": "CAPCOURSE_SIGN_IN_LIMIT_ADDRESS",
    "CAPCOURSE_RATELIMIT_STORAGE_URI": "CAPCOURSE_RATELIMIT_STORAGE_URI",
    "CAPCOURSE_LAUNCH_LIFETIME_HOURS": "CAPCOURSE_LAUNCH_LIFETIME_HOURS",
    "CAPCOURSE_LAUNCH_ALLOWED_ORIGINS": "CAPCOURSE_LAUNCH_ALLOWED_ORIGINS",
    "CAPCOURSE_LAUNCH_MAX_BYTES": "CAPCOURSE_LAUNCH_MAX_BYTES",
    "CAPCOURSE_XAPI_ATTACHMENT_MAX_BYTES": "CAPCOURSE_XAPI_ATTACHMENT_MAX_BYTES",
    "CAPCOURSE_WEB_WORKERS": "CAPCOURSE_WEB_WORKERS",
    "CAPCOURSE_DELIVERY_LEASE_SECONDS": "CAPCOURSE_DELIVERY_LEASE_SECONDS",
    "CAPCOURSE_WEB_THREADS": "CAPCOURSE_WEB_THREADS",
    "CAPCOURSE_API_KEY_CACHE_SECONDS": "CAPCOURSE_API_KEY_CACHE_SECONDS",
    "CAPCOURSE_READY_MAX_BACKLOG": "CAPCOURSE_READY_MAX_BACKLOG",
    "CAPCOURSE_METRICS_TOKEN": "CAPCOURSE_METRICS_TOKEN",
    "CAPCOURSE_METRICS_PUBLIC": "CAPCOURSE_METRICS_PUBLIC",
    "CAPCOURSE_LOG_FORMAT": "CAPCOURSE_LOG_FORMAT",
    "CAPCOURSE_LOG_LEVEL": "CAPCOURSE_LOG_LEVEL",
    "CAPCOURSE_TRUSTED_PROXIES": "CAPCOURSE_TRUSTED_PROXIES",
}

INTEGER_SETTINGS = {
    "CAPCOURSE_WEB_WORKERS",
    "CAPCOURSE_API_KEY_CACHE_SECONDS",
    "CAPCOURSE_DELIVERY_LEASE_SECONDS",
    "CAPCOURSE_WEB_THREADS",
    "CAPCOURSE_READY_MAX_BACKLOG",
    "CAPCOURSE_TRUSTED_PROXIES",
    "CAPCOURSE_LAUNCH_LIFETIME_HOURS",
    "CAPCOURSE_LAUNCH_MAX_BYTES",
    "CAPCOURSE_XAPI_ATTACHMENT_MAX_BYTES",
    "CAPCOURSE_PACKAGE_MAX_BYTES",
    "CAPCOURSE_PACKAGE_MAX_UNPACKED_BYTES",
    "CAPCOURSE_PACKAGE_MAX_FILES",
    "MAX_CONTENT_LENGTH",
    "CAPCOURSE_CASE_MAX_BYTES",
}


def _instance_secret_key(instance_path: str) -> str:
    """Return the secret key kept in the instance folder, creating it once.

    A key generated per process would log everyone out on every restart and
    differ between workers, so it is persisted beside the SQLite database.
    """
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written to a file only its owner can read from the start (mkstemp makes it
        # 0600: writing first and chmod-ing after would leave a moment in which others
        # could read it), then put in place whole, once: of two processes starting
        # together, the second finds the first's key, never a half-written one.
        descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=".secret_key-")
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(48))
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path.read_text().strip()


def load_config(instance_path: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the settings for one application.

    Precedence: ``overrides`` (tests, embedding code), then ``CAPCOURSE_*``
    environment variables, then defaults.

    :param instance_path: the Flask instance folder, home of the default SQLite
        database and the persisted secret key.
    :param overrides: settings that win over everything else.
    """
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(instance_path) / 'capcourse.db'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "CAPCOURSE_BASE_URL": "http://127.0.0.1:5000",
        # Uploads (SCORM packages, CASE files) are capped; JSON bodies are far smaller.
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        # SCORM packages: the upload (a zip) and what it may unpack to.
        "CAPCOURSE_PACKAGE_DIR": str(Path(instance_path) / "packages"),
        "CAPCOURSE_PACKAGE_MAX_BYTES": 512 * 1024 * 1024,
        "CAPCOURSE_PACKAGE_MAX_UNPACKED_BYTES": 2 * 1024 * 1024 * 1024,
        "CAPCOURSE_PACKAGE_MAX_FILES": 20_000,
        # The largest CASE package an import reads, uploaded or fetched from a URL.
        "CAPCOURSE_CASE_MAX_BYTES": 16 * 1024 * 1024,
        # Hosts and networks inside the institution that URL fetches may reach
        # (everything else private is refused: capcourse.outbound).
        "CAPCOURSE_OUTBOUND_ALLOW": "",
        # Failed sign-ins allowed per account and per client address (limits'
        # notation), and where the counts live: memory:// per process, or a
        # redis:// / memcached:// URI that several web processes share.
        "CAPCOURSE_SIGN_IN_LIMIT_ACCOUNT": "5/minute;20/hour",
        "CAPCOURSE_SIGN_IN_LIMIT_ADDRESS": "30/minute;200/hour",
        "CAPCOURSE_RATELIMIT_STORAGE_URI": "memory://",
        # SCORM launches: how long a launch token lets a player commit, which
        # origins (the LMS's, where the player runs) may commit, and the largest commit.
        "CAPCOURSE_LAUNCH_LIFETIME_HOURS": 24,
        "CAPCOURSE_LAUNCH_ALLOWED_ORIGINS": "*",
        "CAPCOURSE_LAUNCH_MAX_BYTES": 256 * 1024,
        # The largest xAPI statement attachment kept (the request as a whole is capped by MAX_CONTENT_LENGTH).
        "CAPCOURSE_XAPI_ATTACHMENT_MAX_BYTES": 8 * 1024 * 1024,
        # capcourse serve: web worker processes (Granian), and threads in each.
        "CAPCOURSE_WEB_WORKERS": 2,
        "CAPCOURSE_WEB_THREADS": 8,
        # How long a web worker takes an integration key it has read as still valid (0: reads it
        # at every request); a key revoked elsewhere is refused everywhere within this time.
        "CAPCOURSE_API_KEY_CACHE_SECONDS": 2,
        "API_TITLE": "capcourse",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_SPEC_OPTIONS": {
            "info": {
                "description": (
                    "Capability frameworks, course mapping, learning records and "
                    "curriculum coverage. Errors share one shape: "
                    '{"code", "status", "message", "errors"}.'
                )
            },
            "components": {
                "securitySchemes": {
                    "apiKey": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "An API key from `capcourse keys create`.",
                    },
                    "basicAuth": {
                        "type": "http",
                        "scheme": "basic",
                        "description": "xAPI resource: an integration API key as the password.",
                    },
                    "launchToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "SCORM run-time commits: the token POST /api/v1/launches returned.",
                    },
                }
            },
        },
        "JSON_SORT_KEYS": False,
        # LRS destinations of emitted statements: {name: {endpoint, username, password}}.
        # CAPCOURSE_LRS_ENDPOINT (+ _USERNAME, _PASSWORD) fills the one called "default".
        "CAPCOURSE_LRS_DESTINATIONS": {},
        "CAPCOURSE_DELIVERY_MAX_ATTEMPTS": 10,
        "CAPCOURSE_DELIVERY_BATCH_SIZE": 100,
        # How long a worker holds a claimed batch: longer than sending one can take
        # (each request has a 10 s timeout). A worker that dies leaves its batch for this long.
        "CAPCOURSE_DELIVERY_LEASE_SECONDS": 120,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        # The CSRF token lives as long as the sign-in session.
        "WTF_CSRF_TIME_LIMIT": None,
        # Operations (capcourse.ops): /readyz answers 503 from this many statements
        # waiting for delivery (0: never); /metrics needs this Bearer token if set, and
        # without one answers only requests from this machine unless made public;
        # logs as JSON lines (or text) at this level.
        "CAPCOURSE_READY_MAX_BACKLOG": 100_000,
        "CAPCOURSE_METRICS_TOKEN": "",
        "CAPCOURSE_METRICS_PUBLIC": "",
        "CAPCOURSE_LOG_FORMAT": "json",
        "CAPCOURSE_LOG_LEVEL": "INFO",
        # How many reverse proxies in front set X-Forwarded-For/-Proto/-Host (0: none,
        # the client's address is the peer's; behind nginx, 1).
        "CAPCOURSE_TRUSTED_PROXIES": 0,
    }
    for variable, setting in ENVIRONMENT.items():
        value = os.environ.get(variable)
        if value:
            config[setting] = int(value) if setting in INTEGER_SETTINGS else value
    if overrides:
        config.update(overrides)
    endpoint = os.environ.get("CAPCOURSE_LRS_ENDPOINT")
    if endpoint and "default" not in config["CAPCOURSE_LRS_DESTINATIONS"]:
        config["CAPCOURSE_LRS_DESTINATIONS"] = {
            **config["CAPCOURSE_LRS_DESTINATIONS"],
            "default": {
                "endpoint": endpoint,
                "username": os.environ.get("CAPCOURSE_LRS_USERNAME"),
                "password": os.environ.get("CAPCOURSE_LRS_PASSWORD"),
            },
        }
    # A failed statement's message must not carry its values (password hashes, tokens) into the logs.
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        "hide_parameters": True,
        "json_serializer": jsoncodec.dumps,
        **config["SQLALCHEMY_ENGINE_OPTIONS"],
    }
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret_key(instance_path)
    config["CAPCOURSE_BASE_URL"] = str(config["CAPCOURSE_BASE_URL"]).rstrip("/")
    # Served over HTTPS, the session cookie must never travel in clear.
    config.setdefault("SESSION_COOKIE_SECURE", config["CAPCOURSE_BASE_URL"].startswith("https://"))
    return config
