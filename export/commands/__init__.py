"""Subcommands of the `eai-avatar` CLI on the training side."""
