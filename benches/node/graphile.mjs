// End to end through graphile-worker: `node graphile.mjs URL JOBS default|batched`.
// 8 producers add one job at a time while one runner with 8 concurrent jobs
// runs them; prints jobs per second. Uses a schema of its own, dropped after.
import { Logger, run, makeWorkerUtils } from "graphile-worker";
import pg from "pg";

const [url, jobsText, mode] = process.argv.slice(2);
const jobs = Number(jobsText);
const schema = `graphile_bench_${process.pid}_${Date.now()}`;
const worker = { connectionString: url, schema, concurrentJobs: 8 };
if (mode === "batched") {
  worker.localQueue = { size: 500 };
  worker.completeJobBatchDelay = 0;
}
const preset = { worker };

let done = 0;
// Quiet: its default logger writes a line per job, which would measure the
// console rather than the queue.
const logger = new Logger(() => () => {});
const runner = await run({
  preset,
  logger,
  noHandleSignals: true,
  taskList: {
    noop: async () => {
      done += 1;
    },
  },
});
const utils = await makeWorkerUtils({ preset, logger });
await utils.migrate();

const started = process.hrtime.bigint();
const producers = [];
for (let p = 0; p < 8; p += 1) {
  producers.push(
    (async () => {
      for (let n = p; n < jobs; n += 8) {
        await utils.addJob("noop", { n });
      }
    })(),
  );
}
await Promise.all(producers);
while (done < jobs) {
  await new Promise((resolve) => setTimeout(resolve, 1));
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await runner.stop();
await utils.release();
const client = new pg.Client({ connectionString: url });
await client.connect();
await client.query(`DROP SCHEMA ${schema} CASCADE`);
await client.end();
console.log(JSON.stringify({ rate: jobs / seconds }));
