"""Subcommands of the `eai-avatar` CLI that run on the runtime (no torch)."""
