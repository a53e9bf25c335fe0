"""Signal and data helpers shared by methods (no registration here)."""
