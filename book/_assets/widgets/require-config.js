// Tell require.js where the ipywidgets HTML manager lives: in this build's own _static folder
// (next to this file), not on a CDN, so widgets render offline.
(function () {
  var here = document.currentScript.src; // .../_static/widgets/require-config.js
  var dist = here.replace(/require-config\.js(\?.*)?$/, "html-manager/dist");
  window.require.config({ paths: { "@jupyter-widgets/html-manager/dist": dist } });
})();
