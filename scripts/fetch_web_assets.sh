#!/usr/bin/env bash
# Fetch the JavaScript the offline book serves from its own build, from the npm registry:
# MathJax 3 (math), require.js and the ipywidgets HTML manager (widgets), with their fonts.
# Nothing here is committed: the files land in $1 (default _vendor/), which _config.yml lists
# in html_static_path, so Sphinx copies them to _build/html/_static/.
set -euo pipefail
dest=${1:-_vendor}
MATHJAX=3.2.2
HTML_MANAGER=1.0.15   # the ipywidgets 8 HTML manager (@jupyter-widgets/controls 5)
REQUIREJS=2.3.7

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetching web assets from the npm registry into $dest/"
(cd "$work" && npm install --no-save --no-audit --no-fund --loglevel=error \
  "mathjax@$MATHJAX" "@jupyter-widgets/html-manager@$HTML_MANAGER" "requirejs@$REQUIREJS" >/dev/null)
mods="$work/node_modules"

rm -rf "$dest/static"
mkdir -p "$dest/static/mathjax/output/chtml/fonts" "$dest/static/mathjax/input/tex" \
         "$dest/static/widgets/html-manager/dist"
# MathJax: the combined TeX -> CommonHTML component, its web fonts and the on-demand TeX extensions.
cp "$mods/mathjax/es5/tex-mml-chtml.js" "$dest/static/mathjax/"
# The self-contained SVG build, inlined into nbgrader's feedback pages (offline math there too).
cp "$mods/mathjax/es5/tex-svg.js" "$dest/static/mathjax/"
cp -r "$mods/mathjax/es5/output/chtml/fonts/woff-v2" "$dest/static/mathjax/output/chtml/fonts/"
cp -r "$mods/mathjax/es5/input/tex/extensions" "$dest/static/mathjax/input/tex/"
cp -r "$mods/mathjax/es5/a11y" "$mods/mathjax/es5/sre" "$mods/mathjax/es5/ui" "$dest/static/mathjax/"
# Widgets: require.js, then the AMD embedder (it bundles base + controls) and its icon fonts.
cp "$mods/requirejs/require.js" "$dest/static/widgets/require.js"
dist="$mods/@jupyter-widgets/html-manager/dist"
cp "$dist/embed-amd.js" "$dist/libembed-amd.js" "$dest/static/widgets/html-manager/dist/"
cp "$dist"/*.woff "$dist"/*.woff2 "$dist"/*.ttf "$dist"/*.eot "$dist"/*.svg "$dest/static/widgets/html-manager/dist/"
for f in LICENSE LICENSE.txt; do
  [ -f "$mods/mathjax/$f" ] && cp "$mods/mathjax/$f" "$dest/static/mathjax/"
done
touch "$dest/.fetched"
echo "web assets ready: $(du -sh "$dest/static" | cut -f1)"
