"""A throwaway OpenSSH server on 127.0.0.1 for end-to-end tests.

Real sshd, real ssh client: host key, user key and config are made fresh in a
temporary folder, the server listens on a free loopback port and is stopped by
`close()`. Nothing outside the folder is touched except sshd's privilege
separation directory, which sshd itself requires.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/bin/sshd")


def find_sshd() -> str | None:
    for path in SSHD_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("sshd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SshServer:
    def __init__(self, folder: Path) -> None:
        sshd = find_sshd()
        if sshd is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
            raise RuntimeError("OpenSSH is not installed; `apt-get install openssh-server openssh-client`")
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.user = getpass.getuser()
        host_key, self.user_key = folder / "host_ed25519", folder / "user_ed25519"
        for key in (host_key, self.user_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        authorized = folder / "authorized_keys"
        authorized.write_text(Path(f"{self.user_key}.pub").read_text())
        authorized.chmod(0o600)
        config = folder / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
            f"AuthorizedKeysFile {authorized}\nPidFile {folder / 'sshd.pid'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            "StrictModes no\nPermitRootLogin prohibit-password\nAllowTcpForwarding no\n"
            "X11Forwarding no\nPrintMotd no\nClientAliveInterval 2\nClientAliveCountMax 2\n"
        )
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation dir
        self.log = folder / "sshd.log"
        self.process = subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=self.log.open("w")
        )
        self._wait_listening()

    def _wait_listening(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("sshd did not start listening")

    def client_argv(self, remote_command: str) -> list[str]:
        """The real ssh client with a terminal, running remote_command on the server."""
        return [
            "ssh", "-tt", "-i", str(self.user_key), "-p", str(self.port),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
            f"{self.user}@127.0.0.1", remote_command,
        ]

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
