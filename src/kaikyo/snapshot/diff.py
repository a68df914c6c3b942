"""Difference between two snapshot trees, skipping identical subtrees without loading them."""

from __future__ import annotations

from collections.abc import Iterator

from kaikyo.core.format.tree import TreeNode
from kaikyo.repo import Repository
from kaikyo.snapshot import trees


def _metadata(n: TreeNode) -> tuple[object, ...]:
    return n.mode, n.uid, n.gid, n.mtime, n.type


def diff_trees(
    repo: Repository, a: bytes | str | None, b: bytes | str | None, base: bytes = b""
) -> Iterator[tuple[str, bytes]]:
    """Yield ('+', path), ('-', path), ('M', path) content change, ('T', path) metadata only.

    A tree is given by its id (bytes, or hex as a snapshot names its root); None or "" is an
    empty side. A symlink whose target changed counts as a content change, whatever bytes the
    target is made of.
    """
    if a == b or (not a and not b):
        return
    left = {n.name: n for n in trees.load_tree(repo, a)} if a else {}
    right = {n.name: n for n in trees.load_tree(repo, b)} if b else {}
    for name in sorted(set(left) | set(right)):
        path = base + b"/" + name
        ln, rn = left.get(name), right.get(name)
        if ln is None:
            yield "+", path
            yield from _all(repo, rn, path, "+")
        elif rn is None:
            yield "-", path
            yield from _all(repo, ln, path, "-")
        else:
            if ln.content != rn.content or ln.target != rn.target:
                yield "M", path
            elif _metadata(ln) != _metadata(rn) and not ln.is_dir:
                yield "T", path
            if ln.is_dir or rn.is_dir:
                yield from diff_trees(
                    repo,
                    ln.subtree if ln.is_dir else None,
                    rn.subtree if rn.is_dir else None,
                    path,
                )


def _all(
    repo: Repository, node: TreeNode | None, path: bytes, sign: str
) -> Iterator[tuple[str, bytes]]:
    if node is None or not node.is_dir or node.subtree is None:
        return
    for p, _ in trees.walk(repo, node.subtree, path):
        yield sign, p
