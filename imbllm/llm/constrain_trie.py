"""Byte tries of column names and categories, which the row grammar walks byte by byte.

A node is an int: ``children`` gives its successors, ``key_of`` the key it completes and
``under`` the keys it can still become (:class:`~imbllm.llm.constrain_grammar.RowGrammar`).
"""

from __future__ import annotations

__all__ = ["ByteTrie"]


class ByteTrie:
    """Byte trie of keys: ``children[node][byte] -> node``, ``key_of[node]`` (or None)."""

    def __init__(self, keys: list[bytes]):
        self.children: list[dict] = [{}]
        self.key_of: list = [None]
        self.under: list[int] = [0]  # bit mask of the keys below each node
        for k, key in enumerate(keys):
            node = 0
            self.under[0] |= 1 << k
            for byte in key:
                nxt = self.children[node].get(byte)
                if nxt is None:
                    nxt = self.children[node][byte] = len(self.children)
                    self.children.append({})
                    self.key_of.append(None)
                    self.under.append(0)
                node = nxt
                self.under[node] |= 1 << k
            self.key_of[node] = k

    def depths(self) -> list[int]:
        """Bytes from the root to each node (a child always has a larger number)."""
        depth = [0] * len(self.children)
        for node in range(len(self.children)):
            for child in self.children[node].values():
                depth[child] = depth[node] + 1
        return depth
