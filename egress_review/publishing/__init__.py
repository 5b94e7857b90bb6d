"""Open-data publication: the organisation's register of every published table (any project), the
check of a new table against it, and the ``sandkasse publication`` commands."""
