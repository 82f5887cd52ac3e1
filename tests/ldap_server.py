"""A private OpenLDAP server for the campus-directory tests (R20): Debian's `slapd` on a
free loopback port with a generated slapd.conf, a generated CA and server certificate
(StartTLS), and test entries loaded with `slapadd` before it starts. Its stats log
(`-d stats`) records every operation, so tests count the binds that reached it.

The entries (base `dc=example,dc=org`):

    uid=jchan    student, employeeNumber 3035000001, card 2000001234
    uid=mlee     staff,   employeeNumber S0001234,   card 2000005678
    uid=newbie   student, employeeNumber 3035999999, card 2000009999 (no library record)
    uid=gone     student, employeeNumber 3035000002, card 2000002222
    uid=twin1/2  two entries with the same employeeNumber 3035777777
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from patronauth.bootstrap import App
from tests.servers import START_SECONDS, _listening, free_port, missing

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
BASE = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PASSWORD = "admin-secret"
SERVICE_DN = f"cn=patronauth,ou=services,{BASE}"
SERVICE_PASSWORD = "service-account-secret"
PASSWORD_VARIABLE = "PATRONAUTH_DIRECTORY_PASSWORD_HKU"
PEOPLE = f"ou=people,{BASE}"

# uid -> (employeeNumber, card barcode, Portal PIN)
PEOPLE_ENTRIES = {
    "jchan": ("3035000001", "2000001234", "Portal-PIN-jchan1"),
    "mlee": ("S0001234", "2000005678", "Portal-PIN-mlee22"),
    "newbie": ("3035999999", "2000009999", "Portal-PIN-newbie"),
    "gone": ("3035000002", "2000002222", "Portal-PIN-gone33"),
    "twin1": ("3035777777", "2000007771", "Portal-PIN-twin1"),
    "twin2": ("3035777777", "2000007772", "Portal-PIN-twin2"),
}

# A card number attribute, as a university's own schema would have one.
_SCHEMA = """
attributetype ( 1.3.6.1.4.1.32473.1.1 NAME 'hkuCardNumber'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{64} )
objectclass ( 1.3.6.1.4.1.32473.2.1 NAME 'hkuLibraryUser' AUXILIARY MAY ( hkuCardNumber ) )
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path) -> None:
    """A CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2",
        "-subj", "/CN=PatronAuth test CA", "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=127.0.0.1",
        "-keyout", "server.key", "-out", "server.csr", cwd=folder,
    )  # fmt: skip
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem",
        cwd=folder,
    )  # fmt: skip


_certificates: Path | None = None


def _shared_certificates() -> Path:
    """One CA and server certificate per test process (key generation is the slow part)."""
    global _certificates
    if _certificates is None:
        folder = Path(tempfile.mkdtemp(prefix="patronauth-ldap-ca-"))
        atexit.register(shutil.rmtree, folder, True)
        make_certificates(folder)
        _certificates = folder
    return _certificates


def _entries() -> str:
    blocks = [
        f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example",
        f"dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: ou=services,{BASE}\nobjectClass: organizationalUnit\nou: services",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: patronauth\nuserPassword: {SERVICE_PASSWORD}",
    ]
    for uid, (number, card, pin) in PEOPLE_ENTRIES.items():
        blocks.append(
            f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nobjectClass: hkuLibraryUser\n"
            f"uid: {uid}\ncn: {uid}\nsn: {uid}\nemployeeNumber: {number}\n"
            f"hkuCardNumber: {card}\nuserPassword: {pin}"
        )
    return "\n\n".join(blocks) + "\n"


class PrivateSlapd:
    """slapd on a free port: StartTLS with a generated CA, a service account that may
    read people, patrons who may bind, and a stats log of every operation."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="patronauth-slapd-"))
        self.data = self.root / "data"
        self.data.mkdir()
        self.log = self.root / "slapd.log"
        self._process: subprocess.Popen[bytes] | None = None
        for name in ("ca.pem", "server.pem", "server.key"):
            shutil.copy(_shared_certificates() / name, self.root / name)
        (self.root / "hku.schema").write_text(_SCHEMA)
        self.conf = self.root / "slapd.conf"
        self.conf.write_text(self._config())
        ldif = self.root / "entries.ldif"
        ldif.write_text(_entries())
        done = subprocess.run(
            [SLAPADD, "-f", str(self.conf), "-l", str(ldif)], capture_output=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"slapadd failed: {done.stderr.decode(errors='replace')}")

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.root / "ca.pem"

    def _config(self) -> str:
        r = self.root
        return f"""
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include {r}/hku.schema
pidfile {r}/slapd.pid
argsfile {r}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {r}/ca.pem
TLSCertificateFile {r}/server.pem
TLSCertificateKeyFile {r}/server.key
sizelimit 500
database mdb
maxsize 16777216
suffix "{BASE}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PASSWORD}
directory {self.data}
index uid,employeeNumber,hkuCardNumber eq
access to attrs=userPassword
    by anonymous auth
    by * none
access to dn.subtree="{PEOPLE}"
    by dn.exact="{SERVICE_DN}" read
    by * none
access to *
    by dn.exact="{SERVICE_DN}" read
    by * none
"""

    def start(self) -> None:
        assert self._process is None or self._process.poll() is not None
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [SLAPD, "-f", str(self.conf), "-h", f"{self.url}/", "-d", "stats"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while not _listening(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"slapd did not start: {self.log.read_text()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: every connection to it breaks at once."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def pause(self) -> None:
        """SIGSTOP: connections hang, as with a directory that has stopped answering.
        Returns once every thread of slapd is stopped (a busy machine may take a moment
        to stop them all)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + START_SECONDS
        while not _stopped(self._process.pid):
            if time.monotonic() > deadline:
                raise RuntimeError("slapd did not stop")
            time.sleep(0.01)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self.resume()
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- what the tests look at and change ------------------------------------------

    def binds_as(self, uid: str) -> int:
        """How many binds as `uid`'s entry reached the server (from its stats log)."""
        # One "method=128" line per simple bind request (a success adds a "mech=" line).
        pattern = re.compile(
            rf'BIND dn="uid={re.escape(uid)},{re.escape(PEOPLE)}" method=128', re.I
        )
        return len(pattern.findall(self.log.read_text(errors="replace")))

    def operations(self) -> int:
        """Every operation the server logged (searches, binds, StartTLS...)."""
        return len(re.findall(r" op=\d+ ", self.log.read_text(errors="replace")))

    def modify(self, dn: str, changes: dict[str, list[tuple[str, list[str]]]]) -> None:
        """Change an entry as the directory's administrator."""
        from ldap3 import Connection, Server

        admin = Connection(Server(self.url), ADMIN_DN, ADMIN_PASSWORD, auto_bind=True)
        try:
            admin.modify(dn, changes)
            assert admin.result["result"] == 0, admin.result
        finally:
            admin.unbind()

    def delete(self, dn: str) -> None:
        from ldap3 import Connection, Server

        admin = Connection(Server(self.url), ADMIN_DN, ADMIN_PASSWORD, auto_bind=True)
        try:
            admin.delete(dn)
            assert admin.result["result"] == 0, admin.result
        finally:
            admin.unbind()


def hku_profile(slapd: PrivateSlapd, folder: Path, **overrides: str) -> Path:
    """The shipped hku.toml with its [directory] pointed at `slapd`; the folder to use
    as PATRONAUTH_PROFILES_DIR."""
    from importlib import resources

    text = resources.files("patronauth.profiles").joinpath("hku.toml").read_text("utf-8")
    head, marker, _ = text.partition("\n[directory]\n")
    assert marker, "hku.toml ends with its [directory] table"
    settings = {
        "urls": f'["{slapd.url}"]',
        "tls": '"starttls"',
        "ca_file": f'"{slapd.ca_file}"',
        "bind_dn": f'"{SERVICE_DN}"',
        "bind_password_env": f'"{PASSWORD_VARIABLE}"',
        "base_dn": f'"{PEOPLE}"',
        "uid_filter": '"(&(objectClass=inetOrgPerson)(uid={value}))"',
        "barcode_filter": '"(&(objectClass=inetOrgPerson)(hkuCardNumber={value}))"',
        "enabled_filter": '"(!(description=disabled))"',
        "link_attribute": '"employeeNumber"',
        "connect_timeout": "1",
        "timeout": "2",
        "pin_url": '"https://its.example.org/portal-pin"',
        "name": '{ en = "HKU Portal", zh_Hant = "港大門戶" }',
        **overrides,
    }
    body = "".join(f"{key} = {value}\n" for key, value in settings.items())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hku.toml"
    path.write_text(f"{head}\n[directory]\n{body}", "utf-8")
    return folder


def hku_env(slapd: PrivateSlapd, database_url: str, folder: Path, **extra: str) -> dict[str, str]:
    """A deployment whose hku profile asks `slapd`, with the service password set."""
    from tests.support import test_env

    return test_env(
        database_url,
        folder / "var",
        PATRONAUTH_PROFILES_DIR=str(hku_profile(slapd, folder / "profiles")),
        **{PASSWORD_VARIABLE: SERVICE_PASSWORD, **extra},
    )


def register_people(app: App) -> None:
    """The library records of jchan (student), mlee (staff) and gone (student)."""
    from tests.support import register

    register(app, "hku", "2000001234", category="student", student_number="3035000001")
    register(app, "hku", "2000005678", category="staff", staff_number="S0001234")
    register(app, "hku", "2000002222", category="student", student_number="3035000002")


@pytest.fixture
def hku(slapd: PrivateSlapd, database_url: str, tmp_path: Path) -> Iterator[App]:
    """HKU with its directory on `slapd` and the people's library records (every database)."""
    from tests.support import make_app

    app = make_app(hku_env(slapd, database_url, tmp_path))
    register_people(app)
    yield app
    app.close()


@pytest.fixture
def slapd() -> Iterator[PrivateSlapd]:
    """A started private OpenLDAP server with the test entries."""
    if not (os.path.exists(SLAPD) and os.path.exists(SLAPADD) and shutil.which("openssl")):
        missing("OpenLDAP (slapd) or openssl")
    server = PrivateSlapd()
    try:
        server.start()
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.close()


def _stopped(pid: int) -> bool:
    """Whether every thread of `pid` is stopped (state T in /proc)."""
    states = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            stat = (task / "stat").read_text()
            states.append(stat.rsplit(")", 1)[1].split()[0])
    return bool(states) and all(state in {"T", "t"} for state in states)
