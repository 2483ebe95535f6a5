// End to end through BullMQ: `node bullmq.mjs REDIS_URL JOBS`. Jobs are added
// with `addBulk` (1,000 at a time) while one Worker with concurrency 8 runs
// them; prints jobs per second. The queue is removed after.
import { Queue, Worker } from "bullmq";

const [url, jobsText] = process.argv.slice(2);
const jobs = Number(jobsText);
const parsed = new URL(url);
const connection = { host: parsed.hostname, port: Number(parsed.port || 6379) };
const name = `bench-${process.pid}-${Date.now()}`;
const queue = new Queue(name, { connection });

let done = 0;
const worker = new Worker(
  name,
  async () => {
    done += 1;
  },
  { connection, concurrency: 8 },
);
await worker.waitUntilReady();

const started = process.hrtime.bigint();
for (let n = 0; n < jobs; n += 1000) {
  const batch = [];
  for (let k = n; k < Math.min(n + 1000, jobs); k += 1) {
    batch.push({ name: "noop", data: { n: k } });
  }
  await queue.addBulk(batch);
}
while (done < jobs) {
  await new Promise((resolve) => setTimeout(resolve, 1));
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await worker.close();
await queue.obliterate({ force: true });
await queue.close();
console.log(JSON.stringify({ rate: jobs / seconds }));
