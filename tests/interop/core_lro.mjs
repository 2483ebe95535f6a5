// Drives asyncep with the Azure SDK's JavaScript long-running-operation
// poller, `createHttpPoller` of @azure/core-lro, unmodified: the operation
// below only sends the requests the poller asks for, with Node's fetch.
// Run by the integration test `interop` against a live server; exits
// non-zero on the first expectation that fails.
//
// usage: node core_lro.mjs BASE_URL

import assert from "node:assert/strict";
import { createHttpPoller } from "@azure/core-lro";

const base = process.argv[2].replace(/\/$/, "");

async function send(method, url, body) {
  const response = await fetch(new URL(url, base), {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const headers = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const parsed = text ? JSON.parse(text) : undefined;
  return {
    flatResponse: parsed,
    rawResponse: { statusCode: response.status, request: { method, url }, headers, body: parsed },
  };
}

/** A poller for a submit, and the id of its job. */
async function start(method, path, body) {
  const initial = await send(method, base + path, body);
  assert.equal(initial.rawResponse.statusCode, 202, `${method} ${path}`);
  const poller = createHttpPoller(
    { sendInitialRequest: async () => initial, sendPollRequest: (url) => send("GET", url) },
    { intervalInMs: 200 },
  );
  return { poller, id: initial.flatResponse.id };
}

async function expectFailure(poller, what) {
  let value;
  try {
    value = await poller.pollUntilDone();
  } catch (error) {
    console.log(`ok: ${what} raised: ${error.message}`);
    return;
  }
  assert.fail(`${what}: the poller returned ${JSON.stringify(value)} instead of raising`);
}

// A job that takes a while: the poller waits for its end, and its result
// is the job document, whose `result` is the handler's value.
const done = await start("POST", "/stepper/3");
const document = await done.poller.pollUntilDone();
assert.equal(document.status, "Completed");
assert.equal(document.result, 3);
console.log("ok: a completed job's result came back:", document.result);

await expectFailure((await start("PATCH", "/doomed")).poller, "a failed job");

const stoppable = await start("POST", "/stoppable");
const canceled = await send("DELETE", `${base}/jobs/${stoppable.id}`);
assert.ok([200, 202].includes(canceled.rawResponse.statusCode), `DELETE: ${canceled.rawResponse.statusCode}`);
await expectFailure(stoppable.poller, "a canceled job");
console.log("all expectations held");
