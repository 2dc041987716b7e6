#!/usr/bin/env bash
# Renders scripts/icon/icon.svg into media/icon.png (128x128, the marketplace icon) with headless chromium,
# then crops with ImageMagick: chromium's --window-size includes space that the page does not get.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROFILE=$(mktemp -d); trap 'rm -rf "$PROFILE"' EXIT
chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$PROFILE" \
  --hide-scrollbars --default-background-color=00000000 --window-size=400,400 \
  --screenshot="$PROFILE/shot.png" "file://$ROOT/scripts/icon/icon.svg" 2>/dev/null
convert "$PROFILE/shot.png" -crop 128x128+0+0 +repage "$ROOT/media/icon.png"
echo "wrote $ROOT/media/icon.png"
