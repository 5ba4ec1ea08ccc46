#!/usr/bin/env bash
# Rebuild the DEMO list hashlists/demo.libra from three benign sample photos (run from the repository root).
#
# The demo identity and publisher key in this folder are published on purpose, so the README's demo needs
# no key set-up. They protect nothing: never use them, or this script's output, for a real list.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f hashlists/demo-identity.txt ] || libra keygen -o hashlists/demo-identity.txt > hashlists/demo-recipient.txt
[ -f hashlists/demo-publisher.key ] || libra hashlist keygen -o hashlists/demo-publisher.key
libra hash tests/data/photos/chelsea.jpg tests/data/photos/coffee.jpg tests/data/photos/rocket.jpg \
    --robust --format csv --workers 1 --label "benign demo photo" --category demo > hashlists/demo-source.csv
libra hashlist build hashlists/demo-source.csv -o hashlists/demo.libra --force \
    --recipients-file hashlists/demo-recipient.txt --sign-key hashlists/demo-publisher.key \
    --name "libra demo list" --publisher "libra project (demo only)" \
    --description "Hashes of three benign stock photos from tests/data/photos; for trying libra, nothing else"
