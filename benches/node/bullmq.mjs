// End to end through BullMQ: `node bullmq.mjs REDIS_URL JOBS [drain]`. Jobs
// are added with `addBulk` (1,000 at a time) while one Worker with
// concurrency 8 runs them; prints jobs per second. With `drain`, every job
// is added first, then the Worker starts, and only the drain is timed. The
// queue is removed after.
import { Queue, Worker } from "bullmq";

const [url, jobsText, mode] = process.argv.slice(2);
const drain = mode === "drain";
const jobs = Number(jobsText);
const parsed = new URL(url);
const connection = { host: parsed.hostname, port: Number(parsed.port || 6379) };
const name = `bench-${process.pid}-${Date.now()}`;
const queue = new Queue(name, { connection });

async function add() {
  for (let n = 0; n < jobs; n += 1000) {
    const batch = [];
    for (let k = n; k < Math.min(n + 1000, jobs); k += 1) {
      batch.push({ name: "noop", data: { n: k } });
    }
    await queue.addBulk(batch);
  }
}

let done = 0;
let started;
if (drain) {
  await add();
  started = process.hrtime.bigint();
}
const worker = new Worker(
  name,
  async () => {
    done += 1;
  },
  { connection, concurrency: 8 },
);
if (!drain) {
  await worker.waitUntilReady();
  started = process.hrtime.bigint();
  await add();
}
while (done < jobs) {
  await new Promise((resolve) => setTimeout(resolve, 1));
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await worker.close();
await queue.obliterate({ force: true });
await queue.close();
console.log(JSON.stringify({ rate: jobs / seconds }));
