"""Subcommands of the `eai-avatar` CLI that belong to the SDK itself (no runtime or training code)."""
