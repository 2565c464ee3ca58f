"""vfio-tui on other hosts, through the engines admins already run: OpenSSH (the system `ssh`, with
the user's keys, agent, known_hosts and ~/.ssh/config) and libvirt's remote URIs. No agent of our own.

- `hosts.py` the hosts the user named (`vfio-tui hosts add NAME DEST`), in the user's config dir.
- `ssh.py` one `ssh` invocation: multiplexed, non-interactive, its failures as one-line errors.
- `collect.py` + `bundle.py` the read-only collector sent on stdin (`python3 -`) to a host without
  vfio-tui: the same recording code as `vfio-tui snapshot`, carried in memory, stdlib only.
- `fetch.py` a host's snapshot (its own `vfio-tui snapshot -`, or the collector), checked by the
  same loader as `--host-snapshot`.
- `run.py` a changing command run by vfio-tui on the host itself, its JSON events streamed back.
"""
