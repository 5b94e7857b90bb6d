"""Who is calling: Keycloak tokens (checkers, admins, researchers outside the sandbox) and hub-issued
project tokens (a researcher's notebook server, bound to one project)."""
