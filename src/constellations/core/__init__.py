"""Core objects, used by every layer above: configurations and graphs (:mod:`.configuration`,
:mod:`.graphs`), margins (:mod:`.margins`) and their certification (:mod:`.certify`), exact numbers and
directed rounding (:mod:`.exact`), errors (:mod:`.errors`), devices (:mod:`.devices`), stop signals and
the stop flag (:mod:`.interrupts`), the one deadline of a long computation (:mod:`.deadline`), worker
counts (:mod:`.workers`), conic solves (:mod:`.conic`)."""
