"""RFC 6962 / RFC 9162 Merkle tree hashing over stored perfect subtrees.

A *node* ``(level, index)`` is the hash of the perfect subtree that covers leaves
``[index * 2**level, (index + 1) * 2**level)``; level-0 nodes are leaf hashes. Once a
node exists it never changes, so a store only ever appends nodes (``nodes_to_add``) and
every root, inclusion proof and consistency proof for any past tree size is computed
from O(log n) of them.

Everything here is pure and uses only ``hashlib`` (and ``i18n`` for the messages of its
errors, which never enter a hash). Generators (``root``,
``inclusion_proof``, ``consistency_proof``) raise ``MerkleRangeError`` for arguments
outside the tree; verifiers (``verify_inclusion``, ``verify_consistency``) never raise
on a malformed proof, they return ``False``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from i18n import N_, _

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryTree",
    "MerkleError",
    "MerkleRangeError",
    "MissingNodeError",
    "NodeReader",
    "StreamingRoot",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "nodes_to_add",
    "root",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256 of the empty string (RFC 6962 section 2.1)."""

NodeReader = Callable[[int, int], bytes]
"""``read(level, index)`` returns the stored hash of node ``(level, index)``."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class MerkleError(ValueError):
    """Base of Merkle failures: ``code`` is stable kebab-case, ``hint`` says what to do."""

    code = "merkle-error"
    hint = N_("Check the tree sizes and indices passed to the Merkle functions.")

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class MerkleRangeError(MerkleError):
    """An index, size or range lies outside the tree it refers to."""

    code = "merkle-range"
    hint = N_("Ask only for leaves and sizes the log has reached (0 <= index < size).")


class MissingNodeError(MerkleError, LookupError):
    """A node store was asked for a node it does not hold."""

    code = "merkle-missing-node"
    hint = N_("The node store is behind the requested tree size, or the request is out of range.")


def leaf_hash(data: bytes) -> bytes:
    """MTH of a one-leaf tree: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 6962: the largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def nodes_to_add(size: int, leaf: bytes, read: NodeReader) -> list[tuple[int, int, bytes]]:
    """Nodes that become complete when leaf hash ``leaf`` is appended as leaf number ``size``.

    Returns ``(level, index, hash)`` triples, lowest level first: always
    ``(0, size, leaf)``, then every parent that the new leaf completes. Only left siblings
    that already exist are read. One node is written per trailing 1-bit of ``size`` plus
    one, so appends cost amortised O(1) and at worst O(log n).
    """
    if size < 0:
        raise MerkleRangeError(_("tree size must be >= 0, got {size}").format(size=size))
    added = [(0, size, leaf)]
    level, index, current = 0, size, leaf
    while index & 1:
        current = node_hash(read(level, index - 1), current)
        level += 1
        index >>= 1
        added.append((level, index, current))
    return added


def subtree_hash(start: int, end: int, read: NodeReader) -> bytes:
    """MTH of leaves ``[start, end)``, read as perfect aligned subtrees, largest first.

    ``start`` must be a multiple of the smallest power of two that is >= ``end - start``;
    that holds for every range RFC 6962 recursion produces (the whole tree, and both
    halves of any such range). Costs one read per 1-bit of ``end - start``.
    ``subtree_hash(0, 0)`` is ``EMPTY_ROOT``.
    """
    if start == 0 and end == 0:
        return EMPTY_ROOT
    width = end - start
    if start < 0 or width <= 0:
        raise MerkleRangeError(
            _("leaf range [{start}, {end}) is empty or negative").format(start=start, end=end)
        )
    span = 1 << (width - 1).bit_length()
    if start % span:
        raise MerkleRangeError(
            _(
                "leaf range [{start}, {end}) is not an RFC 6962 subtree: start must be a "
                "multiple of {span}"
            ).format(start=start, end=end, span=span)
        )
    parts: list[bytes] = []
    position = start
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            parts.append(read(level, position >> level))
            position += 1 << level
    result = parts[-1]
    for part in reversed(parts[:-1]):
        result = node_hash(part, result)
    return result


