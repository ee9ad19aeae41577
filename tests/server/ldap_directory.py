"""A real OpenLDAP ``slapd`` for the LDAP login tests: its own config and data in a temp dir, seeded
with ``slapadd``, listening on a free 127.0.0.1 port.

People under ``ou=people,dc=example,dc=org`` (uid, cn, mail, a salted SHA-1 ``userPassword``); a
service account ``cn=reader,dc=example,dc=org`` that may search. Anonymous clients may only bind.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUFFIX = "dc=example,dc=org"
PEOPLE = f"ou=people,{SUFFIX}"
SERVICE_DN = f"cn=reader,{SUFFIX}"
SERVICE_PASSWORD = "reader-secret"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")


def slapd_binary() -> str | None:
    """The slapd program, or None (Debian puts it in /usr/sbin, which may not be on PATH)."""
    return shutil.which("slapd") or shutil.which("slapd", path="/usr/sbin:/usr/local/sbin")


def ssha(password: str) -> str:
    """An OpenLDAP ``{SSHA}`` value: SHA-1 of the password and a salt, then the salt, base64."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _make_certificates(directory: Path) -> None:
    """A private CA (``ca.pem``) and a certificate it signed for 127.0.0.1 (``server.pem``, its key)."""

    def openssl(*arguments: str) -> None:
        subprocess.run(["openssl", *arguments], cwd=directory, check=True, capture_output=True)

    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl(
        "req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA"
    )
    openssl("req", "-new", *curve, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "san.ext",
    )  # fmt: skip


class Directory:
    """One slapd; ``people`` maps uid to (password, cn, mail). With ``tls``, it also offers StartTLS
    on ``url`` and TLS from the start on ``tls_url``, with a certificate that ``ca_file`` verifies."""

    def __init__(self, people: dict[str, tuple[str, str, str]], *, tls: bool = False) -> None:
        binary = slapd_binary()
        assert binary is not None
        self.slapd = binary
        self.slapadd = str(Path(binary).with_name("slapadd"))
        self.root = Path(tempfile.mkdtemp(prefix="timesync-slapd-"))
        self.port = _free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.tls_url = f"ldaps://127.0.0.1:{_free_port()}" if tls else None
        self.ca_file = str(self.root / "ca.pem") if tls else None
        self.process: subprocess.Popen[bytes] | None = None
        if tls:
            _make_certificates(self.root)
        (self.root / "data").mkdir()
        self.config = self.root / "slapd.conf"
        self.config.write_text(self._config())
        ldif = self.root / "seed.ldif"
        ldif.write_text(self._seed(people))
        subprocess.run(
            [self.slapadd, "-q", "-f", str(self.config), "-l", str(ldif)], check=True, capture_output=True
        )

    def _config(self) -> str:
        schemas = "".join(
            f"include {SCHEMA_DIR / name}.schema\n" for name in ("core", "cosine", "inetorgperson", "nis")
        )
        module_path = (
            f"modulepath {MODULE_DIR}\nmoduleload back_mdb\n" if (MODULE_DIR / "back_mdb.so").exists() else ""
        )
        tls = (
            f"TLSCACertificateFile {self.root / 'ca.pem'}\n"
            f"TLSCertificateFile {self.root / 'server.pem'}\n"
            f"TLSCertificateKeyFile {self.root / 'server.key'}\n"
        )
        return (
            f"{schemas}{module_path}{tls if self.tls_url else ''}"
            f"pidfile {self.root / 'slapd.pid'}\n"
            "database mdb\n"
            "maxsize 10485760\n"
            f'suffix "{SUFFIX}"\n'
            f'rootdn "cn=admin,{SUFFIX}"\n'
            f"directory {self.root / 'data'}\n"
            "access to attrs=userPassword by anonymous auth by self read by * none\n"
            "access to * by users read by * none\n"
        )

    @staticmethod
    def _seed(people: dict[str, tuple[str, str, str]]) -> str:
        entries = [
            f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n",
            f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
            f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
            f"cn: reader\nuserPassword: {ssha(SERVICE_PASSWORD)}\n",
        ]
        for uid, (password, name, mail) in people.items():
            entries.append(
                f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name}\n"
                f"sn: {name.split()[-1]}\nmail: {mail}\nuserPassword: {ssha(password)}\n"
            )
        return "\n".join(entries)

    def start(self) -> None:
        """Run slapd in the foreground (``-d 0``) and wait until it accepts connections."""
        self.process = subprocess.Popen(
            [
                self.slapd,
                "-d",
                "0",
                "-f",
                str(self.config),
                "-h",
                " ".join(filter(None, (self.url, self.tls_url))),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"slapd exited: {error[-2000:]}")
            try:
                for url in filter(None, (self.url, self.tls_url)):
                    socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("slapd did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
