"""Kubernetes rendering of the sandbox policy (``hub/sandbox.py``): ``ProjectKubeSpawner``, the pod
settings and the per-project NetworkPolicy, and the checks the spawner runs on what it sends."""
