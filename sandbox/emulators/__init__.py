"""Emulators of the control planes m8trx.deployer drives (brain, Tailscale, Cloudflare)."""
