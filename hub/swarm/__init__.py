"""Docker Swarm rendering of the sandbox (:mod:`hub.sandbox`): ``ProjectSwarmSpawner``."""
