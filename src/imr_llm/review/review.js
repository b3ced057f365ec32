(function () {
  "use strict";

  var SEV = ["info", "low", "medium", "high"];
  var LABEL = { confirmed: "Confirm", dismissed: "Dismiss", unsure: "Unsure" };
  var KEYS = { c: "confirmed", d: "dismissed", u: "unsure" };
  var state = {
    index: null,
    view: [],
    letter: null, // the open letter's payload
    letterId: null,
    active: -1, // active finding index
    search: null, // {q, hits}
    show: "queue",
    orphans: false
  };
  window.__review = { ready: false, writes: 0, pending: 0 };

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function banner(msg) {
    var b = $("banner");
    b.textContent = msg;
    b.hidden = !msg;
  }

  var toastTimer = null;
  function toast(msg, warn) {
    var t = $("toast");
    t.textContent = msg;
    t.className = warn ? "warn" : "";
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { t.hidden = true; }, warn ? 7000 : 2500);
  }

  window.addEventListener("error", function (e) {
    banner("Review script error: " + (e.message || e));
  });

  async function api(path, body) {
    var opts = { credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    window.__review.pending++;
    var resp, text;
    try {
      resp = await fetch(path, opts);
      text = await resp.text();
    } finally {
      // (decremented after the caller's rendering: see settle below)
      setTimeout(function () { window.__review.pending--; }, 0);
    }
    var data;
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = { error: text };
    }
    if (!resp.ok) throw new Error(data.error || resp.status + " " + resp.statusText);
    return data;
  }

  function sevBadge(rank) {
    var name = rank >= 0 ? SEV[rank] : "none";
    return el("span", "sev sev-" + name, rank >= 0 ? name : "\u2014");
  }

  function reviewer() {
    var input = $("reviewer");
    var name = input.value.trim();
    if (!name) {
      input.classList.add("need");
      input.focus();
      toast("Enter your name first: every verdict records who made it.", true);
      return null;
    }
    input.classList.remove("need");
    try {
      localStorage.setItem("imr-review-name", name);
    } catch (e) { /* private mode: the name is asked again next time */ }
    return name;
  }

  /* ---------- queue ---------- */

  async function loadIndex() {
    state.index = await api("/api/index");
    renderProgress();
    renderQueue();
  }

  function renderProgress() {
    var p = state.index.progress;
    var text = p.flagged
      ? p.reviewed_flagged + " of " + p.flagged + " flagged letters reviewed"
      : p.reviewed + " of " + p.letters + " letters reviewed";
    $("progress-text").textContent = text;
    var pct = p.flagged ? (100 * p.reviewed_flagged) / p.flagged : p.letters ? (100 * p.reviewed) / p.letters : 0;
    $("pbar-fill").style.width = pct + "%";
    var ob = $("orphans-btn");
    ob.hidden = !state.index.orphans;
    ob.textContent = state.index.orphans + " verdict" + (state.index.orphans === 1 ? "" : "s") + " on findings gone since";
    ob.title = "Verdicts whose finding is no longer in results.jsonl (a re-audit changed or dropped it)";
  }

  function visibleRows() {
    var rows = state.index.letters;
    var show = state.show;
    if (state.search) {
      var order = {};
      state.search.hits.forEach(function (h, i) { order[h.id] = i; });
      return rows.filter(function (r) { return order[r.id] !== undefined; })
        .sort(function (a, b) { return order[a.id] - order[b.id]; });
    }
    return rows.filter(function (r) {
      if (show === "queue") return r.flagged;
      if (show === "todo") return r.flagged && !r.reviewed;
      if (show === "new") return r.new > 0;
      return true;
    });
  }

  function renderQueue() {
    var rows = visibleRows();
    state.view = rows;
    var body = $("rows");
    var frag = document.createDocumentFragment();
    var snippets = {};
    if (state.search) state.search.hits.forEach(function (h) { snippets[h.id] = h.snippet; });
    rows.forEach(function (r) {
      var tr = el("tr", r.reviewed ? "done" : null);
      tr.dataset.id = r.id;
      if (r.id === state.letterId) tr.classList.add("sel");
      var sev = el("td");
      sev.appendChild(sevBadge(r.m));
      tr.appendChild(sev);
      var id = el("td", "id", r.id);
      if (r.new) id.appendChild(el("span", "tag-new", "NEW " + r.new));
      if (snippets[r.id]) id.appendChild(el("span", "snip", "\u2026" + snippets[r.id] + "\u2026"));
      tr.appendChild(id);
      tr.appendChild(el("td", "num", r.nf || ""));
      var rv = el("td", "rv");
      if (r.reviewed) rv.appendChild(el("span", "rv-done", "\u2713"));
      [["confirmed", "\u2713"], ["dismissed", "\u2717"], ["unsure", "?"]].forEach(function (x) {
        if (r.v[x[0]]) rv.appendChild(el("span", "vbadge v-" + x[0], x[1] + r.v[x[0]])).title = r.v[x[0]] + " " + x[0];
      });
      if (r.added) rv.appendChild(el("span", "vbadge v-added", "+" + r.added)).title = r.added + " added";
      tr.appendChild(rv);
      tr.appendChild(el("td", "codes", r.codes.join(", ")));
      frag.appendChild(tr);
    });
    if (!rows.length) {
      var tr = el("tr", "none");
      var td = el("td", null, state.search ? "No letter text matches." : "Nothing here.");
      td.colSpan = 5;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
  }

  function moveLetter(step) {
    var rows = state.view;
    if (!rows.length) return;
    var pos = rows.findIndex(function (r) { return r.id === state.letterId; });
    pos = pos < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, pos + step));
    openLetter(rows[pos].id);
  }

  /* ---------- one letter ---------- */

  async function openLetter(id, keepActive) {
    var data = await api("/api/letter/" + encodeURIComponent(id));
    var same = state.letterId === id;
    state.letter = data;
    state.letterId = id;
    state.orphans = false;
    if (!same || !keepActive) state.active = data.findings.length ? 0 : -1;
    if (state.active >= data.findings.length) state.active = data.findings.length - 1;
    try {
      history.replaceState(null, "", "#letter=" + encodeURIComponent(id));
    } catch (e) { /* convenience only */ }
    renderLetter();
    document.querySelectorAll("#rows tr.sel").forEach(function (tr) { tr.classList.remove("sel"); });
    var tr = document.querySelector('#rows tr[data-id="' + CSS.escape(id) + '"]');
    if (tr) {
      tr.classList.add("sel");
      tr.scrollIntoView({ block: "nearest" });
    }
  }

  function itemLabel(rec, di) {
    if (di === null || di === undefined) return "letter";
    var d = rec.decisions[di];
    return "item " + (di + 1) + (d ? ": " + d.item : "");
  }

  function renderLetter() {
    var data = state.letter;
    var rec = data.record;
    var detail = $("detail");
    detail.dataset.letter = rec.letter_id;
    var info = el("div", "d-info");
    var head = el("div", "d-head");
    head.appendChild(el("h2", null, rec.letter_id));
    head.appendChild(el("span", "st-" + rec.status, rec.status));
    head.appendChild(el("span", "muted", rec.layout));
    head.appendChild(el("span", "src", rec.source));
    info.appendChild(head);
    if (rec.error) info.appendChild(el("div", "error-box", rec.error.kind + ": " + rec.error.message));

    info.appendChild(el("h3", null, "Summary"));
    info.appendChild(el("p", "summary", rec.summary || "(no summary)"));

    var actions = el("div", "d-actions");
    var mark = el("button", null, data.reviewed ? "\u2713 Reviewed" : "Mark letter reviewed (r)");
    mark.type = "button";
    mark.id = "mark-reviewed";
    mark.setAttribute("aria-pressed", data.reviewed ? "true" : "false");
    mark.addEventListener("click", toggleReviewed);
    actions.appendChild(mark);
    var add = el("button", null, "Add a missed finding from the selected text (a)");
    add.type = "button";
    add.id = "add-btn";
    add.addEventListener("click", openAddForm);
    actions.appendChild(add);
    if (data.letter_event) {
      actions.appendChild(el("span", "muted", (data.letter_event.verdict === "reviewed" ? "marked reviewed" : "marked not reviewed") +
        " by " + data.letter_event.reviewer + ", " + data.letter_event.at));
    }
    info.appendChild(actions);

    var findings = data.findings;
    info.appendChild(el("h3", null, "Findings (" + findings.length + ")"));
    if (!findings.length) info.appendChild(el("p", "nofind", "No findings. Select text in the letter to add one the tool missed."));
    var ol = el("ol", "findings");
    findings.forEach(function (f, fi) {
      ol.appendChild(findingItem(rec, data, f, fi));
    });
    info.appendChild(ol);

    var text = el("div", "d-text");
    var bar = el("div", "bar");
    bar.appendChild(el("b", null, "Letter text"));
    bar.appendChild(el("span", null, "select text, then press a to add a finding"));
    text.appendChild(bar);
    if (data.t) {
      var pre = el("pre", "letter");
      pre.id = "letter-text";
      pre.appendChild(renderNodes(data.t, findings, {}));
      pre.addEventListener("click", function (e) {
        var m = e.target.closest("mark[data-ev]");
        if (!m || String(window.getSelection())) return;
        setActive(Number(m.dataset.ev.split(".")[0]), true);
      });
      text.appendChild(pre);
    } else {
      text.appendChild(el("p", "notext", "Letter text not available in this audit folder."));
    }
    detail.replaceChildren(info, text);
    setActive(state.active, false);
  }

  function findingItem(rec, data, f, fi) {
    var li = el("li", "sev-row-" + f.severity + (f.verdict ? " judged" : ""));
    li.id = "finding-" + fi;
    li.dataset.f = fi;
    li.dataset.fid = f.id;
    var left = el("div");
    left.appendChild(sevBadge(SEV.indexOf(f.severity)));
    li.appendChild(left);
    var top = el("div");
    top.appendChild(el("span", "code", f.code));
    top.appendChild(el("span", "item", " \u00b7 " + itemLabel(rec, f.decision_index)));
    top.appendChild(el("span", "det", f.detector));
    if (f.new) top.appendChild(el("span", "tag-new", "NEW"));
    if (f.origin === "added") top.appendChild(el("span", "tag-added", "ADDED by " + f.added_by));
    li.appendChild(top);
    li.appendChild(el("div", "msg", f.message));
    var evs = el("div", "evs");
    (f.evidence || []).forEach(function (ev, ei) {
      var st = (data.v[fi] || [])[ei] || "missing";
      var quote = ev.quote.length > 220 ? ev.quote.slice(0, 220) + "\u2026" : ev.quote;
      var line = el("div");
      var a = el(st === "missing" ? "span" : "a", "ev" + (st === "missing" ? " missing" : ""), "\u201c" + quote + "\u201d");
      if (st !== "missing") {
        a.href = "#";
        a.dataset.ev = fi + "." + ei;
        a.addEventListener("click", function (e) {
          e.preventDefault();
          setActive(fi, false);
          focusEvidence(fi + "." + ei);
        });
      }
      line.appendChild(a);
      if (ev.page && data.pdf) {
        var pg = el("a", "ev-page", "PDF p. " + ev.page);
        pg.href = "/pdf/" + encodeURIComponent(rec.letter_id) + "#page=" + ev.page;
        pg.target = "_blank";
        pg.rel = "noopener noreferrer";
        pg.title = "Open the source PDF at this page";
        line.appendChild(pg);
      }
      evs.appendChild(line);
    });
    li.appendChild(evs);

    var vbar = el("div", "vbar");
    var current = f.verdict ? f.verdict.verdict : null;
    ["confirmed", "dismissed", "unsure"].forEach(function (v) {
      var b = el("button", "b-" + v, LABEL[v] + " (" + v.charAt(0) + ")");
      b.type = "button";
      b.dataset.verdict = v;
      b.setAttribute("aria-pressed", current === v ? "true" : "false");
      b.addEventListener("click", function (e) {
        e.stopPropagation();
        setActive(fi, false);
        sendVerdict(fi, v);
      });
      vbar.appendChild(b);
    });
    var sel = el("select", "reason");
    sel.setAttribute("aria-label", "Reason");
    var opt0 = el("option", null, "reason\u2026");
    opt0.value = "";
    sel.appendChild(opt0);
    var reasons = (data.reasons || {})[f.code] || {};
    ["dismissed", "confirmed", "unsure"].forEach(function (v) {
      if (!reasons[v] || !reasons[v].length) return;
      var group = el("optgroup");
      group.label = LABEL[v];
      reasons[v].forEach(function (r) {
        var o = el("option", null, r);
        o.value = r;
        group.appendChild(o);
      });
      sel.appendChild(group);
    });
    var note = el("input", "note");
    note.placeholder = "note (optional)";
    note.maxLength = 4000;
    if (f.verdict) {
      if (f.verdict.reason) {
        var known = Array.prototype.some.call(sel.options, function (o) { return o.value === f.verdict.reason; });
        if (!known) {
          var o = el("option", null, f.verdict.reason);
          o.value = f.verdict.reason;
          sel.appendChild(o);
        }
        sel.value = f.verdict.reason;
      }
      note.value = f.verdict.note || "";
    }
    function resend() {
      if (f.verdict) sendVerdict(fi, f.verdict.verdict);
    }
    sel.addEventListener("change", resend);
    note.addEventListener("keydown", function (e) {
      if (e.key === "Enter") {
        e.preventDefault();
        resend();
      }
    });
    vbar.appendChild(sel);
    vbar.appendChild(note);
    li.appendChild(vbar);
    if (f.verdict) {
      li.appendChild(el("div", "vwho", f.verdict.verdict + " by " + f.verdict.reviewer + ", " + f.verdict.at +
        (f.verdict.events > 1 ? " \u00b7 " + f.verdict.events + " verdicts recorded (latest shown)" : "")));
    }
    li.addEventListener("click", function (e) {
      if (e.target.closest("button, select, input, a")) return;
      setActive(fi, false);
      var first = li.querySelector("a.ev");
      if (first) focusEvidence(first.dataset.ev);
    });
    return li;
  }

  function renderNodes(nodes, findings, seen) {
    var frag = document.createDocumentFragment();
    nodes.forEach(function (n) {
      if (typeof n === "string") {
        frag.appendChild(document.createTextNode(n));
      } else if (typeof n === "number") {
        var a = el("span", "dec-anchor");
        a.id = "dec-" + n;
        frag.appendChild(a);
      } else {
        var key = n[0];
        var f = findings[Number(key.split(".")[0])] || {};
        var m = el("mark", f.origin === "added" ? "sev-added" : "sev-" + (f.severity || "info"));
        m.dataset.ev = key;
        if (!seen[key]) {
          seen[key] = true;
          m.id = "ev-" + key.replace(".", "-");
        }
        m.title = (f.code || "") + (f.message ? ": " + f.message : "");
        m.appendChild(renderNodes(n.slice(1), findings, seen));
        frag.appendChild(m);
      }
    });
    return frag;
  }

  function setActive(fi, scroll) {
    document.querySelectorAll("ol.findings li.active").forEach(function (li) { li.classList.remove("active"); });
    state.active = fi;
    var li = $("finding-" + fi);
    if (!li) return;
    li.classList.add("active");
    if (scroll) li.scrollIntoView({ block: "nearest" });
  }

  function focusEvidence(key) {
    document.querySelectorAll("mark.active").forEach(function (m) { m.classList.remove("active", "flash"); });
    var marks = document.querySelectorAll('mark[data-ev="' + key + '"]');
    marks.forEach(function (m) {
      m.classList.add("active");
      void m.offsetWidth;
      m.classList.add("flash");
    });
    if (marks.length) marks[0].scrollIntoView({ block: "center" });
  }

  function moveFinding(step) {
    var n = state.letter ? state.letter.findings.length : 0;
    if (!n) return;
    var fi = state.active < 0 ? 0 : Math.min(n - 1, Math.max(0, state.active + step));
    setActive(fi, true);
    var first = document.querySelector("#finding-" + fi + " a.ev");
    if (first) focusEvidence(first.dataset.ev);
  }

  /* ---------- writes ---------- */

  async function sendVerdict(fi, verdict) {
    var name = reviewer();
    if (!name) return;
    var f = state.letter.findings[fi];
    var li = $("finding-" + fi);
    var body = {
      letter_id: state.letterId,
      finding_id: f.id,
      verdict: verdict,
      reason: li.querySelector("select.reason").value,
      note: li.querySelector("input.note").value,
      reviewer: name,
      base_seq: f.verdict ? f.verdict.seq : 0
    };
    try {
      var res = await api("/api/verdict", body);
      window.__review.writes++;
      if (res.conflict) {
        toast(res.conflict.reviewer + " recorded \u201c" + res.conflict.verdict + "\u201d on this finding meanwhile; both verdicts are kept and yours is now the latest.", true);
      } else {
        toast(LABEL[verdict] + "ed: " + f.code);
      }
      await refresh(true);
    } catch (err) {
      toast("Not saved: " + err.message, true);
    }
  }

  async function toggleReviewed() {
    var name = reviewer();
    if (!name || !state.letter) return;
    try {
      await api("/api/letter-state", { letter_id: state.letterId, reviewed: !state.letter.reviewed, reviewer: name });
      window.__review.writes++;
      await refresh(true);
    } catch (err) {
      toast("Not saved: " + err.message, true);
    }
  }

  async function refresh(keepActive) {
    await loadIndex();
    if (state.letterId) await openLetter(state.letterId, keepActive);
  }

  /* ---------- adding a missed finding ---------- */

  var pending = null;

  function selectionInLetter() {
    var pre = $("letter-text");
    var sel = window.getSelection();
    if (!pre || !sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    var range = sel.getRangeAt(0);
    if (!pre.contains(range.startContainer) || !pre.contains(range.endContainer)) return null;
    var before = document.createRange();
    before.setStart(pre, 0);
    before.setEnd(range.startContainer, range.startOffset);
    var start = before.toString().length;
    var quote = range.toString();
    if (!quote.trim()) return null;
    return { start: start, end: start + quote.length, quote: quote };
  }

  function openAddForm() {
    var s = selectionInLetter();
    if (!s) {
      toast("Select the text that shows the problem in the letter first.", true);
      return;
    }
    pending = s;
    $("add-quote").textContent = s.quote;
    var codeSel = $("add-code");
    if (!codeSel.options.length) {
      state.index.codes.forEach(function (c) {
        var o = el("option", null, c.code + " \u2014 " + c.meaning);
        o.value = c.code;
        codeSel.appendChild(o);
      });
    }
    var itemSel = $("add-item");
    itemSel.replaceChildren();
    var none = el("option", null, "the letter (no single item)");
    none.value = "";
    itemSel.appendChild(none);
    state.letter.record.decisions.forEach(function (d) {
      var o = el("option", null, "item " + (d.index + 1) + ": " + d.item);
      o.value = String(d.index);
      itemSel.appendChild(o);
    });
    $("add-note").value = "";
    $("add-form").hidden = false;
    codeSel.focus();
  }

  function closePopups() {
    $("add-form").hidden = true;
    $("help").hidden = true;
    pending = null;
  }

  async function saveAdded() {
    var name = reviewer();
    if (!name || !pending) return;
    var item = $("add-item").value;
    try {
      await api("/api/add", {
        letter_id: state.letterId,
        code: $("add-code").value,
        decision_index: item === "" ? null : Number(item),
        quote: pending.quote,
        start: pending.start,
        end: pending.end,
        note: $("add-note").value,
        reviewer: name
      });
      window.__review.writes++;
      closePopups();
      window.getSelection().removeAllRanges();
      toast("Added a finding");
      await refresh(true);
    } catch (err) {
      toast("Not saved: " + err.message, true);
    }
  }

  /* ---------- orphaned verdicts ---------- */

  async function showOrphans() {
    var data = await api("/api/orphans");
    state.orphans = true;
    var detail = $("detail");
    detail.dataset.letter = "";
    var info = el("div", "d-info");
    info.appendChild(el("h2", null, "Verdicts on findings gone since"));
    info.appendChild(el("p", "muted", "A re-audit no longer reports these findings (the letter or the checks changed). The verdicts are kept in the review store and listed here; they are not exported as labels."));
    var ol = el("ol", "findings");
    ol.id = "orphans-list";
    data.orphans.forEach(function (o) {
      var li = el("li");
      li.dataset.fid = o.finding_id;
      var left = el("div");
      left.appendChild(el("span", "vbadge v-" + o.verdict, o.verdict));
      li.appendChild(left);
      var top = el("div");
      top.appendChild(el("span", "code", o.code || "?"));
      top.appendChild(el("span", "item", " \u00b7 " + o.letter_id + (o.decision_index !== null && o.decision_index !== undefined ? " item " + (o.decision_index + 1) : "") + (o.letter_present ? "" : " (letter no longer in the audit)")));
      li.appendChild(top);
      li.appendChild(el("div", "msg", (o.message || "") + (o.reason ? " \u2014 reason: " + o.reason : "") + (o.note ? " \u2014 " + o.note : "")));
      li.appendChild(el("div", "vwho", "by " + o.reviewer + ", " + o.at));
      ol.appendChild(li);
    });
    info.appendChild(ol);
    detail.replaceChildren(info);
  }

  /* ---------- search ---------- */

  var searchTimer = null;
  function onSearch() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async function () {
      var q = $("q").value.trim();
      if (!q) {
        state.search = null;
        $("search-info").hidden = true;
      } else {
        var res = await api("/api/search?q=" + encodeURIComponent(q));
        if ($("q").value.trim() !== q) return;
        state.search = res;
        $("search-info").textContent = res.hits.length + " letter" + (res.hits.length === 1 ? "" : "s") + " contain \u201c" + q + "\u201d";
        $("search-info").hidden = false;
      }
      renderQueue();
    }, 200);
  }

  /* ---------- keyboard ---------- */

  function onKey(e) {
    if (e.key === "Escape") {
      closePopups();
      return;
    }
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (!$("add-form").hidden) return;
    if (e.key === "j" || e.key === "ArrowDown") {
      e.preventDefault();
      moveFinding(1);
    } else if (e.key === "k" || e.key === "ArrowUp") {
      e.preventDefault();
      moveFinding(-1);
    } else if (KEYS[e.key]) {
      if (state.letter && state.active >= 0) sendVerdict(state.active, KEYS[e.key]);
    } else if (e.key === "n") {
      moveLetter(1);
    } else if (e.key === "p") {
      moveLetter(-1);
    } else if (e.key === "r") {
      toggleReviewed();
    } else if (e.key === "a") {
      e.preventDefault();
      openAddForm();
    } else if (e.key === "/") {
      e.preventDefault();
      $("q").focus();
    } else if (e.key === "?") {
      $("help").hidden = !$("help").hidden;
    }
  }

  async function init() {
    try {
      $("reviewer").value = localStorage.getItem("imr-review-name") || "";
    } catch (e) { /* no storage */ }
    $("reviewer").addEventListener("change", function () { reviewer(); });
    $("q").addEventListener("input", onSearch);
    $("filters").addEventListener("submit", function (e) { e.preventDefault(); });
    $("f-show").addEventListener("change", function () {
      state.show = $("f-show").value;
      renderQueue();
    });
    $("rows").addEventListener("click", function (e) {
      var tr = e.target.closest("tr[data-id]");
      if (tr) openLetter(tr.dataset.id);
    });
    $("orphans-btn").addEventListener("click", showOrphans);
    $("help-btn").addEventListener("click", function () { $("help").hidden = !$("help").hidden; });
    $("help-close").addEventListener("click", closePopups);
    $("add-save").addEventListener("click", saveAdded);
    $("add-cancel").addEventListener("click", closePopups);
    document.addEventListener("keydown", onKey);
    await loadIndex();
    var m = /letter=([^&]+)/.exec(location.hash);
    var first = m ? decodeURIComponent(m[1]) : null;
    if (!first && state.view.length) first = state.view[0].id;
    if (first) await openLetter(first);
    window.__review.ready = true;
    document.documentElement.dataset.ready = "1";
  }

  init().catch(function (err) {
    banner("Could not load the review: " + err.message);
  });
})();
