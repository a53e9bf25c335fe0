"""Reports: the table model at the bottom, the renderers above it.

``tables`` aggregates results into ``Table`` objects (entries, captions, column groups); ``markdown``,
``csv``, ``latex``, ``html`` and ``figures`` draw them, using only the model's public names; ``formats``
maps ``--format`` names to renderers; ``paths`` makes file names from labels.
"""
