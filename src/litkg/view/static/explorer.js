// litkg entity explorer: the date slider loads /api/entity/{id}?as_of=, then fills the edge
// table and draws the neighbourhood with Cytoscape.js. Text goes in through textContent only.
(function () {
  "use strict";
  const root = document.getElementById("explorer");
  const entity = root.dataset.entity;
  const days = JSON.parse(root.dataset.days);
  const slider = document.getElementById("day");
  const label = document.getElementById("day-label");
  const twoHops = document.getElementById("two-hops");
  const status = document.getElementById("status");
  const colours = { active: "#2b8a3e", contested: "#e8590c", retracted: "#868e96" };
  let cy = null;
  let pending = 0;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) {
      if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  function fmt(x) {
    return x === null || x === undefined ? "" : (x > 0.99 ? x.toFixed(4) : x.toFixed(2));
  }

  function entityLink(name, id) {
    return id === entity ? el("b", {}, name) : el("a", { href: id }, name);
  }

  function evidence(items) {
    const box = el("div", {});
    for (const ev of items) {
      const doc = ev.url ? el("a", { href: ev.url, target: "_blank", rel: "noopener" }, ev.doc_id)
                         : ev.doc_id;
      box.append(el("div", { class: "ev" }, el("q", {}, ev.sentence), " — ", doc, ", ", ev.day));
    }
    return box;
  }

  function renderTable(data) {
    const body = document.querySelector("#edges tbody");
    body.replaceChildren();
    for (const e of data.edges) {
      const claim = el("td", {}, entityLink(e.subject, e.subject_id), " ",
                       el("b", {}, e.relation), " ", entityLink(e.object, e.object_id));
      if (e.context) claim.append(" ", el("span", { class: "ctx" }, e.context));
      if (e.beaten_by) {
        claim.append(el("div", { class: "ev" }, "contested by: " + e.beaten_by + " (" +
                        fmt(e.beaten_by_confidence) + ")"));
      }
      claim.append(evidence(e.evidence));
      body.append(el("tr", { "data-edge": e.edge_id },
        claim,
        el("td", { class: "num support" }, e.support),
        el("td", { class: "num confidence" }, fmt(e.confidence)),
        el("td", { class: "status status-" + e.status }, e.status),
        el("td", { class: "change" }, e.change + " " + e.changed_on)));
    }
    document.getElementById("no-edges").hidden = data.edges.length > 0;
    document.getElementById("table-day").textContent = data.as_of;
  }

  function renderGraph(data) {
    if (typeof cytoscape !== "function") return;
    const elements = [];
    for (const n of data.graph.nodes) {
      elements.push({ data: { id: n.id, label: n.name, hop: n.hop } });
    }
    for (const e of data.graph.edges) {
      elements.push({ data: { id: "e" + e.id, source: e.source, target: e.target,
                              label: e.relation + (e.context ? " [" + e.context + "]" : ""),
                              colour: colours[e.status] || "#495057",
                              width: 1 + Math.min(e.support, 8) } });
    }
    if (cy) cy.destroy();
    cy = cytoscape({
      container: document.getElementById("graph"),
      elements: elements,
      minZoom: 0.2,
      maxZoom: 1.2, // a small neighbourhood is not blown up to fill the box
      // an ego network: the entity in the middle, each hop a ring around it
      layout: { name: "concentric", concentric: (n) => 10 - n.data("hop"),
                levelWidth: () => 1, minNodeSpacing: 70, padding: 30, animate: false },
      style: [
        { selector: "node", style: { label: "data(label)", "font-size": 11,
          "background-color": "#74c0fc", width: 18, height: 18, "text-valign": "bottom" } },
        { selector: "node[hop = 0]", style: { "background-color": "#1c7ed6", width: 28,
          height: 28, "font-weight": "bold" } },
        { selector: "edge", style: { "curve-style": "bezier", "target-arrow-shape": "triangle",
          label: "data(label)", "font-size": 9, "text-rotation": "autorotate", color: "#495057",
          "text-background-color": "#fff", "text-background-opacity": 0.85,
          "line-color": "data(colour)", "target-arrow-color": "data(colour)",
          width: "data(width)" } },
      ],
    });
    cy.center();
    cy.on("tap", "node", (evt) => {
      const id = evt.target.id();
      if (id !== entity) window.location.href = id + "?as_of=" + data.as_of;
    });
  }

  async function load(day) {
    const ticket = ++pending;
    status.textContent = "loading…";
    const hops = twoHops.checked ? 2 : 1;
    const url = "../api/entity/" + encodeURIComponent(entity) + "?as_of=" + day +
                "&hops=" + hops;
    const response = await fetch(url);
    if (!response.ok) {
      status.textContent = "error " + response.status;
      return;
    }
    const data = await response.json();
    if (ticket !== pending) return; // a later move of the slider won
    renderTable(data);
    renderGraph(data);
    status.textContent = "";
    root.dataset.loaded = data.as_of;
    history.replaceState(null, "", "?as_of=" + data.as_of + (hops === 2 ? "&hops=2" : ""));
  }

  slider.addEventListener("input", () => { label.textContent = days[slider.value]; });
  slider.addEventListener("change", () => load(days[slider.value]));
  twoHops.addEventListener("change", () => load(days[slider.value]));
  load(root.dataset.asOf);
})();
