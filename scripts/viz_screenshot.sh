#!/usr/bin/env bash
# A screenshot of the project's whole Kedro graph as `kedro viz` draws it:
# `kedro viz build`, served on localhost, rendered by headless Chromium (Debian: apt-get install
# chromium). Usage: scripts/viz_screenshot.sh [out.png]   (default docs/img/kedro_viz.png)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-docs/img/kedro_viz.png}")
chromium=$(command -v chromium || command -v chromium-browser || command -v google-chrome) || {
  echo "no Chromium found: apt-get install chromium" >&2; exit 1; }
.venv/bin/kedro viz build >/dev/null
# kedro-viz keeps its display settings in localStorage: a page of the same origin sets them
# (light theme, no sidebar, minimap or tour), then opens the graph
cat > build/screenshot.html <<'HTML'
<script>
const s = JSON.parse(localStorage.getItem("KedroViz") || "{}");
Object.assign(s, {theme: "light", showFeatureHints: false, textLabels: true, isPrettyName: false,
                  orientation: "vertical", pipeline: {active: "__default__"},
                  visible: {graph: true, sidebar: false, miniMap: false, code: false,
                            slicing: false, traceback: false}});
localStorage.setItem("KedroViz", JSON.stringify(s));
location.replace("index.html");
</script>
HTML
port=${VIZ_PORT:-8765}
(cd build && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
trap 'kill $server' EXIT
sleep 1
profile=$(mktemp -d)
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size=2400,1300 --force-device-scale-factor=2 \
  --hide-scrollbars --virtual-time-budget=20000 --screenshot="$out" \
  "http://127.0.0.1:$port/screenshot.html" 2>/dev/null
rm -rf "$profile"
# keep the graph: drop kedro-viz's toolbar (the left 140 px) and the empty margins
.venv/bin/python - "$out" <<'PY'
import sys
import numpy as np
from PIL import Image
img = Image.open(sys.argv[1]).convert("RGB")
a = np.asarray(img).astype(int)
scale = img.width // 2400
left = 140 * scale
body = a[:, left:]
ink = body.mean(-1) < 200  # text, edges and node outlines, not the faint layer bands
ink[: 40 * scale, -200 * scale:] = False  # the version label
ys, xs = np.nonzero(ink)
m = 20 * scale
box = (left + max(xs.min() - m, 0), max(ys.min() - m, 0),
       left + min(xs.max() + m, body.shape[1]), min(ys.max() + m, a.shape[0]))
img.crop(box).save(sys.argv[1], optimize=True)
PY
echo "wrote $out"
