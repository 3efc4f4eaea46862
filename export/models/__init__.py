"""The training side's networks, one file each, with its config dataclass at the top."""
