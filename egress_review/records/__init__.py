"""Standard records: ACRO's ``results.json`` in (evidence for checkers) and out (one per release), and
each release's provenance as a Five Safes RO-Crate."""
