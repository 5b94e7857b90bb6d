"""Data-access applications (the "single window"): what an applicant asks for, how it is assessed,
decided and, once approved, turned into a project declaration."""
