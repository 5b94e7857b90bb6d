#!/bin/bash
# Start the hub. The sandbox firewall (hub/firewall.py) must land in the same iptables backend the
# host's Docker engine uses (nf_tables or legacy), or the rules would sit in tables nobody reads: use
# the backend in which Docker's own DOCKER chain exists.
set -euo pipefail
for backend in nft legacy; do
  if "iptables-$backend" -w 10 -S DOCKER >/dev/null 2>&1; then
    mkdir -p /run/sandkasse-bin
    for tool in iptables ip6tables iptables-save ip6tables-save iptables-restore ip6tables-restore; do
      ln -sf "$(command -v "${tool/tables/tables-$backend}" 2>/dev/null || command -v "$tool")" "/run/sandkasse-bin/$tool"
    done
    export PATH="/run/sandkasse-bin:$PATH"
    echo "sandkasse-hub: iptables backend $backend (where Docker's chains are)"
    break
  fi
done
exec jupyterhub -f /srv/jupyterhub/jupyterhub_config.py "$@"
