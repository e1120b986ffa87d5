"""Tests for verify.log.merkle: published RFC 6962 vectors, reference recursion, tampering."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.log.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    MerkleRangeError,
    MissingNodeError,
    StreamingRoot,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_to_add,
    root,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

# --- Published vectors --------------------------------------------------------------
# Leaf inputs, node hashes and roots: github.com/transparency-dev/merkle,
# testonly/constants.go (LeafInputs, NodeHashes, RootHashes). Inclusion and consistency
# proofs: the same repository, proof/verify_test.go (inclusionProofs, consistencyProofs),
# which carries over the Certificate Transparency merkle_tree test data. In that file
# inclusion vectors give the leaf 1-based; below they are converted to 0-based indices.

LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]

NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

# (0-based leaf index, tree size, proof)
INCLUSION_VECTORS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (old size, new size, proof)
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


# --- Reference definitions, straight from RFC 6962 section 2.1 (over leaf hashes) -----


def _k(n: int) -> int:
    """Largest power of two strictly smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) by the recursive definition."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _k(len(leaves))
    return node_hash(naive_root(leaves[:k]), naive_root(leaves[k:]))


def naive_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) by the recursive definition."""
    if len(leaves) <= 1:
        return []
    k = _k(len(leaves))
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_root(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_root(leaves[:k])]


def naive_subproof(m: int, leaves: Sequence[bytes], known: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) by the recursive definition."""
    if m == len(leaves):
        return [] if known else [naive_root(leaves)]
    k = _k(len(leaves))
    if m <= k:
        return [*naive_subproof(m, leaves[:k], known), naive_root(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_root(leaves[:k])]


# --- Shared trees ---------------------------------------------------------------------


def _tree_of(leaves: Sequence[bytes]) -> MemoryTree:
    tree = MemoryTree()
    for data in leaves:
        tree.append(data)
    return tree


VECTOR_TREE = _tree_of(LEAF_INPUTS)
VECTOR_LEAF_HASHES = [leaf_hash(d) for d in LEAF_INPUTS]

MAX_SIZE = 300
BIG_TREE = _tree_of([i.to_bytes(4, "big") for i in range(MAX_SIZE)])
BIG_LEAF_HASHES = [leaf_hash(i.to_bytes(4, "big")) for i in range(MAX_SIZE)]
BIG_ROOTS = [naive_root(BIG_LEAF_HASHES[:n]) for n in range(MAX_SIZE + 1)]


def _hexes(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def _flip(proof: list[bytes], element: int, position: int) -> list[bytes]:
    damaged = list(proof)
    value = bytearray(damaged[element])
    value[position] ^= 0x01
    damaged[element] = bytes(value)
    return damaged


class CountingReader:
    """Wraps a node store: counts reads and fails on nodes not complete at ``size``."""

    def __init__(self, tree: MemoryTree, size: int) -> None:
        self.tree = tree
        self.size = size
        self.reads = 0

    def __call__(self, level: int, index: int) -> bytes:
        self.reads += 1
        assert 0 <= index < self.size >> level, f"read ({level}, {index}) beyond size {self.size}"
        return self.tree.read(level, index)


# --- Vectors --------------------------------------------------------------------------


def test_empty_tree_root_is_sha256_of_empty_string() -> None:
    """The root of the empty tree is SHA-256 of nothing, as the vectors say."""
    assert ROOTS[0] == EMPTY_ROOT
    assert MemoryTree().root() == EMPTY_ROOT
    assert StreamingRoot().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_roots_of_every_prefix_match_published_vectors(size: int) -> None:
    """Stored-node, streaming and naive roots of each prefix equal the published root."""
    streaming = StreamingRoot()
    for leaf in VECTOR_LEAF_HASHES[:size]:
        streaming.push(leaf)
    assert VECTOR_TREE.root(size) == ROOTS[size]
    assert streaming.root() == ROOTS[size]
    assert naive_root(VECTOR_LEAF_HASHES[:size]) == ROOTS[size]


def test_stored_nodes_match_published_node_hashes() -> None:
    """Every complete subtree of the 8-leaf tree is stored with the published hash."""
    for level, hashes in enumerate(NODE_HASHES):
        for index, expected in enumerate(hashes):
            assert VECTOR_TREE.read(level, index).hex() == expected


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_proofs_match_published_vectors(index: int, size: int, proof: list[str]) -> None:
    """Generated inclusion proofs equal the published ones and verify."""
    expected = _hexes(proof)
    assert VECTOR_TREE.inclusion_proof(index, size) == expected
    assert verify_inclusion(VECTOR_LEAF_HASHES[index], index, size, expected, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_consistency_proofs_match_published_vectors(old: int, new: int, proof: list[str]) -> None:
    """Generated consistency proofs equal the published ones and verify."""
    expected = _hexes(proof)
    assert VECTOR_TREE.consistency_proof(old, new) == expected
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], expected)


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS[1:])
def test_published_inclusion_proofs_fail_when_corrupted(
    index: int, size: int, proof: list[str]
) -> None:
    """Each corruption probe of the transparency-dev suite is rejected."""
    good = _hexes(proof)
    leaf, real_root = VECTOR_LEAF_HASHES[index], ROOTS[size]
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (index - 1, size, leaf, real_root, good),
        (index + 1, size, leaf, real_root, good),
        (index ^ 2, size, leaf, real_root, good),
        (index, size * 2, leaf, real_root, good),
        (index, size // 2, leaf, real_root, good),
        (index, size, leaf_hash(b"WrongLeaf"), real_root, good),
        (index, size, leaf, EMPTY_ROOT, good),
        (index, size, leaf, SOME_HASH, good),
        (index, size, leaf, real_root, [*good, b""]),
        (index, size, leaf, real_root, [*good, real_root]),
        (index, size, leaf, real_root, [b"", *good]),
        (index, size, leaf, real_root, [real_root, *good]),
        (index, size, leaf, real_root, good[:-1]),
        (index, size, leaf, real_root, [good[0], SOME_HASH, *good[1:]]),
    ]
    probes += [(index, size, leaf, real_root, _flip(good, i, 0)) for i in range(len(good))]
    for probe_index, probe_size, probe_leaf, probe_root, probe_proof in probes:
        assert not verify_inclusion(probe_leaf, probe_index, probe_size, probe_proof, probe_root)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS[1:])
