// A small SMSC simulator for the SMS connector's tests, on the npm `smpp` server API.
//
//   node server.js SMPP_PORT CONTROL_PORT        (both bound to 127.0.0.1)
//   SMPP_USERS="system_id:password,..."           accounts allowed to bind (default relais:secret)
//
// SMPP side: bind_transceiver/receiver/transmitter (a wrong password gets ESME_RBINDFAIL),
// enquire_link, unbind, submit_sm answered with a message id. When registered_delivery & 1,
// a delivery receipt (deliver_sm, esm_class 0x04, "id:... stat:DELIVRD err:000 ...") is queued
// for that system_id. Like a real SMSC, queued deliver_sm PDUs wait until the ESME binds a
// receiver or transceiver, and leave the queue only when the ESME answers deliver_sm_resp.
//
// Control side (HTTP, for the tests):
//   GET  /health                  -> 200 "ok"
//   GET  /submitted               -> JSON list of every submit_sm received
//   POST /mo {system_id, source, destination, text}  -> queue an inbound (MO) deliver_sm
//   POST /next-receipt {stat, err}                   -> status of the next receipt (UNDELIV...)
"use strict";
const http = require("http");
const smpp = require("smpp");

const smppPort = Number(process.argv[2] || 2775);
const controlPort = Number(process.argv[3] || 2776);
const users = {};
for (const pair of (process.env.SMPP_USERS || "relais:secret").split(",")) {
  const [id, pw] = pair.split(":");
  users[id] = pw;
}

const submitted = [];
const queues = {}; // system_id -> [pdu options]
const bound = {}; // system_id -> Set(session)
let nextReceipt = null;
let counter = 0;

function stamp(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
}

function flush(systemId) {
  const sessions = bound[systemId];
  if (!sessions || sessions.size === 0) return;
  const session = sessions.values().next().value;
  for (const item of queues[systemId] || []) {
    if (item.inFlight) continue;
    item.inFlight = true;
    const ok = session.deliver_sm(Object.assign({}, item.pdu), (resp) => {
      if (resp.command_status === 0) {
        queues[systemId] = queues[systemId].filter((x) => x !== item);
      } else {
        item.inFlight = false;
      }
    });
    if (!ok) item.inFlight = false;
  }
}

function enqueue(systemId, pdu) {
  (queues[systemId] = queues[systemId] || []).push({ pdu, inFlight: false });
  flush(systemId);
}

const server = smpp.createServer((session) => {
  let systemId = null;
  const onBind = (pdu, receives) => {
    if (users[pdu.system_id] === undefined || users[pdu.system_id] !== pdu.password) {
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      return;
    }
    systemId = pdu.system_id;
    session.send(pdu.response({ system_id: "RELAISSIM" }));
    if (receives) {
      (bound[systemId] = bound[systemId] || new Set()).add(session);
      flush(systemId);
    }
  };
  const forget = () => {
    if (systemId && bound[systemId]) bound[systemId].delete(session);
    for (const id of Object.keys(queues)) for (const item of queues[id]) item.inFlight = false;
  };
  session.on("bind_transceiver", (pdu) => onBind(pdu, true));
  session.on("bind_receiver", (pdu) => onBind(pdu, true));
  session.on("bind_transmitter", (pdu) => onBind(pdu, false));
  session.on("enquire_link", (pdu) => session.send(pdu.response()));
  session.on("unbind", (pdu) => {
    forget();
    session.send(pdu.response());
    session.close();
  });
  session.on("close", forget);
  session.on("error", forget);
  session.on("submit_sm", (pdu) => {
    if (!systemId) {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    const messageId = `sim${++counter}`;
    const sm = pdu.short_message || {};
    const text = Buffer.isBuffer(sm.message) ? sm.message.toString("hex") : String(sm.message || "");
    submitted.push({
      message_id: messageId,
      system_id: systemId,
      source: pdu.source_addr,
      destination: pdu.destination_addr,
      esm_class: pdu.esm_class,
      data_coding: pdu.data_coding,
      registered_delivery: pdu.registered_delivery,
      udh: (sm.udh || []).map((u) => Buffer.from(u).toString("hex")),
      text,
    });
    session.send(pdu.response({ message_id: messageId }));
    if (pdu.registered_delivery & 1) {
      const r = nextReceipt || { stat: "DELIVRD", err: "000" };
      nextReceipt = null;
      const now = stamp(new Date());
      const dlvrd = r.stat === "DELIVRD" ? "001" : "000";
      enqueue(systemId, {
        source_addr_ton: pdu.dest_addr_ton,
        source_addr_npi: pdu.dest_addr_npi,
        dest_addr_ton: pdu.source_addr_ton,
        dest_addr_npi: pdu.source_addr_npi,
        source_addr: pdu.destination_addr,
        destination_addr: pdu.source_addr,
        esm_class: 0x04,
        short_message: `id:${messageId} sub:001 dlvrd:${dlvrd} submit date:${now} done date:${now} stat:${r.stat} err:${r.err} text:${text.slice(0, 20)}`,
      });
    }
  });
});

const control = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const reply = (code, data) => {
      res.writeHead(code, { "Content-Type": "application/json" });
      res.end(JSON.stringify(data));
    };
    if (req.method === "GET" && req.url === "/health") return reply(200, "ok");
    if (req.method === "GET" && req.url === "/submitted") return reply(200, submitted);
    let data = {};
    try {
      data = body ? JSON.parse(body) : {};
    } catch (e) {
      return reply(400, { error: "bad json" });
    }
    if (req.method === "POST" && req.url === "/mo") {
      // International numbers (TON 1, NPI 1 E.164) unless the test says otherwise.
      enqueue(data.system_id || "relais", {
        source_addr_ton: data.source_ton === undefined ? 1 : data.source_ton,
        source_addr_npi: 1,
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        source_addr: data.source,
        destination_addr: data.destination,
        esm_class: 0,
        short_message: data.text,
      });
      return reply(200, { queued: true });
    }
    if (req.method === "POST" && req.url === "/next-receipt") {
      nextReceipt = { stat: data.stat || "DELIVRD", err: data.err || "000" };
      return reply(200, nextReceipt);
    }
    return reply(404, { error: "not found" });
  });
});

server.listen(smppPort, "127.0.0.1");
control.listen(controlPort, "127.0.0.1");
