// Approvals dashboard: what waits for the signed-in person, kept current by
// the approvalActivity subscription (graphql-transport-ws). No build step,
// no dependencies. The token stays in this tab's sessionStorage.
"use strict";
(function () {
  const KEY = "registry.token";
  const $ = (id) => document.getElementById(id);
  let socket = null;
  let items = [];
  let ticker = null;

  async function gql(query, variables) {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: "Bearer " + sessionStorage.getItem(KEY),
      },
      body: JSON.stringify({ query, variables: variables || {} }),
    });
    const body = await response.json();
    if (body.errors && body.errors.length) {
      throw new Error(body.errors[0].message);
    }
    return body.data;
  }

  function waited(since) {
    const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 1000));
    if (seconds < 60) return seconds + " s";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min";
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + " h " + (minutes % 60) + " min";
    return Math.floor(hours / 24) + " days";
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function render() {
    const body = $("items");
    body.replaceChildren();
    if (!items.length) {
      const row = document.createElement("tr");
      const td = cell(row, "Nothing is waiting for you.");
      td.colSpan = 5;
      body.appendChild(row);
      return;
    }
    for (const item of items) {
      const row = document.createElement("tr");
      row.dataset.registrationId = item.registrationId;
      row.dataset.step = item.step;
      cell(row, item.accountKey);
      cell(row, item.step.replace(/_/g, " "));
      cell(row, item.role.toLowerCase().replace(/_/g, " "));
      cell(row, item.level ? item.level.toLowerCase() : "–");
      const w = cell(row, waited(item.waitingSince));
      w.className = "waiting";
      w.dataset.since = item.waitingSince;
      body.appendChild(row);
    }
  }

  function tick() {
    for (const td of document.querySelectorAll("td.waiting")) {
      td.textContent = waited(td.dataset.since);
    }
  }

  async function refresh(position) {
    const data = await gql(
      "query($p: Int) { myApprovals(atLeastPosition: $p) { registrationId role step level accountKey waitingSince } }",
      { p: position || null }
    );
    items = data.myApprovals;
    render();
  }

  // The log position the queue on screen reflects: subscriptions start
  // after it, so nothing between the read and the subscription is missed.
  let seen = 0;

  function subscribe(roles) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(scheme + "//" + location.host + "/graphql/ws", "graphql-transport-ws");
    socket.onopen = () => {
      socket.send(JSON.stringify({
        type: "connection_init",
        payload: { authorization: "Bearer " + sessionStorage.getItem(KEY) },
      }));
    };
    socket.onmessage = (message) => {
      const m = JSON.parse(message.data);
      if (m.type === "connection_ack") {
        roles.forEach((role, i) => {
          socket.send(JSON.stringify({
            id: String(i + 1),
            type: "subscribe",
            payload: {
              query: "subscription($r: Role!, $p: Int) { approvalActivity(role: $r, fromPosition: $p) { position eventType accountKey } }",
              variables: { r: role, p: seen },
            },
          }));
        });
        $("live").textContent = "Live: updates appear as they happen.";
      } else if (m.type === "next" && m.payload.data) {
        const a = m.payload.data.approvalActivity;
        seen = Math.max(seen, a.position);
        $("live").textContent = "Updated: " + a.eventType.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase() + " (" + a.accountKey + ")";
        refresh(a.position).catch(show);
      } else if (m.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      }
    };
    socket.onclose = (event) => {
      if (event.code === 4401) {
        // The token expired: the server closed the socket. Ask for a new one.
        sessionStorage.removeItem(KEY);
        clearInterval(ticker);
        $("queue").hidden = true;
        $("token").value = "";
        $("notice").textContent = "Your sign-in has expired. Paste a new access token to see your approvals again.";
        $("notice").hidden = false;
        $("signin").hidden = false;
        $("token").focus();
        return;
      }
      if (sessionStorage.getItem(KEY)) {
        $("live").textContent = "Connection lost; reconnecting…";
        setTimeout(() => subscribe(roles), 2000);
      }
    };
  }

  function show(error) {
    $("live").textContent = "Problem: " + error.message;
  }

  async function start() {
    const first = await gql("{ me { subject name roles } logPosition }");
    const me = first.me;
    seen = first.logPosition;
    $("signin").hidden = true;
    $("notice").hidden = true;
    $("queue").hidden = false;
    $("who").textContent = "Signed in as " + (me.name || me.subject) + " (" + me.roles.map((r) => r.toLowerCase().replace(/_/g, " ")).join(", ") + ")";
    await refresh(seen);
    ticker = setInterval(tick, 1000);
    subscribe(me.roles.filter((r) => r !== "AUDITOR" || me.roles.length === 1));
  }

  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("token").value.trim());
    start().catch((error) => {
      sessionStorage.removeItem(KEY);
      alert("Sign-in failed: " + error.message);
    });
  });

  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    if (socket) socket.close();
    clearInterval(ticker);
    location.reload();
  });

  if (sessionStorage.getItem(KEY)) {
    start().catch(() => sessionStorage.removeItem(KEY));
  }
})();
