"""The systemd units and timers of an installed federation, hardened, with the paths of its layout written in.

Every unit runs as the `federation` user with the system read-only except its own folders
(`ProtectSystem=strict` and `ReadWritePaths`), no way to gain privileges, its own /tmp, no home
folders, no kernel or device access. The service, which faces the network, has the most
restricted set (`systemd-analyze security --offline=true`: exposure 1.2 measured, the issue
asks ≤ 2.0); the batch units keep a lighter system call filter, since a build runs Pagefind
and its worker processes.
"""

from __future__ import annotations

import shlex

from plugins.deploy.layout import USER, Installation

UNITS = (
    "federation-service.service",
    "federation-build.service",
    "federation-build.timer",
    "federation-lettres.service",
    "federation-lettres.timer",
    "federation-retours.service",
    "federation-retours.timer",
    "federation-sauvegarde.service",
    "federation-sauvegarde.timer",
)

HARDENING = """NoNewPrivileges=yes
ProtectSystem=strict
PrivateTmp=yes
ProtectHome=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
CapabilityBoundingSet=
AmbientCapabilities=
RemoveIPC=yes
DevicePolicy=closed"""

SERVICE_ONLY = """ProcSubset=pid
MemoryDenyWriteExecute=yes
PrivateUsers=yes
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
UMask=0077"""

BATCH = """SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM"""


def quoted(*words: str) -> str:
    return " ".join(shlex.quote(w) for w in words)


def unit_files(installation: Installation, imap: bool) -> dict[str, str]:
    """Return each unit file's name and text."""
    layout = installation.layout
    python, work = installation.python, str(layout.work)
    build = quoted(python, f"{work}/build.py", "--project", work)
    common = f"User={USER}\nGroup={USER}\nWorkingDirectory={work}\nEnvironmentFile={layout.env_file}\n{HARDENING}"
    private = str(layout.private)

    def oneshot(description: str, commands: list[str], writable: list[str], umask: str) -> str:
        lines = "\n".join(f"ExecStart={c}" for c in commands)
        return (
            f"# Écrit par « build.py installer ».\n[Unit]\nDescription={description}\nAfter=network-online.target\n"
            f"Wants=network-online.target\n\n[Service]\nType=oneshot\n{lines}\n{common}\n{BATCH}\n"
            f"ReadWritePaths={' '.join(writable)}\nUMask={umask}\n"
        )

    def timer(description: str, calendar: str) -> str:
        return (
            f"# Écrit par « build.py installer ».\n[Unit]\nDescription={description}\n\n[Timer]\n"
            f"OnCalendar={calendar}\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n"
        )

    hooks = quoted(python, "-m", "plugins.deploy.hooks")
    files = {
        "federation-service.service": (
            "# Écrit par « build.py installer ».\n[Unit]\nDescription=Service des lecteurs de la fédération "
            "(inscriptions, adhésions, mots de passe)\nAfter=network-online.target\nWants=network-online.target\n\n"
            f"[Service]\nType=simple\nExecStart={build} service --host 127.0.0.1 --port {installation.service_port}\n"
            f"Restart=on-failure\nRestartSec=2\n{common}\n{SERVICE_ONLY}\nReadWritePaths={private}\n\n"
            "[Install]\nWantedBy=multi-user.target\n"
        ),
        "federation-build.service": oneshot(
            "Reconstruction de la nuit (offres expirées, événements passés)",
            [f"{hooks} nuit {quoted(str(layout.record))}"],
            [str(layout.home)],
            "0022",  # nginx (www-data) reads the built sites
        ),
        "federation-build.timer": timer("Reconstruction de la nuit", "*-*-* 00:05"),
        "federation-lettres.service": oneshot(
            "Lettres dues et rappels des événements",
            [f"{build} send --due", f"{build} inscriptions rappels"],
            [private],
            "0077",
        ),
        "federation-lettres.timer": timer("Lettres dues et rappels, tous les quarts d'heure", "*:0/15"),
        "federation-retours.service": oneshot(
            "Rebonds et désinscriptions par courriel", [f"{build} abonnes retours"], [private], "0077"
        ),
        "federation-retours.timer": timer(
            "Rebonds et désinscriptions, toutes les heures" + ("" if imap else " (IMAP_* à régler d'abord)"), "*:07"
        ),
        "federation-sauvegarde.service": oneshot(
            "Sauvegarde des bases, des mots de passe et des clés",
            [f"{build} sauvegarde"],
            [private, str(layout.backups)],
            "0077",
        ),
        "federation-sauvegarde.timer": timer("Sauvegarde de la nuit", "*-*-* 03:15"),
    }
    assert tuple(files) == UNITS
    return files