def test_published_consistency_proofs_fail_when_corrupted(
    old: int, new: int, proof: list[str]
) -> None:
    """Each corruption probe of the transparency-dev suite is rejected."""
    good = _hexes(proof)
    r1, r2 = ROOTS[old], ROOTS[new]
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (old - 1, new, r1, r2, good),
        (old + 1, new, r1, r2, good),
        (old ^ 2, new, r1, r2, good),
        (old, new * 2, r1, r2, good),
        (old, new // 2, r1, r2, good),
        (old, new, SOME_HASH, r2, good),
        (old, new, r1, SOME_HASH, good),
        (old, new, r2, r1, good),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*good, b""]),
        (old, new, r1, r2, [*good, r1]),
        (old, new, r1, r2, [*good, r2]),
        (old, new, r1, r2, [b"", *good]),
        (old, new, r1, r2, [r1, *good]),
        (old, new, r1, r2, [r2, *good]),
        (old, new, r1, r2, [good[0], *good]),
        (old, new, r1, r2, good[:-1]),
    ]
    probes += [(old, new, r1, r2, _flip(good, i, 0)) for i in range(len(good))]
    for s1, s2, root1, root2, probe_proof in probes:
        assert not verify_consistency(s1, s2, root1, root2, probe_proof)


# --- Edge cases -----------------------------------------------------------------------


