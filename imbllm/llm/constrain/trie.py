"""The byte trie of constrained decoding: column names and categories, which the row grammar
walks byte by byte, and a tokenizer's vocabulary, which the token masks walk against it.

A node is an int: ``children`` gives its successors and ``key_of`` the key it completes. A
trie of names also keeps ``under``, the keys each node can still become
(:class:`~imbllm.llm.constrain.grammar.RowGrammar`); a vocabulary's does not (a bit mask of
50,000 tokens per node would cost gigabytes).
"""

from __future__ import annotations

__all__ = ["ByteTrie"]


class ByteTrie:
    """Byte trie of keys: ``children[node][byte] -> node``, ``key_of[node]`` (or None),
    ``under[node]`` (a bit mask of the keys below; None without ``with_under``).

    A key given as None (a special token, the end token) is left out. Two keys with the same
    bytes end on one node, which keeps the last: a vocabulary's tokens have distinct bytes
    (a byte-level BPE vocabulary maps distinct strings over a byte alphabet).
    """

    def __init__(self, keys, with_under: bool = True):
        self.children: list[dict] = [{}]
        self.key_of: list = [None]
        self.under: list[int] | None = [0] if with_under else None
        for k, key in enumerate(keys):
            if key is None:
                continue
            node = 0
            if with_under:
                self.under[0] |= 1 << k
            for byte in key:
                nxt = self.children[node].get(byte)
                if nxt is None:
                    nxt = self.children[node][byte] = len(self.children)
                    self.children.append({})
                    self.key_of.append(None)
                    if with_under:
                        self.under.append(0)
                node = nxt
                if with_under:
                    self.under[node] |= 1 << k
            self.key_of[node] = k

    def depths(self) -> list[int]:
        """Bytes from the root to each node (a child always has a larger number)."""
        depth = [0] * len(self.children)
        for node in range(len(self.children)):
            for child in self.children[node].values():
                depth[child] = depth[node] + 1
        return depth
