/* The H5 card page's script (templates/cards/card.html): tracking, save contact, share, chat.
 *
 * - The visitor is a device id kept in localStorage ("mall.visitorId", sent as X-Visitor-Id); a page opening is a
 *   visit id made here. A page embedded by a client that logged the visitor in keeps its access token in
 *   localStorage ("mall.accessToken"): it is sent as `Authorization: Token ...`, and dropped if it is refused.
 * - Tracking (POST /api/v1/cards/track): view_card on open; view_product, copy_wechat, save_phone, call, chat,
 *   share as they happen; `leave` with the seconds the page was visible, when it is hidden or closed, by
 *   navigator.sendBeacon (the device id in the body: a beacon cannot set headers), or by a keepalive fetch when
 *   the request must carry a token or a CSRF header.
 * - No handler attributes and no inline code anywhere: the page's Content-Security-Policy allows only this file.
 */
(function () {
  "use strict";

  var body = document.body;
  var config = body.dataset;
  var VISITOR_KEY = "mall.visitorId";
  var TOKEN_KEY = "mall.accessToken";
  var ID = /^[A-Za-z0-9_-]{8,64}$/;
  var MAX_DWELL = 6 * 3600;

  function randomId(prefix) {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return prefix + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function stored(key) {
    try { return window.localStorage.getItem(key) || ""; } catch (error) { return ""; }
  }

  function store(key, value) {
    try {
      if (value) { window.localStorage.setItem(key, value); } else { window.localStorage.removeItem(key); }
    } catch (error) { /* private mode: the id lives as long as the page */ }
  }

  var visitorId = stored(VISITOR_KEY);
  if (!ID.test(visitorId)) {
    visitorId = randomId("h5-");
    store(VISITOR_KEY, visitorId);
  }
  var visitId = randomId("open-");

  function headers(json) {
    var result = {"X-Visitor-Id": visitorId, "X-CSRFToken": config.csrf};
    var token = stored(TOKEN_KEY);
    if (token) { result.Authorization = "Token " + token; }
    if (json) { result["Content-Type"] = "application/json"; }
    return result;
  }

  function api(method, url, payload, retried) {
    var options = {method: method, headers: headers(payload !== undefined), credentials: "same-origin"};
    if (payload !== undefined) { options.body = JSON.stringify(payload); }
    return window.fetch(url, options).then(function (response) {
      if (response.status === 401 && stored(TOKEN_KEY) && !retried) {
        store(TOKEN_KEY, "");  // an expired or revoked token: go on as the anonymous device
        return api(method, url, payload, true);
      }
      return response;
    });
  }

  var toastTimer = null;
  function toast(text) {
    var element = document.getElementById("toast");
    element.textContent = text;
    element.hidden = false;
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(function () { element.hidden = true; }, 2000);
  }

  // --- tracking ---------------------------------------------------------------------------------------------
  function trackBody(action, extra) {
    var payload = {visit_id: visitId, action: action};
    if (config.shareId) { payload.share_id = config.shareId; } else { payload.card_id = Number(config.cardId); }
    Object.keys(extra || {}).forEach(function (name) { payload[name] = extra[name]; });
    return payload;
  }

  function track(action, extra) {
    return api("POST", config.trackUrl, trackBody(action, extra)).catch(function () { return null; });
  }

  var visibleSince = document.visibilityState === "visible" ? Date.now() : null;
  var visibleMs = 0;

  function dwellSeconds() {
    var total = visibleMs + (visibleSince === null ? 0 : Date.now() - visibleSince);
    return Math.min(Math.round(total / 1000), MAX_DWELL);
  }

  function leave() {
    if (visibleSince !== null) {
      visibleMs += Date.now() - visibleSince;
      visibleSince = null;
    }
    var payload = trackBody("leave", {dwell_seconds: dwellSeconds()});
    var anonymous = !stored(TOKEN_KEY) && config.session !== "1";
    if (anonymous && navigator.sendBeacon) {
      payload.visitor_id = visitorId;
      var blob = new Blob([JSON.stringify(payload)], {type: "application/json"});
      if (navigator.sendBeacon(config.trackUrl, blob)) { return; }
    }
    window.fetch(config.trackUrl, {method: "POST", headers: headers(true), body: JSON.stringify(payload),
                                   keepalive: true, credentials: "same-origin"}).catch(function () { return null; });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { leave(); } else if (visibleSince === null) { visibleSince = Date.now(); }
  });
  window.addEventListener("pagehide", function () { if (visibleSince !== null) { leave(); } });

  // --- sheets (products, share, chat) -------------------------------------------------------------------------
  function openSheet(sheet) {
    if (typeof sheet.showModal === "function") { sheet.showModal(); } else { sheet.setAttribute("open", ""); }
  }

  function closeSheet(sheet) {
    if (typeof sheet.close === "function") { sheet.close(); } else { sheet.removeAttribute("open"); }
  }

  Array.prototype.forEach.call(document.querySelectorAll("dialog.sheet .close"), function (button) {
    button.addEventListener("click", function () { closeSheet(button.closest("dialog")); });
  });

  Array.prototype.forEach.call(document.querySelectorAll("a.product"), function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var sheet = document.getElementById("product-" + link.dataset.listingId);
      if (sheet) { openSheet(sheet); }
      track("view_product", {listing_id: Number(link.dataset.listingId)});
    });
  });

  // --- contact ------------------------------------------------------------------------------------------------
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return copyBySelection(text); });
    }
    return Promise.resolve(copyBySelection(text));
  }

  function copyBySelection(text) {
    var field = document.createElement("textarea");
    field.value = text;
    field.setAttribute("readonly", "");
    field.className = "offscreen";
    body.appendChild(field);
    field.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
    body.removeChild(field);
    return copied;
  }

  var copyWechat = document.getElementById("copy-wechat");
  if (copyWechat) {
    copyWechat.addEventListener("click", function () {
      track("copy_wechat");
      copyText(config.wechat).then(function () { toast("微信号已复制"); });
    });
  }

  var call = document.getElementById("call");
  if (call) { call.addEventListener("click", function () { track("call"); }); }

  document.getElementById("save-contact").addEventListener("click", function () {
    track("save_phone");
    api("GET", config.vcardUrl).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.blob();
    }).then(function (blob) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = (document.getElementById("card-name").textContent || "card").trim() + ".vcf";
      body.appendChild(link);
      link.click();
      body.removeChild(link);
      window.setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
      toast("已生成联系人名片");
    }).catch(function () { toast("暂时无法保存，请稍后再试"); });
  });

  // --- share --------------------------------------------------------------------------------------------------
  var shareSheet = document.getElementById("share-sheet");
  document.getElementById("open-share").addEventListener("click", function () { openSheet(shareSheet); });

  Array.prototype.forEach.call(shareSheet.querySelectorAll("[data-channel]"), function (button) {
    button.addEventListener("click", function () {
      var payload = {card_id: Number(config.cardId), channel: button.dataset.channel};
      if (config.shareId) { payload.parent_id = config.shareId; }
      api("POST", config.shareUrl, payload).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      }).then(function (share) {
        document.getElementById("share-link").value = window.location.origin + share.path;
        document.getElementById("share-qr").src = share.path + "/qr.svg";
        document.getElementById("share-result").hidden = false;
        track("share");
      }).catch(function () { toast("分享失败，请稍后再试"); });
    });
  });

  document.getElementById("copy-link").addEventListener("click", function () {
    copyText(document.getElementById("share-link").value).then(function () { toast("链接已复制，发给朋友吧"); });
  });

  // --- chat ---------------------------------------------------------------------------------------------------
  var chatSheet = document.getElementById("chat-sheet");
  var chatLog = document.getElementById("chat-log");
  var chatTimer = null;
  var chatted = false;

  function showThread(messages) {
    chatLog.textContent = "";
    if (!messages.length) {
      var empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "还没有消息，留言后导购会尽快回复";
      chatLog.appendChild(empty);
    }
    messages.forEach(function (message) {
      var item = document.createElement("li");
      item.className = message.direction === "in" ? "mine" : "theirs";
      item.textContent = message.text;  // text, never markup
      chatLog.appendChild(item);
    });
    chatLog.scrollTop = chatLog.scrollHeight;
  }

  function loadThread() {
    return api("GET", config.messagesUrl).then(function (response) {
      return response.ok ? response.json() : [];
    }).then(showThread).catch(function () { return null; });
  }

  document.getElementById("open-chat").addEventListener("click", function () {
    openSheet(chatSheet);
    loadThread();
    window.clearInterval(chatTimer);
    chatTimer = window.setInterval(loadThread, 5000);
  });
  chatSheet.addEventListener("close", function () { window.clearInterval(chatTimer); });

  document.getElementById("chat-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var field = document.getElementById("chat-text");
    var text = field.value.trim();
    if (!text) { return; }
    api("POST", config.messagesUrl, {text: text, client_key: randomId("msg-")}).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      field.value = "";
      if (!chatted) { chatted = true; track("chat"); }
      return loadThread();
    }).catch(function () { toast("发送失败，请稍后再试"); });
  });

  // --- the opening itself -------------------------------------------------------------------------------------
  track("view_card");
}());
