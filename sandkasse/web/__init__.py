"""Web machinery shared by Sandkasse's server-rendered UIs (the egress review UI and the application
portal): Keycloak login (authorization code + PKCE), encrypted session cookies, CSRF tokens, the
message catalogue, the page layout and the security headers. Each UI brings its own routes, labels
and permission functions; nothing here knows about egress or provisioning."""
