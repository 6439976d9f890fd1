"""A throwaway Postgres speaking TLS, with certificates from a private CA made on the spot.

The server comes from the first Postgres build on this machine that has OpenSSL: pgserver's
bundled binaries (built without it, as of pgserver 0.1), then ``/usr/lib/postgresql/*/bin``
(Debian's packages), then ``postgres`` on ``PATH``. Postgres refuses to run as root, so under
root it runs as the ``postgres`` (or ``pgserver``) system user.

``pg_hba.conf``: plaintext or TLS for every database, except ``tlsonly`` (TLS or nothing) and
``certonly`` (TLS with a client certificate whose CN is the user).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOW_TO_RUN = (
    "no Postgres build with OpenSSL found (pgserver's is built without it); install one, e.g."
    " `apt-get install postgresql` (binaries under /usr/lib/postgresql/<v>/bin), to run the"
    " TLS tests"
)


@dataclass(frozen=True)
class Issued:
    """A PEM certificate and key on disk."""

    cert: Path
    key: Path


class PrivateCA:
    """A self-signed CA (P-256) that issues server and client certificates into ``directory``."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._subject = subject
        self._cert = (
            _builder(subject, subject, self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.cert = directory / f"{name}.crt"
        self.cert.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, common_name: str, *, dns: tuple[str, ...] = ()) -> Issued:
        """A leaf certificate for ``common_name`` with ``dns`` as its SAN DNS names."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        builder = _builder(subject, self._subject, key.public_key())
        if dns:
            names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        out = Issued(self.directory / f"{name}.crt", self.directory / f"{name}.key")
        out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        out.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        out.key.chmod(0o600)
        return out


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )


def postgres_bindir_with_ssl() -> Path | None:
    """The first bin directory holding initdb, pg_ctl and a pg_config built with OpenSSL."""
    candidates: list[Path] = []
    with contextlib.suppress(ImportError):
        import pgserver._commands as commands

        candidates.append(Path(commands.POSTGRES_BIN_PATH))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        config = bindir / "pg_config"
        if not ((bindir / "initdb").exists() and (bindir / "pg_ctl").exists()):
            continue
        if config.exists():
            flags = subprocess.run(
                [str(config), "--configure"], capture_output=True, text=True, check=False
            ).stdout
            if "openssl" in flags:
                return bindir
    return None


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no postgres/pgserver system user to run Postgres")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


HBA = """\
local   all       all                    trust
hostssl certonly  all  127.0.0.1/32      cert
hostnossl certonly all 127.0.0.1/32      reject
hostssl tlsonly   all  127.0.0.1/32      trust
hostnossl tlsonly all  127.0.0.1/32      reject
host    all       all  127.0.0.1/32      trust
host    all       all  ::1/128           trust
"""


class TlsPostgres:
    """initdb + pg_ctl start on 127.0.0.1:<free port> with ``ssl = on`` (or off).

    Attributes:
        ca: the private CA that signed the server certificate (SAN DNS ``localhost`` only, so
            ``127.0.0.1`` does not match it).
        port: the TCP port.
        socket_dir: the Unix socket directory (superuser ``postgres``, trust).
    """

    def __init__(self, bindir: Path, *, ssl: bool = True) -> None:
        self.bindir = bindir
        self.user = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="cj-tls-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.port = _free_port()
        self.ca = PrivateCA(self.root, "test-ca")
        self.other_ca = PrivateCA(self.root, "other-ca")
        self.server = self.ca.issue("server", "localhost", dns=("localhost",))
        self.ssl = ssl
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in [self.root, *self.root.iterdir()]:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            list(args), user=self.user, cwd=self.root, capture_output=True, text=True
        )
        if done.returncode != 0:
            log = self.root / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}{tail}")

    def start(self) -> TlsPostgres:
        """initdb, configure, start; waits until the server accepts connections."""
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        conf = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.socket_dir}'",
            "fsync = off",
            f"ssl = {'on' if self.ssl else 'off'}",
        ]
        if self.ssl:
            conf += [
                f"ssl_cert_file = '{self.server.cert}'",
                f"ssl_key_file = '{self.server.key}'",
                f"ssl_ca_file = '{self.ca.cert}'",
            ]
        with (self.data / "postgresql.conf").open("a") as f:
            f.write("\n".join(conf) + "\n")
        (self.data / "pg_hba.conf").write_text(HBA)
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
            "-w", "-t", "30", "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        """Stop the server (fast) and delete its directory."""
        with contextlib.suppress(Exception):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, host: str = "localhost", database: str = "postgres", **query: str) -> str:
        """``postgresql://postgres@<host>:<port>/<database>?<query>``."""
        tail = "&".join(f"{k}={v}" for k, v in query.items())
        return f"postgresql://postgres@{host}:{self.port}/{database}" + (f"?{tail}" if tail else "")

    def admin_url(self) -> str:
        """The superuser over the Unix socket (never TLS)."""
        return f"postgresql://postgres@/postgres?host={self.socket_dir}&port={self.port}"
