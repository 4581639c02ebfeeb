// The ipywidgets HTML manager typesets widget labels through the MathJax 2 API
// (MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])); the book serves MathJax 3.
// Before the widgets render (on "load", registered ahead of the manager's own listener),
// give MathJax 3 a Hub.Queue that forwards to typesetPromise.
window.addEventListener("load", function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub || typeof mj.typesetPromise !== "function") return;
  mj.Hub = {
    Queue: function (command) {
      var element = Array.isArray(command) ? command[2] : undefined;
      var ready = mj.startup && mj.startup.promise ? mj.startup.promise : Promise.resolve();
      return ready.then(function () { return mj.typesetPromise(element ? [element] : undefined); });
    },
  };
});
