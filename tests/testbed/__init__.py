"""The real test bed: session fixtures that start Docker, the base image, Keycloak and PostgreSQL
(see ``fixtures.py``), with the set-up time of each printed in the pytest summary."""
