/* The live radar of the merchant console (templates/cards/console/radar_feed.html).
 *
 * EventSource on /api/v1/radar/stream?after=<the newest item drawn> with the session cookie: the server ends each
 * stream after a while (it holds a server thread) and the browser reconnects by itself with Last-Event-ID, so no
 * item is missed or shown twice. Where EventSource cannot run or keeps failing, a long-poll of /api/v1/radar takes
 * over. New items go on top, as text.
 */
function radarStart() {
  "use strict";

  var panel = document.getElementById("radar");
  if (!panel) { return; }
  var feed = document.getElementById("radar-feed");
  var status = document.getElementById("radar-status");
  var after = panel.dataset.after || "0-0";
  var seen = {};
  Array.prototype.forEach.call(feed.querySelectorAll("[data-id]"), function (item) { seen[item.dataset.id] = true; });

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function timeOf(iso) {
    var moment = new Date(iso);
    if (isNaN(moment.getTime())) { return ""; }
    function two(n) { return ("0" + n).slice(-2); }
    return two(moment.getMonth() + 1) + "-" + two(moment.getDate()) + " " + two(moment.getHours()) + ":" +
      two(moment.getMinutes());
  }

  function show(item) {
    if (!item || !item.id || seen[item.id]) { return; }
    seen[item.id] = true;
    after = item.id;
    var empty = document.getElementById("radar-empty");
    if (empty) { empty.remove(); }
    var row = document.createElement("li");
    row.className = "radar-item radar-new";
    row.dataset.id = item.id;
    var when = document.createElement("time");
    when.dateTime = item.at || "";
    when.textContent = timeOf(item.at);
    var text = document.createElement("span");
    text.className = "radar-text";
    text.textContent = item.text;
    row.appendChild(when);
    row.appendChild(text);
    if (item.lead_id) {
      var link = document.createElement("a");
      link.className = "radar-lead text-primary-600";
      link.href = "../lead/" + encodeURIComponent(item.lead_id) + "/change/";
      link.textContent = "线索 lead";
      row.appendChild(link);
    }
    feed.insertBefore(row, feed.firstChild);
  }

  function poll() {
    setStatus("polling", "轮询中 polling");
    var url = panel.dataset.pollUrl + "?wait=20&after=" + encodeURIComponent(after);
    window.fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}}).then(function (response) {
      if (response.status === 403) { throw new Error("forbidden"); }
      if (!response.ok) { return {items: [], retry_after: 10}; }
      return response.json();
    }).then(function (page) {
      page.items.forEach(show);
      window.setTimeout(poll, (page.retry_after || 0) * 1000);
    }).catch(function (error) {
      if (String(error.message) === "forbidden") { setStatus("offline", "无权查看 not allowed"); return; }
      setStatus("offline", "已断开，重试中 reconnecting");
      window.setTimeout(poll, 10000);
    });
  }

  if (!window.EventSource) { poll(); return; }

  var failures = 0;
  var source = new window.EventSource(panel.dataset.streamUrl + "?after=" + encodeURIComponent(after));
  source.addEventListener("open", function () { failures = 0; setStatus("live", "实时 live"); });
  source.addEventListener("message", function (event) {
    try { show(JSON.parse(event.data)); } catch (error) { /* not an item: ignore */ }
  });
  source.addEventListener("busy", function () { setStatus("offline", "服务器繁忙，稍后重连 busy, reconnecting"); });
  source.addEventListener("error", function () {
    failures += 1;
    if (source.readyState === window.EventSource.CLOSED || failures > 5) {
      source.close();
      poll();
    } else {
      setStatus("offline", "重新连接中 reconnecting");
    }
  });
}

// The admin loads this file in <head>, before the panel exists.
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", radarStart);
} else {
  radarStart();
}
