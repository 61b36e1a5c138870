"""A list of picklable records stored in one NumPy byte buffer.

A Python list of many small dicts is touched by reference counting whenever an element is read,
so each forked DataLoader worker gradually copies every page of it (copy-on-read; the memory of
N workers grows to N copies). Here every record is pickled once into one contiguous uint8 buffer
with an int64 array of end offsets; both are two large objects whose pages workers share for
ever, and reading record ``i`` unpickles a fresh copy (MMEngine's ``serialize_data``).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["SerializedList"]


class SerializedList(Sequence):
    """An immutable sequence of records kept as pickles in one buffer.

    Args:
        records: the records (any picklable objects, typically dicts).

    Attributes:
        buffer: (total_bytes,) uint8, the pickles one after another.
        ends: (len,) int64, the end offset of each pickle in ``buffer``.
    """

    def __init__(self, records: Iterable[Any] = ()) -> None:
        pickles = [
            np.frombuffer(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL), dtype=np.uint8)
            for record in records
        ]
        self.ends = np.cumsum([len(item) for item in pickles], dtype=np.int64)
        self.buffer = np.concatenate(pickles) if pickles else np.zeros(0, dtype=np.uint8)

    @classmethod
    def _from_parts(cls, buffer: np.ndarray, ends: np.ndarray) -> SerializedList:
        instance = cls.__new__(cls)
        instance.buffer, instance.ends = buffer, ends
        return instance

    def __len__(self) -> int:
        return len(self.ends)

    def _bounds(self, index: int) -> tuple[int, int]:
        size = len(self.ends)
        if not -size <= index < size:
            raise IndexError(f"index {index} out of range for {size} records")
        index %= size
        start = 0 if index == 0 else int(self.ends[index - 1])
        return start, int(self.ends[index])

    def __getitem__(self, index: int) -> Any:  # type: ignore[override]
        start, end = self._bounds(int(index))
        return pickle.loads(memoryview(self.buffer[start:end]))

    def __iter__(self) -> Iterator[Any]:
        for index in range(len(self)):
            yield self[index]

    def subset(self, indices: Sequence[int]) -> SerializedList:
        """A new SerializedList holding the records at ``indices`` (in that order), without unpickling."""
        bounds = [self._bounds(int(index)) for index in indices]
        lengths = np.array([end - start for start, end in bounds], dtype=np.int64)
        parts = [self.buffer[start:end] for start, end in bounds]
        buffer = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)
        return SerializedList._from_parts(buffer, np.cumsum(lengths, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffer and the offsets."""
        return int(self.buffer.nbytes + self.ends.nbytes)

    def __repr__(self) -> str:
        return f"SerializedList({len(self)} records, {self.nbytes} bytes)"
