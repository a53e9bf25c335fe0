"""The networks the methods fit or train (no registration here)."""
