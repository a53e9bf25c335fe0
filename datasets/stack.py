"""``stack``: one clip from each of several datasets per item, stacked into an (S, T) clip.

The spectral-prior paper's separation table mixes a piano clip and a drum clip; the ``mixture``
corruption sums such a stack at a level ratio.
"""
from __future__ import annotations

import numpy as np

from bench.components.dataset import CorpusMissing, Dataset, build_dataset, dataset
from bench.core.audio import Clip
from bench.core.seeds import derive_seed, item_seed

SEPARATOR = " | "


@dataset("stack", version="1")
class Stack(Dataset):
    """One clip from each of several datasets per item, stacked into an (S, T) clip.

    Sources as ``sources = [{name = "wavegan-piano"},
    {name = "wavegan-drums", params = {...}, label = "drums"}]``. Item k pairs the k-th item of each
    source after a seeded shuffle of each source's items (so pairs are random but fixed); an item id
    joins the source items with " | ". ``meta["sources"]`` holds the labels (default: the names)."""

    kind = "mixture"

    def __init__(self, root=None, sources=None):
        if not sources or len(sources) < 2 or not all(isinstance(s, dict) and "name" in s for s in sources):
            raise ValueError("stack: sources must list at least two {name = ..., params = {...}} tables")
        super().__init__(root, sources=[dict(s) for s in sources])
        self.children = [build_dataset(s["name"], s.get("params") or {}, root) for s in sources]
        self.labels = [s.get("label") or s["name"] for s in sources]
        self.synthetic = all(c.synthetic for c in self.children)
        self.standin = None if self.synthetic or not all(c.synthetic or c.standin for c in self.children) \
            else "stack"

    @property
    def standin_params(self):
        return {"sources": [{"name": c.name, "params": c.params, "label": label} if c.synthetic else
                            {"name": c.standin, "params": c.standin_params, "label": label}
                            for c, label in zip(self.children, self.labels)]}

    @property
    def revision(self):
        parts = ",".join(f"{c.name}@{c.revision}" for c in self.children)
        return f"{getattr(self, 'version', '1')}[{parts}]"

    def check(self):
        problems = []
        for c in self.children:
            try:
                c.check()
            except CorpusMissing as exc:
                problems.append(str(exc))
        if problems:
            raise CorpusMissing("\n".join(problems))

    def item_ids(self, split=None):
        columns = []
        for i, c in enumerate(self.children):
            ids = sorted(c.item_ids(split))
            order = np.random.default_rng(derive_seed("stack", i, c.name, split)).permutation(len(ids))
            columns.append([ids[j] for j in order])
        return [SEPARATOR.join(parts) for parts in zip(*columns)]

    def load(self, item, *, sr, seconds, rng=None):
        parts = item.split(SEPARATOR)
        if len(parts) != len(self.children):
            raise ValueError(f"stack: item {item!r} does not name one item per source ({len(self.children)})")
        clips = [c.load(p, sr=sr, seconds=seconds, rng=np.random.default_rng(item_seed(c.name, p)))
                 for c, p in zip(self.children, parts)]
        for c, clip in zip(self.children, clips):
            if clip.samples.ndim != 1:
                raise ValueError(f"stack: {c.name} gives {clip.samples.shape} clips; stack needs single sources")
        length = min(clip.num_samples for clip in clips)
        samples = np.stack([clip.samples[:length] for clip in clips])
        return Clip(samples, sr, dataset=self.name, item=item,
                    meta={"sources": list(self.labels), "items": parts, "parts": [clip.meta for clip in clips]})
