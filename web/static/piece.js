// The score drawn by abcjs from the piece's ABC, with a cursor that follows the audio:
// the notes sounding now are highlighted and a line stands at them. Without JavaScript
// (or abcjs) the page keeps the score's picture and the plain audio player.
(function () {
  "use strict";
  // The ABC laid out for reading (clefs, grand staves, a drum staff), else the ABC itself.
  var source = document.getElementById("abc-drawn") || document.getElementById("abc-source");
  var target = document.getElementById("score");
  var audio = document.getElementById("player");
  var button = document.getElementById("play");
  if (!source || !target || !window.ABCJS) return;

  var visual = window.ABCJS.renderAbc(target, source.textContent, {
    add_classes: true,
    responsive: "resize",
    staffwidth: 900,
    // The ABC writes each voice on one line: wrap it into systems of a few bars.
    wrap: { minSpacing: 1.8, maxSpacing: 2.7, preferredMeasuresPerLine: 4 },
  })[0];
  if (!visual) return;
  document.body.classList.add("score-drawn");
  if (!audio) return;

  var timing = new window.ABCJS.TimingCallbacks(visual, {});
  var events = (timing.noteTimings || []).filter(function (e) {
    return e.type === "event" && e.elements && e.elements.length;
  });
  var svg = target.querySelector("svg");
  var cursor = null;
  if (svg) {
    cursor = document.createElementNS("http://www.w3.org/2000/svg", "line");
    cursor.setAttribute("class", "abcjs-cursor");
    cursor.setAttribute("x1", "0");
    cursor.setAttribute("x2", "0");
    cursor.setAttribute("y1", "0");
    cursor.setAttribute("y2", "0");
    svg.appendChild(cursor);
  }
  var shown = -1;
  var lit = [];

  function eventAt(ms) {
    var lo = 0, hi = events.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (events[mid].milliseconds <= ms) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  function show(index) {
    if (index === shown) return;
    shown = index;
    lit.forEach(function (el) { el.classList.remove("abcjs-highlight"); });
    lit = [];
    if (index < 0) return;
    var e = events[index];
    e.elements.forEach(function (group) {
      group.forEach(function (el) { el.classList.add("abcjs-highlight"); lit.push(el); });
    });
    if (cursor) {
      cursor.setAttribute("x1", String(e.left - 2));
      cursor.setAttribute("x2", String(e.left - 2));
      cursor.setAttribute("y1", String(e.top));
      cursor.setAttribute("y2", String(e.top + e.height));
    }
    target.dataset.cursor = String(index);
  }

  function follow() {
    show(eventAt(audio.currentTime * 1000));
    if (!audio.paused && !audio.ended) window.requestAnimationFrame(follow);
  }

  audio.addEventListener("play", function () { window.requestAnimationFrame(follow); });
  audio.addEventListener("seeked", follow);
  audio.addEventListener("timeupdate", follow);
  audio.addEventListener("play", function () { if (button) button.textContent = "Pause"; });
  audio.addEventListener("pause", function () { if (button) button.textContent = "Play with the score"; });
  if (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      if (audio.paused) { audio.play(); } else { audio.pause(); }
    });
  }
})();
