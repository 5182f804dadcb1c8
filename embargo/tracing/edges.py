"""Reading a variation point that the start or the end of a leaked text cuts through.

A point is read by its wording with the fixed text on both sides (the needle). An excerpt
that starts a few words before a point, or stops a few words after it, loses part of that
text, and the point would say nothing. What is left can still be read when it is sure:
- the wording itself is whole, and the fixed text on its other side is all there (at
  least EDGE_CONTEXT_CHARS of it);
- the text is cut between two words, never inside one;
- no other wording of the point, cut the same way, reads the same ("crafted package"
  left of "specially crafted package" is either), and the piece is found in no other
  point's needle (it would then not say which point the text starts at).
"""

from __future__ import annotations

EDGE_CONTEXT_CHARS = 8


def _context_ok(text: str) -> bool:
    return len(text.replace(" ", "")) >= EDGE_CONTEXT_CHARS


def _elsewhere(piece: str, point, points) -> bool:
    return any(piece in n for other in points if other is not point for n in other.needles)


def edges_observe(point, points, text: str) -> list[tuple[int, int]]:
    """(choice, position) for each wording of `point` that the cut start or end of
    `text` (normalised, with a space at each end) shows; [] when it shows none."""
    if not point.spans:
        return []
    found = []
    for choice, (needle, (start, end)) in enumerate(zip(point.needles, point.spans, strict=True)):
        # The text starts inside the fixed text before the wording.
        if _context_ok(needle[end:]):
            for cut in range(1, start + 1):
                if needle[cut] != " ":
                    continue
                piece = needle[cut:]
                if text.startswith(piece):
                    others = [n for i, n in enumerate(point.needles) if i != choice]
                    if not any(n.endswith(piece) for n in others) and not _elsewhere(
                        piece, point, points
                    ):
                        found.append((choice, 0))
                    break
        # The text stops inside the fixed text after the wording.
        if _context_ok(needle[:start]):
            for cut in range(len(needle) - 1, end - 1, -1):
                if needle[cut] != " ":
                    continue
                piece = needle[: cut + 1]
                if text.endswith(piece):
                    others = [n for i, n in enumerate(point.needles) if i != choice]
                    if not any(n.startswith(piece) for n in others) and not _elsewhere(
                        piece, point, points
                    ):
                        found.append((choice, len(text) - len(piece)))
                    break
    return found
