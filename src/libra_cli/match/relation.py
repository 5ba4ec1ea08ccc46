"""How a matched file relates to the listed picture, from the variants on both sides of the match.

A hash the scan computed after transforming the file by Q (a query-side variant: ``mirror``, ``rot90``)
that matches a list hash of the listed picture P transformed by L (a list-side variant: ``real-mirror``)
says Q(file) = L(P), so the file is P transformed by L, then by the inverse of Q. The eight
mirrors and quarter turns form a group (the dihedral group of the square), so that composition is
again one of them, and findings name it: "the file is the listed picture, mirrored".

Each transform is a 2 x 2 matrix acting on picture coordinates (x to the right, y down), as
Pillow's ``Image.transpose`` moves pixels: ``rot90`` is a quarter turn counter-clockwise
(``ROTATE_90``), ``mirror`` left-right, ``flip`` top-bottom, ``transpose`` across the main diagonal,
``transverse`` across the other one. Variants that are not mirrors or turns (crops, regions, ``trim``)
leave the relation as it is; the finding names them in ``list_variant`` and ``query_variant``.

>>> relation("original", "real-mirror")
'mirror'
>>> relation("rot90", "original"), relation("rot90", "real-rot90")
('rot270', 'original')
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..variants import REAL_PREFIX

#: The eight transforms as integer matrices on (x, y) coordinates, y pointing down.
_MATRICES: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "original": ((1, 0), (0, 1)),
    "rot90": ((0, 1), (-1, 0)),
    "rot180": ((-1, 0), (0, -1)),
    "rot270": ((0, -1), (1, 0)),
    "flip": ((1, 0), (0, -1)),
    "mirror": ((-1, 0), (0, 1)),
    "transpose": ((0, 1), (1, 0)),
    "transverse": ((0, -1), (-1, 0)),
}
DIHEDRAL: tuple[str, ...] = tuple(_MATRICES)


def _matrix(name: str) -> npt.NDArray[np.int64]:
    return np.array(_MATRICES[name], dtype=np.int64)


_BY_MATRIX = {tuple(_matrix(name).ravel().tolist()): name for name in DIHEDRAL}


def dihedral_part(variant: str | None) -> str:
    """The mirror or turn a variant applies (``original`` for crops, regions and unknown names).

    >>> dihedral_part("real-rot90"), dihedral_part("mirror"), dihedral_part("crop5-center")
    ('rot90', 'mirror', 'original')
    """
    if not variant:
        return "original"
    name = variant.removeprefix(REAL_PREFIX)
    return name if name in _MATRICES else "original"


def compose(first: str, then: str) -> str:
    """The transform ``then`` applied after ``first``.

    >>> compose("rot90", "rot90"), compose("rot90", "mirror")
    ('rot180', 'transverse')
    """
    product = _matrix(then) @ _matrix(first)
    return _BY_MATRIX[tuple(product.ravel().tolist())]


def inverse(name: str) -> str:
    """The transform that undoes ``name`` (the quarter turns undo each other; the rest undo themselves)."""
    return _BY_MATRIX[tuple(np.round(np.linalg.inv(_matrix(name))).astype(np.int64).ravel().tolist())]


def relation(query_variant: str | None, list_variant: str | None = None) -> str:
    """How the scanned file relates to the listed picture: the list side's transform, then the
    inverse of the query side's (``original`` when the file is the listed picture as it is)."""
    return compose(dihedral_part(list_variant), inverse(dihedral_part(query_variant)))
