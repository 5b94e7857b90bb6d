"""The node agent: the privileged actions on a Docker node, taken out of the hub.

One agent runs on every Docker node (a plain privileged container with the host's network and PID
namespaces on a single host; a global service on a Swarm). It alone holds ``NET_ADMIN``/``SYS_ADMIN``:

* it installs the sandbox firewall (:mod:`hub.firewall`) for the ports of its own configuration and
  re-checks it periodically (``/health`` reports what is missing),
* it removes the default route of a notebook container and reports back; the hub considers the
  notebook started only after that report,
* it writes files into a workspace volume as the sandbox user (:mod:`hub.workspace`).

It listens on a unix socket only (``0600``, owned by the hub's uid, mounted into the hub and nowhere
else) and every request carries a shared token. It never trusts what a request says about a
container: it looks the name up in the engine and acts only on a running container labelled
``org.sandkasse.role=notebook`` whose every network is that project's internal sandbox network
(:mod:`hub.node_agent.verify`).
"""
