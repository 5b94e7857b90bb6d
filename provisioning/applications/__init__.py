"""Data-access applications (the "single window"): what an applicant asks for, how it is assessed,
decided and, once approved, turned into a project declaration."""

from provisioning.applications import prepared as _prepared

_prepared.wire()  # the pre-assessment, the DPIA draft and the twin (active where the session names var_dir)
