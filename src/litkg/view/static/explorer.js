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

  // The entity at the centre, its neighbours evenly on a ring, each second-hop node on an
  // outer ring within the angular sector of the neighbour that reaches it.
  function radial(graph) {
    const ring1 = graph.nodes.filter((n) => n.hop === 1).map((n) => n.id);
    const sector = (2 * Math.PI) / Math.max(ring1.length, 1);
    const angle = { [entity]: 0 };
    ring1.forEach((id, i) => { angle[id] = i * sector - Math.PI / 3; });
    const children = {};
    for (const e of graph.edges) {
      for (const [a, b] of [[e.source, e.target], [e.target, e.source]]) {
        if (ring1.includes(a) && !(b in angle) && !Object.values(children).flat().includes(b)) {
          (children[a] = children[a] || []).push(b);
        }
      }
    }
    const pos = { [entity]: { x: 0, y: 0 } };
    const r1 = 90 + 12 * ring1.length;
    for (const id of ring1) pos[id] = { x: r1 * Math.cos(angle[id]), y: r1 * Math.sin(angle[id]) };
    for (const [parent, kids] of Object.entries(children)) {
      kids.forEach((id, j) => {
        const a = angle[parent] + sector * ((j + 1) / (kids.length + 1) - 0.5) * 0.9;
        const r2 = r1 + 110 + 8 * kids.length;
        pos[id] = { x: r2 * Math.cos(a), y: r2 * Math.sin(a) };
      });
    }
    return pos;
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
      maxZoom: 1.6, // a small neighbourhood is not blown up to fill the box
      layout: { name: "preset", positions: radial(data.graph) },
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
    cy.fit(undefined, 40);
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