def test_single_leaf_tree_proves_its_leaf_with_an_empty_proof() -> None:
    """A one-leaf tree's root is the leaf hash and the inclusion proof is empty."""
    leaf = leaf_hash(b"data")
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], leaf_hash(b"other"))
    assert not verify_inclusion(b"", 0, 1, [], b"")


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (1, 1), (2, 1), (-1, 1)])
def test_inclusion_outside_the_tree_never_verifies(index: int, size: int) -> None:
    """An index at or past the tree size, or negative, is rejected without raising."""
    assert not verify_inclusion(SOME_HASH, index, size, [], SOME_HASH)
    assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


def test_overlong_inclusion_proof_fails_even_against_a_root_crafted_to_match() -> None:
    """Nodes beyond the tree height are refused, not hashed into a made-up taller root."""
    leaf, extra = VECTOR_LEAF_HASHES[0], SOME_HASH
    assert not verify_inclusion(leaf, 0, 1, [extra], node_hash(extra, leaf))
    proof = VECTOR_TREE.inclusion_proof(5, 6)
    crafted_root = node_hash(extra, ROOTS[6])
    assert not verify_inclusion(VECTOR_LEAF_HASHES[5], 5, 6, [*proof, extra], crafted_root)


def test_overlong_consistency_proof_fails_even_against_roots_crafted_to_match() -> None:
    """Nodes beyond the tree height are refused, not folded into made-up taller roots."""
    proof = VECTOR_TREE.consistency_proof(6, 7)
    extra = SOME_HASH
    crafted_old, crafted_new = node_hash(extra, ROOTS[6]), node_hash(extra, ROOTS[7])
    assert not verify_consistency(6, 7, crafted_old, crafted_new, [*proof, extra])


@pytest.mark.parametrize(
    ("old", "new", "old_root", "new_root", "proof", "expected"),
    [
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 0, SOME_HASH, EMPTY_ROOT, [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, SOME_HASH, [], True),
        (0, 1, SOME_HASH, SOME_HASH, [], False),
        (0, 1, EMPTY_ROOT, SOME_HASH, [EMPTY_ROOT], False),
        (1, 1, SOME_HASH, SOME_HASH, [], True),
        (1, 1, EMPTY_ROOT, SOME_HASH, [], False),
        (1, 1, SOME_HASH, SOME_HASH, [EMPTY_ROOT], False),
        (1, 0, SOME_HASH, EMPTY_ROOT, [], False),
        (2, 1, SOME_HASH, SOME_HASH, [], False),
        (1, 2, SOME_HASH, EMPTY_ROOT, [], False),
        (-1, 2, SOME_HASH, EMPTY_ROOT, [], False),
    ],
)
def test_consistency_edge_sizes_follow_the_documented_rules(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes], expected: bool
) -> None:
    """Equal sizes need equal roots, size 0 needs the empty root, and no proof is padded."""
    assert verify_consistency(old, new, old_root, new_root, proof) is expected


def test_proof_generators_reject_out_of_range_arguments() -> None:
    """Proofs for leaves or sizes outside the tree raise MerkleRangeError with a message."""
    with pytest.raises(MerkleRangeError, match="0 <= index < size"):
        inclusion_proof(8, 8, VECTOR_TREE.read)
    with pytest.raises(MerkleRangeError):
        inclusion_proof(-1, 8, VECTOR_TREE.read)
    with pytest.raises(MerkleRangeError):
        inclusion_proof(0, 0, VECTOR_TREE.read)
    with pytest.raises(MerkleRangeError, match="old_size <= new_size"):
        consistency_proof(5, 3, VECTOR_TREE.read)
    with pytest.raises(MerkleRangeError):
        consistency_proof(-1, 3, VECTOR_TREE.read)
    with pytest.raises(MerkleRangeError):
        root(-1, VECTOR_TREE.read)
    with pytest.raises(MerkleRangeError):
        nodes_to_add(-1, SOME_HASH, VECTOR_TREE.read)
    with pytest.raises(MerkleRangeError, match="exceeds"):
        VECTOR_TREE.root(9)
    assert issubclass(MerkleRangeError, ValueError)


