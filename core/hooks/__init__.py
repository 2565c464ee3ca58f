"""The libvirt hook kit: `vfio-tui hooks install|remove|status` and the script libvirt runs.

- core.hooks.layout: where the script and the recorded plans live, the script's text, the recorded
  plan's format, and what other hooks are already in /etc/libvirt/hooks;
- core.hooks.install: plan_install/apply_install (journaled files, core.configfiles);
- core.hooks.remove: plan_remove/apply_remove and hook_status;
- core.hooks.run: run_hook (what the script does at prepare begin / stopped end / release end; never
  opens libvirt) and watchdog.
See docs/gpu.md, "The single-GPU host and the libvirt hook".
"""
