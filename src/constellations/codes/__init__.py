"""Codes on the sphere: classic polytopes and root systems (:mod:`.polytopes`), the paper's constructions and
the one dispatcher by name (:mod:`.constructions`, which also re-exports the classic builders), binary and Z4
codes (:mod:`.binary`), lattice shells (:mod:`.lattices`), and the catalogue of codes with exactly proved inner
products (:mod:`.catalogue`)."""