@pytest.mark.parametrize(("start", "end"), [(1, 3), (2, 5), (4, 3), (3, 3), (-2, 2)])
def test_subtree_hash_rejects_ranges_rfc_6962_never_forms(start: int, end: int) -> None:
    """Misaligned, empty or negative leaf ranges are refused rather than mis-hashed."""
    with pytest.raises(MerkleRangeError):
        subtree_hash(start, end, BIG_TREE.read)


def test_reading_an_incomplete_node_raises_missing_node() -> None:
    """The memory store refuses nodes that do not exist yet."""
    with pytest.raises(MissingNodeError):
        VECTOR_TREE.read(3, 1)
    with pytest.raises(MissingNodeError):
        VECTOR_TREE.read(0, 8)


# --- Structure and cost ---------------------------------------------------------------


def test_every_root_up_to_300_leaves_agrees_with_naive_and_streaming() -> None:
    """Stored-node roots, the streaming root and the naive recursion agree at every size."""
    streaming = StreamingRoot()
    for size in range(MAX_SIZE + 1):
        assert streaming.size == size
        assert root(size, BIG_TREE.read) == BIG_ROOTS[size]
        assert streaming.root() == BIG_ROOTS[size]
        if size < MAX_SIZE:
            streaming.push(BIG_LEAF_HASHES[size])


def test_appends_write_one_node_per_completed_subtree_and_read_only_existing_nodes() -> None:
    """Each append writes 1 + trailing-ones(size) nodes, reading only complete left siblings."""
    tree = MemoryTree()
    written = 0
    for size in range(MAX_SIZE):
        reader = CountingReader(tree, size)
        added = nodes_to_add(size, BIG_LEAF_HASHES[size], reader)
        trailing_ones = (size ^ (size + 1)).bit_length() - 1
        assert len(added) == 1 + trailing_ones <= size.bit_length() + 1
        assert reader.reads == trailing_ones
        assert [(lvl, idx) for lvl, idx, _ in added] == [
            (lvl, size >> lvl) for lvl in range(len(added))
        ]
        written += len(added)
        tree.append_leaf_hash(BIG_LEAF_HASHES[size])
        assert written == 2 * (size + 1) - (size + 1).bit_count()
    assert tree.root() == BIG_ROOTS[MAX_SIZE]


sizes = st.integers(min_value=1, max_value=MAX_SIZE)


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(min_value=0, max_value=size - 1)), size


@st.composite
def old_and_new(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(min_value=2, max_value=MAX_SIZE))
    return draw(st.integers(min_value=1, max_value=new - 1)), new


@given(index_and_size())
def test_inclusion_proofs_equal_the_rfc_recursion_and_verify(case: tuple[int, int]) -> None:
    """Generated inclusion proofs equal PATH(m, D[n]), verify, and cost O(log n) reads."""
    index, size = case
    reader = CountingReader(BIG_TREE, size)
    proof = inclusion_proof(index, size, reader)
    assert proof == naive_path(index, BIG_LEAF_HASHES[:size])
    assert reader.reads <= 2 * size.bit_length()
    assert verify_inclusion(BIG_LEAF_HASHES[index], index, size, proof, BIG_ROOTS[size])


@given(old_and_new())
def test_consistency_proofs_equal_the_rfc_recursion_and_verify(case: tuple[int, int]) -> None:
    """Generated consistency proofs equal PROOF(m, D[n]), verify, and cost O(log n) reads."""
    old, new = case
    reader = CountingReader(BIG_TREE, new)
    proof = consistency_proof(old, new, reader)
    assert proof == naive_subproof(old, BIG_LEAF_HASHES[:new], True)
    assert reader.reads <= 2 * new.bit_length()
    assert verify_consistency(old, new, BIG_ROOTS[old], BIG_ROOTS[new], proof)