def root(size: int, read: NodeReader) -> bytes:
    """MTH of the first ``size`` leaves (``EMPTY_ROOT`` for 0), in O(log n) reads."""
    if size < 0:
        raise MerkleRangeError(_("tree size must be >= 0, got {size}").format(size=size))
    return subtree_hash(0, size, read)


def inclusion_proof(index: int, size: int, read: NodeReader) -> list[bytes]:
    """RFC 6962 PATH(index, D[size]) (RFC 9162 2.1.3.1), leaf-side sibling first."""
    if size <= 0 or not 0 <= index < size:
        raise MerkleRangeError(
            _(
                "no inclusion proof for leaf {index} in a tree of size {size}: need "
                "0 <= index < size"
            ).format(index=index, size=size)
        )
    siblings: list[bytes] = []
    low, high = 0, size
    while high - low > 1:
        split = low + _largest_power_of_two_below(high - low)
        if index < split:
            siblings.append(subtree_hash(split, high, read))
            high = split
        else:
            siblings.append(subtree_hash(low, split, read))
            low = split
    siblings.reverse()
    return siblings


def consistency_proof(old_size: int, new_size: int, read: NodeReader) -> list[bytes]:
    """RFC 6962 PROOF(old_size, D[new_size]) (RFC 9162 2.1.4.1), innermost node first.

    Empty when ``old_size`` is 0 or equal to ``new_size``: those trees are consistent
    with nothing to prove (see ``verify_consistency``).
    """
    if not 0 <= old_size <= new_size:
        raise MerkleRangeError(
            _(
                "no consistency proof from size {old} to size {new}: need 0 <= old_size <= new_size"
            ).format(old=old_size, new=new_size)
        )
    if old_size in (0, new_size):
        return []
    outer: list[bytes] = []
    low, high = 0, new_size
    old_root_known = True  # SUBPROOF's b: stays true while old_size is a left-edge subtree.
    while old_size != high:
        split = low + _largest_power_of_two_below(high - low)
        if old_size <= split:
            outer.append(subtree_hash(split, high, read))
            high = split
        else:
            outer.append(subtree_hash(low, split, read))
            low = split
            old_root_known = False
    outer.reverse()
    if old_root_known:
        return outer
    return [subtree_hash(low, high, read), *outer]


def _all_hashes(*values: object) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2: does ``proof`` place leaf hash ``leaf`` at ``index``?

    ``leaf`` is the leaf *hash* (``leaf_hash(data)``). Returns False, never raises, for
    any malformed input; hashes that are not 32 bytes are rejected up front.
    """
    if not (isinstance(index, int) and isinstance(size, int) and 0 <= index < size):
        return False
    if not _all_hashes(leaf, root, *proof):
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree ``new_root`` an append-only extension?

    The RFC algorithm covers 0 < old_size < new_size. The edge cases are decided here:
    equal sizes need an empty proof and equal roots; old_size 0 needs an empty proof and
    ``old_root == EMPTY_ROOT`` (every tree extends the empty tree, but no other root is
    a size-0 root). Returns False, never raises, for any malformed input.
    """
    if not (isinstance(old_size, int) and isinstance(new_size, int)):
        return False
    if not 0 <= old_size <= new_size:
        return False
    if not _all_hashes(old_root, new_root, *proof):
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if old_size == 0:
        return len(proof) == 0 and old_root == EMPTY_ROOT
    # 1. An empty path proves nothing.
    if len(proof) == 0:
        return False
    path = list(proof)
    # 2. A power-of-two old tree is itself a node of the new tree: its hash starts the path.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3.-4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    return fr == old_root and sr == new_root and sn == 0


