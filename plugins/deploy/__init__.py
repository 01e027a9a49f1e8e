"""Putting a federation online: nginx's configuration and the CSP, the installer, the repository's hooks, backups."""
