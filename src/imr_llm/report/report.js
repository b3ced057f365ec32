(function () {
  "use strict";

  var SEV = ["info", "low", "medium", "high"];
  var PAGE = 100;
  var CACHE = 6;

  var state = {
    rows: [],
    view: [],
    page: 0,
    sort: "i",
    dir: 1,
    selected: null,
    token: 0,
    f: { q: "", code: "", sev: "", outcome: "", status: "" }
  };
  var reviews = null;
  var VERDICT_MARK = { confirmed: "\u2713 confirmed", dismissed: "\u2717 dismissed", unsure: "? unsure" };
  var chunks = new Map();
  var timing = (window.__imr = { ready: false });

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fmt(n) {
    return Number(n || 0).toLocaleString("en-US");
  }

  function banner(msg) {
    var b = $("banner");
    b.textContent = msg;
    b.hidden = false;
  }

  window.addEventListener("error", function (e) {
    banner("Report script error: " + (e.message || e));
  });

  function sevBadge(rank) {
    var name = rank >= 0 ? SEV[rank] : "none";
    return el("span", "sev sev-" + name, rank >= 0 ? name : "\u2014");
  }

  function base64Bytes(text) {
    var bin = atob(text);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  async function gunzipJSON(id) {
    var node = $(id);
    if (!node) throw new Error("missing data block " + id);
    var stream = new Blob([base64Bytes(node.textContent)])
      .stream()
      .pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  function getChunk(n) {
    if (chunks.has(n)) {
      var hit = chunks.get(n);
      chunks.delete(n);
      chunks.set(n, hit);
      return hit;
    }
    var p = gunzipJSON("imr-c" + n);
    chunks.set(n, p);
    if (chunks.size > CACHE) chunks.delete(chunks.keys().next().value);
    p.catch(function () {
      chunks.delete(n);
    });
    return p;
  }

  /* ---------- overview ---------- */

  function card(label, value, sub, onClick) {
    var c = el("div", "card" + (onClick ? " clickable" : ""));
    c.appendChild(el("div", "k", label));
    c.appendChild(el("div", "v", value));
    if (sub) c.appendChild(typeof sub === "string" ? el("div", "sub", sub) : sub);
    if (onClick) c.addEventListener("click", onClick);
    return c;
  }

  function renderOverview(s) {
    var stats = $("stats");
    [
      ["letters", s.letters, ""],
      ["ok", s.status.ok, ""],
      ["error", s.status.error, s.status.error ? "err" : ""],
      ["findings", s.findings, ""],
      ["high", s.maxSeverity.high, s.maxSeverity.high ? "err" : ""]
    ].forEach(function (x) {
      var span = el("span", x[2]);
      span.appendChild(el("b", null, fmt(x[1])));
      span.appendChild(document.createTextNode(" " + (x[0] === "high" ? "letters with high" : x[0])));
      stats.appendChild(span);
    });
    $("meta").textContent = "generated " + s.generated + " \u00b7 offline, self-contained";

    var cards = $("cards");
    var errSub = Object.keys(s.errorKinds)
      .map(function (k) {
        return k + " " + fmt(s.errorKinds[k]);
      })
      .join(", ");
    cards.appendChild(
      card("Letters ok / error", fmt(s.status.ok) + " / " + fmt(s.status.error), errSub || "no errors",
        s.status.error ? function () { setFilters({ status: "error" }); } : null)
    );
    // Letters with at least one finding; a failed letter has none, so it is already in
    // maxSeverity.none (subtracting status.error as well counted it twice).
    var withF = s.lettersWithFindings !== undefined ? s.lettersWithFindings : s.letters - s.maxSeverity.none;
    var bar = el("div", "sevbar");
    ["high", "medium", "low", "info", "none"].forEach(function (name) {
      var n = s.maxSeverity[name] || 0;
      if (!n) return;
      var seg = el("div", "bg-" + name);
      seg.style.width = (100 * n) / Math.max(1, s.letters) + "%";
      seg.title = "max severity " + name + ": " + fmt(n) + " letters";
      bar.appendChild(seg);
    });
    var sevSub = el("div", "sub");
    sevSub.appendChild(bar);
    sevSub.appendChild(
      el("div", null, ["high", "medium", "low", "info"].map(function (n) {
        return n + " " + fmt(s.maxSeverity[n]);
      }).join(" \u00b7 "))
    );
    cards.appendChild(card("Letters with findings (by max)", fmt(Math.max(0, withF)), sevSub,
      function () { setFilters({ code: "__any" }); }));
    var o = s.outcomes || {};
    cards.appendChild(
      card("Decisions", fmt((o.upheld || 0) + (o.overturned || 0) + (o.unknown || 0)),
        "Upheld " + fmt(o.upheld) + " \u00b7 Overturned " + fmt(o.overturned) +
          (o.unknown ? " \u00b7 unknown " + fmt(o.unknown) : ""))
    );
    var extra = [];
    if (s.noText) extra.push(fmt(s.noText) + " ok letters without text");
    if (s.evidenceMissing) extra.push(fmt(s.evidenceMissing) + " quotes not found in text");
    cards.appendChild(card("Findings", fmt(s.findings), extra.join(" \u00b7 ") || "all evidence located"));

    var legend = $("legend");
    ["high", "medium", "low", "info"].forEach(function (name) {
      var item = el("span");
      item.appendChild(el("i", "bg-" + name));
      item.appendChild(document.createTextNode(name));
      legend.appendChild(item);
    });

    var chart = $("chart");
    if (!s.codes.length) {
      chart.appendChild(el("div", "empty", "No findings in this batch."));
      return;
    }
    var maxTotal = 1;
    s.codes.forEach(function (c) {
      var t = 0;
      for (var k in c.bySeverity) t += c.bySeverity[k];
      c.total = t;
      maxTotal = Math.max(maxTotal, t);
    });
    s.codes.forEach(function (c) {
      var name = el("span", "code", c.code);
      name.dataset.code = c.code;
      name.setAttribute("role", "listitem");
      name.title = "Show letters with " + c.code;
      name.addEventListener("click", function () {
        setFilters({ code: c.code, sev: "" });
      });
      var track = el("div", "track");
      ["high", "medium", "low", "info"].forEach(function (sev) {
        var n = c.bySeverity[sev] || 0;
        if (!n) return;
        var seg = el("div", "seg bg-" + sev);
        seg.style.width = (100 * n) / maxTotal + "%";
        seg.title = c.code + " \u00b7 " + sev + ": " + fmt(n) + " findings";
        seg.addEventListener("click", function () {
          setFilters({ code: c.code, sev: String(SEV.indexOf(sev)) });
        });
        track.appendChild(seg);
      });
      var cnt = el("span", "cnt");
      cnt.appendChild(el("b", null, fmt(c.total)));
      cnt.appendChild(document.createTextNode(" in " + fmt(c.letters) + (c.letters === 1 ? " letter" : " letters")));
      chart.appendChild(name);
      chart.appendChild(track);
      chart.appendChild(cnt);
    });
  }

  /* ---------- filters, table, pager ---------- */

  function setupFilters(s) {
    var sel = $("f-code");
    [["__any", "Any finding"], ["__none", "No findings"]].forEach(function (x) {
      var opt = el("option", null, x[1]);
      opt.value = x[0];
      sel.appendChild(opt);
    });
    s.codes.forEach(function (c) {
      var opt = el("option", null, c.code + " (" + fmt(c.letters) + ")");
      opt.value = c.code;
      sel.appendChild(opt);
    });
    var ids = { q: "f-q", code: "f-code", sev: "f-sev", outcome: "f-outcome", status: "f-status" };
    Object.keys(ids).forEach(function (k) {
      var node = $(ids[k]);
      node.addEventListener(k === "q" ? "input" : "change", function () {
        var patch = {};
        patch[k] = node.value;
        setFilters(patch);
      });
    });
    $("filters").addEventListener("submit", function (e) {
      e.preventDefault();
    });
    $("f-clear").addEventListener("click", function () {
      setFilters({ q: "", code: "", sev: "", outcome: "", status: "" });
    });
    document.querySelectorAll("#letters th[data-sort]").forEach(function (th) {
      th.addEventListener("click", function () {
        var key = th.dataset.sort;
        state.dir = state.sort === key ? -state.dir : key === "m" || key === "n" ? -1 : 1;
        state.sort = key;
        applyFilters(false);
      });
    });
    $("p-first").addEventListener("click", function () { goPage(0); });
    $("p-prev").addEventListener("click", function () { goPage(state.page - 1); });
    $("p-next").addEventListener("click", function () { goPage(state.page + 1); });
    $("p-last").addEventListener("click", function () { goPage(Infinity); });
    $("rows").addEventListener("click", function (e) {
      var tr = e.target.closest("tr[data-i]");
      if (tr) openLetter(state.rows[Number(tr.dataset.i)]);
    });
    document.addEventListener("keydown", onKey);
  }

  function setFilters(patch) {
    Object.keys(patch).forEach(function (k) {
      state.f[k] = patch[k];
    });
    var ids = { q: "f-q", code: "f-code", sev: "f-sev", outcome: "f-outcome", status: "f-status" };
    Object.keys(ids).forEach(function (k) {
      var node = $(ids[k]);
      if (node.value !== state.f[k]) node.value = state.f[k];
      if (node.value !== state.f[k]) state.f[k] = node.value;
      node.classList.toggle("on", state.f[k] !== "");
    });
    document.querySelectorAll("#chart .code").forEach(function (n) {
      n.classList.toggle("on", n.dataset.code === state.f.code);
    });
    applyFilters(true);
  }

  function matches(r, f, q, sev) {
    if (f.status && r.s !== f.status) return false;
    if (q && r.id.toLowerCase().indexOf(q) < 0) return false;
    if (f.outcome === "upheld" && !r.u) return false;
    if (f.outcome === "overturned" && !r.o) return false;
    if (f.outcome === "unknown" && !r.x) return false;
    if (f.code === "__none") return r.n === 0;
    if (f.code || sev >= 0) {
      for (var i = 0; i < r.f.length; i++) {
        var p = r.f[i];
        if ((!f.code || f.code === "__any" || p[0] === f.code) && (sev < 0 || p[1] === sev)) return true;
      }
      return false;
    }
    return true;
  }

  function sortKey(r, key) {
    if (key === "d") return r.u * 1e6 + r.o * 1e3 + r.x;
    if (key === "s") return r.s === "error" ? 0 : 1;
    return r[key];
  }

  function applyFilters(resetPage) {
    var f = state.f;
    var q = f.q.trim().toLowerCase();
    var sev = f.sev === "" ? -1 : Number(f.sev);
    var view = state.rows.filter(function (r) {
      return matches(r, f, q, sev);
    });
    if (state.sort !== "i" || state.dir !== 1) {
      var key = state.sort;
      var dir = state.dir;
      view.sort(function (a, b) {
        var x = sortKey(a, key);
        var y = sortKey(b, key);
        if (x < y) return -dir;
        if (x > y) return dir;
        return a.i - b.i;
      });
    }
    state.view = view;
    document.querySelectorAll("#letters th[data-sort]").forEach(function (th) {
      th.classList.toggle("asc", th.dataset.sort === state.sort && state.dir === 1 && state.sort !== "i");
      th.classList.toggle("desc", th.dataset.sort === state.sort && state.dir === -1);
    });
    if (resetPage) state.page = 0;
    renderPage();
    writeHash();
  }

  function goPage(n) {
    var pages = Math.max(1, Math.ceil(state.view.length / PAGE));
    state.page = Math.min(Math.max(0, n), pages - 1);
    renderPage();
    $("table-wrap").scrollTop = 0;
  }

  function renderPage() {
    var body = $("rows");
    var total = state.view.length;
    var pages = Math.max(1, Math.ceil(total / PAGE));
    if (state.page >= pages) state.page = pages - 1;
    var start = state.page * PAGE;
    var frag = document.createDocumentFragment();
    var slice = state.view.slice(start, start + PAGE);
    slice.forEach(function (r) {
      frag.appendChild(rowFor(r));
    });
    if (!slice.length) {
      var tr = el("tr", "none");
      var td = el("td", null, state.rows.length ? "No letters match these filters." : "This batch has no letters.");
      td.colSpan = reviews ? 8 : 7;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
    $("p-info").textContent = total
      ? fmt(start + 1) + "\u2013" + fmt(Math.min(total, start + PAGE)) + " of " + fmt(total) +
        (total !== state.rows.length ? " (filtered from " + fmt(state.rows.length) + ")" : "") +
        " \u00b7 page " + fmt(state.page + 1) + "/" + fmt(pages)
      : "0 of " + fmt(state.rows.length);
    $("p-first").disabled = $("p-prev").disabled = state.page === 0;
    $("p-next").disabled = $("p-last").disabled = state.page >= pages - 1;
  }

  function rowFor(r) {
    var tr = el("tr");
    tr.dataset.i = r.i;
    tr.dataset.id = r.id;
    if (state.selected === r.i) tr.className = "sel";
    tr.appendChild(el("td", "num muted", r.i + 1));
    tr.appendChild(el("td", "id", r.id));
    var st = el("td", "st-" + r.s, r.s === "error" ? "error" + (r.e ? ": " + r.e : "") : "ok");
    tr.appendChild(st);
    var dec = el("td");
    if (r.u) dec.appendChild(el("span", "oc oc-upheld", r.u + " U")).title = "Upheld";
    if (r.o) dec.appendChild(el("span", "oc oc-overturned", r.o + " O")).title = "Overturned";
    if (r.x) dec.appendChild(el("span", "oc oc-unknown", r.x + " ?")).title = "outcome unknown";
    if (!r.d) dec.appendChild(el("span", "muted", "\u2014"));
    tr.appendChild(dec);
    var sev = el("td");
    sev.appendChild(sevBadge(r.m));
    tr.appendChild(sev);
    tr.appendChild(el("td", "num", r.n || ""));
    var codes = [];
    r.f.forEach(function (p) {
      if (codes.indexOf(p[0]) < 0) codes.push(p[0]);
    });
    var cc = el("td", "codes", codes.join(", ") + (r.t === 0 && r.s === "ok" ? " [no text]" : "") + (r.q ? " [quote not found]" : ""));
    cc.title = r.f.map(function (p) { return p[0] + " (" + SEV[p[1]] + ")"; }).join("\n");
    tr.appendChild(cc);
    if (reviews) tr.appendChild(reviewCell(r));
    return tr;
  }

  function reviewCell(r) {
    var td = el("td", "rv");
    if (r.rv) td.appendChild(el("span", "rv-done", "\u2713 reviewed"));
    var vc = r.vc || [0, 0, 0];
    [["v-confirmed", "\u2713", vc[0], "confirmed"], ["v-dismissed", "\u2717", vc[1], "dismissed"], ["v-unsure", "?", vc[2], "unsure"]].forEach(function (x) {
      if (x[2]) td.appendChild(el("span", "vbadge " + x[0], x[1] + x[2])).title = x[2] + " " + x[3];
    });
    if (r.va) td.appendChild(el("span", "vbadge v-added", "+" + r.va)).title = r.va + " added by an auditor";
    return td;
  }

  function onKey(e) {
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var step = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1 }[e.key];
    if (step) {
      e.preventDefault();
      moveSelection(step);
    } else if (e.key === "n") {
      goPage(state.page + 1);
    } else if (e.key === "p") {
      goPage(state.page - 1);
    } else if (e.key === "/") {
      e.preventDefault();
      $("f-q").focus();
    }
  }

  function moveSelection(step) {
    if (!state.view.length) return;
    var pos = -1;
    for (var i = 0; i < state.view.length; i++) {
      if (state.view[i].i === state.selected) {
        pos = i;
        break;
      }
    }
    pos = pos < 0 ? state.page * PAGE : Math.min(state.view.length - 1, Math.max(0, pos + step));
    var page = Math.floor(pos / PAGE);
    if (page !== state.page) {
      state.page = page;
      renderPage();
    }
    openLetter(state.view[pos]);
    var tr = document.querySelector('#rows tr[data-i="' + state.view[pos].i + '"]');
    if (tr) tr.scrollIntoView({ block: "nearest" });
  }

  /* ---------- one letter ---------- */

  async function openLetter(r) {
    if (!r) return;
    var t0 = performance.now();
    var token = ++state.token;
    state.selected = r.i;
    document.querySelectorAll("#rows tr.sel").forEach(function (tr) {
      tr.classList.remove("sel");
    });
    var tr = document.querySelector('#rows tr[data-i="' + r.i + '"]');
    if (tr) tr.classList.add("sel");
    writeHash();
    var detail = $("detail");
    detail.setAttribute("aria-busy", "true");
    try {
      var data = (await getChunk(r.c))[r.p];
      if (token !== state.token) return;
      renderDetail(r, data);
    } catch (err) {
      if (token !== state.token) return;
      detail.replaceChildren(el("p", "placeholder", "Could not load letter " + r.id + ": " + err));
    }
    detail.removeAttribute("aria-busy");
    detail.dataset.letter = r.id;
    timing.letterOpen = performance.now() - t0;
  }

  function words(s) {
    return s ? String(s).replace(/_/g, " ") : "";
  }

  function fact(parent, key, value, wide) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return;
    var d = el("div", wide ? "wide" : null);
    d.appendChild(el("span", "k", key));
    d.appendChild(document.createTextNode(Array.isArray(value) ? value.join("; ") : String(value)));
    d.title = key + " " + (Array.isArray(value) ? value.join("; ") : value);
    parent.appendChild(d);
  }

  function renderDetail(r, data) {
    var rec = data.r;
    var detail = $("detail");
    var info = el("div", "d-info");
    var head = el("div", "d-head");
    head.appendChild(el("h2", null, rec.letter_id));
    head.appendChild(el("span", "st-" + rec.status, rec.status));
    head.appendChild(sevBadge(r.m));
    head.appendChild(el("span", "muted", rec.layout));
    head.appendChild(el("span", "src", rec.source + (rec.sha256 ? " \u00b7 sha256 " + rec.sha256.slice(0, 12) : "")));
    info.appendChild(head);

    if (rec.error) {
      var eb = el("div", "error-box");
      eb.appendChild(el("code", null, rec.error.kind));
      eb.appendChild(document.createTextNode(" " + rec.error.message));
      info.appendChild(eb);
    }

    var c = rec.case || {};
    var facts = el("div", "facts");
    fact(facts, "Case", c.case_number);
    fact(facts, "Injury", c.date_of_injury);
    fact(facts, "Assigned", c.date_assigned);
    fact(facts, "UR denial", c.ur_denial_date);
    fact(facts, "Decided", c.decision_date);
    fact(facts, "Patient", [c.patient_age, c.patient_sex].filter(function (x) { return x !== null && x !== undefined; }).join(" "));
    fact(facts, "Reviewer", c.reviewer_specialty);
    var llm = rec.llm || {};
    fact(facts, "LLM", llm.backend && llm.backend !== "none"
      ? llm.backend + (llm.model ? " " + llm.model : "") + " \u00b7 " + fmt(llm.calls) + " calls"
      : "none (rules)");
    fact(facts, "Diagnoses", c.diagnoses, true);
    fact(facts, "Body regions", c.body_regions, true);
    if (facts.childNodes.length) info.appendChild(facts);

    if (rec.summary) {
      info.appendChild(el("h3", null, "Summary"));
      info.appendChild(el("p", "summary", rec.summary));
    }

    var findings = rec.findings || [];
    var decisions = rec.decisions || [];
    var perDecision = {};
    findings.forEach(function (f) {
      if (f.decision_index === null || f.decision_index === undefined) return;
      var rank = SEV.indexOf(f.severity);
      perDecision[f.decision_index] = Math.max(perDecision[f.decision_index] === undefined ? -1 : perDecision[f.decision_index], rank);
    });

    info.appendChild(el("h3", null, "Findings (" + findings.length + ")"));
    if (!findings.length) {
      info.appendChild(el("p", "nofind", rec.status === "ok" ? "No findings." : "Not audited: the letter could not be processed."));
    } else {
      var ol = el("ol", "findings");
      findings.forEach(function (f, fi) {
        var li = el("li", "sev-row-" + f.severity);
        li.dataset.f = fi;
        li.id = "finding-" + fi;
        var left = el("div");
        left.appendChild(sevBadge(SEV.indexOf(f.severity)));
        li.appendChild(left);
        var top = el("div");
        top.appendChild(el("span", "code", f.code));
        var dec = f.decision_index !== null && f.decision_index !== undefined ? decisions[f.decision_index] : null;
        top.appendChild(el("span", "item", dec ? " \u00b7 item " + (f.decision_index + 1) + ": " + dec.item : f.decision_index !== null && f.decision_index !== undefined ? " \u00b7 item " + (f.decision_index + 1) : " \u00b7 letter"));
        top.appendChild(el("span", "det", f.detector));
        var verdict = data.rv ? data.rv[fi] : null;
        if (verdict) top.appendChild(el("span", "vbadge v-" + verdict, VERDICT_MARK[verdict] || verdict));
        li.appendChild(top);
        li.appendChild(el("div", "msg", f.message));
        var evs = el("div", "evs");
        (f.evidence || []).forEach(function (ev, ei) {
          var st = (data.v[fi] || [])[ei] || "missing";
          var quote = ev.quote.length > 220 ? ev.quote.slice(0, 220) + "\u2026" : ev.quote;
          var a;
          if (st === "missing" || !data.t) {
            a = el("span", "ev missing", "\u201c" + quote + "\u201d");
            a.title = data.t ? "Quote not found in the letter text (offsets " + ev.start + "\u2013" + ev.end + ")" : "Letter text not available";
          } else {
            a = el("a", "ev", "\u201c" + quote + "\u201d");
            a.href = "#ev-" + fi + "-" + ei;
            a.dataset.ev = fi + "." + ei;
            a.title = "Show in letter (chars " + ev.start + "\u2013" + ev.end + ")";
            if (st === "moved") a.appendChild(el("span", "tag", "offsets corrected"));
          }
          evs.appendChild(a);
        });
        if (evs.childNodes.length) li.appendChild(evs);
        li.addEventListener("click", function (e) {
          e.preventDefault();
          var link = e.target.closest("a.ev");
          var key = link ? link.dataset.ev : null;
          if (!key) {
            var first = li.querySelector("a.ev");
            key = first ? first.dataset.ev : null;
          }
          activateFinding(fi);
          if (key) focusEvidence(key);
        });
        ol.appendChild(li);
      });
      info.appendChild(ol);
    }

    if (decisions.length) {
      info.appendChild(el("h3", null, "Decisions (" + decisions.length + ")"));
      var t = el("table", "grid decisions");
      var hr = el("tr");
      [
        ["#", "w-n"],
        ["Item", "w-it"],
        ["Outcome", "w-oc"],
        ["Conclusion", "w-cc"],
        ["Claims admin. guideline", null],
        ["Reviewer guideline", null],
        ["Flag", "w-fl"]
      ].forEach(function (h) {
        hr.appendChild(el("th", h[1], h[0])).title = h[0] === "Claims admin. guideline" ? "Claims administrator guideline" : h[0];
      });
      t.appendChild(el("thead")).appendChild(hr);
      var tb = t.appendChild(el("tbody"));
      decisions.forEach(function (d) {
        var row = el("tr", data.t ? "go" : null);
        row.dataset.d = d.index;
        row.appendChild(el("td", "n", d.index + 1));
        var item = el("td", "it", d.item);
        if (d.rationale) item.appendChild(el("div", "rat", d.rationale));
        row.appendChild(item);
        var oc = el("td");
        oc.appendChild(el("span", "oc oc-" + d.outcome, d.outcome === "unknown" ? "unknown" : d.outcome.charAt(0).toUpperCase() + d.outcome.slice(1)));
        row.appendChild(oc);
        row.appendChild(el("td", null, words(d.conclusion)));
        row.appendChild(el("td", "gl", d.claims_administrator_guideline || "\u2014"));
        row.appendChild(el("td", "gl", d.reviewer_guideline || "\u2014"));
        var flag = el("td");
        if (perDecision[d.index] !== undefined) flag.appendChild(sevBadge(perDecision[d.index]));
        row.appendChild(flag);
        if (data.t) {
          row.title = "Show this decision in the letter text";
          row.addEventListener("click", function () {
            var a = $("dec-" + d.index);
            if (a) a.scrollIntoView({ block: "start", behavior: "smooth" });
          });
        }
        tb.appendChild(row);
      });
      info.appendChild(t);
    }

    var text = el("div", "d-text");
    var bar = el("div", "bar");
    bar.appendChild(el("b", null, "Letter text"));
    if (data.t) {
      var marks = 0;
      var missing = 0;
      data.v.forEach(function (row) {
        row.forEach(function (s) {
          if (s === "missing") missing++;
          else marks++;
        });
      });
      bar.appendChild(el("span", null, marks + " highlighted evidence span" + (marks === 1 ? "" : "s") + (missing ? " \u00b7 " + missing + " not found" : "")));
      var pre = el("pre", "letter");
      pre.appendChild(renderNodes(data.t, findings, {}));
      pre.addEventListener("click", function (e) {
        var m = e.target.closest("mark[data-ev]");
        if (!m) return;
        var fi = Number(m.dataset.ev.split(".")[0]);
        activateFinding(fi, true);
        focusEvidence(m.dataset.ev, true);
      });
      text.appendChild(bar);
      text.appendChild(pre);
    } else {
      text.appendChild(bar);
      text.appendChild(el("p", "notext", rec.status === "error" ? "No letter text: the letter failed to process." : "Letter text not available for this record."));
    }

    detail.replaceChildren(info, text);
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
        var fi = Number(key.split(".")[0]);
        var f = findings[fi] || {};
        var m = el("mark", "sev-" + (f.severity || "info"));
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

  function activateFinding(fi, scroll) {
    document.querySelectorAll("ol.findings li.active").forEach(function (li) {
      li.classList.remove("active");
    });
    var li = $("finding-" + fi);
    if (!li) return;
    li.classList.add("active");
    if (scroll) li.scrollIntoView({ block: "nearest" });
  }

  function focusEvidence(key, noScroll) {
    document.querySelectorAll("mark.active").forEach(function (m) {
      m.classList.remove("active", "flash");
    });
    var marks = document.querySelectorAll('mark[data-ev="' + key + '"]');
    marks.forEach(function (m) {
      m.classList.add("active");
      void m.offsetWidth;
      m.classList.add("flash");
    });
    if (marks.length && !noScroll) marks[0].scrollIntoView({ block: "center" });
  }

  /* ---------- location hash: filters and the open letter ---------- */

  function writeHash() {
    var p = new URLSearchParams();
    Object.keys(state.f).forEach(function (k) {
      if (state.f[k]) p.set(k, state.f[k]);
    });
    if (state.selected !== null && state.rows[state.selected]) p.set("letter", state.rows[state.selected].id);
    try {
      history.replaceState(null, "", "#" + p.toString());
    } catch (e) {
      /* some browsers refuse replaceState on file:// pages; the hash is a convenience only */
    }
  }

  function readHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    var patch = {};
    Object.keys(state.f).forEach(function (k) {
      if (p.has(k)) patch[k] = p.get(k);
    });
    return { patch: patch, letter: p.get("letter") };
  }

  async function init() {
    var summary = JSON.parse($("imr-summary").textContent);
    reviews = summary.reviews || null;
    if (reviews) $("th-reviewed").hidden = false;
    renderOverview(summary);
    if (typeof DecompressionStream === "undefined") {
      banner("This browser lacks DecompressionStream (needs Chrome/Edge 80+, Firefox 113+ or Safari 16.4+); the letters table cannot be shown.");
      return;
    }
    state.rows = await gunzipJSON("imr-index");
    setupFilters(summary);
    var h = readHash();
    setFilters(h.patch);
    timing.firstTable = performance.now();
    timing.ready = true;
    document.documentElement.dataset.ready = "1";
    if (h.letter) {
      var r = state.rows.find(function (x) {
        return x.id === h.letter;
      });
      if (r) {
        var pos = state.view.indexOf(r);
        if (pos >= 0) goPage(Math.floor(pos / PAGE));
        openLetter(r);
      }
    }
  }

  init().catch(function (err) {
    banner("Could not load the report data: " + err);
    throw err;
  });
})();