@given(index_and_size(), st.data())
def test_tampered_inclusion_proofs_never_verify(case: tuple[int, int], data: st.DataObject) -> None:
    """A flipped byte, dropped or extra node, wrong index, size or root always fails."""
    index, size = case
    leaf, good_root = BIG_LEAF_HASHES[index], BIG_ROOTS[size]
    proof = inclusion_proof(index, size, BIG_TREE.read)
    extra = data.draw(st.binary(min_size=32, max_size=32), label="extra")
    at = data.draw(st.integers(min_value=0, max_value=len(proof)), label="insert at")
    assert not verify_inclusion(leaf, index, size, [*proof[:at], extra, *proof[at:]], good_root)
    if proof:
        element = data.draw(st.integers(0, len(proof) - 1), label="element")
        position = data.draw(st.integers(0, 31), label="byte")
        assert not verify_inclusion(leaf, index, size, _flip(proof, element, position), good_root)
        dropped = [*proof[:element], *proof[element + 1 :]]
        assert not verify_inclusion(leaf, index, size, dropped, good_root)
    other_indices = [i for i in range(size) if i != index]
    if other_indices:
        other = data.draw(st.sampled_from(other_indices), label="index")
        assert not verify_inclusion(leaf, other, size, proof, good_root)
    other_sizes = [s for s in range(index + 1, MAX_SIZE + 1) if s != size]
    if other_sizes:  # none for the last leaf of the largest tree
        other_size = data.draw(st.sampled_from(other_sizes), label="size")
        assert not verify_inclusion(leaf, index, other_size, proof, BIG_ROOTS[other_size])
    wrong_root = data.draw(st.binary(min_size=32, max_size=32).filter(lambda r: r != good_root))
    assert not verify_inclusion(leaf, index, size, proof, wrong_root)
    assert not verify_inclusion(leaf, index, size, proof, BIG_ROOTS[size - 1])


@given(old_and_new(), st.data())
def test_tampered_consistency_proofs_never_verify(
    case: tuple[int, int], data: st.DataObject
) -> None:
    """A flipped byte, dropped or extra node, wrong size or wrong root always fails."""
    old, new = case
    r1, r2 = BIG_ROOTS[old], BIG_ROOTS[new]
    proof = consistency_proof(old, new, BIG_TREE.read)
    element = data.draw(st.integers(0, len(proof) - 1), label="element")
    position = data.draw(st.integers(0, 31), label="byte")
    assert not verify_consistency(old, new, r1, r2, _flip(proof, element, position))
    assert not verify_consistency(old, new, r1, r2, [*proof[:element], *proof[element + 1 :]])
    extra = data.draw(st.binary(min_size=32, max_size=32), label="extra")
    at = data.draw(st.integers(min_value=0, max_value=len(proof)), label="insert at")
    assert not verify_consistency(old, new, r1, r2, [*proof[:at], extra, *proof[at:]])
    other_olds = [m for m in range(1, new) if m != old]
    if other_olds:
        other_old = data.draw(st.sampled_from(other_olds), label="old")
        if proof != consistency_proof(other_old, new, BIG_TREE.read):
            assert not verify_consistency(other_old, new, BIG_ROOTS[other_old], r2, proof)
    other_news = [n for n in range(old + 1, MAX_SIZE + 1) if n != new]
    if other_news:
        other_new = data.draw(st.sampled_from(other_news), label="new")
        if proof != consistency_proof(old, other_new, BIG_TREE.read):
            assert not verify_consistency(old, other_new, r1, BIG_ROOTS[other_new], proof)
    assert not verify_consistency(old, new, r1, BIG_ROOTS[new - 1], proof)
    assert not verify_consistency(old, new, BIG_ROOTS[old - 1], r2, proof)
    assert not verify_consistency(old, new, r2, r1, proof)