class MemoryTree:
    """An in-memory node store: one list of hashes per level.

    Meant for tests and for rebuilding a log in memory; ``read`` is a ``NodeReader``.
    """

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = []

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return len(self._levels[0]) if self._levels else 0

    def append(self, data: bytes) -> int:
        """Append leaf *data* (hashed with ``leaf_hash``); return its index."""
        return self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, leaf: bytes) -> int:
        """Append an already computed leaf hash; return its index."""
        index = self.size
        for level, node_index, value in nodes_to_add(index, leaf, self.read):
            if level == len(self._levels):
                self._levels.append([])
            # nodes_to_add yields each level's next index in order: appending fills it.
            assert node_index == len(self._levels[level])
            self._levels[level].append(value)
        return index

    def read(self, level: int, index: int) -> bytes:
        """The stored node ``(level, index)``; ``MissingNodeError`` if it is not complete."""
        if 0 <= level < len(self._levels) and 0 <= index < len(self._levels[level]):
            return self._levels[level][index]
        raise MissingNodeError(
            _("node ({level}, {index}) does not exist in a tree of size {size}").format(
                level=level, index=index, size=self.size
            )
        )

    def root(self, size: int | None = None) -> bytes:
        """Root of the first ``size`` leaves (default: all of them)."""
        return root(self.size if size is None else self._check_size(size), self.read)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Inclusion proof for leaf ``index`` in the tree of ``size`` leaves (default: all)."""
        return inclusion_proof(
            index, self.size if size is None else self._check_size(size), self.read
        )

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Consistency proof from ``old_size`` to ``new_size`` (default: the current size)."""
        return consistency_proof(
            old_size, self.size if new_size is None else self._check_size(new_size), self.read
        )

    def _check_size(self, size: int) -> int:
        if size > self.size:
            raise MerkleRangeError(
                _("tree size {size} exceeds the {stored} leaves stored").format(
                    size=size, stored=self.size
                )
            )
        return size


class StreamingRoot:
    """Running root over a stream of leaf hashes in O(log n) memory.

    Keeps the hashes of the perfect subtrees that make up the tree so far (one per 1-bit
    of ``size``, largest first); ``root()`` may be called at any moment, e.g. to compare
    against checkpoints while replaying a log.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaf hashes pushed so far."""
        return self._size

    def push(self, leaf: bytes) -> None:
        """Add the next leaf hash (``leaf_hash(data)``, not the data itself)."""
        current = leaf
        carry = self._size
        stack = self._stack
        while carry & 1:
            current = node_hash(stack.pop(), current)
            carry >>= 1
        stack.append(current)
        self._size += 1

    def subtrees(self) -> tuple[tuple[int, bytes], ...]:
        """``(level, hash)`` of the perfect subtrees of the tree so far, largest first."""
        levels = [lv for lv in range(self._size.bit_length() - 1, -1, -1) if self._size >> lv & 1]
        return tuple(zip(levels, self._stack, strict=True))

    def extend(self, subtrees: Sequence[tuple[int, bytes]]) -> None:
        """Append the leaves another stream covers, given as its ``subtrees()``: what a replay
        over a later part of the log found. Each subtree must start at a multiple of its own
        width (it does when this stream's size is a multiple of the other's largest one)."""
        stack = self._stack
        for level, node in subtrees:
            if self._size & ((1 << level) - 1):
                raise MerkleRangeError(
                    _("a subtree of 2**{level} leaves cannot follow {size} leaves").format(
                        level=level, size=self._size
                    )
                )
            current, carry = node, self._size >> level
            while carry & 1:
                current = node_hash(stack.pop(), current)
                carry >>= 1
            stack.append(current)
            self._size += 1 << level

    def copy(self) -> StreamingRoot:
        other = StreamingRoot()
        other._size, other._stack = self._size, list(self._stack)
        return other

    def root(self) -> bytes:
        """Root of everything pushed so far (``EMPTY_ROOT`` before the first push)."""
        if not self._stack:
            return EMPTY_ROOT
        result = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            result = node_hash(left, result)
        return result
